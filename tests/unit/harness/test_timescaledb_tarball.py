"""The TimescaleDB tarball is checked before anything is installed: checksum, and the server it was built for."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from tests.support import timescaledb


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def test_an_unknown_build_is_refused_with_the_way_to_vouch_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(timescaledb.SHA256_ENV, raising=False)
    tarball = _tarball(tmp_path / "timescaledb-9.9.9-pg15-amd64.tar.gz", {"./lib/timescaledb.so": b"not a library"})
    checksum = timescaledb.sha256_of(tarball)
    with pytest.raises(timescaledb.TimescaleInstallError, match=f"set {timescaledb.SHA256_ENV}={checksum}"):
        timescaledb.check_tarball(tarball)
    monkeypatch.setenv(timescaledb.SHA256_ENV, checksum)
    assert timescaledb.check_tarball(tarball) == checksum
    monkeypatch.setenv(timescaledb.SHA256_ENV, "0" * 64)
    with pytest.raises(timescaledb.TimescaleInstallError, match="but ANALYTICS_TIMESCALEDB_SHA256 says 0000"):
        timescaledb.check_tarball(tarball)


def test_a_missing_tarball_says_which_variable(tmp_path: Path) -> None:
    with pytest.raises(timescaledb.TimescaleInstallError, match=r"ANALYTICS_TIMESCALEDB_TARBALL=.* is not a file"):
        timescaledb.check_tarball(tmp_path / "absent.tar.gz")


def test_the_major_version_comes_from_the_name_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(timescaledb.PG_MAJOR_ENV, raising=False)
    assert timescaledb.tarball_major(Path("timescaledb-2.28.3-pg15-amd64.tar.gz")) == 15
    with pytest.raises(timescaledb.TimescaleInstallError, match="has no '-pg<major>-'"):
        timescaledb.tarball_major(Path("timescaledb.tar.gz"))
    monkeypatch.setenv(timescaledb.PG_MAJOR_ENV, "16")
    assert timescaledb.tarball_major(Path("timescaledb.tar.gz")) == 16


def test_server_release_numbers() -> None:
    assert timescaledb.release_number("postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == (15, 20)
    assert timescaledb.release_number("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") < (15, 20)


def test_only_lib_and_extension_files_are_taken(tmp_path: Path) -> None:
    tarball = _tarball(
        tmp_path / "t-pg15-.tar.gz",
        {
            "./lib/timescaledb.so": b"loader",
            "./extension/timescaledb.control": b"control",
            "./lib/../../escape.so": b"hostile",
            "./other/readme": b"ignored",
        },
    )
    lib, extension = tmp_path / "lib", tmp_path / "extension"
    lib.mkdir()
    extension.mkdir()
    timescaledb._extract(tarball, lib, extension)
    assert sorted(p.name for p in lib.iterdir()) == ["timescaledb.so"]
    assert sorted(p.name for p in extension.iterdir()) == ["timescaledb.control"]
    assert not (tmp_path.parent / "escape.so").exists()

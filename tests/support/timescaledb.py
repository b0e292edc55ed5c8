"""TimescaleDB for the test cluster, from a tarball named by `ANALYTICS_TIMESCALEDB_TARBALL`.

The tarball holds `lib/*.so` (the loader, the versioned library, the tsl library) and `extension/`
(`timescaledb.control`, `timescaledb--<v>.sql`), built for one PostgreSQL major version. Nothing is written into
the system's PostgreSQL: the server's installation tree (the folders `pg_config` names for binaries, libraries
and shared files) is copied into a private tree with the extension added, and the test cluster runs from there.
PostgreSQL finds its libraries and shared files relative to its own binary, so the copy is a complete server.

Before anything is copied: the tarball's SHA-256 must be a known build (or the one given in
`ANALYTICS_TIMESCALEDB_SHA256`), and the server's major version must be the one the tarball was built for (its
file name says `-pg<major>-`, or `ANALYTICS_TIMESCALEDB_PG_MAJOR` says it). The tree lives in the temporary
directory (the server may run as `nobody`, who cannot read a root home), keyed by everything it was made from, and
is reused by later runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARBALL_ENV = "ANALYTICS_TIMESCALEDB_TARBALL"
SHA256_ENV = "ANALYTICS_TIMESCALEDB_SHA256"
PG_MAJOR_ENV = "ANALYTICS_TIMESCALEDB_PG_MAJOR"


@dataclass(frozen=True)
class Build:
    description: str
    minimum_server: tuple[int, int]
    """The oldest server release it loads into: built against that release's headers, it needs its symbols
    (an older minor release fails with `undefined symbol`)."""


# Builds the project has tested with, by SHA-256 of the tarball.
KNOWN_BUILDS = {
    "d706b52405428011da1ac372ec85061fc257a9232d463bc85f9d77ad570c1ccc": Build(
        "TimescaleDB 2.28.3 for PostgreSQL 15, amd64", minimum_server=(15, 20)
    ),
}
TREE_PREFIX = "georchestra-analytics-timescaledb-"
_MAJOR_IN_NAME = re.compile(r"-pg(\d+)[-.]")


class TimescaleInstallError(RuntimeError):
    """The tarball cannot be used with this server; the message says why and what to do."""


@dataclass(frozen=True)
class ServerTree:
    """The folders of one PostgreSQL installation, as its pg_config reports them."""

    bindir: Path
    pkglibdir: Path
    sharedir: Path
    major: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tarball_major(tarball: Path) -> int:
    """The PostgreSQL major version the tarball was built for."""
    configured = os.environ.get(PG_MAJOR_ENV)
    if configured:
        return int(configured)
    match = _MAJOR_IN_NAME.search(tarball.name)
    if match is None:
        raise TimescaleInstallError(
            f"cannot tell which PostgreSQL version {tarball.name} was built for: its name has no '-pg<major>-'; "
            f"set {PG_MAJOR_ENV}"
        )
    return int(match.group(1))


def server_tree(bindir: Path) -> ServerTree:
    """Where the server of `bindir` keeps its libraries and shared files, and its major version."""
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        raise TimescaleInstallError(f"{bindir} has no pg_config: cannot tell where the server loads extensions from")
    answer = subprocess.run(
        [str(pg_config), "--bindir", "--pkglibdir", "--sharedir", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    version = re.search(r"(\d+)", answer[3])
    if version is None:
        raise TimescaleInstallError(f"unexpected pg_config --version answer {answer[3]!r}")
    return ServerTree(Path(answer[0]), Path(answer[1]), Path(answer[2]), int(version.group(1)))


def candidate_bindirs() -> list[Path]:
    """Server installations to try, newest first: ANALYTICS_PG_BINDIR, then Debian's."""
    configured = os.environ.get("ANALYTICS_PG_BINDIR")
    found = [Path(configured)] if configured else []
    debian = Path("/usr/lib/postgresql")
    versions = sorted((p for p in debian.glob("*/bin") if p.parent.name.isdigit()), key=lambda p: -int(p.parent.name))
    return found + [p for p in versions if (p / "postgres").exists()]


def release_of(bindir: Path) -> str:
    """`postgres --version` of a server installation, e.g. 'postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)'."""
    return subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def release_number(version: str) -> tuple[int, int]:
    match = re.search(r"PostgreSQL\) (\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def check_tarball(tarball: Path) -> str:
    """Its checksum, when it is a known build or the one the environment vouches for."""
    if not tarball.is_file():
        raise TimescaleInstallError(f"{TARBALL_ENV}={tarball} is not a file")
    checksum = sha256_of(tarball)
    vouched = os.environ.get(SHA256_ENV, "").strip().lower()
    if vouched:
        if checksum != vouched:
            raise TimescaleInstallError(f"{tarball.name} has SHA-256 {checksum}, but {SHA256_ENV} says {vouched}")
    elif checksum not in KNOWN_BUILDS:
        raise TimescaleInstallError(
            f"{tarball.name} has SHA-256 {checksum}, which is not a build the project knows "
            f"({', '.join(b.description for b in KNOWN_BUILDS.values())}); set {SHA256_ENV}={checksum} to use it anyway"
        )
    return checksum


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)


def _extract(tarball: Path, lib_target: Path, extension_target: Path) -> None:
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        for member in members:
            parts = Path(member.name).parts
            if parts and parts[0] == ".":
                parts = parts[1:]
            if len(parts) != 2 or parts[0] not in ("lib", "extension") or ".." in parts:
                continue
            target = (lib_target if parts[0] == "lib" else extension_target) / parts[1]
            source = archive.extractfile(member)
            if source is None:
                continue
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
            target.chmod(0o755 if parts[0] == "lib" else 0o644)
    if not (lib_target / "timescaledb.so").exists() or not (extension_target / "timescaledb.control").exists():
        raise TimescaleInstallError(f"{tarball.name} has no lib/timescaledb.so or extension/timescaledb.control")


def install(tarball: Path, parent: Path | None = None) -> Path:
    """A server tree with TimescaleDB, made once and reused; returns its bin folder for EmbeddedPostgres."""
    checksum = check_tarball(tarball)
    wanted = tarball_major(tarball)
    candidates = candidate_bindirs()
    trees = [server_tree(bindir) for bindir in candidates if (bindir / "pg_config").exists()]
    matching = [tree for tree in trees if tree.major == wanted]
    if not matching:
        have = ", ".join(f"{t.major} at {t.bindir}" for t in trees) or "none with pg_config"
        raise TimescaleInstallError(
            f"{tarball.name} is built for PostgreSQL {wanted}, and this machine's servers are: {have} "
            f"(Debian: apt-get install postgresql-{wanted})"
        )
    tree = matching[0]
    server_version = release_of(tree.bindir)
    build = KNOWN_BUILDS.get(checksum)
    if build is not None and release_number(server_version) < build.minimum_server:
        raise TimescaleInstallError(
            f"{build.description} needs PostgreSQL {'.'.join(map(str, build.minimum_server))} or later; "
            f"{tree.bindir} is {server_version!r} (Debian: apt-get install --only-upgrade postgresql-{tree.major})"
        )
    key = hashlib.sha256(f"{checksum}|{tree}|{server_version}".encode()).hexdigest()[:16]
    parent = parent or Path(tempfile.gettempdir())
    root = parent / f"{TREE_PREFIX}{key}"
    bindir = root / tree.bindir.relative_to("/")
    if (root / "complete").exists():
        return bindir
    staging = Path(tempfile.mkdtemp(prefix=f"{TREE_PREFIX}staging-", dir=parent))
    try:
        for folder in (tree.bindir, tree.pkglibdir, tree.sharedir):
            _copy_tree(folder, staging / folder.relative_to("/"))
        _extract(
            tarball,
            staging / tree.pkglibdir.relative_to("/"),
            staging / tree.sharedir.relative_to("/") / "extension",
        )
        made_from = build.description if build else checksum
        (staging / "complete").write_text(f"{made_from}\n{server_version}\n")
        for folder in [staging, *staging.rglob("*")]:
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)  # the server may run as `nobody`
        try:
            staging.rename(root)
        except OSError:
            if not (root / "complete").exists():  # not another run's identical tree: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return bindir


def _upgrade_debian_server(major: int) -> None:
    if os.geteuid() != 0:
        raise TimescaleInstallError(f"run as root, or: sudo apt-get install --only-upgrade postgresql-{major}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--only-upgrade", f"postgresql-{major}"],
        check=True,
        env=environment,
        timeout=600,
    )


def ensure() -> str:
    """For `make tools`: the server tree made (upgrading Debian's server when the build needs a newer point
    release) and proven by creating the extension in a throwaway cluster. Returns what was done."""
    from georchestra_analytics.db.embedded import EmbeddedPostgres

    configured = os.environ.get(TARBALL_ENV)
    if not configured:
        return f"{TARBALL_ENV} is not set: the timescale tier will skip"
    tarball = Path(configured)
    try:
        bindir = install(tarball)
    except TimescaleInstallError as error:
        if "--only-upgrade" not in str(error):
            raise
        _upgrade_debian_server(tarball_major(tarball))
        bindir = install(tarball)
    import psycopg

    with EmbeddedPostgres(bindir=bindir) as server, psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        license_row = conn.execute("SHOW timescaledb.license").fetchone()
    return f"timescaledb {version and version[0]} ({license_row and license_row[0]} licence) in {bindir}"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["ensure"]:
        sys.exit("usage: python -m tests.support.timescaledb ensure")
    try:
        print(ensure())
    except (TimescaleInstallError, subprocess.SubprocessError, OSError) as failure:
        sys.exit(f"timescaledb: {failure}")

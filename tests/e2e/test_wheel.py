"""The wheel is what users and the image get: built here, installed into an empty venv, run from elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from georchestra_analytics import __version__
from georchestra_analytics.render.templates import TEMPLATE_FOLDERS

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _repo_template_files(folder: str) -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return {path for path in tracked if not path.endswith(".keep")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv with nothing but the wheel and its dependencies (from the pip cache or PyPI)."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True, clear=True)
    subprocess.run([str(env_dir / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True, capture_output=True)
    yield env_dir


def test_wheel_carries_every_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in TEMPLATE_FOLDERS:
        for path in _repo_template_files(folder):
            assert f"georchestra_analytics/templates/{path}" in names, f"{path} missing from the wheel"


def test_installed_command_runs_from_another_directory(installed: Path, tmp_path: Path) -> None:
    command = installed / "bin" / "georchestra-analytics"
    help_text = subprocess.run([str(command), "--help"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "Usage: georchestra-analytics" in help_text.stdout
    version = subprocess.run([str(command), "--version"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert __version__ in version.stdout


def test_installed_package_finds_its_own_templates(installed: Path, tmp_path: Path) -> None:
    probe = "from georchestra_analytics.render.templates import templates_root; print(templates_root())"
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    root = Path(result.stdout.strip())
    assert root.is_relative_to(installed), f"templates read from {root}, not from the installed package"
    for folder in TEMPLATE_FOLDERS:
        assert (root / folder).is_dir()


def _tree_state(*roots: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_mtime_ns, path.stat().st_size)
        for root in roots
        for path in [root, *root.rglob("*")]
        if not path.is_symlink()
    }


def test_entrypoint_writes_nothing_to_its_tree(installed: Path, tmp_path: Path) -> None:
    """As in the image (read-only root filesystem): running must not need to write bytecode, caches or config
    into the installed tree or the working directory. Checked by comparing the trees before and after, which
    holds whatever user runs the test (root ignores file modes, so a chmod would prove nothing)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    before = _tree_state(installed, workdir)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home")}
    for args in (["--help"], ["--version"]):
        result = subprocess.run(
            [str(installed / "bin" / "georchestra-analytics"), *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
    after = _tree_state(installed, workdir)
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"running the entrypoint wrote to its tree: {changed[:5]}"

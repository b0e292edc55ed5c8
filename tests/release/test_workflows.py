"""The GitHub Actions workflows, which cannot run here: actionlint (the real binary, with shellcheck on every `run:`
script) and the policies a reader of them relies on: pinned actions, least privilege, the README's test command."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.release.files import REPO, WORKFLOWS, load_workflow, run_scripts

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
# `uses: owner/repo@<commit> # vX.Y.Z`: the commit is what runs, the comment what Dependabot and readers compare.
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?:\s+#\s+(?P<comment>\S+))?\s*$")
SHA = re.compile(r"[0-9a-f]{40}")
# PyPA documents its publishing action for use from this branch only.
BRANCH_PINNED = {"pypa/gh-action-pypi-publish": "release/v1"}


def _actionlint(binary: Path, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    # shellcheck comes from PATH; passed explicitly so the test says which one ran.
    shellcheck = shutil.which("shellcheck") or ""
    return subprocess.run(
        [str(binary), "-no-color", f"-shellcheck={shellcheck}", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_there_are_the_two_workflows() -> None:
    assert [path.name for path in WORKFLOW_FILES] == ["ci.yml", "release.yml"]


def test_actionlint_passes(actionlint: Path) -> None:
    result = _actionlint(actionlint, WORKFLOW_FILES, REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_checks_the_inputs_of_each_action_at_its_major_version(actionlint: Path, tmp_path: Path) -> None:
    """actionlint knows the inputs of popular actions by major version (`actions/checkout@v6`), not by commit: a
    misspelt input of a SHA-pinned action passes it. Linted again with each pin replaced by the major version of
    its comment, the same files get that check too."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    for path in WORKFLOW_FILES:
        text = re.sub(r"@[0-9a-f]{40} # (v\d+)\.[\d.]+", r"@\1", path.read_text(encoding="utf-8"))
        (folder / path.name).write_text(text, encoding="utf-8")
    copies = sorted(folder.glob("*.yml"))
    result = _actionlint(actionlint, copies, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The check is real: a misspelt input of a pinned action fails it.
    broken = folder / "release.yml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("if-no-files-found:", "if-no-file-found:"))
    result = _actionlint(actionlint, copies, tmp_path)
    assert result.returncode != 0 and 'input "if-no-file-found" is not defined' in result.stdout, result.stdout


def test_shellcheck_checks_the_run_scripts(actionlint: Path, tmp_path: Path) -> None:
    """Without shellcheck on PATH actionlint silently skips the `run:` scripts (tools/ensure-system-packages
    installs it): here a script with an unquoted variable must be reported."""
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not on PATH: actionlint cannot check the run: scripts (apt-get install shellcheck)")
    workflow = tmp_path / ".github" / "workflows" / "probe.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  probe:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ls $HOME/*\n",
        encoding="utf-8",
    )
    result = _actionlint(actionlint, [workflow], tmp_path)
    assert result.returncode != 0 and "SC2086" in result.stdout, result.stdout


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    uses = [line for line in path.read_text(encoding="utf-8").splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses
    for line in uses:
        match = PINNED.match(line)
        assert match, f"unreadable uses: line {line!r}"
        if match["action"] in BRANCH_PINNED:
            assert match["ref"] == BRANCH_PINNED[match["action"]], line
            continue
        assert SHA.fullmatch(match["ref"]), f"not pinned by full commit SHA: {line.strip()}"
        assert match["comment"] and re.fullmatch(r"v\d+\.\d+\.\d+", match["comment"]), f"no version comment: {line}"


def test_ci_runs_the_readme_test_command_on_every_push_and_pull_request() -> None:
    ci = load_workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert "`make test`" in (REPO / "README.md").read_text(encoding="utf-8")
    assert [script for script in run_scripts(ci, "test") if script.strip() == "make test"]


def test_ci_reads_the_repository_and_nothing_else() -> None:
    ci = load_workflow("ci.yml")
    assert ci["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in ci["jobs"].values())


def test_release_runs_on_version_tags_with_per_job_permissions() -> None:
    release = load_workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {}, "nothing granted workflow-wide: each job asks for what it needs"
    granted = {name: job["permissions"] for name, job in release["jobs"].items()}
    writes = {(name, scope) for name, scopes in granted.items() for scope, level in scopes.items() if level == "write"}
    assert writes == {
        ("pypi", "id-token"),  # trusted publishing
        ("image", "packages"),
        ("chart", "packages"),
        ("github-release", "contents"),
    }


def test_pypi_is_published_by_trusted_publishing_from_the_pypi_environment() -> None:
    job = load_workflow("release.yml")["jobs"]["pypi"]
    assert job["environment"]["name"] == "pypi"
    assert job["permissions"] == {"id-token": "write"}
    publish = [step for step in job["steps"] if str(step.get("uses", "")).startswith("pypa/gh-action-pypi-publish@")]
    assert len(publish) == 1
    # No token or password input: the OIDC exchange is the only credential.
    assert not set(publish[0].get("with", {})) & {"password", "user"}


def test_the_github_release_comes_last() -> None:
    jobs = load_workflow("release.yml")["jobs"]
    assert set(jobs["github-release"]["needs"]) == {"version", "pypi", "image", "chart"}

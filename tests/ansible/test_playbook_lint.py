"""The playbook parses and the role passes ansible-lint's production profile."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.support.ansible_role import ANSIBLE_DIR, BIN, PLAYBOOK, ansible_tool


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def test_playbook_syntax(tmp_path: Path) -> None:
    playbook = ansible_tool("ansible-playbook")
    if playbook is None:
        pytest.skip("ansible-core is not installed in the project's venv (the test extras)")
    result = subprocess.run(
        [str(playbook), "--syntax-check", "-i", str(ANSIBLE_DIR / "inventory.example.yml"), str(PLAYBOOK)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"playbook: {PLAYBOOK}" in result.stdout


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    lint = ansible_tool("ansible-lint")
    if lint is None:
        pytest.skip("ansible-lint is not installed in the project's venv (the test extras)")
    result = subprocess.run(
        [str(lint), "--offline", "--profile", "production", "--nocolor"],
        capture_output=True,
        text=True,
        cwd=ANSIBLE_DIR,
        env=_env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failure(s), 0 warning(s)" in result.stdout + result.stderr

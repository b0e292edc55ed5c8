"""Paths and readers of the release files, shared by the release tier's tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
RELEASE_VERSION = REPO / "tools" / "release-version"


def load_workflow(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps_using(workflow: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """Every step, in any job, whose `uses:` is `action` at any ref."""
    return [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).partition("@")[0] == action
    ]


def run_scripts(workflow: dict[str, Any], job: str) -> list[str]:
    return [step["run"] for step in workflow["jobs"][job]["steps"] if "run" in step]


def run_release_version(*arguments: str, script: Path = RELEASE_VERSION) -> subprocess.CompletedProcess[str]:
    """tools/release-version as the workflow runs it: the executable itself, through its shebang."""
    return subprocess.run([str(script), *arguments], capture_output=True, text=True, check=False, timeout=60)

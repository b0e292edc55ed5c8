"""Running the Ansible role against this machine: the wheel `make wheel` builds from the working tree, every
path under a temporary prefix, the test PostgreSQL, no systemd actions (the units are written, not started).

A run's figures come from ansible-playbook's default output: the PLAY RECAP line of the host, and the
`changed:` lines under each TASK header (ansible-core alone has no json callback any more).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from psycopg.conninfo import conninfo_to_dict

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
PLAYBOOK = ANSIBLE_DIR / "playbook.yml"
ROLE_DIR = ANSIBLE_DIR / "roles" / "georchestra_analytics"
BIN = Path(sys.executable).parent


def ansible_tool(name: str) -> Path | None:
    """An Ansible command of the project's venv (installed with the test extras), or None."""
    path = BIN / name
    return path if path.exists() else None


def build_wheel(out: Path) -> Path:
    """The wheel `make wheel` builds, written into `out`: the artifact a user hands the role. The venv of this
    interpreter is taken as up to date (`-o` its stamp), so building never reinstalls it."""
    venv = Path(sys.prefix)
    subprocess.run(
        ["make", "-C", str(REPO), "-o", str(venv / ".installed"), "wheel", f"VENV={venv}", f"DIST={out}"],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


_TASK_HEADER = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?:[^\]:]+ : )?(?P<name>.*)\] \**$")
_RECAP = re.compile(r"^localhost\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


@dataclass(frozen=True)
class RunResult:
    returncode: int
    output: str  # stdout and stderr, to search for leaked secrets

    @property
    def stats(self) -> dict[str, int]:
        """The host's PLAY RECAP: ok, changed, unreachable, failed, skipped, rescued, ignored."""
        for line in reversed(self.output.splitlines()):
            match = _RECAP.match(line.strip())
            if match:
                return {key: int(value) for key, value in (item.split("=") for item in match["counts"].split())}
        raise AssertionError(f"no PLAY RECAP for localhost in:\n{self.output[-4000:]}")

    def changed_tasks(self) -> list[str]:
        changed, task = [], ""
        for line in self.output.splitlines():
            header = _TASK_HEADER.match(line)
            if header:
                task = header["name"]
            elif line.startswith("changed: [localhost]"):
                changed.append(task)
        return changed


@dataclass
class RoleTarget:
    """The temporary host: its prefix and the variables handed to the role."""

    root: Path
    variables: dict[str, Any]

    @property
    def prefix(self) -> Path:
        return self.root / "host"

    @property
    def config_dir(self) -> Path:
        return self.prefix / "etc" / "georchestra-analytics"

    @property
    def systemd_dir(self) -> Path:
        return self.prefix / "etc" / "systemd" / "system"

    @property
    def command(self) -> Path:
        return self.prefix / "opt" / "georchestra-analytics" / "bin" / "georchestra-analytics"

    def write_inventory(self, overrides: dict[str, Any]) -> tuple[Path, Path]:
        inventory = self.root / "inventory.yml"
        hosts = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
        inventory.write_text(yaml.safe_dump({"all": {"children": {"analytics": {"hosts": hosts}}}}))
        variables = self.root / "vars.json"
        variables.write_text(json.dumps(self.variables | overrides))
        return inventory, variables

    def run(self, *extra: str, overrides: dict[str, Any] | None = None) -> RunResult:
        """One ansible-playbook run with the target's variables, some replaced by `overrides`."""
        inventory, variables = self.write_inventory(overrides or {})
        playbook = ansible_tool("ansible-playbook")
        assert playbook is not None
        env = {
            **os.environ,
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(self.root / "ansible-tmp"),
            "ANSIBLE_HOME": str(self.root / "ansible-home"),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        result = subprocess.run(
            [str(playbook), "-i", str(inventory), "-e", f"@{variables}", str(PLAYBOOK), *extra],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            check=False,
        )
        return RunResult(result.returncode, result.stdout + result.stderr)


def role_variables(root: Path, wheel: Path, dsn: str) -> dict[str, Any]:
    """The role's variables for a temporary prefix and the test database at `dsn`."""
    params = conninfo_to_dict(dsn)
    return {
        "georchestra_analytics_prefix": str(root / "host"),
        "georchestra_analytics_wheel": str(wheel),
        "georchestra_analytics_python": sys.executable,
        "georchestra_analytics_user": getpass.getuser(),
        "georchestra_analytics_create_user": False,
        "georchestra_analytics_manage_services": False,
        "georchestra_analytics_vector_validate": False,
        "georchestra_analytics_database": {
            "flavor": "postgresql",
            "schema": "analytics_vm",
            "external": {
                "host": params.get("host", "localhost"),
                "port": int(params.get("port", 5432)),
                "databaseName": params["dbname"],
                "sslMode": "disable",
            },
        },
        "georchestra_analytics_database_username": params.get("user", getpass.getuser()),
    }

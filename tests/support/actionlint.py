"""actionlint for the release tier: the GitHub Actions workflows cannot run here, so they are checked statically.

`go install github.com/rhysd/actionlint/cmd/actionlint@<version>` from the Go module proxy, cached
(tests/support/go_tool.py).
`ANALYTICS_ACTIONLINT` names a prebuilt binary instead.

actionlint runs shellcheck on every `run:` script when `shellcheck` is on PATH (tools/ensure-system-packages
installs it), so the check is complete only with it.

Command line (the Makefile's `tools` target calls it, so the build runs outside any test's time-out):
    python -m tests.support.actionlint ensure
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.go_tool import GoTool
from tests.support.k8s_assets import Binaries

ACTIONLINT = "actionlint"
TOOL = GoTool(
    name=ACTIONLINT,
    package="github.com/rhysd/actionlint/cmd/actionlint",
    version="v1.7.12",
    binary_env="ANALYTICS_ACTIONLINT",
)


def ensure_actionlint() -> Binaries:
    return TOOL.ensure()


def version_of(binary: Path) -> str:
    """The version the binary reports (its first line of `-version`)."""
    result = subprocess.run([str(binary), "-version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0].strip()


def _notes() -> list[str]:
    if shutil.which("shellcheck") is None:
        return ["shellcheck is not on PATH: `run:` scripts go unchecked (tools/ensure-system-packages)"]
    return []


if __name__ == "__main__":
    sys.exit(TOOL.main(__doc__.splitlines()[0], _notes))

"""promtool for the helm tier: the chart's PrometheusRule is checked by Prometheus' own rule checker.

`go install github.com/prometheus/prometheus/cmd/promtool@<version>` from the Go module proxy, cached
(tests/support/go_tool.py).
The Prometheus module publishes release 3.M.P as `v0.3MM.P` (its go.mod has no replace or exclude directives,
so `go install pkg@version` builds it as released). `ANALYTICS_PROMTOOL` names a prebuilt binary instead.

Command line (the Makefile's `tools` target calls it, so the build runs outside any test's time-out):
    python -m tests.support.promtool ensure
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.go_tool import GoTool
from tests.support.k8s_assets import Binaries

PROMTOOL = "promtool"
# Prometheus 3.16.0, as the Go module proxy names it.
TOOL = GoTool(
    name=PROMTOOL,
    package="github.com/prometheus/prometheus/cmd/promtool",
    version="v0.316.0",
    binary_env="ANALYTICS_PROMTOOL",
)


def ensure_promtool() -> Binaries:
    return TOOL.ensure()


def check_rules(binary: Path, rule_file: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules --lint=all --lint-fatal FILE`: syntax, PromQL, templates, and the lints
    (duplicate rules; the lint set grows with promtool) as errors."""
    return subprocess.run(
        [str(binary), "check", "rules", "--lint=all", "--lint-fatal", str(rule_file)],
        capture_output=True,
        text=True,
        check=False,
    )


if __name__ == "__main__":
    sys.exit(TOOL.main(__doc__.splitlines()[0]))

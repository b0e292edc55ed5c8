"""promtool for the helm tier: the chart's PrometheusRule is checked by Prometheus' own rule checker.

`go install github.com/prometheus/prometheus/cmd/promtool@PROMETHEUS_MODULE_VERSION` from the Go module proxy,
cached like helm (tests/support/k8s_assets.py):
`$XDG_CACHE_HOME/georchestra-analytics/promtool/promtool-<version>-r<recipe>/`, used only once its `build.json`
exists, built under a file lock so two sessions never build it at once.
The Prometheus module publishes release 3.M.P as `v0.3MM.P` (its go.mod has no replace or exclude directives,
so `go install pkg@version` builds it as released). `ANALYTICS_PROMTOOL` names a prebuilt binary instead.

Command line (the Makefile's `tools` target calls it, so the build runs outside any test's time-out):
    python -m tests.support.promtool ensure
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from tests.support.k8s_assets import AssetsError, Binaries, go_install_cached

# Prometheus 3.16.0, as the Go module proxy names it.
PROMETHEUS_MODULE_VERSION = "v0.316.0"
MODULE = "github.com/prometheus/prometheus/cmd/promtool"
# Bumped when the way of building changes, so an old cache folder is not taken for a new build.
RECIPE = "1"
PROMTOOL = "promtool"
BINARY_ENV = "ANALYTICS_PROMTOOL"

log = logging.getLogger(__name__)


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "georchestra-analytics" / "promtool" / f"promtool-{PROMETHEUS_MODULE_VERSION}-r{RECIPE}"


def ensure_promtool() -> Binaries:
    """promtool: from BINARY_ENV, else the cache, else `go install` now."""
    prebuilt = os.environ.get(BINARY_ENV)
    if prebuilt:
        path = Path(prebuilt)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise AssetsError(f"{BINARY_ENV}={prebuilt} is not an executable file")
        return Binaries(paths={PROMTOOL: path}, origin=BINARY_ENV, versions={PROMTOOL: "prebuilt"})
    return go_install_cached(
        cache_folder(), PROMTOOL, f"{MODULE}@{PROMETHEUS_MODULE_VERSION}", PROMETHEUS_MODULE_VERSION
    )


def describe(binaries: Binaries) -> str:
    if binaries.origin == BINARY_ENV:
        return f"promtool: prebuilt, from {BINARY_ENV}={os.environ.get(BINARY_ENV)}"
    return binaries.describe()


def check_rules(binary: Path, rule_file: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules --lint=all --lint-fatal FILE`: syntax, PromQL, templates, and the lints
    (duplicate rules; the lint set grows with promtool) as errors."""
    return subprocess.run(
        [str(binary), "check", "rules", "--lint=all", "--lint-fatal", str(rule_file)],
        capture_output=True,
        text=True,
        check=False,
    )


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.promtool", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure", help="build promtool when the cache lacks it; print its path")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        binaries = ensure_promtool()
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(describe(binaries))
    print(f"  {PROMTOOL}: {binaries.paths[PROMTOOL]}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

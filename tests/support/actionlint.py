"""actionlint for the release tier: the GitHub Actions workflows cannot run here, so they are checked statically.

`go install github.com/rhysd/actionlint/cmd/actionlint@ACTIONLINT_VERSION` from the Go module proxy, cached like
helm (tests/support/k8s_assets.py): `$XDG_CACHE_HOME/georchestra-analytics/actionlint/actionlint-<version>-r<recipe>/`,
used only once its `build.json` exists, built under a file lock so two sessions never build it at once.
`ANALYTICS_ACTIONLINT` names a prebuilt binary instead.

actionlint runs shellcheck on every `run:` script when `shellcheck` is on PATH (tools/ensure-system-packages
installs it), so the check is complete only with it.

Command line (the Makefile's `tools` target calls it, so the build runs outside any test's time-out):
    python -m tests.support.actionlint ensure
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.k8s_assets import AssetsError, Binaries, go_install_cached

ACTIONLINT_VERSION = "v1.7.12"
MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
# Bumped when the way of building changes, so an old cache folder is not taken for a new build.
RECIPE = "1"
ACTIONLINT = "actionlint"
BINARY_ENV = "ANALYTICS_ACTIONLINT"

log = logging.getLogger(__name__)


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "georchestra-analytics" / "actionlint" / f"actionlint-{ACTIONLINT_VERSION}-r{RECIPE}"


def ensure_actionlint() -> Binaries:
    """actionlint: from BINARY_ENV, else the cache, else `go install` now."""
    prebuilt = os.environ.get(BINARY_ENV)
    if prebuilt:
        path = Path(prebuilt)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise AssetsError(f"{BINARY_ENV}={prebuilt} is not an executable file")
        return Binaries(paths={ACTIONLINT: path}, origin=BINARY_ENV, versions={ACTIONLINT: "prebuilt"})
    return go_install_cached(cache_folder(), ACTIONLINT, f"{MODULE}@{ACTIONLINT_VERSION}", ACTIONLINT_VERSION)


def describe(binaries: Binaries) -> str:
    if binaries.origin == BINARY_ENV:
        return f"actionlint: prebuilt, from {BINARY_ENV}={os.environ.get(BINARY_ENV)}"
    return binaries.describe()


def version_of(binary: Path) -> str:
    """The version the binary reports (its first line of `-version`)."""
    result = subprocess.run([str(binary), "-version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0].strip()


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.actionlint", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure", help="build actionlint when the cache lacks it; print its path")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        binaries = ensure_actionlint()
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(describe(binaries))
    print(f"  {ACTIONLINT}: {binaries.paths[ACTIONLINT]}")
    if shutil.which("shellcheck") is None:
        print("  note: shellcheck is not on PATH: `run:` scripts go unchecked (tools/ensure-system-packages)")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

"""A single-binary test tool built by `go install module/cmd@version` from the Go module proxy (actionlint,
promtool), or taken prebuilt from an environment variable.

Cached in `$XDG_CACHE_HOME/georchestra-analytics/<name>/<name>-<version>-r<recipe>/`, used only once its
`build.json` exists, built under a file lock so two sessions never build it at once (k8s_assets.go_install_cached).
Each tool's module offers `python -m tests.support.<tool> ensure` for the Makefile's `tools` target, so builds run
outside any test's time-out.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.k8s_assets import AssetsError, Binaries, go_install_cached


@dataclass(frozen=True)
class GoTool:
    name: str
    """The binary's name."""
    package: str
    """What `go install` builds, without the version: `github.com/rhysd/actionlint/cmd/actionlint`."""
    version: str
    """The module version, as the Go module proxy names it."""
    binary_env: str
    """An environment variable naming a prebuilt binary instead."""
    recipe: str = "1"
    """Bumped when the way of building changes, so an old cache folder is not taken for a new build."""

    def cache_folder(self) -> Path:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "georchestra-analytics" / self.name / f"{self.name}-{self.version}-r{self.recipe}"

    def ensure(self) -> Binaries:
        """The binary: from `binary_env`, else the cache, else `go install` now."""
        prebuilt = os.environ.get(self.binary_env)
        if prebuilt:
            path = Path(prebuilt)
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise AssetsError(f"{self.binary_env}={prebuilt} is not an executable file")
            return Binaries(paths={self.name: path}, origin=self.binary_env, versions={self.name: "prebuilt"})
        return go_install_cached(self.cache_folder(), self.name, f"{self.package}@{self.version}", self.version)

    def describe(self, binaries: Binaries) -> str:
        if binaries.origin == self.binary_env:
            return f"{self.name}: prebuilt, from {self.binary_env}={os.environ.get(self.binary_env)}"
        return binaries.describe()

    def main(self, description: str, notes: Callable[[], list[str]] = list) -> int:
        """`python -m tests.support.<tool> ensure`: build when the cache lacks it, print its path (and notes)."""
        parser = argparse.ArgumentParser(prog=f"python -m tests.support.{self.name}", description=description)
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("ensure", help=f"build {self.name} when the cache lacks it; print its path")
        parser.parse_args()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        try:
            binaries = self.ensure()
        except AssetsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(self.describe(binaries))
        print(f"  {self.name}: {binaries.paths[self.name]}")
        for note in notes():
            print(f"  note: {note}")
        return 0

"""The Prometheus Operator's PrometheusRule CRD, for the helm tier: installed in the test API server, it makes the
cluster serve the kind the chart's PrometheusRule needs, and the API server checks the rule against its schema.

The CRD ships in the prometheus-operator Go module (`example/prometheus-operator-crd/`); `go mod download` of
PROMETHEUS_OPERATOR_VERSION fetches it from the Go module proxy into Go's module cache, and the file is copied to
`$XDG_CACHE_HOME/georchestra-analytics/prometheus-operator/<version>/`. `ANALYTICS_PROMETHEUS_RULE_CRD` names a
CRD file instead.

Command line (the Makefile's `tools` target calls it):
    python -m tests.support.prometheus_operator_crd ensure
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.k8s_assets import AssetsError, find_go

PROMETHEUS_OPERATOR_VERSION = "v0.85.0"
MODULE = "github.com/prometheus-operator/prometheus-operator"
CRD_IN_MODULE = "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
FILE_ENV = "ANALYTICS_PROMETHEUS_RULE_CRD"


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "georchestra-analytics" / "prometheus-operator" / PROMETHEUS_OPERATOR_VERSION
    return folder / Path(CRD_IN_MODULE).name


def ensure_crd() -> Path:
    """The CRD file: from FILE_ENV, else the cache, else downloaded now."""
    given = os.environ.get(FILE_ENV)
    if given:
        if not Path(given).is_file():
            raise AssetsError(f"{FILE_ENV}={given} is not a file")
        return Path(given)
    target = cache_file()
    if target.is_file():
        return target
    go = find_go()
    environment = {**os.environ, "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}", "GOFLAGS": "-mod=mod"}
    with tempfile.TemporaryDirectory() as empty:  # outside any Go module
        result = subprocess.run(
            [str(go), "mod", "download", "-json", f"{MODULE}@{PROMETHEUS_OPERATOR_VERSION}"],
            cwd=empty,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise AssetsError(f"go mod download {MODULE}@{PROMETHEUS_OPERATOR_VERSION} failed: {result.stderr.strip()}")
    source = Path(json.loads(result.stdout)["Dir"]) / CRD_IN_MODULE
    if not source.is_file():
        raise AssetsError(f"{MODULE}@{PROMETHEUS_OPERATOR_VERSION} has no {CRD_IN_MODULE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)  # atomic: a reader never sees half a file
    return target


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.prometheus_operator_crd", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure", help="download the CRD when the cache lacks it; print its path")
    parser.parse_args(argv)
    try:
        path = ensure_crd()
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"PrometheusRule CRD of prometheus-operator {PROMETHEUS_OPERATOR_VERSION}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

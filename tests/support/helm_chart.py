"""The chart under test: its scenarios, `helm template` and the golden files of its output.

A scenario is one values file in helm/georchestra-analytics/ci/; its golden file is tests/helm/golden/<name>.yaml,
the exact `helm template` output for release RELEASE in namespace RELEASE_NAMESPACE. `UPDATE_GOLDEN=1` rewrites
the golden files from the real helm binary instead of comparing.
"""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "georchestra-analytics"
SCENARIOS_DIR = CHART / "ci"
GOLDEN_DIR = REPO / "tests" / "helm" / "golden"
CRD_FILE = CHART / "crds" / "analyticsstacks.yaml"
DOCS_RBAC = REPO / "docs" / "operator-rbac.md"

RELEASE = "analytics"
RELEASE_NAMESPACE = "georchestra-analytics"
UPDATE_GOLDEN_ENV = "UPDATE_GOLDEN"


@dataclass(frozen=True)
class Scenario:
    name: str
    values_file: Path

    @property
    def golden_file(self) -> Path:
        return GOLDEN_DIR / f"{self.name}.yaml"

    def values(self) -> dict[str, Any]:
        return yaml.safe_load(self.values_file.read_text(encoding="utf-8")) or {}


def scenarios() -> list[Scenario]:
    """Every ci/<name>-values.yaml, by name."""
    return [
        Scenario(path.name.removesuffix("-values.yaml"), path) for path in sorted(SCENARIOS_DIR.glob("*-values.yaml"))
    ]


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr."""


def run_helm(helm: Path, *arguments: str, kubeconfig: Path | None = None) -> str:
    """helm's stdout; HelmError with its stderr when it fails. HELM_* settings of the caller are ignored."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HELM_")}
    if kubeconfig is not None:
        environment["KUBECONFIG"] = str(kubeconfig)
    result = subprocess.run(
        [str(helm), *arguments], capture_output=True, text=True, check=False, env=environment, timeout=300
    )
    if result.returncode != 0:
        raise HelmError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


def template(
    helm: Path,
    values_files: Sequence[Path] = (),
    *,
    set_values: Sequence[str] = (),
    release: str = RELEASE,
    namespace: str = RELEASE_NAMESPACE,
) -> str:
    """`helm template` of the chart: the manifest text, without the CRDs (they are the CRD generator's)."""
    arguments = ["template", release, str(CHART), "--namespace", namespace]
    for values_file in values_files:
        arguments += ["--values", str(values_file)]
    for assignment in set_values:
        arguments += ["--set", assignment]
    return run_helm(helm, *arguments)


def documents(manifest: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(manifest) if document]


def find(objects: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in objects if item.get("kind") == kind]


def golden_documents(name: str) -> list[dict[str, Any]]:
    return documents((GOLDEN_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def rbac_rules(objects: Sequence[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(role object, rule) for every rule of every Role and ClusterRole."""
    for role in objects:
        if role.get("kind") in ("Role", "ClusterRole"):
            for rule in role.get("rules") or []:
                yield role, rule


def crd_document() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    return crd


Grants = dict[tuple[str, str], frozenset[str]]


def documented_grants(mode: str) -> Grants:
    """The rows of docs/operator-rbac.md's table that apply to a mode ("cluster-wide" or "namespaced")."""
    text = DOCS_RBAC.read_text(encoding="utf-8")
    table = text.split("<!-- rbac-table:start -->", 1)[1].split("<!-- rbac-table:end -->", 1)[0]
    grants: Grants = {}
    for line in table.strip().splitlines()[2:]:
        group, resource, verbs, row_mode, _why = (cell.strip() for cell in line.strip("|").split("|"))
        if row_mode in ("both", mode):
            key = ("" if group == "(core)" else group, resource)
            if key in grants:
                raise ValueError(f"{key} is listed twice in docs/operator-rbac.md")
            grants[key] = frozenset(verb.strip() for verb in verbs.split(","))
    return grants


def rendered_grants(rules: list[dict[str, Any]]) -> Grants:
    merged: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                merged[(group, resource)].update(rule["verbs"])
    return {key: frozenset(verbs) for key, verbs in merged.items()}

"""The chart's PrometheusRule in tests: rendered by helm as on a cluster that serves the kind, its groups as a
Prometheus rule file (what promtool reads), and the metric names its expressions select.

Golden files: tests/helm/golden/prometheusrule/<name>.yaml, the exact `helm template --show-only` output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.helm_chart import CHART, GOLDEN_DIR, RELEASE, RELEASE_NAMESPACE, documents, find, run_helm

CAPABILITY = "monitoring.coreos.com/v1/PrometheusRule"
TEMPLATE = "templates/prometheusrule.yaml"
RULE_GOLDEN_DIR = GOLDEN_DIR / "prometheusrule"
OPERATOR_PREFIX = "georchestra_analytics_"
COLLECTOR_PREFIX = "vector_"


def _template(helm: Path, set_values: Sequence[str], values_files: Sequence[Path], *extra: str) -> str:
    arguments = ["template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE, *extra]
    for values_file in values_files:
        arguments += ["--values", str(values_file)]
    for assignment in set_values:
        arguments += ["--set", assignment]
    return run_helm(helm, *arguments)


def render(helm: Path, set_values: Sequence[str] = (), values_files: Sequence[Path] = (), *extra: str) -> str:
    """`helm template` of the rule alone (enabled), with the Prometheus Operator's kind among the cluster's API
    versions; `extra` arguments of helm after."""
    assignments = ["prometheusRule.enabled=true", *set_values]
    return _template(helm, assignments, values_files, "--api-versions", CAPABILITY, "--show-only", TEMPLATE, *extra)


def kinds(helm: Path, set_values: Sequence[str], *, with_capability: bool) -> list[str]:
    """Kinds of the whole chart's output, with or without the PrometheusRule kind served."""
    extra = ["--api-versions", CAPABILITY] if with_capability else []
    return [document["kind"] for document in documents(_template(helm, set_values, (), *extra))]


def the_rule(manifest: str) -> dict[str, Any]:
    (rule,) = find(documents(manifest), "PrometheusRule")
    return rule


def rule_file(manifest: str) -> str:
    """The rule's spec as a Prometheus rule file (`groups:`), as the Prometheus Operator hands it to Prometheus."""
    return yaml.safe_dump(the_rule(manifest)["spec"], sort_keys=False, allow_unicode=True, width=1 << 16)


def rules(groups: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for group in groups["groups"]:
        yield from group["rules"]


_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]|\boffset\s+-?[0-9a-z]+|@\s*\S+")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """Names of the metrics an expression selects: what is left once strings, label matchers, ranges and
    grouping clauses are removed, less function calls and operators."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group()
        is_call = text[match.end() :].lstrip().startswith("(")
        if not is_call and word.lower() not in _KEYWORDS:
            names.add(word)
    return names


def all_metric_names(groups: Mapping[str, Any]) -> set[str]:
    return {name for rule in rules(groups) for name in metric_names(str(rule["expr"]))}


def golden_groups(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((RULE_GOLDEN_DIR / f"{name}.yaml").read_text(encoding="utf-8"))["spec"]
    return spec

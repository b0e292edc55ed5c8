"""The pure builders: security, ownership, labels, names by hash, checksums, and what changes with the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.kube_children import by_kind, one, pod_templates

from georchestra_analytics.kube.children import ChildInputs, build_children
from georchestra_analytics.kube.collector import otlp_endpoints
from georchestra_analytics.kube.crd import build_crd
from georchestra_analytics.kube.fingerprint import templates_digest
from georchestra_analytics.kube.manifests import to_yaml_stream
from georchestra_analytics.kube.naming import (
    COMPONENT_LABEL,
    INSTANCE_LABEL,
    OPERATOR_LABELS,
    PART_OF,
    PART_OF_LABEL,
    owned_labels,
)
from georchestra_analytics.kube.pods import CONFIG_CHECKSUM_ANNOTATION, SECRETS_CHECKSUM_ANNOTATION
from georchestra_analytics.stack import AnalyticsStack, load_stack, parse_stack
from georchestra_analytics.stack.collector import DISK_BUFFER_MIN_BYTES

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
INPUTS = ChildInputs(vector_config="sources: {}\n", migration_templates_digest="t1", superset_bundle_digest="b1")


def make(spec: dict[str, Any], uid: str | None = "0f6c1e0a-1111-2222-3333-444455556666") -> AnalyticsStack:
    metadata: dict[str, Any] = {"name": "analytics", "namespace": "geor"}
    if uid:
        metadata["uid"] = uid
    return parse_stack({"kind": "AnalyticsStack", "metadata": metadata, "spec": spec})


MANAGED: dict[str, Any] = {"database": {"managed": {}}}
EXTERNAL: dict[str, Any] = {
    "database": {"external": {"host": "db.example.org", "credentialsSecret": {"name": "analytics-db"}}},
    "superset": {"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}},
}


def children_of(spec: dict[str, Any], inputs: ChildInputs = INPUTS, **kwargs: Any) -> list[dict[str, Any]]:
    return build_children(make(spec, **kwargs), inputs)


def all_cases() -> list[list[dict[str, Any]]]:
    cases = [children_of(MANAGED), children_of(EXTERNAL)]
    cases += [build_children(load_stack(path), INPUTS) for path in EXAMPLES]
    return cases


@pytest.mark.parametrize("children", all_cases())
def test_every_pod_meets_the_restricted_pod_security_level(children: list[dict[str, Any]]) -> None:
    templates = list(pod_templates(children))
    assert templates
    for where, template in templates:
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        assert any(v.get("emptyDir") is not None and v["name"] == "tmp" for v in pod["volumes"]), where
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), where


@pytest.mark.parametrize("children", all_cases())
def test_labels_and_selectors(children: list[dict[str, Any]]) -> None:
    for child in children:
        labels = child["metadata"]["labels"]
        for key in ("name", "instance", "component", "managed-by", "part-of", "version"):
            assert f"app.kubernetes.io/{key}" in labels, child["metadata"]["name"]
        selector = child.get("spec", {}).get("selector", {})
        selector = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
        template = child.get("spec", {}).get("template")
        if selector and template:
            assert selector.items() <= template["metadata"]["labels"].items()


def test_the_crd_and_the_children_are_part_of_the_same_platform() -> None:
    assert build_crd()["metadata"]["labels"][PART_OF_LABEL] == PART_OF
    for children in all_cases():
        assert {child["metadata"]["labels"][PART_OF_LABEL] for child in children} == {PART_OF}


def test_every_child_matches_the_watch_filter_and_its_stack_selector() -> None:
    for children in all_cases():
        for child in children:
            labels = child["metadata"]["labels"]
            stack = parse_stack({"metadata": {"name": labels[INSTANCE_LABEL]}, "spec": MANAGED})
            assert OPERATOR_LABELS.items() <= labels.items()
            assert owned_labels(stack).items() <= labels.items()
            assert owned_labels(stack, labels[COMPONENT_LABEL]).items() <= labels.items()


def test_owner_references_only_with_a_uid() -> None:
    for child in children_of(MANAGED):
        (owner,) = child["metadata"]["ownerReferences"]
        assert owner["kind"] == "AnalyticsStack" and owner["controller"] is True
        assert owner["uid"] == "0f6c1e0a-1111-2222-3333-444455556666"
    assert all("ownerReferences" not in child["metadata"] for child in children_of(MANAGED, uid=None))


def test_parse_cronjob_policy_follows_parallelism_and_suspend() -> None:
    single = one(children_of(MANAGED), "CronJob")
    assert single["spec"]["concurrencyPolicy"] == "Forbid"
    assert single["spec"]["suspend"] is False
    parallel = one(children_of({**MANAGED, "parser": {"parallelism": 3}}), "CronJob")
    assert parallel["spec"]["concurrencyPolicy"] == "Allow"
    suspended = one(children_of({**MANAGED, "suspend": True}), "CronJob")
    assert suspended["spec"]["suspend"] is True
    container = single["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert "--termination-log" in container["args"]


def test_collector_workload_follows_the_buffer_type() -> None:
    memory = children_of(MANAGED)
    assert one(memory, "Deployment", "collector")
    assert [c["metadata"]["name"] for c in by_kind(memory, "StatefulSet")] == ["analytics-db"]
    disk_spec = {**MANAGED, "collector": {"buffer": {"type": "disk", "maxSize": DISK_BUFFER_MIN_BYTES}}}
    statefulset = one(children_of(disk_spec), "StatefulSet", "collector")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    size = claim["spec"]["resources"]["requests"]["storage"]
    assert size.endswith("Mi") and int(size[:-2]) * (1 << 20) >= DISK_BUFFER_MIN_BYTES
    init = statefulset["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"][:2] == ["validate", "--no-environment"]


def test_a_file_source_keeps_its_checkpoints_on_a_volume() -> None:
    # Without its checkpoints a restarted collector reads every file again, and a rotated file under its new
    # name becomes new records: the data directory must outlive the pod even with a memory buffer.
    files = {"claimName": "web-logs", "paths": ["nginx/access.log*"]}
    spec = {**MANAGED, "collector": {"files": files, "buffer": {"storageClassName": "fast"}}}
    statefulset = one(children_of(spec), "StatefulSet", "collector")
    assert not by_kind(children_of(spec), "Deployment")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    pod = statefulset["spec"]["template"]["spec"]
    assert "data" not in {volume["name"] for volume in pod["volumes"]}  # the claim, not an emptyDir
    mounts = {mount["name"]: mount for mount in pod["containers"][0]["volumeMounts"]}
    assert mounts["data"]["mountPath"] == "/var/lib/vector"
    assert mounts["access-logs"]["readOnly"] is True


def test_collector_service_and_endpoints() -> None:
    service = one(children_of(MANAGED), "Service", "collector")
    assert {port["port"] for port in service["spec"]["ports"]} == {4317, 4318, 9598}
    assert otlp_endpoints(make(MANAGED)) == {
        "otlpGrpc": "http://analytics-collector.geor.svc:4317",
        "otlpHttp": "http://analytics-collector.geor.svc:4318",
    }


def test_network_policy_allows_the_named_namespaces_only() -> None:
    spec = {**MANAGED, "collector": {"network": {"allowedNamespaces": ["gw"], "allowedPodLabels": {"app": "gw"}}}}
    policy = one(children_of(spec), "NetworkPolicy")
    rule, metrics = policy["spec"]["ingress"]
    assert metrics["ports"] == [{"port": 9598, "protocol": "TCP"}]
    assert {port["port"] for port in rule["ports"]} == {4317, 4318}
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gw"}},
            "podSelector": {"matchLabels": {"app": "gw"}},
        }
    ]
    assert not by_kind(children_of({**MANAGED, "collector": {"network": {"enabled": False}}}), "NetworkPolicy")


def test_managed_database_volume_kept_by_default() -> None:
    statefulset = one(children_of(MANAGED), "StatefulSet", "-db")
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    dropped = one(children_of({"database": {"managed": {"keepVolumeOnDelete": False}}}), "StatefulSet", "-db")
    assert dropped["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    managed_only = {"analytics-db", "analytics-db-credentials"}
    assert not [c for c in children_of(EXTERNAL) if c["metadata"]["name"] in managed_only]


def test_generated_password_goes_only_into_its_secret() -> None:
    password = "pw-Zq8'\"${x}"
    children = children_of(MANAGED, inputs=ChildInputs("v: 1\n", "t", "b", database_password=password))
    secrets = by_kind(children, "Secret")
    assert [secret["stringData"]["password"] for secret in secrets if "password" in secret.get("stringData", {})] == [
        password
    ]
    others = [child for child in children if child["kind"] != "Secret"]
    assert password not in to_yaml_stream(others)
    for secret in by_kind(children_of(MANAGED), "Secret"):
        assert "stringData" not in secret and "data" not in secret


def test_no_secret_value_anywhere_only_references() -> None:
    for children in all_cases():
        for where, template in pod_templates(children):
            for container in template["spec"]["containers"]:
                for variable in container.get("env", []):
                    if variable["name"] in SECRET_VARIABLES:
                        assert "value" not in variable and "secretKeyRef" in variable["valueFrom"], where


SECRET_VARIABLES = (
    "PGPASSWORD",
    "SUPERSET_PASSWORD",
    "ANALYTICS_PSEUDONYMIZATION_KEY",
    "ANALYTICS_COLLECTOR_PASSWORD",
    "ANALYTICS_PARSER_PASSWORD",
    "ANALYTICS_DASHBOARDS_PASSWORD",
)


def _names(children: list[dict[str, Any]]) -> set[str]:
    return {child["metadata"]["name"] for child in children}


def test_migrate_job_name_follows_what_it_applies() -> None:
    base = _names(by_kind(children_of(MANAGED), "Job"))
    assert base == _names(by_kind(children_of(MANAGED), "Job")), "names must be stable"
    new_sql = ChildInputs("sources: {}\n", migration_templates_digest="t2", superset_bundle_digest="b1")
    assert _names(by_kind(children_of(MANAGED, inputs=new_sql), "Job")) != base
    assert _names(by_kind(children_of({**MANAGED, "retention": {"raw": "2y"}}), "Job")) != base
    assert _names(by_kind(children_of({**MANAGED, "parser": {"schedule": "@hourly"}}), "Job")) == base
    assert _names(by_kind(children_of({**MANAGED, "collector": {"replicas": 5}}), "Job")) == base


def test_superset_sync_job_reruns_per_round_and_bundle() -> None:
    names = {
        one(children_of(EXTERNAL, inputs=ChildInputs("v\n", "t", bundle, superset_resync_round=r)), "Job", "sync")[
            "metadata"
        ]["name"]
        for bundle, r in [("b1", 0), ("b1", 1), ("b2", 0)]
    }
    assert len(names) == 3
    assert all(len(name) <= 63 for name in names)
    assert not [c for c in by_kind(children_of(MANAGED), "Job") if "sync" in c["metadata"]["name"]]


def test_longest_stack_name_keeps_child_names_within_limits() -> None:
    stack = parse_stack({"kind": "AnalyticsStack", "metadata": {"name": "a" * 36}, "spec": EXTERNAL})
    for child in build_children(stack, INPUTS):
        limit = 52 if child["kind"] == "CronJob" else 63
        assert len(child["metadata"]["name"]) <= limit, child["metadata"]["name"]


def _annotations(children: list[dict[str, Any]]) -> dict[str, str]:
    annotations: dict[str, str] = one(children, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_config_and_secret_changes_roll_the_collector() -> None:
    first = _annotations(children_of(MANAGED, inputs=ChildInputs("a: 1\n", "t", "b", {"analytics-db-roles": "1"})))
    new_config = _annotations(children_of(MANAGED, inputs=ChildInputs("a: 2\n", "t", "b", {"analytics-db-roles": "1"})))
    rotated = _annotations(children_of(MANAGED, inputs=ChildInputs("a: 1\n", "t", "b", {"analytics-db-roles": "2"})))
    unrelated = _annotations(
        children_of(MANAGED, inputs=ChildInputs("a: 1\n", "t", "b", {"analytics-db-roles": "1", "other": "9"}))
    )
    assert new_config[CONFIG_CHECKSUM_ANNOTATION] != first[CONFIG_CHECKSUM_ANNOTATION]
    assert rotated[SECRETS_CHECKSUM_ANNOTATION] != first[SECRETS_CHECKSUM_ANNOTATION]
    assert unrelated == first


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    old = {(c["kind"], c["metadata"]["name"]): c for c in children_of(before)}
    new = {(c["kind"], c["metadata"]["name"]): c for c in children_of(after)}
    return {
        f"{kind}/{name}" for (kind, name) in old.keys() | new.keys() if old.get((kind, name)) != new.get((kind, name))
    }


def test_spec_updates_change_only_the_affected_children() -> None:
    assert _changed(MANAGED, {**MANAGED, "parser": {"schedule": "@hourly"}}) == {
        "ConfigMap/analytics-stack",
        "CronJob/analytics-parse",
    }
    assert _changed(MANAGED, {**MANAGED, "collector": {"replicas": 4}}) == {
        "ConfigMap/analytics-stack",
        "Deployment/analytics-collector",
    }
    changed = _changed(MANAGED, {**MANAGED, "retention": {"raw": "2y"}})
    assert "ConfigMap/analytics-stack" in changed and len([c for c in changed if c.startswith("Job/")]) == 2
    assert not {c for c in changed if not c.startswith(("Job/", "ConfigMap/analytics-stack"))}


HOSTILE = "q\"uote' new\nline {{ 7*7 }} ${HOME} $$ #x: &a *b !!str \u2028 é"


def test_hostile_values_render_to_yaml_that_parses_back() -> None:
    spec = {
        **EXTERNAL,
        "superset": {**EXTERNAL["superset"], "databaseName": HOSTILE},
        "collector": {
            "acceptedScopes": [HOSTILE],
            "podAnnotations": {"example.org/note": HOSTILE},
            # Label values have a narrow alphabet (quotes are refused: tests/unit/stack/test_k8s_names.py).
            "nodeSelector": {"topology.kubernetes.io/zone": "a-b_c.d"},
            "tolerations": [{"key": "example.org/k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}],
        },
    }
    stack = make(spec)
    children = build_children(
        stack, ChildInputs(vector_config=f"# {HOSTILE}\n", migration_templates_digest="t", superset_bundle_digest="b")
    )
    parsed = list(yaml.safe_load_all(to_yaml_stream(children)))
    assert parsed == children
    deployment = one(parsed, "Deployment")
    assert deployment["spec"]["template"]["metadata"]["annotations"]["example.org/note"] == HOSTILE
    stack_file = yaml.safe_load(one(parsed, "ConfigMap", "-stack")["data"]["stack.yaml"])
    assert parse_stack(stack_file).spec == stack.spec
    assert one(parsed, "ConfigMap", "collector-config")["data"]["vector.yaml"] == f"# {HOSTILE}\n"


def test_template_digest_is_stable_and_covers_the_folders() -> None:
    assert templates_digest("timescale") == templates_digest("timescale")
    assert templates_digest("timescale") != templates_digest("superset")


def test_label_keys_are_written_only_in_naming() -> None:
    """One source of truth for labels: no other module spells an app.kubernetes.io key."""
    package = REPO / "operator" / "georchestra_analytics"
    spelled = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "naming.py" and '"app.kubernetes.io/' in path.read_text(encoding="utf-8")
    ]
    assert spelled == []

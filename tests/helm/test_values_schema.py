"""values.schema.json refuses wrong values with a message naming the value and what was expected; values that
reach the manifests are escaped, so hostile strings come out exactly as given and add no key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.helm_chart import HelmError, documents, find, template

REFUSED = [
    pytest.param({"image": {"tag": 1.2}}, "/image/tag", "want string", id="image-tag-number"),
    pytest.param({"watchNamespaces": "geo"}, "/watchNamespaces", "want array", id="namespaces-not-a-list"),
    pytest.param({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0", "", id="namespace-invalid-name"),
    pytest.param({"metrics": {"port": "9090"}}, "/metrics/port", "want integer", id="port-as-string"),
    pytest.param({"operator": {"logFormat": "xml"}}, "/operator/logFormat", "", id="log-format-unknown"),
    pytest.param({"imagetag": "x"}, "imagetag", "not allowed", id="typo-at-top-level"),
    pytest.param({"rbac": {"create": "yes"}}, "/rbac/create", "want boolean", id="bool-as-string"),
    pytest.param(
        {"stack": {"enabled": True, "spec": {"database": {"managed": {}}, "parser": {"batchSize": "many"}}}},
        "/stack/spec/parser/batchSize",
        "want integer",
        id="stack-spec-from-the-crd-schema",
    ),
    pytest.param({"stack": {"name": "A" * 40}}, "/stack/name", "", id="stack-name-too-long"),
]


def _values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


@pytest.mark.parametrize(("values", "where", "expected"), REFUSED)
def test_wrong_values_are_refused_with_a_clear_message(
    helm: Path, tmp_path: Path, values: dict[str, Any], where: str, expected: str
) -> None:
    with pytest.raises(HelmError) as refused:
        template(helm, [_values_file(tmp_path, values)])
    message = str(refused.value)
    assert "schema" in message
    assert where in message
    assert expected in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"stack": {"enabled": True}}, "stack.spec.database is required", id="stack-without-database"),
        pytest.param(
            {"watchNamespaces": ["geo"], "stack": {"enabled": True, "spec": {"database": {"managed": {}}}}},
            'stack.namespace "georchestra-analytics" is not watched',
            id="stack-in-an-unwatched-namespace",
        ),
        pytest.param(
            {"metrics": {"serviceMonitor": {"enabled": True}}},
            "needs metrics.service.enabled",
            id="servicemonitor-without-service",
        ),
        pytest.param(
            {"serviceAccount": {"create": False}}, "serviceAccount.name is required", id="existing-sa-unnamed"
        ),
    ],
)
def test_inconsistent_values_fail_with_a_clear_message(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(HelmError, match=expected):
        template(helm, [_values_file(tmp_path, values)])


HOSTILE = "evil\"\n  injected: true\n{{ .Release.Name }}: '#"


def test_hostile_strings_come_out_exactly_as_given(helm: Path, tmp_path: Path) -> None:
    values = {
        "commonAnnotations": {"note": HOSTILE},
        "podAnnotations": {"note": HOSTILE},
        "serviceAccount": {"annotations": {"note": HOSTILE}},
        "operator": {"extraEnv": [{"name": "HOSTILE", "value": HOSTILE}]},
        "nodeSelector": {"zone": HOSTILE},
        "metrics": {"service": {"enabled": True, "annotations": {"note": HOSTILE}}},
        "stack": {
            "enabled": True,
            "annotations": {"note": HOSTILE},
            "spec": {
                "database": {"managed": {}},
                "superset": {
                    "url": "http://superset:8088",
                    "credentialsSecret": {"name": "superset"},
                    "databaseName": HOSTILE,
                },
            },
        },
    }
    objects = documents(template(helm, [_values_file(tmp_path, values)]))
    for item in objects:
        assert item["metadata"]["annotations"]["note"] == HOSTILE, item["kind"]
        assert "injected" not in item["metadata"]["annotations"]
    (deployment,) = find(objects, "Deployment")
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"note": HOSTILE}
    assert pod["spec"]["nodeSelector"] == {"zone": HOSTILE}
    (container,) = pod["spec"]["containers"]
    assert {"name": "HOSTILE", "value": HOSTILE} in container["env"]
    (stack,) = find(objects, "AnalyticsStack")
    assert stack["spec"]["superset"]["databaseName"] == HOSTILE
    assert set(stack["spec"]) == {"database", "superset"}


def test_image_reference_follows_registry_tag_and_digest(helm: Path) -> None:
    def image(*assignments: str) -> str:
        (deployment,) = find(documents(template(helm, set_values=assignments)), "Deployment")
        reference: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        return reference

    digest = "sha256:" + "0" * 64
    assert image().startswith("ghcr.io/georchestra/analytics:")
    assert image("global.imageRegistry=mirror.example.org:5000").startswith("mirror.example.org:5000/georchestra/")
    assert image("image.tag=1.2.3") == "ghcr.io/georchestra/analytics:1.2.3"
    assert image("image.tag=1.2.3", f"image.digest={digest}") == f"ghcr.io/georchestra/analytics:1.2.3@{digest}"


def test_service_monitor_selects_the_metrics_service(helm: Path) -> None:
    objects = documents(
        template(
            helm,
            set_values=[
                "metrics.service.enabled=true",
                "metrics.serviceMonitor.enabled=true",
                "metrics.serviceMonitor.labels.release=prometheus",
            ],
        )
    )
    (service,) = find(objects, "Service")
    (monitor,) = find(objects, "ServiceMonitor")
    (deployment,) = find(objects, "Deployment")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    # The Service reaches the operator pod, and only it.
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]

"""The AnalyticsStack CRD and the built children on a real API server.

- the generated CRD is accepted and served (structural schema, CEL rules compile within their cost budget);
- each example is accepted, and the API server's defaulting gives the same spec as the Python model;
- invalid specs are refused with the CRD's messages;
- every child built for each example passes a server-side dry-run apply (the real schemas of Deployment,
  StatefulSet, CronJob, NetworkPolicy...), and every pod they would create is admitted in a namespace that
  enforces the `restricted` Pod Security level (dry-run Pod creation: no node is needed).
Uses the k8s tier's `kube_cluster` fixture (its `kubeconfig`); skips, saying so, where the tier is absent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from tests.support.kube_children import pod_templates

from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.crd import CRD_NAME, build_crd
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.stack import GROUP, PLURAL, VERSION, parse_stack
from georchestra_analytics.stack.collector import DISK_BUFFER_MIN_BYTES

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
FIELD_MANAGER = "georchestra-analytics-crd-tests"


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> Iterator[k8s.ApiClient]:
    try:
        cluster = request.getfixturevalue("kube_cluster")
    except pytest.FixtureLookupError:
        pytest.skip("the k8s tier's kube_cluster fixture is not available in this checkout")
    client = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    _apply(client, build_crd())
    _wait_established(client)
    yield client
    client.close()


def _apply(client: k8s.ApiClient, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    dynamic = DynamicClient(client)
    resource = dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
    answer = dynamic.server_side_apply(
        resource,
        body=body,
        name=body["metadata"]["name"],
        namespace=body["metadata"].get("namespace") if resource.namespaced else None,
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
        **extra,
    )
    result: dict[str, Any] = answer.to_dict()
    return result


def _wait_established(client: k8s.ApiClient, timeout: float = 60.0) -> None:
    extensions = k8s.ApiextensionsV1Api(client)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = extensions.read_custom_resource_definition(CRD_NAME)
        if any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or []):
            return
        time.sleep(0.2)
    raise AssertionError(f"CRD {CRD_NAME} not established after {timeout}s")


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A fresh namespace (with its default ServiceAccount) from the k8s tier, deleted afterwards."""
    name: str = request.getfixturevalue("kube_namespace")
    return name


def _enforce_restricted(client: k8s.ApiClient, namespace: str) -> None:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    k8s.CoreV1Api(client).patch_namespace(namespace, {"metadata": {"labels": labels}})


def _create(client: k8s.ApiClient, namespace: str, document: dict[str, Any]) -> dict[str, Any]:
    body = {**document, "metadata": {**document["metadata"], "namespace": namespace}}
    created: dict[str, Any] = k8s.CustomObjectsApi(client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict"
    )
    return created


def _refusal(client: k8s.ApiClient, namespace: str, spec: dict[str, Any], name: str = "refused") -> str:
    document = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsStack", "metadata": {"name": name}, "spec": spec}
    with pytest.raises(ApiException) as error:
        _create(client, namespace, document)
    # 422 for schema and rule violations; 400 for an unknown field under strict field validation.
    assert error.value.status in (400, 422), error.value.body
    message: str = json.loads(error.value.body)["message"]
    return message


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_accepted_and_defaulted_like_the_model(api: k8s.ApiClient, namespace: str, example: Path) -> None:
    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    created = _create(api, namespace, document)
    expected = parse_stack(document).spec_document()
    assert created["spec"] == json.loads(json.dumps(expected))


MANAGED: dict[str, Any] = {"database": {"managed": {}}}
INVALID = [
    (
        {"database": {"managed": {}, "external": {"host": "db", "credentialsSecret": {"name": "s"}}}},
        "set exactly one of database.managed and database.external",
    ),
    ({"database": {}}, "set exactly one of database.managed and database.external"),
    ({**MANAGED, "retention": {"raw": "60d"}}, "retention.raw must be longer than every aggregate refresh window"),
    (
        {**MANAGED, "retention": {"daily": "60d"}},
        "retention.hourly must be longer than aggregates.refreshWindows.daily and retention.daily longer",
    ),
    ({**MANAGED, "aggregates": {"refreshWindows": {"monthly": "30d"}}}, "must cover at least two buckets"),
    ({**MANAGED, "parser": {"schedule": "every five minutes"}}, "parser.schedule must be a cron expression"),
    (
        {"database": {"managed": {}, "flavor": "postgresql", "partitionInterval": "12h"}},
        "database.partitionInterval must be at least 1d on the postgresql flavor",
    ),
    ({**MANAGED, "collector": {"buffer": {"type": "disk", "maxSize": DISK_BUFFER_MIN_BYTES - 1}}}, "268435488"),
    ({**MANAGED, "collector": {"acceptedScopes": ["s"] * 65}}, "must have at most 64 items"),
    ({**MANAGED, "collector": {"syslog": {"port": 5140}}}, "collector.syslog.delivery must be atMostOnce"),
    ({**MANAGED, "collector": {"syslog": {"delivery": "atLeastOnce"}}}, 'Unsupported value: "atLeastOnce"'),
    (
        {**MANAGED, "superset": {"url": "http://s", "credentialsSecret": {"name": "s"}, "databaseName": "x" * 251}},
        "may not be more than 250",
    ),
    (
        {"database": {"external": {"host": "db", "credentialsSecret": {"name": "s"}, "password": "inline"}}},
        'unknown field "spec.database.external.password"',
    ),
    # Hostile values: the same refusals as the model's (tests/unit/kube/test_render_refusals.py).
    ({**MANAGED, "collector": {"podLabels": {"team name": "a"}}}, "must be a Kubernetes label or annotation key"),
    ({**MANAGED, "jobs": {"podAnnotations": {"example.org/a\nb": "x"}}}, "must be a Kubernetes label or annotation"),
    ({**MANAGED, "parser": {"nodeSelector": {"zone": "a'b"}}}, "spec.parser.nodeSelector.zone"),
    (
        {**MANAGED, "collector": {"files": {"claimName": "logs", "paths": ["a/../../etc/*"]}}},
        "collector.files.paths entries must be relative to the volume's root",
    ),
    (
        {**MANAGED, "superset": {"url": "https://admin:pw@superset", "credentialsSecret": {"name": "s"}}},
        "superset.url must be http(s)://host[:port][/path] without user or password",
    ),
]


@pytest.mark.parametrize(("spec", "message"), INVALID, ids=[message[:40] for _, message in INVALID])
def test_invalid_spec_is_refused_with_the_crd_message(
    api: k8s.ApiClient, namespace: str, spec: dict[str, Any], message: str
) -> None:
    assert message in _refusal(api, namespace, spec)


def test_name_too_long_for_child_names_is_refused(api: k8s.ApiClient, namespace: str) -> None:
    assert "metadata.name must be at most 36 characters" in _refusal(api, namespace, MANAGED, name="a" * 37)


def test_status_subresource_and_printer_columns(api: k8s.ApiClient, namespace: str) -> None:
    document = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AnalyticsStack",
        "metadata": {"name": "cols"},
        "spec": MANAGED,
    }
    _create(api, namespace, document)
    status = {
        "status": {
            "phase": "Ready",
            "schemaVersion": "0007",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "AllComponentsReady",
                    "message": "",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
    }
    k8s.CustomObjectsApi(api).patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, "cols", status)
    # The Table form is what `kubectl get` prints: the printer columns, evaluated by the API server.
    request = api.param_serialize(
        "GET",
        f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/cols",
        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request)
    response.read()
    table = json.loads(response.data)
    columns = [column["name"] for column in table["columnDefinitions"]]
    assert columns[:4] == ["Name", "Ready", "Phase", "Age"] and {"Schema", "Last Parse"} <= set(columns)
    assert table["rows"][0]["cells"][1:3] == ["True", "Ready"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_children_pass_dry_run_and_restricted_pod_security(api: k8s.ApiClient, namespace: str, example: Path) -> None:
    _enforce_restricted(api, namespace)
    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    created = _create(api, namespace, document)
    stack = parse_stack(created)
    children = build_children(stack, rendered_inputs(stack, database_password="generated-in-test"))
    for child in children:
        _apply(api, child, dry_run=True)
    core = k8s.CoreV1Api(api)
    claims = {
        f"StatefulSet/{child['metadata']['name']}": [
            {
                "name": claim["metadata"]["name"],
                "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-probe"},
            }
            for claim in child["spec"].get("volumeClaimTemplates", [])
        ]
        for child in children
        if child["kind"] == "StatefulSet"
    }
    for index, (where, template) in enumerate(pod_templates(children)):
        # The StatefulSet controller adds a volume per claim template; the probe pod gets them the same way.
        template["spec"]["volumes"] = [*template["spec"].get("volumes", []), *claims.get(where, [])]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"probe-{index}", "namespace": namespace, **template["metadata"]},
            "spec": template["spec"],
        }
        try:
            core.create_namespaced_pod(namespace, pod, dry_run="All")
        except ApiException as error:  # the message names the violated Pod Security rule
            raise AssertionError(f"{where}: pod refused: {error.body}") from None

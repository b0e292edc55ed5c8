"""Names, keys and values are checked as Kubernetes checks them: hostile ones are refused with the field named,
valid ones of every shape pass, and whatever passes cannot add a keyword to the pods' libpq connection string."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from georchestra_analytics.kube.database_access import database_access
from georchestra_analytics.stack import InvalidStackError, parse_stack

pytestmark = pytest.mark.unit

EXTERNAL = {"host": "db.example.org", "credentialsSecret": {"name": "db"}}


def stack(metadata: dict[str, Any] | None = None, **spec: Any) -> Any:
    return parse_stack(
        {
            "kind": "AnalyticsStack",
            "metadata": {"name": "analytics", **(metadata or {})},
            "spec": {"database": {"managed": {}}, **spec},
        }
    )


def refusal(metadata: dict[str, Any] | None = None, **spec: Any) -> str:
    with pytest.raises(InvalidStackError) as error:
        stack(metadata, **spec)
    message = str(error.value)
    assert "\n" not in message
    return message


HOSTILE_TEXT = [
    "x host=evil.example.org sslmode=disable application_name=",
    "a\nkind: Secret",
    "a'b\"c",
    "{{ 7*7 }}",
    "${HOME}",
    "a b",
    "é",
    "a\x00b",
    "-leading",
    "trailing-",
    "a" * 64,
    "",
]


@pytest.mark.parametrize("namespace", [*HOSTILE_TEXT, "UPPER", "a.b", "a_b"])
def test_hostile_namespaces_are_refused(namespace: str) -> None:
    assert refusal({"namespace": namespace}).startswith("metadata.namespace: ")


@pytest.mark.parametrize("name", [*HOSTILE_TEXT, "Analytics", "1abc"])
def test_hostile_names_are_refused(name: str) -> None:
    assert refusal({"name": name}).startswith("metadata.name: ")


BAD_KEYS = [*(k for k in HOSTILE_TEXT if k), "a/b/c", "/a", "a/", "Example.org/a", "a/" + "b" * 64]


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("field", ["podLabels", "podAnnotations", "nodeSelector"])
def test_hostile_label_annotation_and_selector_keys_are_refused(key: str, field: str) -> None:
    message = refusal(collector={field: {key: "v"}})
    assert message.startswith(f"spec.collector.{field}.") and "[key]" in message


@pytest.mark.parametrize("value", [v for v in HOSTILE_TEXT if v] + ["-a", "a-", "a/b"])
@pytest.mark.parametrize("field", ["podLabels", "nodeSelector"])
def test_hostile_label_and_selector_values_are_refused(value: str, field: str) -> None:
    assert refusal(parser={field: {"app": value}}).startswith(f"spec.parser.{field}.app: ")


def test_allowed_pod_labels_and_tolerations_are_checked_too() -> None:
    network = {"allowedPodLabels": {"a b": "c"}}
    assert "spec.collector.network.allowedPodLabels" in refusal(collector={"network": network})
    toleration = {"key": "a b", "operator": "Exists"}
    assert "spec.jobs.tolerations.0.key" in refusal(jobs={"tolerations": [toleration]})


@pytest.mark.parametrize(
    "key",
    ["app", "example.org/team", "app.kubernetes.io/part-of", "a", "A_b.c-D", "a" * 63, "a." * 120 + "b/" + "c" * 63],
)
def test_valid_keys_pass(key: str) -> None:
    built = stack(collector={"podLabels": {key: "v"}, "podAnnotations": {key: "any text\nat all"}})
    assert built.spec.collector.pod_labels == {key: "v"}


@pytest.mark.parametrize("value", ["", "a", "a-b_c.d", "A" * 63])
def test_valid_label_values_pass(value: str) -> None:
    assert stack(parser={"nodeSelector": {"zone": value}}).spec.parser.node_selector == {"zone": value}


@pytest.mark.parametrize("path", ["..", "../x", "a/..", "a/../b", "a/b/../../..", "a\x00", "/etc/passwd"])
def test_file_paths_leaving_the_volume_are_refused(path: str) -> None:
    message = refusal(collector={"files": {"claimName": "logs", "paths": ["ok/*.log", path]}})
    assert message.startswith("spec.collector.files.paths.1: ")


@pytest.mark.parametrize("path", ["a..b/*.log", "..hidden", "nginx/access.log.1", "a/.../b"])
def test_dots_that_are_not_a_parent_segment_pass(path: str) -> None:
    assert stack(collector={"files": {"claimName": "logs", "paths": [path]}}).spec.collector.files is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:pw@superset.example.org",
        "http://admin@superset:8088/",
        "http://:pw@superset",
        "http://superset:8088@evil.example.org/",
        "ftp://superset",
        "http://",
        "http://super set",
        "superset:8088",
    ],
)
def test_superset_urls_with_credentials_or_no_host_are_refused(url: str) -> None:
    message = refusal(superset={"url": url, "credentialsSecret": {"name": "s"}})
    assert message.startswith("spec.superset.url: ")
    assert "pw" not in message and "admin" not in message


@pytest.mark.parametrize(
    "url", ["http://superset:8088", "https://bi.example.org/superset/", "http://[::1]:8088", "https://a/b?c=d@e"]
)
def test_superset_urls_without_credentials_pass(url: str) -> None:
    assert stack(superset={"url": url, "credentialsSecret": {"name": "s"}}).spec.superset.url == url


# Namespaces as Kubernetes allows them: the DSN built from any of them has exactly libpq's four keywords.
namespaces = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


@settings(max_examples=200, deadline=None)
@given(namespace=namespaces, database=st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,62}\Z"))
def test_the_dsn_holds_exactly_the_stack_values(namespace: str, database: str) -> None:
    managed = stack({"namespace": namespace}, database={"managed": {"databaseName": database}})
    access = database_access(managed)
    assert conninfo_to_dict(access.dsn) == {
        "host": f"analytics-db.{namespace}.svc",
        "port": "5432",
        "dbname": database,
        "sslmode": "prefer",
    }


@pytest.mark.parametrize("host", ["db.example.org", "[2001:db8::1]", "10.0.0.1"])
def test_the_dsn_and_endpoint_of_an_external_server(host: str) -> None:
    access = database_access(stack(database={"external": {**EXTERNAL, "host": host, "port": 6432}}))
    assert conninfo_to_dict(access.dsn)["host"] == host.strip("[]")  # libpq takes IPv6 without brackets
    assert access.endpoint == f"postgresql://{host}:6432/analytics?sslmode=require"

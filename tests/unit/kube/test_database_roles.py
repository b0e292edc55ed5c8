"""Least privilege in the pods: each pod logs in as its own role, the password by reference to the generated
roles Secret; only db-migrate uses the owner account, and it receives the three role passwords to set."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.kube_children import by_kind, one, pod_templates

from georchestra_analytics.db.roles import PASSWORD_VARIABLES
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.kube.children import ChildInputs, build_children
from georchestra_analytics.kube.database_access import ROLE_PASSWORD_KEYS, ROLES, Role, database_role_names
from georchestra_analytics.kube.manifests import to_yaml_stream
from georchestra_analytics.stack import AnalyticsStack, parse_stack

INPUTS = ChildInputs(vector_config="sources: {}\n", migration_templates_digest="t1", superset_bundle_digest="b1")
SUPERSET = {"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}}
EXTERNAL = {"external": {"host": "db.example.org", "credentialsSecret": {"name": "owner-db"}}}
ROLES_SECRET = "analytics-db-roles"


def make(database: dict[str, Any], schema: str = "analytics") -> AnalyticsStack:
    spec = {"database": {**database, "schema": schema}, "superset": SUPERSET}
    metadata = {"name": "analytics", "namespace": "geor", "uid": "0f6c1e0a-1111-2222-3333-444455556666"}
    return parse_stack({"kind": "AnalyticsStack", "metadata": metadata, "spec": spec})


def env_of(children: list[dict[str, Any]], kind: str, name_part: str) -> dict[str, dict[str, Any]]:
    """The first container's env of the child, by variable name."""
    template = dict(pod_templates([one(children, kind, name_part)]))
    (pod,) = template.values()
    return {variable["name"]: variable for variable in pod["spec"]["containers"][0]["env"]}


def secret_ref(variable: dict[str, Any]) -> tuple[str, str]:
    assert "value" not in variable
    ref = variable["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


@pytest.mark.parametrize("database", [{"managed": {}}, EXTERNAL], ids=["managed", "external"])
@pytest.mark.parametrize("schema", ["analytics", "usage_2"])
def test_each_pod_logs_in_as_its_role(database: dict[str, Any], schema: str) -> None:
    stack = make(database, schema)
    children = build_children(stack, INPUTS)
    roles = DatabaseSettings.from_stack(stack).roles  # the names `db migrate` creates
    expected = {"collector": roles.collector, "parser": roles.parser, "dashboards": roles.dashboards}
    assert database_role_names(stack) == expected
    pods: dict[Role, dict[str, dict[str, Any]]] = {
        "collector": env_of(children, "Deployment", "collector"),
        "parser": env_of(children, "CronJob", "parse"),
        "dashboards": env_of(children, "Job", "superset-sync"),
    }
    for role, env in pods.items():
        assert env["PGUSER"] == {"name": "PGUSER", "value": expected[role]}
        assert secret_ref(env["PGPASSWORD"]) == (ROLES_SECRET, ROLE_PASSWORD_KEYS[role])
    sync = pods["dashboards"]
    assert sync["ANALYTICS_DASHBOARDS_USER"]["value"] == expected["dashboards"]
    assert secret_ref(sync["ANALYTICS_DASHBOARDS_PASSWORD"]) == (ROLES_SECRET, "dashboards-password")
    # The collector's validate init container interpolates the same variables.
    collector = one(children, "Deployment", "collector")["spec"]["template"]["spec"]
    assert collector["initContainers"][0]["env"] == collector["containers"][0]["env"]


@pytest.mark.parametrize("database", [{"managed": {}}, EXTERNAL], ids=["managed", "external"])
def test_only_migrate_uses_the_owner_account_and_gets_the_role_passwords(database: dict[str, Any]) -> None:
    stack = make(database)
    children = build_children(stack, INPUTS)
    owner_secret = "owner-db" if "external" in database else "analytics-db-credentials"
    migrate = env_of(children, "Job", "migrate")
    assert secret_ref(migrate["PGUSER"])[0] == owner_secret
    assert secret_ref(migrate["PGPASSWORD"])[0] == owner_secret
    for role in ROLES:
        assert secret_ref(migrate[PASSWORD_VARIABLES[role]]) == (ROLES_SECRET, ROLE_PASSWORD_KEYS[role])
    for where, template in pod_templates(children):
        if "migrate" in where or where == "StatefulSet/analytics-db":
            continue  # the owner account's own users
        assert owner_secret not in to_yaml_stream([template]), where


def test_roles_secret_exists_for_every_stack_and_carries_only_given_passwords() -> None:
    databases: tuple[dict[str, Any], ...] = ({"managed": {}}, EXTERNAL)
    for database in databases:
        children = build_children(make(database), INPUTS)
        secret = one(children, "Secret", "db-roles")
        assert secret["metadata"]["name"] == ROLES_SECRET
        assert [owner["uid"] for owner in secret["metadata"]["ownerReferences"]] == [make(database).metadata.uid]
        assert secret["metadata"]["labels"] == one(children, "ConfigMap", "stack")["metadata"]["labels"] | {
            "app.kubernetes.io/component": "database"
        }
        assert "stringData" not in secret and "data" not in secret  # `render` never invents passwords
    passwords = {key: f"pw-{key}-'\"${{x}}" for key in ROLE_PASSWORD_KEYS.values()}
    children = build_children(make(EXTERNAL), ChildInputs("v\n", "t", "b", role_passwords=passwords))
    assert one(children, "Secret", "db-roles")["stringData"] == passwords
    others = to_yaml_stream([child for child in children if child["kind"] != "Secret"])
    assert not [password for password in passwords.values() if password in others]
    assert len(by_kind(children, "Secret")) == 1  # external: no generated owner credentials


def test_new_role_passwords_rerun_migrate_and_superset_sync() -> None:
    stack = make({"managed": {}})

    def job_names(checksum: str) -> tuple[str, str]:
        children = build_children(stack, ChildInputs("v\n", "t", "b", {ROLES_SECRET: checksum}))
        return one(children, "Job", "migrate")["metadata"]["name"], one(children, "Job", "sync")["metadata"]["name"]

    assert job_names("1") == job_names("1")
    first, second = job_names("1"), job_names("2")
    assert first[0] != second[0] and first[1] != second[1]


def test_a_role_prefix_names_every_pods_role_and_gives_a_new_migrate_job() -> None:
    plain = make(EXTERNAL)
    prefixed = make({**EXTERNAL, "rolePrefix": "prod"})
    assert database_role_names(prefixed) == {
        "collector": "prod_collector",
        "parser": "prod_parser",
        "dashboards": "prod_dashboards",
    }
    assert DatabaseSettings.from_stack(prefixed).roles.aggregates == "prod_aggregates"
    children = build_children(prefixed, INPUTS)
    assert env_of(children, "Deployment", "collector")["PGUSER"]["value"] == "prod_collector"
    assert env_of(children, "CronJob", "parse")["PGUSER"]["value"] == "prod_parser"
    assert env_of(children, "Job", "superset-sync")["PGUSER"]["value"] == "prod_dashboards"
    # db-migrate runs again (a new Job) to create the roles and move the grants before the pods need them.
    migrate_names = {
        one(build_children(stack, INPUTS), "Job", "-migrate-")["metadata"]["name"] for stack in (plain, prefixed)
    }
    assert len(migrate_names) == 2


@pytest.mark.parametrize("prefix", ["Prod", "1prod", "a-b", "a" * 53, "x host=evil"])
def test_a_role_prefix_is_a_plain_lower_case_name(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"spec\.database\.rolePrefix"):
        make({**EXTERNAL, "rolePrefix": prefix})

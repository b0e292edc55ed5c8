"""The operator on a real API server, running in this process as the ServiceAccount the Helm chart creates, with
exactly the Role the chart renders for the watched namespace (never as admin).

The cluster has no kubelet, so pods never run. The tests play the kubelet's and the controllers' part where the
operator reads their results, writing through the status subresource as those components would (see
tests/support/operator.py): workloads' ready replicas, Jobs' Complete/Failed conditions, parse runs (a Job owned
by the CronJob and its Pod terminated with the run's JSON counts as termination message). Everything the
operator itself does (children, ownerReferences, status, Events, restoring drift) is observed as it is.

Each test's stack lives in a namespace that enforces the `restricted` Pod Security level, so every Pod the tests
create from the operator's templates is admitted (or refused) by the real PodSecurity admission.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from tests.support.helm_chart import documented_grants
from tests.support.kube_children import pod_template
from tests.support.operator import (
    OperatorLog,
    admin_with_crd,
    condition,
    create_namespace,
    delete_namespace,
    finish_job,
    grant_chart_rbac,
    mark_workload_ready,
    parse_run,
    running_operator,
    unique,
    wait_for,
)

from georchestra_analytics.controller.reconcile import resync_round
from georchestra_analytics.controller.secrets import data_checksum
from georchestra_analytics.kube.apply import KINDS, KubeApi, KubeError, Object
from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.database_access import ROLE_PASSWORD_KEYS, database_role_names, roles_secret_name
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.kube.pods import SECRETS_CHECKSUM_ANNOTATION
from georchestra_analytics.stack import KIND, parse_stack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {path.stem: path for path in sorted((REPO / "examples").glob("*.yaml"))}
RESYNC = 2.0  # seconds between the operator's re-checks in these tests
CHILD_KINDS = ("ConfigMap", "Secret", "Service", "NetworkPolicy", "Deployment", "StatefulSet", "CronJob", "Job")
# Secrets the examples reference, with values the tests can look for anywhere they must not appear.
SECRET_MARK = "s3cr3t-value-never-copied"
EXAMPLE_SECRETS: dict[str, dict[str, dict[str, str]]] = {
    "minimal": {},
    "postgresql": {"georchestra-db": {"user": "geor", "pass": f"{SECRET_MARK}-db"}},
    "production": {
        "analytics-db": {"username": "analytics", "password": f"{SECRET_MARK}-db"},
        "superset-admin": {"username": "admin", "password": f"{SECRET_MARK}-superset"},
        "analytics-pseudonymization": {"key": f"{SECRET_MARK}-key"},
    },
}


@dataclass
class Stage:
    """A watched namespace, the admin client, and the operator running as the chart's ServiceAccount."""

    admin: KubeApi
    namespace: str
    operator_namespace: str
    account: str
    kubeconfig: Path
    log: OperatorLog
    controllers: bool
    """Whether kube-controller-manager runs (Jobs, workloads and garbage collection are then real)."""

    def stack(self, name: str) -> Object:
        found = self.admin.get(KIND, self.namespace, name)
        assert found is not None, f"AnalyticsStack {name} is gone"
        return found

    def child(self, kind: str, name: str) -> Object | None:
        return self.admin.get(kind, self.namespace, name)

    def wait(self, check: Any, what: str, timeout: float = 30.0) -> Any:
        try:
            return wait_for(check, what, timeout, self.log)
        except AssertionError as error:
            owned = sorted(
                f"{kind}/{item['metadata']['name']}"
                for kind in CHILD_KINDS
                for item in self.admin.list(kind, self.namespace, {})
            )
            raise AssertionError(f"{error}\nobjects in the namespace: {owned}") from None


@pytest.fixture(scope="module")
def admin(kube_cluster: Any) -> KubeApi:
    return admin_with_crd(Path(kube_cluster.kubeconfig))


@pytest.fixture
def stage(kube_cluster: Any, helm_binary: Path, admin: KubeApi) -> Iterator[Stage]:
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    kubeconfig = Path(kube_cluster.service_account_kubeconfig(operator_namespace, account))
    try:
        with running_operator(kubeconfig, [namespace], resync_seconds=RESYNC) as log:
            yield Stage(admin, namespace, operator_namespace, account, kubeconfig, log, kube_cluster.controller_manager)
        # Every call the operator made was allowed by the chart's Role.
        assert "Forbidden" not in log.text() and "(HTTP 403)" not in log.text(), log.text()
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)


def _example(name: str, namespace: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLES[name].read_text(encoding="utf-8"))
    document["metadata"]["namespace"] = namespace
    return document


def _create_secrets(stage: Stage, secrets: dict[str, dict[str, str]]) -> None:
    for name, data in secrets.items():
        stage.admin.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": stage.namespace},
                "stringData": data,
            }
        )


def _desired(stage: Stage, stack: Object) -> list[dict[str, Any]]:
    """What the builders give for the live stack (uid included, so ownerReferences too). The db-migrate Job's
    name follows the checksum of the generated role passwords, read from the live roles Secret."""
    model = parse_stack(stack)
    roles = stage.child("Secret", roles_secret_name(model))
    checksums = {roles_secret_name(model): data_checksum(roles)} if roles is not None else {}
    inputs = rendered_inputs(
        model, secret_checksums=checksums, superset_resync_round=resync_round(model, datetime.now(UTC))
    )
    return build_children(model, inputs)


def _owned(stage: Stage, stack: Object) -> dict[str, Object]:
    """Every object of the namespace controlled by the stack, by kind/name."""
    uid = stack["metadata"]["uid"]
    found = {}
    for kind in CHILD_KINDS:
        for item in stage.admin.list(kind, stage.namespace, {"app.kubernetes.io/instance": stack["metadata"]["name"]}):
            owners = item["metadata"].get("ownerReferences") or []
            if any(owner["uid"] == uid and owner.get("controller") for owner in owners):
                # List items carry no apiVersion/kind of their own.
                found[f"{kind}/{item['metadata']['name']}"] = {
                    **item,
                    "kind": kind,
                    "apiVersion": KINDS[kind].api_version,
                }
    return found


def _without_checksums(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what `render` cannot know (Secret data, checksums of Secrets' data)."""
    obj = copy.deepcopy(obj)
    obj.pop("stringData", None)
    obj.pop("data", None) if obj["kind"] == "Secret" else None
    template = pod_template(obj)
    if template is not None:
        template["metadata"].get("annotations", {}).pop(SECRETS_CHECKSUM_ANNOTATION, None)
    return obj


def _contains(live: Any, wanted: Any, where: str = "") -> None:
    """Every field the operator sent is on the live object with the same value (the server adds defaults)."""
    if isinstance(wanted, dict):
        assert isinstance(live, dict), f"{where}: expected a mapping, got {live!r}"
        for key, value in wanted.items():
            assert key in live, f"{where}.{key} missing on the live object"
            _contains(live[key], value, f"{where}.{key}")
    elif isinstance(wanted, list):
        assert isinstance(live, list) and len(live) == len(wanted), f"{where}: {live!r} != {wanted!r}"
        for index, (live_item, wanted_item) in enumerate(zip(live, wanted, strict=True)):
            _contains(live_item, wanted_item, f"{where}[{index}]")
    else:
        assert live == wanted, f"{where}: {live!r} != {wanted!r}"


def _version(obj: Object) -> str:
    """What changes when the object's content changes: the generation where the kind has one (status updates
    do not move it), else the resourceVersion."""
    meta = obj["metadata"]
    return str(meta.get("generation", meta["resourceVersion"]))


def _drive_to_ready(stage: Stage, stack: Object) -> None:
    """Report what the kubelet and the controllers would: the database and collector pods ready, the db-migrate
    and superset-sync Jobs succeeded."""
    name = stack["metadata"]["name"]
    desired = _desired(stage, stack)
    for child in desired:
        kind, child_name = child["kind"], child["metadata"]["name"]
        if kind in ("StatefulSet", "Deployment"):
            stage.wait(lambda kind=kind, child_name=child_name: stage.child(kind, child_name), f"{kind} {child_name}")
            mark_workload_ready(stage.admin, kind, stage.namespace, child_name, controllers=stage.controllers)
        if kind == "Job":
            stage.wait(lambda child_name=child_name: stage.child("Job", child_name), f"Job {child_name}")
            finish_job(stage.admin, stage.namespace, child_name, succeeded=True, controllers=stage.controllers)
    wanted = ["Ready", "DashboardsSynced"] if "superset" in stack["spec"] else ["Ready"]
    try:
        for kind in wanted:
            stage.wait(
                lambda kind=kind: (condition(stage.stack(name), kind) or {}).get("status") == "True", f"{name} {kind}"
            )
    except AssertionError as error:
        raise AssertionError(f"{error}\nstatus: {json.dumps(stage.stack(name).get('status'), indent=1)}") from None


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_example_gets_its_children_and_steady_conditions(stage: Stage, example: str) -> None:
    _create_secrets(stage, EXAMPLE_SECRETS[example])
    stage.admin.apply(_example(example, stage.namespace))
    name = _example(example, stage.namespace)["metadata"]["name"]
    stack = stage.wait(lambda: (found := stage.stack(name)).get("status") and found, "a first status")

    desired = {f"{child['kind']}/{child['metadata']['name']}": child for child in _desired(stage, stack)}
    owned = stage.wait(
        lambda: (found := _owned(stage, stack)).keys() == desired.keys() and found,
        f"every child: {sorted(desired)}",
    )
    for key, child in desired.items():
        assert owned[key]["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "analytics.georchestra.org/v1alpha1",
                "kind": "AnalyticsStack",
                "name": name,
                "uid": stack["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        _contains(owned[key], _without_checksums(child), key)

    # Before anything ran: provisioning, with reasons that say what is awaited.
    first = stage.stack(name)
    assert first["status"]["phase"] == "Provisioning", first["status"]
    assert condition(first, "SchemaReady")["reason"] == "MigrationRunning"  # type: ignore[index]
    assert first["status"]["endpoints"]["otlpGrpc"].endswith(f".{stage.namespace}.svc:4317")

    _drive_to_ready(stage, stack)
    ready = stage.stack(name)
    assert ready["status"]["phase"] == "Ready"
    assert ready["status"]["observedGeneration"] == ready["metadata"]["generation"]
    reasons = {item["type"]: (item["status"], item["reason"]) for item in ready["status"]["conditions"]}
    assert reasons["DatabaseReady"] == ("True", "DatabaseAvailable")
    assert reasons["SchemaReady"] == ("True", "MigrationSucceeded")
    assert reasons["CollectorReady"] == ("True", "CollectorAvailable")
    assert reasons["ParserReady"] == ("Unknown", "ParseNotRunYet")
    assert reasons["Suspended"] == ("False", "NotSuspended")
    has_superset = "superset" in ready["spec"]
    assert reasons["DashboardsSynced"] == (
        ("True", "DashboardsImported") if has_superset else ("False", "SupersetNotConfigured")
    )
    assert ("lastDashboardsSync" in ready["status"]) == has_superset

    # Steady: further resyncs change nothing, not even a transition time.
    resource_version = ready["metadata"]["resourceVersion"]
    _sleep_resyncs(2)
    again = stage.stack(name)
    assert again["status"] == ready["status"]
    assert again["metadata"]["resourceVersion"] == resource_version

    # No Secret value reached a ConfigMap, an Event or the status.
    _assert_no_secret_values(stage, again)


def _sleep_resyncs(count: int) -> None:
    time.sleep(count * RESYNC + 0.5)


def _assert_no_secret_values(stage: Stage, stack: Object) -> None:
    exposed = [
        json.dumps(stage.admin.list("ConfigMap", stage.namespace, {})),
        json.dumps(_events(stage)),
        json.dumps(stack.get("status")),
        stage.log.text(),
    ]
    for text in exposed:
        assert SECRET_MARK not in text
        for value in (SECRET_MARK,):
            assert base64.b64encode(value.encode()).decode() not in text


def _events(stage: Stage) -> list[dict[str, Any]]:
    core = k8s.CoreV1Api(stage.admin.client)
    items = core.list_namespaced_event(stage.namespace).items
    return [{"reason": e.reason, "message": e.message, "type": e.type} for e in items]


def test_spec_updates_change_only_the_affected_children(stage: Stage) -> None:
    stage.admin.apply(_example("minimal", stage.namespace))
    stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    before = stage.wait(lambda: len(found := _owned(stage, stack)) == len(_desired(stage, stack)) and found, "children")
    old_children = {f"{c['kind']}/{c['metadata']['name']}": c for c in _desired(stage, stack)}

    changes: list[dict[str, Any]] = [
        {"parser": {"schedule": "*/10 * * * *"}},
        {"collector": {"replicas": 2}},
        {"retention": {"raw": "3y"}},  # changes what db-migrate applies: a new migrate Job
    ]
    for change in changes:
        document = _example("minimal", stage.namespace)
        document["spec"].update(change)
        stage.admin.apply(document)
        updated = stage.wait(
            lambda: (
                (found := stage.stack("analytics"))["status"].get("observedGeneration")
                == found["metadata"]["generation"]
                and found
            ),
            f"observedGeneration after {change}",
        )
        new_children = {f"{c['kind']}/{c['metadata']['name']}": c for c in _desired(stage, updated)}
        # The builders say which children differ; exactly those changed on the server.
        expected_changed = {
            key
            for key, child in new_children.items()
            if key in old_children and _without_checksums(old_children[key]) != _without_checksums(child)
        }
        expected_new = new_children.keys() - old_children.keys()
        after = stage.wait(
            lambda new_children=new_children, updated=updated: (
                (found := _owned(stage, updated)).keys() == new_children.keys() and found
            ),
            f"children after {change}",
        )
        changed = {key for key in after.keys() & before.keys() if _version(after[key]) != _version(before[key])}
        assert changed == expected_changed, (change, changed, expected_changed)
        assert after.keys() - before.keys() == expected_new
        assert before.keys() - after.keys() == old_children.keys() - new_children.keys()  # superseded, removed
        if "retention" in change:
            new_jobs = [key.split("/", 1)[1] for key in expected_new if key.startswith("Job/")]
            assert len(new_jobs) == 1, expected_new
            new_job = new_jobs[0]
            stage.wait(
                lambda new_job=new_job: stage.stack("analytics")["status"].get("migrationJob") == new_job,
                "status.migrationJob",
            )
        for key, child in new_children.items():
            _contains(after[key], _without_checksums(child), key)
        before, old_children = after, new_children


def test_children_edited_or_deleted_by_hand_are_restored_within_the_resync_interval(stage: Stage) -> None:
    """Fields the operator sets are taken back (server-side apply with force); fields others add are kept, as
    with `kubectl apply`; a deleted child is created again."""
    stage.admin.apply(_example("minimal", stage.namespace))
    stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    desired = {f"{c['kind']}/{c['metadata']['name']}": c for c in _desired(stage, stack)}
    stage.wait(lambda: _owned(stage, stack).keys() == desired.keys(), "every child")
    core, apps = k8s.CoreV1Api(stage.admin.client), k8s.AppsV1Api(stage.admin.client)

    # Someone points the collector's Service elsewhere, scales the collector, and deletes the Vector config.
    # The edit landed (the patch's answer; a later read may already show the restored value: the operator
    # watches the collector's Deployment, and the scale below triggers a reconcile at once).
    edited = core.patch_namespaced_service(
        "analytics-collector", stage.namespace, {"spec": {"selector": {"app.kubernetes.io/component": "other"}}}
    )
    assert edited.spec is not None and (edited.spec.selector or {})["app.kubernetes.io/component"] == "other"
    apps.patch_namespaced_deployment("analytics-collector", stage.namespace, {"spec": {"replicas": 5}})
    stage.admin.delete("ConfigMap", stage.namespace, "analytics-collector-config")

    deadline = 3 * RESYNC + 5
    service = stage.wait(
        lambda: (
            (found := stage.child("Service", "analytics-collector"))
            and found["spec"]["selector"] == desired["Service/analytics-collector"]["spec"]["selector"]
            and found
        ),
        "the Service's selector restored",
        timeout=deadline,
    )
    _contains(service, desired["Service/analytics-collector"], "Service")
    stage.wait(
        lambda: (
            (found := stage.child("Deployment", "analytics-collector"))
            and found["spec"]["replicas"] == desired["Deployment/analytics-collector"]["spec"]["replicas"]
        ),
        "the collector's replicas restored",
        timeout=deadline,
    )
    config = stage.wait(
        lambda: stage.child("ConfigMap", "analytics-collector-config"), "the ConfigMap re-created", timeout=deadline
    )
    assert config["data"] == desired["ConfigMap/analytics-collector-config"]["data"]


def _migrate_jobs(stage: Stage) -> set[str]:
    jobs = stage.admin.list("Job", stage.namespace, {})
    return {job["metadata"]["name"] for job in jobs if "-migrate-" in job["metadata"]["name"]}


def test_rotating_a_referenced_secret_rolls_the_pods_that_read_it(stage: Stage) -> None:
    """The collector logs in as the collector role: a new password in the roles Secret rolls it, and a new
    db-migrate Job sets that password in the database."""
    _create_secrets(stage, EXAMPLE_SECRETS["postgresql"])
    stage.admin.apply(_example("postgresql", stage.namespace))

    def checksum() -> str | None:
        workload = stage.child("Deployment", "analytics-pg-collector")
        if workload is None:
            return None
        annotations = workload["spec"]["template"]["metadata"].get("annotations") or {}
        return annotations.get(SECRETS_CHECKSUM_ANNOTATION)

    first = stage.wait(checksum, "the collector's Secret checksum")
    first_migrations = stage.wait(lambda: _migrate_jobs(stage), "a db-migrate Job")
    secret = stage.child("Secret", "analytics-pg-db-roles")
    assert secret is not None
    secret["data"]["collector-password"] = base64.b64encode(b"rotated-" + SECRET_MARK.encode()).decode()
    core = k8s.CoreV1Api(stage.admin.client)
    core.replace_namespaced_secret("analytics-pg-db-roles", stage.namespace, cast(Any, secret))
    second = stage.wait(lambda: (value := checksum()) != first and value, "a new checksum after the rotation")
    assert second != first
    stage.wait(lambda: _migrate_jobs(stage) - first_migrations, "a new db-migrate Job for the new password")
    kept = stage.child("Secret", "analytics-pg-db-roles")
    assert kept is not None and kept["data"]["collector-password"] == secret["data"]["collector-password"]
    # Nothing but the checksum changed in the pod template (no password in it).
    template = json.dumps(stage.child("Deployment", "analytics-pg-collector"))
    assert SECRET_MARK not in template


def test_a_missing_key_is_reported_with_a_message_a_person_can_act_on(stage: Stage) -> None:
    _create_secrets(stage, {"georchestra-db": {"user": "geor"}})
    stage.admin.apply(_example("postgresql", stage.namespace))
    database = stage.wait(
        lambda: (
            (found := condition(stage.stack("analytics-pg"), "DatabaseReady"))
            and found["reason"] == "SecretKeyMissing"
            and found
        ),
        "DatabaseReady=False/SecretKeyMissing",
    )
    assert database["status"] == "False"
    assert database["message"] == "Secret georchestra-db has no key 'pass'"
    stack = stage.stack("analytics-pg")
    assert stack["status"]["phase"] == "Failed"
    assert condition(stack, "Ready")["reason"] == "SecretKeyMissing"  # type: ignore[index]
    stage.wait(
        lambda: any(e["message"] and "has no key 'pass'" in e["message"] for e in _events(stage)),
        "a Warning Event naming the missing key",
    )

    # Adding the key is enough: the Secret's event triggers a reconcile.
    secret = stage.child("Secret", "georchestra-db")
    assert secret is not None
    secret["data"]["pass"] = base64.b64encode(b"x").decode()
    k8s.CoreV1Api(stage.admin.client).replace_namespaced_secret("georchestra-db", stage.namespace, cast(Any, secret))
    stage.wait(
        lambda: (condition(stage.stack("analytics-pg"), "DatabaseReady") or {}).get("reason") != "SecretKeyMissing",
        "the problem cleared",
    )


def test_managed_credentials_are_generated_once_and_kept(stage: Stage) -> None:
    stage.admin.apply(_example("minimal", stage.namespace))
    secret = stage.wait(lambda: stage.child("Secret", "analytics-db-credentials"), "the generated Secret")
    password = secret["data"]["password"]
    assert len(base64.b64decode(password)) >= 32
    _sleep_resyncs(2)
    again = stage.child("Secret", "analytics-db-credentials")
    assert again is not None
    assert again["data"]["password"] == password
    assert again["metadata"]["resourceVersion"] == secret["metadata"]["resourceVersion"]
    decoded = base64.b64decode(password).decode()
    assert decoded not in stage.log.text()
    assert decoded not in json.dumps(_events(stage))
    assert decoded not in json.dumps(stage.stack("analytics")["status"])


def _env(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in template["spec"]["containers"][0]["env"]}


def test_role_passwords_are_generated_once_and_pods_log_in_as_their_roles(stage: Stage) -> None:
    """An external database too: the operator generates the three role passwords into the stack's roles Secret,
    keeps them, and every pod references them by secretKeyRef; no value reaches anything but that Secret."""
    _create_secrets(stage, EXAMPLE_SECRETS["postgresql"])
    stage.admin.apply(_example("postgresql", stage.namespace))
    name = "analytics-pg-db-roles"
    secret = stage.wait(lambda: stage.child("Secret", name), "the generated roles Secret")
    assert set(secret["data"]) == set(ROLE_PASSWORD_KEYS.values())
    passwords = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert len(set(passwords.values())) == 3 and all(len(value) >= 32 for value in passwords.values())
    stack = stage.stack("analytics-pg")
    assert [owner["uid"] for owner in secret["metadata"]["ownerReferences"]] == [stack["metadata"]["uid"]]
    _sleep_resyncs(2)
    again = stage.child("Secret", name)
    assert again is not None and again["metadata"]["resourceVersion"] == secret["metadata"]["resourceVersion"]

    collector = stage.wait(lambda: stage.child("Deployment", "analytics-pg-collector"), "the collector")
    parse = stage.wait(lambda: stage.child("CronJob", "analytics-pg-parse"), "the parse CronJob")
    (migrate_name,) = stage.wait(lambda: _migrate_jobs(stage), "the db-migrate Job")
    migrate = stage.child("Job", migrate_name)
    assert migrate is not None
    for template, role in ((pod_template(collector), "collector"), (pod_template(parse), "parser")):
        assert template is not None
        env = _env(template)
        assert env["PGUSER"]["value"] == database_role_names(parse_stack(stack))[role]
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": name, "key": f"{role}-password"}
    migrate_template = pod_template(migrate)
    assert migrate_template is not None
    migrate_env = _env(migrate_template)
    assert migrate_env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "georchestra-db"  # the owner
    for role in ("collector", "parser", "dashboards"):
        reference = migrate_env[f"ANALYTICS_{role.upper()}_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": name, "key": f"{role}-password"}

    others = [obj for key, obj in _owned(stage, stack).items() if key != f"Secret/{name}"]
    exposed = [
        json.dumps(others),
        json.dumps(stage.admin.list("ConfigMap", stage.namespace, {})),
        json.dumps(_events(stage)),
        json.dumps(stage.stack("analytics-pg").get("status")),
        stage.log.text(),
    ]
    for password in passwords.values():
        for text in exposed:
            assert password not in text
            assert base64.b64encode(password.encode()).decode() not in text


def test_suspend_stops_the_parse_cronjob_and_leaves_everything_else_alone(stage: Stage) -> None:
    document = _example("minimal", stage.namespace)
    stage.admin.apply(document)
    stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    stage.wait(lambda: len(_owned(stage, stack)) == len(_desired(stage, stack)), "every child")

    document["spec"]["suspend"] = True
    stage.admin.apply(document)
    stage.wait(
        lambda: (found := stage.child("CronJob", "analytics-parse")) and found["spec"]["suspend"] is True,
        "the CronJob suspended",
    )
    suspended = stage.wait(
        lambda: (found := stage.stack("analytics"))["status"].get("phase") == "Suspended" and found, "phase Suspended"
    )
    assert condition(suspended, "Suspended")["status"] == "True"  # type: ignore[index]
    assert condition(suspended, "Suspended")["reason"] == "SuspendedBySpec"  # type: ignore[index]

    # Nothing is written while suspended: a child edited by hand stays edited, nothing else changes.
    before = _owned(stage, stack)
    stage.admin.delete("ConfigMap", stage.namespace, "analytics-collector-config")
    _sleep_resyncs(2)
    after = _owned(stage, stack)
    assert "ConfigMap/analytics-collector-config" not in after
    assert {key: _version(obj) for key, obj in after.items()} == {
        key: _version(obj) for key, obj in before.items() if key != "ConfigMap/analytics-collector-config"
    }

    document["spec"]["suspend"] = False
    stage.admin.apply(document)
    stage.wait(lambda: stage.child("ConfigMap", "analytics-collector-config"), "the ConfigMap back after resuming")
    resumed = stage.wait(
        lambda: (found := stage.child("CronJob", "analytics-parse")) and found["spec"]["suspend"] is False and found,
        "the CronJob resumed",
    )
    assert resumed is not None
    stage.wait(
        lambda: (condition(stage.stack("analytics"), "Suspended") or {}).get("status") == "False",
        "Suspended=False after resuming",
    )


def test_parse_runs_reach_the_status_and_repeated_failures_set_parser_ready_false(stage: Stage) -> None:
    stage.admin.apply(_example("minimal", stage.namespace))
    stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    _drive_to_ready(stage, stack)
    cronjob = stage.wait(lambda: stage.child("CronJob", "analytics-parse"), "the parse CronJob")

    counts = {"claimed": 1200, "written": 1150, "rejected": 50, "oldest_buffered_age_seconds": 12.7}
    job = parse_run(stage.admin, cronjob, json.dumps(counts), succeeded=True, controllers=stage.controllers)
    last = stage.wait(
        lambda: (found := stage.stack("analytics")["status"].get("lastParse")) and found["jobName"] == job and found,
        "status.lastParse",
    )
    assert {key: last[key] for key in ("succeeded", "claimed", "written", "rejected", "oldestBufferedAgeSeconds")} == {
        "succeeded": True,
        "claimed": 1200,
        "written": 1150,
        "rejected": 50,
        "oldestBufferedAgeSeconds": 12,
    }
    assert condition(stage.stack("analytics"), "ParserReady")["reason"] == "ParseSucceeded"  # type: ignore[index]

    failure = json.dumps({"error": "database unreachable"})
    for _ in range(2):
        time.sleep(1.1)  # runs are ordered by their finishing time, which has a one-second resolution
        parse_run(stage.admin, cronjob, failure, succeeded=False, controllers=stage.controllers)
    parser = stage.wait(
        lambda: (found := condition(stage.stack("analytics"), "ParserReady")) and found["status"] == "False" and found,
        "ParserReady=False",
    )
    assert parser["reason"] == "ParseFailed"
    assert "database unreachable" in parser["message"]
    stack = stage.stack("analytics")
    assert stack["status"]["phase"] == "Degraded"
    assert stack["status"]["lastParse"]["succeeded"] is False


def test_a_failed_migration_fails_the_stack_with_the_jobs_message(stage: Stage) -> None:
    stage.admin.apply(_example("minimal", stage.namespace))
    stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    migrate = next(
        child for child in _desired(stage, stack) if child["kind"] == "Job" and "-migrate-" in child["metadata"]["name"]
    )
    job_name = migrate["metadata"]["name"]
    job = stage.wait(lambda: stage.child("Job", job_name), "the db-migrate Job")
    assert job["spec"]["backoffLimit"] > 0  # retried by Kubernetes; marked Failed here without the back-off
    finish_job(
        stage.admin,
        stage.namespace,
        job_name,
        succeeded=False,
        message="permission denied for schema analytics",
        controllers=stage.controllers,
    )
    schema = stage.wait(
        lambda: (
            (found := condition(stage.stack("analytics"), "SchemaReady"))
            and found["reason"] == "MigrationFailed"
            and found
        ),
        "SchemaReady=False/MigrationFailed",
    )
    assert "permission denied for schema analytics" in schema["message"]
    assert stage.stack("analytics")["status"]["phase"] == "Failed"


def test_every_pod_the_operator_templates_is_admitted_under_restricted(stage: Stage) -> None:
    for example, secrets in EXAMPLE_SECRETS.items():
        _create_secrets(stage, {name: data for name, data in secrets.items() if not stage.child("Secret", name)})
        document = _example(example, stage.namespace)
        document["metadata"]["name"] = example
        stage.admin.apply(document)
    templates: list[tuple[str, dict[str, Any]]] = []
    for example in EXAMPLE_SECRETS:
        stack = stage.wait(lambda example=example: (found := stage.stack(example)).get("status") and found, example)
        owned = stage.wait(
            lambda stack=stack: len(found := _owned(stage, stack)) == len(_desired(stage, stack)) and found,
            f"children of {example}",
        )
        for obj in owned.values():
            template = pod_template(obj)
            if template is None:
                continue
            template = copy.deepcopy(template)
            # The StatefulSet controller turns each claim template into a volume of the pod.
            for claim in obj["spec"].get("volumeClaimTemplates") or []:
                claim_name = f"{claim['metadata']['name']}-{obj['metadata']['name']}-0"
                template["spec"].setdefault("volumes", []).append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
                )
            templates.append((f"{obj['kind']}/{obj['metadata']['name']}", template))
    assert templates
    for _key, template in templates:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "admission-", "namespace": stage.namespace, **template["metadata"]},
            "spec": template["spec"],
        }
        stage.admin.create(pod, dry_run=True)  # raises with PodSecurity's message when refused
    # The refusal is real: a pod running as root with default settings is refused in this namespace.
    with pytest.raises(KubeError, match="violates PodSecurity"):
        stage.admin.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"generateName": "root-", "namespace": stage.namespace},
                "spec": {"containers": [{"name": "root", "image": "busybox", "securityContext": {"runAsUser": 0}}]},
            },
            dry_run=True,
        )


# Every call the controller and kopf make, by (group, resource, verb); the test below asks the API server, as the
# operator's ServiceAccount, whether each is allowed (SelfSubjectAccessReview), and that nothing broader is.
NOT_NEEDED = [
    ("", "pods", "create"),
    ("", "pods/exec", "create"),
    ("", "pods/log", "get"),
    ("", "persistentvolumeclaims", "delete"),
    ("", "serviceaccounts", "create"),
    ("rbac.authorization.k8s.io", "roles", "create"),
    ("rbac.authorization.k8s.io", "rolebindings", "create"),
    ("analytics.georchestra.org", "analyticsstacks", "delete"),
    ("analytics.georchestra.org", "analyticsstacks", "create"),
    ("coordination.k8s.io", "leases", "create"),
    ("", "namespaces", "list"),
]


def _can_i(client: k8s.ApiClient, group: str, resource: str, verb: str, namespace: str | None) -> bool:
    name, _, subresource = resource.partition("/")
    review = k8s.V1SelfSubjectAccessReview(
        spec=k8s.V1SelfSubjectAccessReviewSpec(
            resource_attributes=k8s.V1ResourceAttributes(
                group=group, resource=name, subresource=subresource or None, verb=verb, namespace=namespace
            )
        )
    )
    answer = k8s.AuthorizationV1Api(client).create_self_subject_access_review(review)
    return answer.status is not None and bool(answer.status.allowed)


def test_the_service_account_may_do_what_the_operator_does_and_nothing_broader(stage: Stage) -> None:
    client = k8s_config.new_client_from_config(config_file=str(stage.kubeconfig))  # type: ignore[no-untyped-call]
    # The table of docs/operator-rbac.md, which tests/helm/test_rbac_contract.py derives from the operator's calls.
    for (group, resource), verbs in documented_grants("namespaced").items():
        for verb in verbs:
            assert _can_i(client, group, resource, verb, stage.namespace), (group, resource, verb)
    for group, resource, verb in NOT_NEEDED:
        assert not _can_i(client, group, resource, verb, stage.namespace), (group, resource, verb)
    # Namespaced mode: no Secret anywhere else, not even in the operator's own namespace or cluster-wide.
    assert not _can_i(client, "", "secrets", "get", stage.operator_namespace)
    assert not _can_i(client, "", "secrets", "list", None)
    assert not _can_i(client, "", "configmaps", "list", None)
    # No wildcard in what the API server says the account may do in the watched namespace.
    rules = k8s.AuthorizationV1Api(client).create_self_subject_rules_review(
        k8s.V1SelfSubjectRulesReview(spec=k8s.V1SelfSubjectRulesReviewSpec(namespace=stage.namespace))
    )
    assert rules.status is not None
    for rule in rules.status.resource_rules:
        assert "*" not in (rule.verbs or []) + (rule.resources or []) + (rule.api_groups or []), rule


def test_deleting_the_stack_removes_its_children_and_keeps_the_database_volume(stage: Stage) -> None:
    if not stage.controllers:
        pytest.skip("garbage collection needs kube-controller-manager (ANALYTICS_K8S_CONTROLLER_MANAGER=0 is set)")
    stage.admin.apply(_example("minimal", stage.namespace))
    stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    stage.wait(lambda: len(_owned(stage, stack)) == len(_desired(stage, stack)), "every child")
    claim = "data-analytics-db-0"
    stage.wait(lambda: stage.child("PersistentVolumeClaim", claim), "the database's volume claim (StatefulSet)")
    # No finalizer: nothing outside the cluster to clean up, so deletion is never blocked by the operator.
    assert not stage.stack("analytics")["metadata"].get("finalizers")

    k8s.CustomObjectsApi(stage.admin.client).delete_namespaced_custom_object(
        "analytics.georchestra.org", "v1alpha1", stage.namespace, "analyticsstacks", "analytics"
    )
    stage.wait(lambda: not _owned(stage, stack), "the garbage collector to remove every child", timeout=60)
    kept = stage.child("PersistentVolumeClaim", claim)
    assert kept is not None and not kept["metadata"].get("deletionTimestamp")


def test_cluster_wide_mode_reconciles_under_the_cluster_role(
    kube_cluster: Any, helm_binary: Path, admin: KubeApi
) -> None:
    """The chart's default: `--all-namespaces` under its ClusterRole (kopf's cluster-wide scanning included)."""
    namespace, operator_namespace, release = unique("stack"), unique("operator"), unique("cw")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [], release=release)
    rbac = k8s.RbacAuthorizationV1Api(admin.client)
    try:
        kubeconfig = Path(kube_cluster.service_account_kubeconfig(operator_namespace, account))
        with running_operator(kubeconfig, [], resync_seconds=RESYNC) as log:
            document = _example("minimal", namespace)
            admin.apply(document)
            stack = wait_for(
                lambda: (found := admin.get(KIND, namespace, "analytics")) and found.get("status") and found,
                "the stack's status",
                30,
                log,
            )
            stage = Stage(
                admin, namespace, operator_namespace, account, kubeconfig, log, kube_cluster.controller_manager
            )
            desired = {f"{c['kind']}/{c['metadata']['name']}" for c in _desired(stage, stack)}
            stage.wait(lambda: _owned(stage, stack).keys() == desired, "every child")
            assert stack["status"]["observedGeneration"] == stack["metadata"]["generation"]
    finally:
        rbac.delete_cluster_role_binding(account)
        rbac.delete_cluster_role(account)
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)


def test_job_and_workload_changes_reach_the_status_without_waiting_for_the_resync(
    kube_cluster: Any, helm_binary: Path, admin: KubeApi
) -> None:
    """With a resync interval far longer than the test, the db-migrate Job's success and the collector's
    readiness still show in the status: the operator watches its Jobs and workloads."""
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    kubeconfig = Path(kube_cluster.service_account_kubeconfig(operator_namespace, account))
    try:
        with running_operator(kubeconfig, [namespace], resync_seconds=3600) as log:
            stage = Stage(
                admin, namespace, operator_namespace, account, kubeconfig, log, kube_cluster.controller_manager
            )
            stage.admin.apply(_example("minimal", namespace))
            stack = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
            _drive_to_ready(stage, stack)  # waits for Ready=True, which only these watches can bring in time
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)

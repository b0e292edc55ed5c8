"""The superset-sync Job: `georchestra-analytics superset sync`, imported again when the bundle, the superset
section or the Job's pod changes, and once per resync round (the controller counts resyncInterval periods)."""

from __future__ import annotations

from typing import Any

from georchestra_analytics.kube.database_access import database_role_names, role_password_env
from georchestra_analytics.kube.job_pod import job_pod_template
from georchestra_analytics.kube.naming import SUPERSET_SYNC, child_name, digest, metadata
from georchestra_analytics.kube.pods import secret_env
from georchestra_analytics.kube.stack_config import STACK_FILE
from georchestra_analytics.stack import environment as env
from georchestra_analytics.stack.resource import AnalyticsStack


def superset_sync_job(
    stack: AnalyticsStack, bundle_digest: str, resync_round: int, roles_checksum: str | None = None
) -> dict[str, Any] | None:
    """None when the stack has no superset section. `roles_checksum`: of the generated role passwords; a new
    one gives a new Job, which hands Superset the dashboards role's new password."""
    superset = stack.spec.superset
    if superset is None:
        return None
    credentials = superset.credentials_secret
    extra_env = [
        secret_env(env.SUPERSET_USERNAME, credentials.name, credentials.username_key),
        secret_env(env.SUPERSET_PASSWORD, credentials.name, credentials.password_key),
        # The account Superset connects as: the read-only dashboards role (cli/superset.py reads these).
        {"name": env.DASHBOARDS_USER, "value": database_role_names(stack)["dashboards"]},
        *role_password_env(stack, ["dashboards"]),
    ]
    jobs = stack.spec.jobs
    args = ["superset", "sync", "-f", STACK_FILE]
    template = job_pod_template(stack, SUPERSET_SYNC, args, jobs, "job", extra_env, database_role="dashboards")
    job_spec = {
        "backoffLimit": jobs.backoff_limit,
        "activeDeadlineSeconds": jobs.active_deadline_seconds,
        "template": template,
    }
    inputs = {
        "bundle": bundle_digest,
        "superset": stack.spec_document()["superset"],
        "round": resync_round,
        "job": job_spec,
    }
    if roles_checksum is not None:
        inputs["roles"] = roles_checksum
    name = child_name(stack, f"superset-sync-{digest(inputs)}")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata(stack, name, SUPERSET_SYNC), "spec": job_spec}

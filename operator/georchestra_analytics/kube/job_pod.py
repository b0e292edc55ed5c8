"""The pod of every `georchestra-analytics` Job (db-migrate, parse, superset-sync): the project image, the
stack file mounted, the database reachable, the termination message written for the operator.

No checksum annotations here: a Job's pod template is immutable, so a Job whose inputs change gets a new name
instead (see migrate_job, superset_sync_job), and each CronJob run reads the current ConfigMap and Secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from georchestra_analytics.kube.database_access import Role, database_env
from georchestra_analytics.kube.naming import selector_labels
from georchestra_analytics.kube.pods import (
    apply_pod_settings,
    container_security_context,
    pod_security_context,
    resources,
    tmp_volume,
)
from georchestra_analytics.kube.stack_config import stack_volume
from georchestra_analytics.stack import environment as env
from georchestra_analytics.stack.images import project_image
from georchestra_analytics.stack.pods import PodSettings
from georchestra_analytics.stack.resource import AnalyticsStack

PROJECT_UID = 65532
TERMINATION_LOG = "/dev/termination-log"


def job_pod_template(
    stack: AnalyticsStack,
    component: str,
    args: Sequence[str],
    settings: PodSettings,
    resources_key: str,
    extra_env: Sequence[dict[str, Any]] = (),
    *,
    database_role: Role | None,
) -> dict[str, Any]:
    """`database_role`: the least-privilege role the pod logs in as; None for the owner account (db-migrate)."""
    tmp, tmp_mount = tmp_volume()
    stack_vol, stack_mount = stack_volume(stack)
    container = {
        "name": component,
        "image": settings.image or project_image(),
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["georchestra-analytics"],
        "args": list(args),
        "env": [*database_env(stack, database_role), *extra_env, {"name": env.LOG_FORMAT, "value": "json"}],
        "resources": resources(settings, resources_key),
        "securityContext": container_security_context(),
        # The command writes its outcome (JSON) here; the operator reads it from the finished pod's status.
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [stack_mount, tmp_mount],
    }
    pod_metadata: dict[str, Any] = {"labels": selector_labels(stack, component)}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": pod_security_context(PROJECT_UID),
        "automountServiceAccountToken": False,
        "containers": [container],
        "volumes": [stack_vol, tmp],
    }
    apply_pod_settings(pod_spec, pod_metadata, settings)
    return {"metadata": pod_metadata, "spec": pod_spec}

"""The db-migrate Job: `georchestra-analytics db migrate`, named by a hash of what it applies.

What it applies is the SQL templates (their digest, computed by the caller), the spec sections they are
rendered from, and the Job's pod (image, settings). Any change gives a new name, hence a new Job (a Job's pod
template cannot be changed in place anyway); an unchanged stack keeps its finished Job and nothing re-runs.
No TTL: a Job removed after a while would be re-created and run again; the controller deletes superseded
migrate Jobs instead.
"""

from __future__ import annotations

from typing import Any

from georchestra_analytics.kube.database_access import ROLES, role_password_env
from georchestra_analytics.kube.job_pod import TERMINATION_LOG, job_pod_template
from georchestra_analytics.kube.naming import MIGRATE, child_name, digest, metadata
from georchestra_analytics.kube.stack_config import STACK_FILE
from georchestra_analytics.stack.resource import AnalyticsStack


def migration_inputs(stack: AnalyticsStack, templates_digest: str) -> dict[str, Any]:
    """The spec sections the migration is rendered from, and the templates' digest."""
    spec = stack.spec_document()
    database = {key: value for key, value in spec["database"].items() if key not in ("managed", "external")}
    return {
        "templates": templates_digest,
        "database": database,
        "timeZone": spec["timeZone"],
        "retention": spec["retention"],
        "aggregates": spec["aggregates"],
        "compression": spec["compression"],
    }


def migrate_job(stack: AnalyticsStack, templates_digest: str, roles_checksum: str | None = None) -> dict[str, Any]:
    """`roles_checksum`: of the generated role passwords; a new one (the Secret was deleted and generated
    again) gives a new Job, which sets the new passwords."""
    jobs = stack.spec.jobs
    # The owner account runs the migration; it sets the three roles' passwords from the generated Secret.
    template = job_pod_template(
        stack,
        MIGRATE,
        ["db", "migrate", "-f", STACK_FILE, "--termination-log", TERMINATION_LOG],
        jobs,
        "job",
        role_password_env(stack, ROLES),
        database_role=None,
    )
    job_spec = {
        "backoffLimit": jobs.backoff_limit,
        "activeDeadlineSeconds": jobs.active_deadline_seconds,
        "template": template,
    }
    inputs: list[Any] = [migration_inputs(stack, templates_digest), job_spec]
    if roles_checksum is not None:
        inputs.append(roles_checksum)
    name = child_name(stack, f"migrate-{digest(inputs)}")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata(stack, name, MIGRATE), "spec": job_spec}

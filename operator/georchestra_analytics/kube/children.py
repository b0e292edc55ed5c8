"""Every child of an AnalyticsStack, built from the spec and the rendered inputs: what the operator applies
and what `georchestra-analytics render` prints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from georchestra_analytics.kube.collector import (
    collector_configmap,
    collector_network_policy,
    collector_service,
    collector_workload,
)
from georchestra_analytics.kube.database import database_secret, database_service, database_statefulset
from georchestra_analytics.kube.database_access import database_access, roles_secret, roles_secret_name
from georchestra_analytics.kube.migrate_job import migrate_job
from georchestra_analytics.kube.parse_cronjob import parse_cronjob
from georchestra_analytics.kube.stack_config import stack_configmap
from georchestra_analytics.kube.superset_sync_job import superset_sync_job
from georchestra_analytics.stack.resource import AnalyticsStack


@dataclass(frozen=True)
class ChildInputs:
    """What the builders need besides the spec. Everything secret stays with the controller: it passes
    checksums of Secret data, and the managed database's password only to build that one Secret."""

    vector_config: str
    """The rendered vector.yaml."""
    migration_templates_digest: str
    """Digest of the SQL templates the db-migrate Job applies."""
    superset_bundle_digest: str
    """Digest of the Superset bundle templates the superset-sync Job imports."""
    secret_checksums: Mapping[str, str] = field(default_factory=dict)
    """Secret name -> checksum of its data, for the pods' checksum annotations (rotations roll pods)."""
    database_password: str | None = None
    """The managed database's password (generated once by the controller); None leaves the Secret's data out."""
    role_passwords: Mapping[str, str] | None = None
    """The generated role passwords (roles Secret key -> password, generated once by the controller); None leaves
    the roles Secret's data out."""
    superset_resync_round: int = 0
    """Counter of resyncInterval periods: a new value gives a new superset-sync Job."""


def _only(checksums: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    wanted = set(names)
    return {name: value for name, value in checksums.items() if name in wanted}


def build_children(stack: AnalyticsStack, inputs: ChildInputs) -> list[dict[str, Any]]:
    """The children in the order they are best applied (configuration before the pods that read it)."""
    spec = stack.spec
    db_secret = database_access(stack).secret_name
    roles = roles_secret_name(stack)
    checksums = inputs.secret_checksums
    children: list[dict[str, Any] | None] = [stack_configmap(stack), roles_secret(stack, inputs.role_passwords)]
    if spec.database.managed is not None:
        children += [
            database_secret(stack, inputs.database_password),
            database_service(stack),
            database_statefulset(stack, _only(checksums, [db_secret])),
        ]
    children += [
        collector_configmap(stack, inputs.vector_config),
        collector_workload(stack, inputs.vector_config, _only(checksums, [roles])),
        collector_service(stack),
        collector_network_policy(stack),
        migrate_job(stack, inputs.migration_templates_digest, checksums.get(roles)),
        parse_cronjob(stack),
        superset_sync_job(stack, inputs.superset_bundle_digest, inputs.superset_resync_round, checksums.get(roles)),
    ]
    return [child for child in children if child is not None]

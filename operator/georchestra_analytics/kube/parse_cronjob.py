"""The parse CronJob: `georchestra-analytics parse` on the stack's schedule, suspended with the stack."""

from __future__ import annotations

from typing import Any

from georchestra_analytics.kube.job_pod import TERMINATION_LOG, job_pod_template
from georchestra_analytics.kube.naming import PARSER, labels, metadata, parse_cronjob_name
from georchestra_analytics.kube.pods import secret_env
from georchestra_analytics.kube.stack_config import STACK_FILE
from georchestra_analytics.parser.settings import GEOLOCATION_MOUNT
from georchestra_analytics.stack import environment
from georchestra_analytics.stack.resource import AnalyticsStack


def parse_cronjob(stack: AnalyticsStack) -> dict[str, Any]:
    parser = stack.spec.parser
    extra_env = []
    key = parser.privacy.pseudonymization_key
    if key is not None:
        extra_env.append(secret_env(environment.PSEUDONYMIZATION_KEY, key.name, key.key))
    args = ["parse", "-f", STACK_FILE, "--json", "--termination-log", TERMINATION_LOG]
    template = job_pod_template(stack, PARSER, args, parser, "parser", extra_env, database_role="parser")
    database = parser.geolocation.maxmind_database
    if database is not None:
        # The administrator's MaxMind DB file (docs/privacy.md), read-only where the parser settings look for it.
        claim = {"claimName": database.claim_name, "readOnly": True}
        template["spec"]["volumes"].append({"name": "geolocation", "persistentVolumeClaim": claim})
        mount = {"name": "geolocation", "mountPath": GEOLOCATION_MOUNT, "readOnly": True}
        template["spec"]["containers"][0]["volumeMounts"].append(mount)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(stack, parse_cronjob_name(stack), PARSER),
        "spec": {
            "schedule": parser.schedule,
            "timeZone": stack.spec.time_zone,
            # One run at a time, unless parallel workers are asked for: they claim rows with SKIP LOCKED, so
            # overlapping runs share the backlog safely.
            "concurrencyPolicy": "Allow" if parser.parallelism > 1 else "Forbid",
            "suspend": stack.spec.suspend,
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels(stack, PARSER)},
                "spec": {
                    # The next scheduled run is the retry; a failure must show in the status at once.
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": stack.spec.jobs.active_deadline_seconds,
                    "template": template,
                },
            },
        },
    }

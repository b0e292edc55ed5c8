"""The AnalyticsStack model (analytics.georchestra.org/v1alpha1): typed, defaulted, documented.

The CRD schema is generated from these models (see `georchestra_analytics.kube.crd`). One concept per module;
this package re-exports what other layers use.
"""

from georchestra_analytics.stack.collector import Buffer, CollectorSpec, FileSource, NetworkAccess, SyslogSource
from georchestra_analytics.stack.database import DatabaseSpec, ExternalDatabase, ManagedDatabase
from georchestra_analytics.stack.durations import duration_hours, postgres_interval
from georchestra_analytics.stack.jobs import JobsSpec
from georchestra_analytics.stack.parsing import ApplicationRoute, ParserSpec, Privacy
from georchestra_analytics.stack.pods import PodSettings
from georchestra_analytics.stack.references import CredentialsSecret, SecretKeySelector
from georchestra_analytics.stack.resource import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    AnalyticsStack,
    InvalidStackError,
    load_stack,
    parse_stack,
)
from georchestra_analytics.stack.retention import Aggregates, Compression, Retention
from georchestra_analytics.stack.spec import AnalyticsStackSpec
from georchestra_analytics.stack.status import Condition, ConditionType, Phase, Reason, StackStatus
from georchestra_analytics.stack.superset import SupersetSpec

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Aggregates",
    "AnalyticsStack",
    "AnalyticsStackSpec",
    "ApplicationRoute",
    "Buffer",
    "CollectorSpec",
    "Compression",
    "Condition",
    "ConditionType",
    "CredentialsSecret",
    "DatabaseSpec",
    "ExternalDatabase",
    "FileSource",
    "InvalidStackError",
    "JobsSpec",
    "ManagedDatabase",
    "NetworkAccess",
    "ParserSpec",
    "Phase",
    "PodSettings",
    "Privacy",
    "Reason",
    "Retention",
    "SecretKeySelector",
    "StackStatus",
    "SupersetSpec",
    "SyslogSource",
    "duration_hours",
    "load_stack",
    "parse_stack",
    "postgres_interval",
]

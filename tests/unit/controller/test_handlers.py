"""kopf's settings as the operator sets them: bounded calls, and watches of children (and, cluster-wide, of
Secrets) filtered by the operator's labels on the API server."""

from __future__ import annotations

import kopf

from georchestra_analytics.controller.handlers import CHILD_RESOURCES, OWNED_SELECTOR, configure_settings
from georchestra_analytics.kube.naming import APP_NAME, MANAGED_BY


def _resource(group: str, version: str, plural: str) -> kopf.Resource:
    return kopf.Resource(group, version, plural, namespaced=True, preferred=True)


def _selectors(settings: kopf.OperatorSettings, resource: kopf.Resource) -> list[str]:
    return settings.watching.label_selectors.collect(resource)


def test_kopf_calls_are_bounded_too() -> None:
    settings = kopf.OperatorSettings()
    configure_settings(settings, namespaced=True)
    assert settings.networking.connect_timeout == 10
    assert settings.networking.request_timeout == 60
    assert settings.watching.client_timeout is not None and settings.watching.server_timeout is not None


def test_children_are_watched_through_the_operator_labels_in_both_modes() -> None:
    assert f"app.kubernetes.io/managed-by={MANAGED_BY},app.kubernetes.io/name={APP_NAME}" == OWNED_SELECTOR
    for namespaced in (True, False):
        settings = kopf.OperatorSettings()
        configure_settings(settings, namespaced=namespaced)
        for _kind, group_version, plural in CHILD_RESOURCES:
            group, _, version = group_version.rpartition("/")
            assert _selectors(settings, _resource(group, version, plural)) == [OWNED_SELECTOR], plural
        # Never the stacks themselves, nor anything else.
        assert _selectors(settings, _resource("analytics.georchestra.org", "v1alpha1", "analyticsstacks")) == []
        assert _selectors(settings, _resource("", "v1", "pods")) == []


def test_secrets_cluster_wide_only_the_generated_ones_namespaced_all_of_the_watched_namespaces() -> None:
    secrets = _resource("", "v1", "secrets")
    cluster_wide, namespaced = kopf.OperatorSettings(), kopf.OperatorSettings()
    configure_settings(cluster_wide, namespaced=False)
    configure_settings(namespaced, namespaced=True)
    assert _selectors(cluster_wide, secrets) == [OWNED_SELECTOR]
    assert _selectors(namespaced, secrets) == []

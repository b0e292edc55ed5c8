"""The Events the controller posts itself: about the stack (kind, name, uid), typed, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from georchestra_analytics.controller.events import WARNING, StackEvent, event_object


def test_an_event_names_the_stack_and_is_bounded() -> None:
    stack = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "analytics", "namespace": "geor", "uid": "u-1"},
    }
    event = event_object(stack, StackEvent(WARNING, "SecretNotFound", "x" * 5000), datetime(2026, 1, 2, tzinfo=UTC))
    assert event["involvedObject"] == {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "name": "analytics",
        "namespace": "geor",
        "uid": "u-1",
    }
    assert event["metadata"] == {"namespace": "geor", "generateName": "analytics."}
    assert (event["type"], event["reason"]) == ("Warning", "SecretNotFound")
    assert len(event["message"]) == 1024
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-02T00:00:00Z"

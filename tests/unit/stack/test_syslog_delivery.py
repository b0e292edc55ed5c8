"""The syslog source cannot acknowledge: a stack with syslog must say it accepts at-most-once delivery, the
model and the CRD refuse it otherwise with a message naming the safer sources, and the rendered configuration
says it at the source."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from tests.support.vector import stack_document

from georchestra_analytics.kube.crd import build_crd
from georchestra_analytics.render.vector import render_vector_config
from georchestra_analytics.stack import InvalidStackError, parse_stack
from georchestra_analytics.stack.collector import MSG_SYSLOG_DELIVERY, SYSLOG_DELIVERY


def _syslog_schema() -> dict[str, Any]:
    spec = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    schema: dict[str, Any] = spec["properties"]["collector"]["properties"]["syslog"]
    return schema


@pytest.mark.parametrize("syslog", [{}, {"port": 5140, "mode": "tcp", "logFormat": "combined"}])
def test_syslog_without_a_delivery_choice_is_refused(syslog: dict[str, Any]) -> None:
    with pytest.raises(InvalidStackError) as refused:
        parse_stack(stack_document({"syslog": syslog}))
    assert MSG_SYSLOG_DELIVERY in str(refused.value)


def test_the_refusal_names_the_risk_and_the_safer_sources() -> None:
    for words in ("atMostOnce", "cannot acknowledge", "lost", "OTLP", "collector.files"):
        assert words in MSG_SYSLOG_DELIVERY


@pytest.mark.parametrize("delivery", ["atLeastOnce", "AtMostOnce", "", None])
def test_only_at_most_once_is_accepted(delivery: str | None) -> None:
    with pytest.raises(InvalidStackError):
        parse_stack(stack_document({"syslog": {"delivery": delivery}}))


def test_at_most_once_is_accepted() -> None:
    stack = parse_stack(stack_document({"syslog": {"mode": "udp", "delivery": SYSLOG_DELIVERY}}))
    assert stack.spec.collector.syslog is not None
    assert stack.spec.collector.syslog.delivery == "atMostOnce"


def test_crd_requires_the_choice_with_the_same_message() -> None:
    schema = _syslog_schema()
    assert schema["properties"]["delivery"]["enum"] == ["atMostOnce"]
    assert schema["x-kubernetes-validations"] == [{"rule": "has(self.delivery)", "message": MSG_SYSLOG_DELIVERY}]
    # The description a `kubectl explain` reader sees names the risk and the alternatives.
    description = schema["properties"]["delivery"]["description"]
    for words in ("cannot acknowledge", "lost", "OTLP", "`files`"):
        assert words in description


def test_rendered_syslog_source_says_it_is_at_most_once() -> None:
    text = render_vector_config(parse_stack(stack_document({"syslog": {"delivery": SYSLOG_DELIVERY}})))
    source_block = text.split("  access_log_syslog:\n", 1)[1].split("\n\n", 1)[0]
    assert "at most once" in source_block.lower()
    assert "spec.collector.syslog.delivery: atMostOnce" in source_block
    # A comment only: Vector has no per-source acknowledgement setting that syslog honours.
    assert set(yaml.safe_load("access_log_syslog:\n" + source_block)["access_log_syslog"]) == {
        "type",
        "mode",
        "address",
    }


def test_no_syslog_no_mention() -> None:
    text = render_vector_config(parse_stack(stack_document({})))
    assert "access_log_syslog" not in text
    assert "atMostOnce" not in text

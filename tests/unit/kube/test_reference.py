"""docs/analyticsstack.md is generated from the CRD schema and must not go stale."""

from __future__ import annotations

from pathlib import Path

from georchestra_analytics.kube.crd import build_crd
from georchestra_analytics.kube.reference import spec_reference

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "analyticsstack.md"


def test_committed_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == spec_reference(), (
        "docs/analyticsstack.md is stale; regenerate with: "
        "georchestra-analytics crd --reference > docs/analyticsstack.md"
    )


def test_reference_documents_every_spec_field_and_rule() -> None:
    text = spec_reference()
    spec = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for section, node in spec["properties"].items():
        assert f"## `spec.{section}`" in text or f"| `{section}` |" in text
        for field in node.get("properties", {}):
            assert f"| `{field}` |" in text, f"spec.{section}.{field} missing"
    for message in (
        "set exactly one of database.managed and database.external",
        "retention.raw must be longer than every aggregate refresh window",
        "parser.schedule must be a cron expression",
        "collector.buffer.maxSize must be at least 268435488 bytes",
    ):
        assert message in text

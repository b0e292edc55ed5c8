"""The parse job's memos keep a bounded number of entries of bounded size: a client sending many distinct
kilobyte-long user agents, referrers or paths makes a worker keep none of them, and gets the same answers."""

from __future__ import annotations

from typing import Any

from tests.support.accesslogs import gateway_row

from georchestra_analytics.parser.classify.classifier import Classifier
from georchestra_analytics.parser.memo import MAX_KEY_CHARS, short_key_cache
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.settings import ParserSettings


def test_long_text_is_computed_not_kept() -> None:
    calls: list[str] = []

    @short_key_cache(16, max_chars=10)
    def length(text: str) -> int:
        calls.append(text)
        return len(text)

    assert [length("short"), length("short")] == [5, 5]
    assert calls == ["short"]  # the second answer came from the memo
    long = "x" * 11
    assert [length(long), length(long)] == [11, 11]
    assert calls == ["short", long, long]  # computed each time: never a memo entry


def _record(pipeline: Pipeline, row: dict[str, Any]) -> dict[str, Any]:
    result = pipeline.parse_row(row)
    assert not isinstance(result, Reject), result
    return dict(result)


def test_kilobyte_long_user_agents_referrers_and_paths_keep_no_memo_entry() -> None:
    pipeline = Pipeline(ParserSettings())
    classifier: Classifier = pipeline.classifier
    padding = "a" * MAX_KEY_CHARS
    for n in range(50):
        row = gateway_row(
            f"/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:{padding}{n}&BBOX=0,0,1,1",
            headers={"User-Agent": f"Mozilla/5.0 {padding}{n}", "Referer": f"https://example.org/{padding}{n}"},
        )
        record = _record(pipeline, row)
        assert record["service"] == "WMS"
    assert len(classifier._shapes) == 0
    assert len(classifier.audience._pairs) == 0
    # The same request with short values is remembered, and answers the same with or without its memo entry.
    short = gateway_row(
        "/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:a&BBOX=0,0,1,1", headers={"User-Agent": "QGIS/3.40"}
    )
    first, second = _record(pipeline, short), _record(pipeline, short)
    assert len(classifier._shapes) == 1 and len(classifier.audience._pairs) == 1
    assert {key: value for key, value in first.items() if key != "id"} == {
        key: value for key, value in second.items() if key != "id"
    }

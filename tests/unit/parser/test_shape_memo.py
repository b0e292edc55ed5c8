"""The classifier keeps what a request's shape decides (method, path, the parameters classification reads):
records are the same with and without the memo, and classification reads no parameter outside the shape."""

from __future__ import annotations

from typing import Any

from tests.support.accesslogs import gateway_row, mixed_backlog

from georchestra_analytics.parser.classify.classifier import SHAPE_PARAMETERS, Classifier, query_parameters, split_url
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject, record_to_json
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.sources.otel import read_buffer_row

# Shapes that repeat with other coordinates, names or cases, beside the realistic backlog.
_PATHS = [
    "/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:a,ws:b&WIDTH=256&HEIGHT=256&BBOX={n},0,1,1",
    "/geoserver/ws/wms?request=GetMap&layers=a&width=512&height=512&bbox={n},1,2,3&tiled=true",
    "/geoserver/ws/a/wms?REQUEST=GetFeatureInfo&QUERY_LAYERS=a&I={n}&J=3",
    "/geoserver/wfs?service=WFS&request=GetFeature&typeNames=ws:roads&outputFormat=SHAPE-ZIP&startIndex={n}",
    "/geoserver/wfs?service=WFS&request=GetFeature&typeNames=ws:roads&resultType=hits&count={n}",
    "/geoserver/wcs?service=WCS&request=GetCoverage&coverageId=ws__dem&format=image/tiff&subset=x({n})",
    "/geoserver/wps?service=WPS&request=Execute&identifier=gs:Buffer&n={n}",
    "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ws:ortho&TILEMATRIX=EPSG:3857:{n}&TILEROW=1",
    "/geoserver/gwc/service/wmts/rest/ws:ortho/default/EPSG:3857/EPSG:3857:5/{n}/7?format=image/png",
    "/geoserver/ogc/features/v1/collections/ws:roads/items?f=json&offset={n}",
    "/geoserver/ogc/features/v1/collections/ws:roads/items?f=application/geo%2Bjson&offset={n}",
    "/geonetwork/srv/api/records/{n}",
    "/mapstore/rest/geostore/extjs/search/category/MAP/{n}",
]


def _rows() -> list[dict[str, Any]]:
    rows = list(mixed_backlog(1500, seed=11))
    for n in range(40):
        for path in _PATHS:
            rows.append(gateway_row(path.format(n=n % 7), method="POST" if n % 5 == 0 else "GET"))
    return rows


def test_records_are_the_same_with_and_without_the_memo() -> None:
    memo = Pipeline(ParserSettings())
    plain = Pipeline(ParserSettings())
    plain.classifier = Classifier(ParserSettings(), shapes_kept=0)
    rows = _rows()
    for row in rows:
        with_memo, without = memo.parse_row(row), plain.parse_row(row)
        if isinstance(without, Reject):
            assert with_memo == without
        else:
            assert not isinstance(with_memo, Reject)
            assert record_to_json(with_memo) == record_to_json(without)
    assert 0 < len(memo.classifier._shapes) < len(rows) - 400  # shapes repeat: the memo is used


def test_a_full_memo_starts_again() -> None:
    classifier = Classifier(ParserSettings(), shapes_kept=3)
    for n in range(10):
        logged = read_buffer_row(gateway_row(f"/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=l{n}"))
        assert not isinstance(logged, Reject)
        assert classifier.classify(logged)["layers"] == [f"l{n}"]
        assert len(classifier._shapes) <= 3


class _Reading(dict[str, str]):
    """Parameters that remember every name classification asks for."""

    def __init__(self, values: dict[str, str], asked: set[str]) -> None:
        super().__init__(values)
        self.asked = asked

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def test_classification_reads_only_the_shape_parameters() -> None:
    classifier = Classifier(ParserSettings(), shapes_kept=0)
    asked: set[str] = set()
    for row in _rows():
        logged = read_buffer_row(row)
        if isinstance(logged, Reject):
            continue
        _, path, query = split_url(logged.url)
        classifier.shape(logged.method, path, _Reading(query_parameters(query), asked))
    assert asked and asked <= SHAPE_PARAMETERS, sorted(asked - SHAPE_PARAMETERS)

from __future__ import annotations

import pytest

from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.settings import ParserSettings


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(ParserSettings())

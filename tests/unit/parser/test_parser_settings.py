"""Parser settings from an AnalyticsStack: the same values the operator's CronJob and the CLI use."""

from __future__ import annotations

from pathlib import Path

from georchestra_analytics.parser.settings import ClientIpPolicy, ParserSettings
from georchestra_analytics.stack import load_stack

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_settings_follow_the_stack_spec() -> None:
    stack = load_stack(EXAMPLES / "production.yaml")
    settings = ParserSettings.from_stack(stack)
    parser = stack.spec.parser
    assert settings.schema == stack.spec.database.schema_name
    assert (settings.batch_size, settings.workers, settings.max_batches) == (
        parser.batch_size, parser.parallelism, parser.max_batches
    )  # fmt: skip
    assert settings.applications == {route.path_prefix: route.app for route in parser.applications}
    assert settings.privacy.client_ip == ClientIpPolicy(parser.privacy.client_ip)
    assert settings.privacy.pseudonymize_users == (parser.privacy.pseudonymization_key is not None)
    assert settings.privacy.drop_query_strings == parser.privacy.drop_query_strings


def test_minimal_stack_gives_the_defaults_of_the_stack_model() -> None:
    settings = ParserSettings.from_stack(load_stack(EXAMPLES / "minimal.yaml"))
    assert settings.privacy.client_ip is ClientIpPolicy.TRUNCATE
    assert settings.applications["/geoserver"] == "geoserver"

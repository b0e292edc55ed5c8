"""docs/log-sources.md against the code: the Gateway settings it shows are switches the Gateway has, and what it
says about the client address is what `parse --dry-run` does with the Gateway's form of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from georchestra_analytics.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "log-sources.md").read_text(encoding="utf-8")
GATEWAY_EVENT = ROOT / "examples" / "logs" / "gateway-otel.jsonl"
# The Gateway's switches under logging.mdc.include.http (HttpRequestMdcConfigProperties of
# georchestra-gateway's logging module): the request URL has none, it is always logged.
GATEWAY_HTTP_SWITCHES = {
    "id",
    "remote-addr",
    "remote-host",
    "method",
    "path",
    "parameters",
    "query-string",
    "session-id",
    "cookies",
    "headers",
    "headers-pattern",
}
# How the Gateway writes http.request.remote-addr: java.net.InetSocketAddress#toString of an address without a
# host name.
GATEWAY_REMOTE_ADDR = "/192.0.2.44:51234"


def _yaml_blocks() -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", PAGE, flags=re.DOTALL)]


def test_the_gateway_mdc_settings_shown_exist_and_leave_the_client_address_off() -> None:
    (mdc,) = [block["logging"]["mdc"] for block in _yaml_blocks() if "mdc" in (block.get("logging") or {})]
    http = mdc["include"]["http"]
    assert set(http) <= GATEWAY_HTTP_SWITCHES, set(http) - GATEWAY_HTTP_SWITCHES
    assert "url" not in http
    assert http.get("remote-addr", False) is False
    assert "`logging.mdc.include.http.remote-addr: true`" in PAGE and GATEWAY_REMOTE_ADDR in PAGE


def test_the_gateway_remote_address_is_stored_truncated_as_the_page_says(tmp_path: Path) -> None:
    """The page says the Gateway's `/ip:port` form is read and truncated by the default privacy rules."""
    event = json.loads(GATEWAY_EVENT.read_text(encoding="utf-8").splitlines()[0])
    event["attributes"]["http.request.remote-addr"] = GATEWAY_REMOTE_ADDR
    source = tmp_path / "gateway.jsonl"
    source.write_text(json.dumps(event) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["parse", "--dry-run", "--format", "otel", str(source)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert "rejected" not in record
    assert record["client_ip"] == "192.0.2.0"
    assert "`192.0.2.0`" in PAGE


def test_the_security_proxy_logger_is_the_one_its_sources_name() -> None:
    assert "`org.georchestra.security.statistics`" in PAGE
    assert "security-proxy/src/main/java/org/georchestra/security/Proxy.java" in PAGE
    assert "log4j.logger.org.georchestra.security.statistics=INFO, OGCSTATISTICS, STATSFILE" in PAGE

"""Values the role must share with the renderer, read from both sides."""

from __future__ import annotations

import yaml
from tests.support.ansible_role import ROLE_DIR

from georchestra_analytics.render.vector import ACCESS_LOG_FILES_MOUNT, BUFFER_DSN_ENV
from georchestra_analytics.stack.environment import PSEUDONYMIZATION_KEY

ROLE_VARS = yaml.safe_load((ROLE_DIR / "vars" / "main.yml").read_text(encoding="utf-8"))


def test_access_logs_are_mounted_where_the_rendered_config_reads_them() -> None:
    assert ROLE_VARS["georchestra_analytics_access_log_mount"] == ACCESS_LOG_FILES_MOUNT


def test_services_get_the_variables_the_commands_read() -> None:
    assert BUFFER_DSN_ENV in ROLE_VARS["georchestra_analytics_database_env"]
    assert PSEUDONYMIZATION_KEY in ROLE_VARS["georchestra_analytics_parser_env"]

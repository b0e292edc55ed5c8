"""The environment the operator's Jobs carry is the environment the command line reads.

Each Job and CronJob is built by the kube builders; its container's variables (a Secret's value replaced by a
marker naming the Secret and key) are handed to the command line through click's CliRunner, with the Job's own
arguments, and the command's parsed options must hold them: a variable renamed on one side only fails here.
The commands are parsed, not run: running them needs the database, which the db tier does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from georchestra_analytics.cli import cli
from georchestra_analytics.cli.superset import database_credentials
from georchestra_analytics.db.roles import passwords_from_environment
from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.kube.stack_config import STACK_FILE, STACK_FILE_KEY
from georchestra_analytics.stack import environment as env
from georchestra_analytics.stack import parse_stack

pytestmark = pytest.mark.unit

STACK = parse_stack(
    {
        "kind": "AnalyticsStack",
        "metadata": {"name": "analytics", "namespace": "geor", "uid": "0f6c1e0a-1111-2222-3333-444455556666"},
        "spec": {
            "database": {"external": {"host": "pg.example.org", "credentialsSecret": {"name": "db"}}},
            "parser": {"privacy": {"pseudonymizationKey": {"name": "pseudo", "key": "key"}}},
            "superset": {"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}},
        },
    }
)


def _value(variable: dict[str, Any]) -> str:
    if "value" in variable:
        return str(variable["value"])
    ref = variable["valueFrom"]["secretKeyRef"]
    return f"<secret {ref['name']}/{ref['key']}>"


def _jobs() -> Iterator[tuple[str, dict[str, Any]]]:
    for child in build_children(STACK, rendered_inputs(STACK)):
        if child["kind"] == "Job":
            yield child["metadata"]["name"], child["spec"]["template"]["spec"]["containers"][0]
        elif child["kind"] == "CronJob":
            pod = child["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            yield child["metadata"]["name"], pod["containers"][0]


JOBS = dict(_jobs())


def _contexts(args: list[str], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[click.Context]:
    """The contexts of `georchestra-analytics ARGS` run through CliRunner with the Job's environment, outermost
    first: the command's callback is replaced by one that records them, so nothing is run but option parsing."""
    command: click.Command = cli
    for arg in args:
        if not isinstance(command, click.Group) or arg.startswith("-"):
            break
        found = command.get_command(click.Context(command), arg)
        assert found is not None, arg
        command = found
    recorded: list[click.Context] = []

    def record(**_: Any) -> None:
        context: click.Context | None = click.get_current_context()
        while context is not None:
            recorded.insert(0, context)
            context = context.parent

    monkeypatch.setattr(command, "callback", record)
    result = CliRunner().invoke(cli, args, env=environment, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return recorded


def _environment(container: dict[str, Any]) -> dict[str, str]:
    return {variable["name"]: _value(variable) for variable in container["env"]}


def _envvar_options(contexts: list[click.Context]) -> dict[str, tuple[click.Context, str]]:
    """Environment variable -> (context, parameter name) of every option that reads one."""
    found = {}
    for context in contexts:
        for parameter in context.command.params:
            names = [parameter.envvar] if isinstance(parameter.envvar, str) else list(parameter.envvar or [])
            for name in names:
                assert parameter.name is not None
                found[name] = (context, parameter.name)
    return found


def test_the_stack_has_every_job() -> None:
    kinds = sorted(name.split("-")[1] for name in JOBS)
    assert kinds == ["migrate", "parse", "superset"], JOBS.keys()


@pytest.mark.parametrize("name", sorted(JOBS), ids=lambda name: name.split("-")[1])
def test_the_command_reads_the_variables_the_job_sets(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = JOBS[name]
    environment = _environment(container)
    stack_file = tmp_path / STACK_FILE_KEY
    stack_file.write_text(STACK.model_dump_json(by_alias=True), encoding="utf-8")
    args = [str(stack_file) if arg == STACK_FILE else arg for arg in container["args"]]
    contexts = _contexts(args, environment, monkeypatch)
    options = _envvar_options(contexts)
    read = {variable: context.params[param] for variable, (context, param) in options.items()}
    # Every variable the Job sets for an option reaches that option (none is set under another name).
    for variable, value in environment.items():
        if variable in options:
            assert str(read[variable]).lower() == value.lower(), variable
    # The database, for every command that takes --dsn: ANALYTICS_DSN, as the builder wrote it.
    if any(param.name == "dsn" for context in contexts for param in context.command.params):
        assert read[env.DSN] == environment[env.DSN]
    assert read[env.LOG_FORMAT] == "json"


def test_db_migrate_reads_the_three_role_passwords() -> None:
    migrate = next(container for name, container in JOBS.items() if "-migrate-" in name)
    passwords = passwords_from_environment(_environment(migrate))
    assert passwords == {
        role: f"<secret analytics-db-roles/{role}-password>" for role in ("collector", "parser", "dashboards")
    }


def test_superset_sync_reads_the_dashboards_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync = next(container for name, container in JOBS.items() if "-superset-sync-" in name)
    environment = _environment(sync)
    stack_file = tmp_path / STACK_FILE_KEY
    stack_file.write_text(STACK.model_dump_json(by_alias=True), encoding="utf-8")
    args = [str(stack_file) if arg == STACK_FILE else arg for arg in sync["args"]]
    user = _contexts(args, environment, monkeypatch)[-1].params["db_user"]
    with CliRunner().isolation(env=environment):
        password = database_credentials(user)[1]
    assert (user, password) == ("analytics_dashboards", "<secret analytics-db-roles/dashboards-password>")
    assert environment[env.SUPERSET_USERNAME] == "<secret superset-admin/username>"
    assert environment[env.SUPERSET_PASSWORD] == "<secret superset-admin/password>"


def test_the_parse_job_gets_the_pseudonymization_key_the_parser_reads() -> None:
    from georchestra_analytics.stack.environment import PSEUDONYMIZATION_KEY

    parse = next(container for name, container in JOBS.items() if name.endswith("-parse"))
    assert _environment(parse)[PSEUDONYMIZATION_KEY] == "<secret pseudo/key>"

"""The role against this machine (temporary prefix, test PostgreSQL): it converges, a second run changes
nothing, it installs exactly what `georchestra-analytics render` renders, it migrates the database, and it never
prints a secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from tests.support.ansible_role import RoleTarget, RunResult, ansible_tool, build_wheel, role_variables
from tests.support.postgres import PostgresServer
from tests.support.superset import ADMIN_USERNAME, RunningSuperset, SupersetServer, default_install

from georchestra_analytics.db.migrate import MIGRATIONS_TABLE
from georchestra_analytics.stack import load_stack
from georchestra_analytics.stack.retention import MSG_RAW_LONGER_THAN_WINDOWS
from georchestra_analytics.superset.client import SupersetClient

pytestmark = pytest.mark.slow

if ansible_tool("ansible-playbook") is None:
    pytest.skip("ansible-core is not installed in the project's venv (the test extras)", allow_module_level=True)

# Characters that mean something to YAML, systemd, shells and libpq; they must come through verbatim.
HOSTILE = "p'a\"s s$HOME `id` \\n #x: {y} %z;"
DATABASE_PASSWORD = "db-secret-" + HOSTILE
PARSER_PASSWORD = "parser-secret-" + HOSTILE
SUPERSET_PASSWORD = "superset-secret-" + HOSTILE
PSEUDONYMIZATION_KEY = "pseudonym-secret-" + HOSTILE
SECRETS = (DATABASE_PASSWORD, PARSER_PASSWORD, SUPERSET_PASSWORD, PSEUDONYMIZATION_KEY)
HOSTILE_DASHBOARD_DATABASE = 'geO\'rchestra "analytics": [x] # not a comment'
PROJECT_COMMAND = Path(sys.executable).parent / "georchestra-analytics"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


@dataclass(frozen=True)
class Converged:
    """One host converged twice: every test reads the same runs (one package install for the module)."""

    target: RoleTarget
    dsn: str
    first: RunResult
    second: RunResult


@pytest.fixture(scope="module")
def database(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database for the module (pg_dsn is per test; the role runs once for all of them)."""
    name = pg_server.create_database()
    try:
        yield pg_server.dsn_for(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="module")
def converged(tmp_path_factory: pytest.TempPathFactory, wheel: Path, database: str) -> Iterator[Converged]:
    root = tmp_path_factory.mktemp("ansible-host")
    variables = role_variables(root, wheel, database)
    # Roles are cluster-wide: a schema of its own keeps this test's roles apart from other tests'.
    variables["georchestra_analytics_database"]["schema"] = f"vm_{uuid.uuid4().hex[:8]}"
    variables |= {
        "georchestra_analytics_time_zone": "Europe/Paris",
        "georchestra_analytics_parser": {
            "schedule": "*/10 6-22 * * 1-5",
            "batchSize": 2000,
            "privacy": {"pseudonymizationKey": {"name": "pseudonyms", "key": "key"}},
        },
        "georchestra_analytics_collector": {
            "syslog": {"port": 5514, "logFormat": "combined", "delivery": "atMostOnce"}
        },
        # Superset is described (the stack file and bundle carry it) but not reached: no sync here.
        "georchestra_analytics_superset": {
            "url": "http://superset.invalid:8088",
            "databaseName": HOSTILE_DASHBOARD_DATABASE,
        },
        "georchestra_analytics_superset_sync": False,
        # No Vector here: the unit names an executable that exists, so systemd's checker can read it.
        "georchestra_analytics_vector_binary": shutil.which("true") or "/bin/true",
        "georchestra_analytics_database_password": DATABASE_PASSWORD,
        "georchestra_analytics_role_passwords": {"parser": PARSER_PASSWORD},
        "georchestra_analytics_superset_password": SUPERSET_PASSWORD,
        "georchestra_analytics_pseudonymization_key": PSEUDONYMIZATION_KEY,
    }
    target = RoleTarget(root, variables)
    first = target.run()
    second = target.run() if first.returncode == 0 else first
    yield Converged(target, database, first, second)
    shutil.rmtree(target.prefix, ignore_errors=True)


def _converged(result: RunResult) -> dict[str, int]:
    assert result.returncode == 0, result.output[-4000:]
    stats = result.stats
    assert stats["failed"] == 0 and stats["unreachable"] == 0, stats
    return stats


def _equivalent_stack(target: RoleTarget, directory: Path) -> Path:
    """The AnalyticsStack an admin would apply to a cluster with the same settings, written by hand here."""
    database = target.variables["georchestra_analytics_database"]
    document: dict[str, Any] = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "georchestra-analytics", "namespace": "default"},
        "spec": {
            "database": {
                **database,
                "external": {**database["external"], "credentialsSecret": {"name": "analytics-db"}},
            },
            "timeZone": target.variables["georchestra_analytics_time_zone"],
            "parser": target.variables["georchestra_analytics_parser"],
            "collector": target.variables["georchestra_analytics_collector"],
            "superset": {
                **target.variables["georchestra_analytics_superset"],
                "credentialsSecret": {"name": "superset-admin"},
            },
        },
    }
    path = directory / "equivalent-stack.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _configmap_files(stack_file: Path) -> dict[str, str]:
    """Every file the operator would ship in a ConfigMap, from the project's own `render`."""
    rendered = subprocess.run(
        [str(PROJECT_COMMAND), "render", "-f", str(stack_file)], capture_output=True, text=True, check=True
    ).stdout
    files: dict[str, str] = {}
    for document in yaml.safe_load_all(rendered):
        if document and document["kind"] == "ConfigMap":
            files |= document.get("data") or {}
    return files


def _sourced(env_file: Path, name: str) -> str:
    """A variable of an EnvironmentFile as a POSIX shell reads it (systemd follows the same double-quote rules:
    a backslash escapes `"`, `\\`, `` ` `` and `$`)."""
    script = 'set -a; . "$1"; printf %s "${!2}"'
    return subprocess.run(
        ["bash", "-c", script, "bash", str(env_file), name], capture_output=True, text=True, check=True
    ).stdout


def test_the_role_converges_then_changes_nothing(converged: Converged) -> None:
    first, second = converged.first, converged.second
    first_stats = _converged(first)
    assert first_stats["changed"] > 0
    assert "Migrate the database (`db migrate`)" in first.changed_tasks()

    second_stats = _converged(second)
    assert second_stats["changed"] == 0, second.changed_tasks()
    assert second_stats["ok"] > 0

    for secret in SECRETS:
        assert secret not in first.output and secret not in second.output
    warnings = [line for line in (first.output + second.output).splitlines() if "WARNING]" in line]
    assert warnings == []


def test_the_database_is_migrated(converged: Converged) -> None:
    target, pg_dsn = converged.target, converged.dsn
    _converged(converged.first)

    # The database is migrated: every migration applied and recorded, as `db status` reports it.
    status = subprocess.run(
        [str(target.command), "db", "status", "--json", "-f", str(target.config_dir / "stack.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env={"ANALYTICS_DSN": pg_dsn, "PATH": "/usr/bin:/bin"},
    )
    report = json.loads(status.stdout)
    assert report["migrations"] and report["pending"] == []
    schema = target.variables["georchestra_analytics_database"]["schema"]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{schema}.{MIGRATIONS_TABLE}",)).fetchone() != (None,)
        parser_password = conn.execute(
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", (f"{schema}_parser",)
        ).fetchone()
    assert parser_password == (True,), "db migrate did not receive the parser role's password"


def test_installed_files_are_what_render_renders(converged: Converged, tmp_path: Path) -> None:
    target = converged.target
    _converged(converged.second)
    expected = _configmap_files(_equivalent_stack(target, tmp_path))

    installed_vector = (target.config_dir / "vector.yaml").read_bytes()
    assert installed_vector == expected["vector.yaml"].encode()

    # The stack file written from the variables is the same stack as the equivalent one, hostile text included.
    installed_stack = load_stack(target.config_dir / "stack.yaml")
    equivalent = load_stack(_equivalent_stack(target, tmp_path))
    assert installed_stack.spec.superset is not None
    assert installed_stack.spec.superset.database_name == HOSTILE_DASHBOARD_DATABASE

    def without_secret_names(spec: dict[str, Any]) -> dict[str, Any]:
        spec["database"]["external"].pop("credentialsSecret")
        spec["superset"].pop("credentialsSecret")
        return spec

    assert without_secret_names(installed_stack.spec_document()) == without_secret_names(equivalent.spec_document())


def test_secrets_reach_the_services_verbatim_and_private(converged: Converged) -> None:
    target = converged.target
    _converged(converged.second)
    database_env = target.config_dir / "database.env"
    parser_env = target.config_dir / "parser.env"
    for env_file in (database_env, parser_env):
        assert env_file.stat().st_mode & 0o077 == 0, f"{env_file.name} is readable by others"
    assert _sourced(database_env, "PGPASSWORD") == DATABASE_PASSWORD
    assert _sourced(parser_env, "ANALYTICS_PSEUDONYMIZATION_KEY") == PSEUDONYMIZATION_KEY
    for unit in target.systemd_dir.iterdir():
        text = unit.read_text()
        assert not any(secret in text for secret in SECRETS), unit.name
    assert not any(secret in (target.config_dir / "stack.yaml").read_text() for secret in SECRETS)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(converged: Converged) -> None:
    """systemd's own checker on the three units: syntax, directives that do not apply, commands not executable."""
    target = converged.target
    _converged(converged.second)
    units = sorted(str(path) for path in target.systemd_dir.iterdir())
    assert [Path(unit).name for unit in units] == [
        "georchestra-analytics-collector.service",
        "georchestra-analytics-parse.service",
        "georchestra-analytics-parse.timer",
    ]
    verify = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, check=False, env={"LC_ALL": "C"}
    )
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr
    timer = (target.systemd_dir / "georchestra-analytics-parse.timer").read_text()
    assert "OnCalendar=Mon..Fri *-*-* 06..22:00/10:00 Europe/Paris\n" in timer


def test_check_mode_on_a_converged_host_reports_nothing_to_do(converged: Converged) -> None:
    """`--check --diff`, as an admin previews a run: no change announced (pip compares the pinned version of
    the wheel with the installed one), no secret in the diff."""
    preview = converged.target.run("--check", "--diff")
    _converged(preview)
    assert preview.changed_tasks() == []
    assert not any(secret in preview.output for secret in SECRETS)


def _wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def test_the_package_is_installed_from_the_wheel(converged: Converged, wheel: Path) -> None:
    """The host runs the built wheel, not the source tree: the package and its templates are inside the
    virtual environment, in the wheel's version, and pip recorded no source directory or editable install."""
    target = converged.target
    _converged(converged.first)
    assert (target.prefix / "var/lib/georchestra-analytics/wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    venv = target.prefix / "opt" / "georchestra-analytics"
    script = (
        "import importlib.metadata as m, json, georchestra_analytics as g\n"
        "d = m.distribution('georchestra-analytics')\n"
        "print(json.dumps({'file': g.__file__, 'version': d.version, 'direct_url': d.read_text('direct_url.json')}))"
    )
    installed = json.loads(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, check=True, cwd=target.root
        ).stdout
    )
    package = Path(installed["file"]).parent
    assert package.is_relative_to(venv), installed
    assert installed["version"] == _wheel_version(wheel)
    # A requirement pinned by version, found among the copied wheels: no URL of a source tree recorded.
    assert installed["direct_url"] is None, installed
    assert (package / "templates" / "vector").is_dir() and (package / "templates" / "timescale").is_dir()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"georchestra_analytics_wheel": "", "georchestra_analytics_version": ""},
            "Nothing to install: set georchestra_analytics_wheel",
            id="neither-wheel-nor-version",
        ),
        pytest.param(
            {"georchestra_analytics_wheel": "/nonexistent/georchestra_analytics-0.1.0-py3-none-any.whl"},
            "is neither a wheel file nor a directory holding a georchestra_analytics-<version>-*.whl",
            id="missing-wheel",
        ),
        pytest.param(
            {"georchestra_analytics_package": "georchestra-analytics==0.1.0"},
            "georchestra_analytics_package is no longer read",
            id="removed-variable",
        ),
    ],
)
def test_no_installable_package_fails_before_anything_changes(
    converged: Converged, overrides: dict[str, Any], message: str
) -> None:
    target = converged.target
    _converged(converged.second)
    refused = target.run(overrides=overrides)
    assert refused.returncode != 0
    assert message in " ".join(refused.output.split()), refused.output[-4000:]
    assert refused.stats["failed"] == 1 and refused.stats["changed"] == 0, refused.stats
    assert refused.changed_tasks() == []


def test_a_directory_of_wheels_installs_its_version(converged: Converged, wheel: Path) -> None:
    """A directory holding the wheel installs the wheel's version (already there: nothing changes); a version it
    does not hold is refused before anything changes, naming the versions it holds."""
    target = converged.target
    _converged(converged.second)
    from_directory = target.run(overrides={"georchestra_analytics_wheel": str(wheel.parent)})
    assert _converged(from_directory)["changed"] == 0, from_directory.changed_tasks()

    wrong = target.run(
        overrides={"georchestra_analytics_wheel": str(wheel.parent), "georchestra_analytics_version": "9.9.9"}
    )
    assert wrong.returncode != 0 and wrong.stats["changed"] == 0
    assert f"holds the versions {_wheel_version(wheel)}; set georchestra_analytics_version" in " ".join(
        wrong.output.split()
    ), wrong.output[-4000:]


def test_a_version_alone_is_installed_from_the_index(converged: Converged, wheel: Path) -> None:
    """Without a wheel, the version given is the pinned requirement pip installs from PyPI: in check mode, a
    version other than the installed one is announced as an install (nothing is downloaded in check mode)."""
    target = converged.target
    _converged(converged.second)
    overrides = {"georchestra_analytics_wheel": "", "georchestra_analytics_version": "9.9.9"}
    preview = target.run("--check", overrides=overrides)
    _converged(preview)
    assert "Install the package into its virtual environment" in preview.changed_tasks()
    same = target.run("--check", overrides={**overrides, "georchestra_analytics_version": _wheel_version(wheel)})
    _converged(same)
    assert same.changed_tasks() == []


# The tests below run the role again on the converged host; each leaves it as it found it.


def test_a_refused_variable_fails_before_anything_changes(converged: Converged) -> None:
    target = converged.target
    stack_file = target.config_dir / "stack.yaml"
    before = stack_file.read_bytes()
    refused = target.run(overrides={"georchestra_analytics_retention": {"raw": "1d"}})
    assert refused.returncode != 0
    assert MSG_RAW_LONGER_THAN_WINDOWS in refused.output, refused.output[-4000:]
    assert stack_file.read_bytes() == before
    assert _converged(target.run())["changed"] == 0


def test_a_changed_setting_changes_only_what_depends_on_it(converged: Converged) -> None:
    target = converged.target
    collector = {**target.variables["georchestra_analytics_collector"], "acceptedScopes": ["org.example.accesslog"]}
    changed = target.run(overrides={"georchestra_analytics_collector": collector})
    _converged(changed)
    assert set(changed.changed_tasks()) == {
        "Write the stack file every command reads",
        "Install the collector's Vector configuration",
    }
    installed = (target.config_dir / "vector.yaml").read_text(encoding="utf-8")
    assert installed == _configmap_files(target.config_dir / "stack.yaml")["vector.yaml"]
    assert "org.example.accesslog" in installed

    restored = target.run()
    _converged(restored)
    assert set(restored.changed_tasks()) == set(changed.changed_tasks())


def _superset_available() -> str | None:
    """Why the Superset test cannot run here, or None. It uses the Superset tier's cached install (`make
    tools` prepares it) rather than installing Superset from inside the ansible tier."""
    if os.environ.get("ANALYTICS_TEST_SUPERSET_URL"):
        return None
    if not default_install().is_initialised():
        return "the Superset tier's cached install is not prepared (make tools)"
    return None


@pytest.fixture
def superset(tmp_path: Path) -> Iterator[SupersetServer]:
    """A Superset of this test's own, stopped right after it (the Superset tier keeps its own for its session)."""
    external = os.environ.get("ANALYTICS_TEST_SUPERSET_URL")
    if external:
        yield SupersetServer(
            url=external.rstrip("/"),
            username=os.environ.get("ANALYTICS_TEST_SUPERSET_USERNAME", ADMIN_USERNAME),
            password=os.environ.get("ANALYTICS_TEST_SUPERSET_PASSWORD", ""),
            log=None,
        )
        return
    running = RunningSuperset(default_install(), tmp_path)
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.mark.skipif(_superset_available() is not None, reason=str(_superset_available()))
def test_superset_sync_imports_once(converged: Converged, superset: SupersetServer) -> None:
    superset_server = superset
    target = converged.target
    suffix = uuid.uuid4().hex[:8]
    overrides = {
        # A stack and a Superset database of their own: the Superset server is shared with the Superset tier.
        "georchestra_analytics_stack_name": f"ansible-{suffix}",
        "georchestra_analytics_superset": {"url": superset_server.url, "databaseName": f"Ansible VM {suffix}"},
        "georchestra_analytics_superset_sync": True,
        "georchestra_analytics_superset_username": superset_server.username,
        "georchestra_analytics_superset_password": superset_server.password,
    }
    imported = target.run(overrides=overrides)
    _converged(imported)
    assert "Import the dashboards into Superset (`superset sync`)" in imported.changed_tasks()
    assert superset_server.password not in imported.output

    again = target.run(overrides=overrides)
    assert _converged(again)["changed"] == 0, again.changed_tasks()

    client = SupersetClient.login(superset_server.url, superset_server.username, superset_server.password)
    dashboard = client.get(f"/api/v1/dashboard/georchestra-usage-ansible-{suffix}")["result"]
    assert dashboard["is_managed_externally"] is True

    _converged(target.run())  # back to the module's stack

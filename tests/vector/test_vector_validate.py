"""`vector validate`, by the real Vector binary, on every collector configuration the project produces: the
examples, the documented scenarios, the Helm chart's stacks (from the real `helm template`), the Ansible role's
vector.yaml (from the role's own tasks) and the hostile-value renders.

Each configuration is checked twice, as the collector meets it:
- `vector validate --no-environment` on the rendered text, with the environment of the pod's `validate-config`
  init container (or of the role's validate task): the YAML, the options of every component, the graph;
- `vector validate --skip-healthchecks` with the environment of the `vector` container, the database URL on a
  loopback port: this also builds every component (VRL programs compiled, sink options resolved) and checks
  the environment interpolation. The only change to the text is `data_dir`, which Vector needs to exist (a
  volume in the pod, a folder of the test here).

Vector's warnings are compared with the known ones (`KNOWN_WARNINGS`, `SYSLOG_WARNING`): any other fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.ansible_role import ROLE_DIR, ansible_tool
from tests.support.components import skip_or_fail
from tests.support.helm_chart import Scenario, documents, find, scenarios, template
from tests.support.vector import COLLECTOR_SCENARIOS, HOSTILE_VALUES, hostile_settings, stack_document
from tests.support.vector_binary import VectorBinary

from georchestra_analytics.db.embedded import free_port
from georchestra_analytics.kube.collector import collector_workload
from georchestra_analytics.render.vector import (
    BUFFER_DSN_ENV,
    DATA_DIR,
    render_collector_config,
    render_vector_config,
)
from georchestra_analytics.stack import AnalyticsStack, parse_stack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
VRL_DIR = REPO / "vector" / "vrl"
HELM_STACK_SCENARIOS = [s for s in scenarios() if (s.values().get("stack") or {}).get("enabled")]

# Load-time warnings (`~` lines) every configuration has. The OTLP source also receives metrics and traces; the
# collector keeps the logs only, and Vector says that the other two outputs feed nothing (it drops them).
KNOWN_WARNINGS = frozenset({'Source "otlp.metrics" has no consumers', 'Source "otlp.traces" has no consumers'})
# Logged when a configuration with syslog asks for acknowledgements: syslog cannot acknowledge, so its lines are
# delivered at most once (spec.collector.syslog.delivery, docs/collector.md). Expected, never hidden.
SYSLOG_WARNING = (
    "Source has acknowledgements enabled by a sink, but acknowledgements are not supported by this source. "
    'Silent data loss could occur. source="access_log_syslog" sink="buffer_table"'
)
_LOG_LINE = re.compile(r"^\S+\s+(?P<level>TRACE|DEBUG|INFO|WARN|ERROR)\s+\S+:\s+(?P<message>.*)$")
_VRL_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)!?\(")
_DATA_DIR_LINE = re.compile(r"^data_dir: .*$", re.MULTILINE)


@dataclass(frozen=True)
class Collector:
    """A rendered vector.yaml and the environments its two checks get."""

    text: str
    validate_env: dict[str, str]
    """What `vector validate --no-environment` gets: the init container's (or the role task's) variables."""
    vector_env: dict[str, str]
    """What the running collector gets, the database URL pointing at a loopback port."""


@dataclass(frozen=True)
class Validation:
    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def warnings(self) -> set[str]:
        """Vector's load-time warnings (the `~` lines of its report)."""
        return {line[2:].strip() for line in self.stdout.splitlines() if line.startswith("~ ")}

    @property
    def logged(self) -> list[str]:
        """The messages Vector logged at WARN or ERROR."""
        found = []
        for line in self.stderr.splitlines():
            match = _LOG_LINE.match(line.strip())
            if match and match["level"] in ("WARN", "ERROR"):
                found.append(match["message"])
            elif line.strip() and not match:
                found.append(line.strip())  # anything unexpected on stderr counts
        return found

    def report(self) -> str:
        return f"{self.command}: exit {self.returncode} in {self.seconds:.2f} s\n{self.stdout}\n{self.stderr}"


def _loopback(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


def _container_env(pod: Mapping[str, Any], name: str, port: int) -> dict[str, str]:
    """A container's variables as the kubelet would set them: Secret values become test placeholders and the
    database is moved to a loopback port."""
    (container,) = [c for c in [*pod["containers"], *pod.get("initContainers", [])] if c["name"] == name]
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            assert set(item["valueFrom"]) == {"secretKeyRef"}, item
            env[item["name"]] = f"test-{item['name'].lower()}"
    env[BUFFER_DSN_ENV] = _loopback(env[BUFFER_DSN_ENV], port)
    env |= {"PGHOST": "127.0.0.1", "PGPORT": str(port)}
    return env


def stack_collector(stack: AnalyticsStack) -> Collector:
    """The stack's vector.yaml and the environments of the collector pod the operator would create."""
    text = render_vector_config(stack)
    pod = collector_workload(stack, text, {})["spec"]["template"]["spec"]
    port = free_port()
    return Collector(text, _container_env(pod, "validate-config", port), _container_env(pod, "vector", port))


def plain_collector(text: str) -> Collector:
    env = {BUFFER_DSN_ENV: f"postgresql://127.0.0.1:{free_port()}/analytics"}
    return Collector(text, env, env)


def _validate(vector: VectorBinary, config: Path, env: dict[str, str], *flags: str) -> Validation:
    started = time.perf_counter()
    result = vector.run("validate", *flags, str(config), env=env)
    seconds = time.perf_counter() - started
    validation = Validation(
        " ".join(["vector validate", *flags]), result.returncode, result.stdout, result.stderr, seconds
    )
    # Kept in the report with -rA: how long Vector took, and what it warned about.
    print(f"{validation.command} {config.name}: exit {result.returncode} in {seconds:.3f} s")
    for warning in sorted(validation.warnings) + validation.logged:
        print(f"  warning: {warning}")
    return validation


def _expects_syslog_warning(text: str) -> bool:
    config = yaml.safe_load(text)
    acknowledged = config["sinks"]["buffer_table"]["acknowledgements"]["enabled"]
    return "access_log_syslog" in config["sources"] and bool(acknowledged)


def _check_warnings(validation: Validation, text: str) -> None:
    assert validation.warnings == KNOWN_WARNINGS, validation.report()
    expected = [SYSLOG_WARNING] if _expects_syslog_warning(text) else []
    assert validation.logged == expected, validation.report()


def _vrl_functions() -> frozenset[str]:
    return frozenset(name for path in VRL_DIR.glob("*.vrl") for name in _VRL_CALL.findall(path.read_text()))


@pytest.fixture(scope="session")
def missing_vrl_functions(vector_bin: VectorBinary, tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """The VRL functions of vector/vrl/ this Vector build does not have (a build without every VRL feature)."""
    folder = tmp_path_factory.mktemp("vrl-probe")
    functions = sorted(_vrl_functions())
    transforms = {
        f"probe_{name}": {"type": "remap", "inputs": ["metrics"], "source": f".x = {name}()"} for name in functions
    }
    config = {
        "data_dir": str(folder),
        "sources": {"metrics": {"type": "internal_metrics"}},
        "transforms": transforms,
        "sinks": {"out": {"type": "blackhole", "inputs": list(transforms)}},
    }
    (folder / "probe.yaml").write_text(json.dumps(config))
    result = _validate(vector_bin, folder / "probe.yaml", {}, "--skip-healthchecks")
    errors = _component_errors(result.stdout)
    return frozenset(key.removeprefix("probe_") for key, block in errors.items() if "undefined function" in block)


def test_the_programs_call_only_functions_this_vector_has(missing_vrl_functions: frozenset[str]) -> None:
    # Vector builds may leave VRL function groups out (the test machines' build has no hash functions): the
    # collector's programs must run on such a build too.
    assert not missing_vrl_functions, f"vector/vrl/ calls functions this Vector build lacks: {missing_vrl_functions}"


def _component_errors(stdout: str) -> dict[str, str]:
    """The `x Transform "<id>":` blocks of a failed validation, by component id."""
    blocks: dict[str, str] = {}
    current: str | None = None
    for line in stdout.splitlines():
        match = re.match(r'^x (?:Source|Transform|Sink) "([^"]+)":', line)
        if match:
            current = match.group(1)
            blocks[current] = ""
        elif current is not None:
            blocks[current] += line + "\n"
    return blocks


def check(vector: VectorBinary, collector: Collector, folder: Path) -> None:
    """Both validations of one configuration; exit 0 and only the known warnings."""
    config = folder / "vector.yaml"
    config.write_text(collector.text, encoding="utf-8")
    static = _validate(vector, config, collector.validate_env, "--no-environment")
    assert static.returncode == 0, static.report()
    _check_warnings(static, collector.text)

    data_dir = folder / "data"
    data_dir.mkdir()
    text, replaced = _DATA_DIR_LINE.subn("data_dir: " + json.dumps(str(data_dir)), collector.text)
    assert replaced == 1 and yaml.safe_load(collector.text)["data_dir"] == DATA_DIR
    built = folder / "vector-built.yaml"
    built.write_text(text, encoding="utf-8")
    full = _validate(vector, built, collector.vector_env, "--skip-healthchecks")
    # Vector reports its warnings before it builds the components: checked even when a build fails.
    _check_warnings(full, collector.text)
    assert full.returncode == 0, full.report()


# --- the configurations ----------------------------------------------------------------------------------


def _stack_file(path: Path) -> AnalyticsStack:
    (document,) = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return parse_stack(document)


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example(vector_bin: VectorBinary, example: Path, tmp_path: Path) -> None:
    check(vector_bin, stack_collector(_stack_file(example)), tmp_path)


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_documented_scenario(vector_bin: VectorBinary, scenario: str, tmp_path: Path) -> None:
    collector, schema = COLLECTOR_SCENARIOS[scenario]
    check(vector_bin, stack_collector(parse_stack(stack_document(collector, schema))), tmp_path)


@pytest.mark.parametrize("scenario", HELM_STACK_SCENARIOS, ids=[s.name for s in HELM_STACK_SCENARIOS])
def test_helm_chart_stack(
    vector_bin: VectorBinary,
    helm_binary: Path,
    scenario: Scenario,
    tmp_path: Path,
) -> None:
    # The AnalyticsStack the chart creates from `stack.*`, as the real helm renders it.
    (stack,) = find(documents(template(helm_binary, [scenario.values_file])), "AnalyticsStack")
    check(vector_bin, stack_collector(parse_stack(stack)), tmp_path)


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=[f"hostile-{i}" for i in range(len(HOSTILE_VALUES))])
def test_hostile_values(vector_bin: VectorBinary, value: str, tmp_path: Path) -> None:
    collector = plain_collector(render_collector_config(hostile_settings(value)))
    check(vector_bin, collector, tmp_path)


# --- the Ansible role ------------------------------------------------------------------------------------

# The role's variables for each case (besides its defaults), as an inventory would give them.
ROLE_CASES: dict[str, dict[str, Any]] = {
    "role defaults": {},
    "role with syslog and a disk buffer": {
        "georchestra_analytics_database": {"schema": "vm_stats", "external": {"host": "db.example.org"}},
        "georchestra_analytics_collector": {
            "buffer": {"type": "disk", "maxSize": 268435488},
            "syslog": {"port": 5514, "mode": "udp", "logFormat": "combined", "delivery": "atMostOnce"},
        },
    },
}
# The role's tasks that produce and install vector.yaml (tasks/configure.yml, unchanged), up to this one.
_LAST_ROLE_TASK = "Install the collector's Vector configuration"


def _role_tasks() -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = yaml.safe_load((ROLE_DIR / "tasks" / "configure.yml").read_text(encoding="utf-8"))
    names = [task.get("name") for task in tasks]
    assert _LAST_ROLE_TASK in names, names
    return tasks[: names.index(_LAST_ROLE_TASK) + 1]


@pytest.fixture(scope="module")
def role_configs(vector_bin: VectorBinary, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The vector.yaml the role writes for each case, from one ansible-playbook run of its own tasks.

    The role renders with the installed `georchestra-analytics` (this venv's) and, as on a host with Vector,
    checks the file with `vector validate --no-environment` before installing it."""
    playbook_tool = ansible_tool("ansible-playbook")
    if playbook_tool is None:
        skip_or_fail("ansible", "ansible-playbook is not installed in this venv (the test extras)")
    root = tmp_path_factory.mktemp("role")
    plays = []
    outputs: dict[str, Path] = {}
    for index, (case, variables) in enumerate(ROLE_CASES.items()):
        config_dir = root / f"case-{index}"
        config_dir.mkdir()
        case_vars = root / f"case-{index}.json"
        case_vars.write_text(
            json.dumps(
                variables
                | {
                    "georchestra_analytics_config_dir": str(config_dir),
                    "georchestra_analytics_venv": str(Path(sys.executable).parent.parent),
                    "georchestra_analytics_vector_binary": str(vector_bin.path),
                    "georchestra_analytics_vector_validate": True,
                }
            )
        )
        plays.append(
            {
                "name": case,
                "hosts": "localhost",
                "gather_facts": False,
                "vars_files": [
                    str(ROLE_DIR / "defaults" / "main.yml"),
                    str(case_vars),
                    str(ROLE_DIR / "vars" / "main.yml"),
                ],
                "tasks": _role_tasks(),
                # The role's handler restarts the service; nothing runs here.
                "handlers": [{"name": "Restart the collector", "ansible.builtin.meta": "noop"}],
            }
        )
        outputs[case] = config_dir / "vector.yaml"
    playbook = root / "playbook.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    result = subprocess.run(
        [str(playbook_tool), "-i", "localhost,", "-c", "local", str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=root,
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(root),
            "ANSIBLE_HOME": str(root / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(root / "ansible-tmp"),
            "ANSIBLE_FILTER_PLUGINS": str(ROLE_DIR / "filter_plugins"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
        },
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    for case, path in outputs.items():
        assert path.is_file(), f"{case}: the role wrote no {path.name}"
    return outputs


@pytest.mark.parametrize("case", sorted(ROLE_CASES))
def test_ansible_role_vector_yaml(
    vector_bin: VectorBinary,
    role_configs: dict[str, Path],
    case: str,
    tmp_path: Path,
) -> None:
    text = role_configs[case].read_text(encoding="utf-8")
    # The role's own validate task gives Vector a placeholder URL; the unit, the role's database.env.
    collector = Collector(
        text,
        {BUFFER_DSN_ENV: "postgresql://validate.invalid/analytics"},
        {BUFFER_DSN_ENV: f"postgresql://127.0.0.1:{free_port()}/analytics?sslmode=disable"},
    )
    check(vector_bin, collector, tmp_path)

"""Golden refusals: `georchestra-analytics render` on each hostile stack in refused/ prints one line naming the
field (no usage block, no traceback), exits 2 and writes nothing on stdout; the line is the reviewed one in
golden/refused/.

Regenerate after an intended change with `ANALYTICS_UPDATE_GOLDEN=1 pytest tests/unit/kube/test_render_refusals.py`
and review the diff. The accepted renders are in test_render_golden.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from georchestra_analytics.cli import cli

pytestmark = pytest.mark.unit

REFUSED = sorted((Path(__file__).parent / "refused").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden" / "refused"
UPDATE = os.environ.get("ANALYTICS_UPDATE_GOLDEN") == "1"

# The field each refusal must name (and, for the hostile values, what must not reach the output).
FIELDS = {
    "namespace-rewrites-the-dsn": "metadata.namespace",
    "name-with-capitals": "metadata.name",
    "label-key-with-a-space": "spec.collector.podLabels",
    "label-value-with-quotes": "spec.parser.nodeSelector",
    "annotation-key-with-a-line-break": "spec.jobs.podAnnotations",
    "toleration-value-with-a-space": "spec.collector.tolerations.0.value",
    "allowed-namespace-with-a-slash": "spec.collector.network.allowedNamespaces.0",
    "file-path-leaving-the-volume": "spec.collector.files.paths.0",
    "file-path-with-nul": "spec.collector.files.paths.0",
    "superset-url-with-credentials": "spec.superset.url",
    "yaml-aliases": "YAML aliases",
    "yaml-merge-key": "YAML aliases",
    "yaml-nested-too-deep": "nested deeper than 64 levels",
    "two-problems": "metadata.namespace",
}


def refusal(stack_file: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["render", "-f", str(stack_file)])
    return result.exit_code, result.stdout, result.stderr.replace(str(stack_file), stack_file.name)


def test_every_refused_input_names_its_field() -> None:
    assert {path.stem for path in REFUSED} == set(FIELDS)


@pytest.mark.parametrize("stack_file", REFUSED, ids=lambda path: path.stem)
def test_refusal_is_one_line_naming_the_field(stack_file: Path) -> None:
    code, stdout, stderr = refusal(stack_file)
    assert code == 2, stderr
    assert stdout == ""  # no object rendered
    assert stderr.count("\n") == 1 and stderr.startswith(f"Error: {stack_file.name}: "), stderr
    assert "Usage:" not in stderr and "Traceback" not in stderr
    assert FIELDS[stack_file.stem] in stderr
    golden = GOLDEN / f"{stack_file.stem}.txt"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(stderr, encoding="utf-8")
    assert golden.exists(), f"no golden refusal for {stack_file.name}; create it with ANALYTICS_UPDATE_GOLDEN=1"
    assert stderr == golden.read_text(encoding="utf-8")


def test_two_problems_are_both_named_on_the_line() -> None:
    _, _, stderr = refusal(next(path for path in REFUSED if path.stem == "two-problems"))
    assert "metadata.namespace" in stderr and "spec.superset.url" in stderr


def test_the_password_of_a_refused_url_is_not_repeated() -> None:
    _, _, stderr = refusal(next(path for path in REFUSED if path.stem == "superset-url-with-credentials"))
    assert "s3cret" not in stderr


def test_a_stack_file_too_large_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    stack_file = tmp_path / "big.yaml"
    stack_file.write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    code, stdout, stderr = refusal(stack_file)
    assert code == 2 and stdout == ""
    assert stderr == f"Error: big.yaml: larger than {1 << 20} bytes, not a stack file\n"


def test_nesting_that_would_exhaust_the_recursion_is_one_line(tmp_path: Path) -> None:
    stack_file = tmp_path / "deep.yaml"
    stack_file.write_text("kind: AnalyticsStack\nspec: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    code, _, stderr = refusal(stack_file)
    assert (code, stderr) == (2, "Error: deep.yaml: line 2: nested deeper than 64 levels\n")


def test_a_file_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    stack_file = tmp_path / "broken.yaml"
    stack_file.write_text("kind: AnalyticsStack\nspec: {database: [\n", encoding="utf-8")
    code, _, stderr = refusal(stack_file)
    assert code == 2 and stderr.count("\n") == 1 and "not a YAML file" in stderr, stderr


@pytest.mark.parametrize(
    "command",
    [
        ["superset", "bundle", "--out", "unused.zip", "-f"],
        ["ingest", "--dsn", "host=nowhere.invalid", "x.log", "-f"],
        ["db", "migrate", "--dsn", "host=nowhere.invalid", "-f"],
        ["db", "status", "--dsn", "host=nowhere.invalid", "-f"],
        ["parse", "--dry-run", "--dsn", "host=nowhere.invalid", "-f"],
    ],
    ids=["superset bundle", "ingest", "db migrate", "db status", "parse"],
)
def test_the_other_commands_refuse_a_stack_file_the_same_way(command: list[str]) -> None:
    stack_file = next(path for path in REFUSED if path.stem == "namespace-rewrites-the-dsn")
    result = CliRunner().invoke(cli, [*command, str(stack_file)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {stack_file}: " + (GOLDEN / f"{stack_file.stem}.txt").read_text(
        encoding="utf-8"
    ).removeprefix(f"Error: {stack_file.name}: ")

"""Golden files: `georchestra-analytics render` on each example gives the reviewed output.

Regenerate after an intended change with `ANALYTICS_UPDATE_GOLDEN=1 pytest tests/unit/kube/test_render_golden.py`
and review the diff. Three things come from other components' files and are masked here so that editing a SQL
or Vector template does not rewrite these files: the rendered vector.yaml, the hash suffixes of Job names
(tested in test_children.py against the real template digests) and the Vector pod's config checksum.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from georchestra_analytics.cli import cli

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ANALYTICS_UPDATE_GOLDEN") == "1"


def _mask(stream: str) -> str:
    documents = list(yaml.safe_load_all(stream))
    for document in documents:
        if document["kind"] == "ConfigMap" and "vector.yaml" in document["data"]:
            document["data"]["vector.yaml"] = "<rendered by georchestra_analytics.render.vector>"
        template = document.get("spec", {}).get("template", {})
        annotations = template.get("metadata", {}).get("annotations", {})
        if document["metadata"]["name"].endswith("-collector") and annotations:
            annotations["analytics.georchestra.org/config-checksum"] = "<checksum of vector.yaml>"
    text = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=120)
    return re.sub(r"-(migrate|superset-sync)-[0-9a-f]{10}\b", r"-\1-<digest>", text)


def render(example: Path) -> str:
    result = CliRunner().invoke(cli, ["render", "-f", str(example)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_there_are_examples() -> None:
    assert {path.name for path in EXAMPLES} >= {"minimal.yaml", "production.yaml", "postgresql.yaml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_render_matches_golden_file(example: Path) -> None:
    golden = GOLDEN / f"{example.stem}.yaml"
    rendered = _mask(render(example))
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"no golden file for {example.name}; create it with ANALYTICS_UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"render of {example.name} differs from {golden.name}; if intended, regenerate with "
        "ANALYTICS_UPDATE_GOLDEN=1 and review the diff"
    )


def test_render_out_writes_one_file_per_object(tmp_path: Path) -> None:
    example = REPO / "examples" / "minimal.yaml"
    result = CliRunner().invoke(cli, ["render", "-f", str(example), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.iterdir())
    from_files = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in files]
    assert from_files == list(yaml.safe_load_all(render(example)))
    assert files[0].name.startswith("01-configmap-")


def test_render_refuses_an_invalid_stack_with_the_reason(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        "apiVersion: analytics.georchestra.org/v1alpha1\nkind: AnalyticsStack\nmetadata: {name: a}\n"
        "spec:\n  database:\n    managed: {}\n    external: {host: db, credentialsSecret: {name: s}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["render", "-f", str(stack)])
    assert result.exit_code == 2
    assert "set exactly one of database.managed and database.external" in result.output


HOSTILE = "q\"uote' new\nline {{ 7*7 }} ${HOME} $$ #x: &a *b !!str \u2028 é"


def test_hostile_values_survive_render(tmp_path: Path) -> None:
    """Through the whole command, with the real Vector renderer: every object parses back, and the values
    reach the objects and the mounted stack file unchanged."""
    document = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "hostile", "namespace": "geor"},
        "spec": {
            "database": {"managed": {}},
            "collector": {"acceptedScopes": [HOSTILE], "podAnnotations": {"example.org/note": HOSTILE}},
            "parser": {"podLabels": {"team": "a-b_c"}, "podAnnotations": {"example.org/note": HOSTILE}},
            "superset": {"url": "http://superset:8088", "credentialsSecret": {"name": "s"}, "databaseName": HOSTILE},
        },
    }
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    objects = list(yaml.safe_load_all(render(stack_file)))
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    collector = by_name[("Deployment", "hostile-collector")]
    assert collector["spec"]["template"]["metadata"]["annotations"]["example.org/note"] == HOSTILE
    cronjob = by_name[("CronJob", "hostile-parse")]
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]["example.org/note"] == HOSTILE
    mounted = yaml.safe_load(by_name[("ConfigMap", "hostile-stack")]["data"]["stack.yaml"])
    assert mounted["spec"]["superset"]["databaseName"] == HOSTILE
    assert mounted["spec"]["collector"]["acceptedScopes"] == [HOSTILE]
    # The Vector config stays YAML (its own escaping is tested with the collector's templates).
    assert isinstance(yaml.safe_load(by_name[("ConfigMap", "hostile-collector-config")]["data"]["vector.yaml"]), dict)

"""`georchestra-analytics render -f stack.yaml`: every child the operator would apply, for review and GitOps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from georchestra_analytics.cli.stack_file import read_stack
from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.kube.manifests import to_yaml, to_yaml_stream


def _file_name(index: int, child: dict[str, Any]) -> str:
    return f"{index:02d}-{child['kind'].lower()}-{child['metadata']['name']}.yaml"


@click.command("render")
@click.option(
    "-f",
    "--stack-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="AnalyticsStack YAML file.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write one file per object into this directory instead of a YAML stream on stdout.",
)
def command(stack_file: str, out_dir: str | None) -> None:
    """Print every object the operator would apply for the stack in STACK_FILE.

    Differences from the operator's own output: no ownerReferences when the file has no metadata.uid, and the
    managed database's credentials Secret without data (the operator generates the password on first
    reconcile). Checksum annotations of referenced Secrets are absent: the operator computes them from the
    Secrets' data, which this command never reads.
    """
    stack = read_stack(stack_file)
    children = build_children(stack, rendered_inputs(stack))
    if out_dir is None:
        click.echo(to_yaml_stream(children), nl=False)
        return
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for index, child in enumerate(children, start=1):
        (directory / _file_name(index, child)).write_text(to_yaml(child), encoding="utf-8")
    click.echo(f"{len(children)} objects written to {directory}", err=True)

"""`georchestra-analytics crd`: print the AnalyticsStack CustomResourceDefinition."""

from __future__ import annotations

import json

import click

from georchestra_analytics.kube.crd import build_crd
from georchestra_analytics.kube.manifests import to_yaml
from georchestra_analytics.kube.reference import spec_reference


@click.command("crd")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.option("--reference", is_flag=True, help="Print the Markdown spec reference (docs/analyticsstack.md) instead.")
def command(as_json: bool, reference: bool) -> None:
    """Print the AnalyticsStack CRD (generated from the spec model), ready for `kubectl apply -f -`."""
    if reference:
        click.echo(spec_reference(), nl=False)
        return
    crd = build_crd()
    click.echo(json.dumps(crd, indent=2) if as_json else to_yaml(crd), nl=as_json)

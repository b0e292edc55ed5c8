"""`georchestra-analytics operator`: the kopf operator reconciling AnalyticsStacks."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from georchestra_analytics.controller.context import DEFAULT_RESYNC_SECONDS
from georchestra_analytics.controller.metrics import serve
from georchestra_analytics.controller.runner import OperatorOptions, run_operator
from georchestra_analytics.stack import environment as env

log = logging.getLogger(__name__)


@click.command("operator")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Watch this namespace (repeat for several). The RBAC must grant the operator's rules there.",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch AnalyticsStacks in every namespace.")
@click.option(
    "--standalone/--no-standalone",
    default=True,
    show_default=True,
    help="Run without kopf peering (the only mode supported: one operator replica, no leases).",
)
@click.option("--liveness", metavar="URL", help="Serve kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz.")
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    default=9090,
    show_default=True,
    envvar=env.METRICS_PORT,
    help="Port of the Prometheus /metrics endpoint; 0 turns it off.",
)
@click.option(
    "--resync-interval",
    type=click.FloatRange(min=1),
    default=DEFAULT_RESYNC_SECONDS,
    show_default=True,
    envvar=env.RESYNC_INTERVAL,
    help=(
        "Seconds between two full reconciles of every stack even without an event (a safety net: children and"
        " Job outcomes are watched)."
    ),
)
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Kubeconfig file (default: $KUBECONFIG, then the pod's ServiceAccount, then ~/.kube/config).",
)
@click.option("--context", "kube_context", help="Context of the kubeconfig to use.")
def command(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    standalone: bool,
    liveness: str | None,
    metrics_port: int,
    resync_interval: float,
    kubeconfig: Path | None,
    kube_context: str | None,
) -> None:
    """Run the operator: every AnalyticsStack in the watched namespaces gets its collector, database, Jobs and
    status. Stops cleanly on SIGINT/SIGTERM."""
    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give either --namespace (one or more) or --all-namespaces")
    if not standalone:
        raise click.UsageError("only --standalone is supported: the operator runs as a single replica without peering")
    if metrics_port:
        serve(metrics_port)
    scope = "all namespaces" if all_namespaces else "namespaces " + ", ".join(namespaces)
    log.info("operator starting, watching %s, resync every %.0f s", scope, resync_interval)
    run_operator(
        OperatorOptions(
            namespaces=namespaces,
            kubeconfig=kubeconfig,
            context=kube_context,
            liveness_endpoint=liveness,
            resync_seconds=resync_interval,
        )
    )

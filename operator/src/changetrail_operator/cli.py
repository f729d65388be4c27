"""``changetrail operator``: run the operator against the cluster it is deployed in.

The operator image's ``changetrail`` command has this one subcommand; other components add
theirs through the ``changetrail.commands`` entry-point group when they are installed too.
"""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import entry_points
from typing import Annotated

import typer

from changetrail_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)

COMMAND_GROUP = "changetrail.commands"


def _group() -> None:
    """What changed? Watch a cluster and record its changes."""


def register(app: typer.Typer) -> None:
    """Add ``operator`` to the ``changetrail`` command."""
    app.command("operator", help="Watch the cluster and record its changes into the API.")(operator)


def build_app(*, other_components: bool = True) -> typer.Typer:
    """The ``changetrail`` command: ``operator``, and other installed components' commands."""
    app = typer.Typer(
        name="changetrail",
        help="What changed? The commands of the changetrail components installed here.",
        no_args_is_help=True,
        add_completion=False,
        # A group even with one command, so the image runs `changetrail operator` as documented.
        invoke_without_command=False,
    )
    app.callback()(_group)
    register(app)
    for entry in entry_points(group=COMMAND_GROUP) if other_components else ():
        if entry.name != "operator":
            entry.load()(app)
    return app


def main() -> None:
    build_app()()


def operator(
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Watch only this namespace (repeatable); overrides CHANGETRAIL_WATCH_NAMESPACES.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    """Watch workloads, their configuration and autoscalers, and record their changes."""
    # kopf and the handlers load only here: importing them costs a second or more, which every
    # other ``changetrail`` command would otherwise pay.
    from prometheus_client import start_http_server

    from changetrail_operator.kopf_internals import count_watch_restarts

    settings = OperatorSettings()
    if namespace:
        settings = settings.model_copy(update={"watch_namespaces": list(namespace)})
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # kopf logs every handled event at INFO: one line per object per event is noise here.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    count_watch_restarts(verbose)
    if settings.operator_metrics_port:
        start_http_server(settings.operator_metrics_port)
    asyncio.run(_run(settings))


async def _run(settings: OperatorSettings) -> None:
    import httpx

    from changetrail_operator.handlers import run
    from changetrail_operator.runtime import Runtime

    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    async with httpx.AsyncClient(
        base_url=settings.api_url, headers=headers, timeout=settings.api_timeout
    ) as http:
        runtime = Runtime(settings=settings, http=http)
        liveness = (
            f"http://0.0.0.0:{settings.operator_health_port}/healthz"
            if settings.operator_health_port
            else None
        )
        # Namespaced watching keeps to the namespaces named; kopf watches the cluster-scoped
        # kinds (namespaces, cluster policies) cluster-wide either way.
        await run(
            runtime,
            clusterwide=not settings.watch_namespaces,
            namespaces=settings.watch_namespaces,
            liveness_endpoint=liveness,
        )

"""``changetrail operator``: run the operator against the cluster it is deployed in."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from changetrail.k8s_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)


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
    """Watch Deployments, ConfigMaps and HPAs and record their changes."""
    # kopf and the handlers load only here: importing them costs a second or more, which every
    # other ``changetrail`` command would otherwise pay.
    from prometheus_client import start_http_server

    from changetrail.k8s_operator.runtime import count_watch_restarts

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

    from changetrail.k8s_operator.handlers import run
    from changetrail.k8s_operator.runtime import Runtime

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

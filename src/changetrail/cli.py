"""``changetrail``: one command line for every component. Stdout carries only results."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from changetrail.detectors.cli import app as webhooks_app
from changetrail.k8s_operator.cli import operator as operator_command
from changetrail.settings import ApiSettings

app = typer.Typer(
    name="changetrail",
    help="What changed? Record changes, receive webhooks, watch a cluster.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(webhooks_app, name="webhooks")
app.command("operator", help="Watch the cluster and record its changes into the API.")(
    operator_command
)


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    migrate: Annotated[bool, typer.Option(help="Apply pending migrations first.")] = True,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API (applies pending migrations first)."""
    import uvicorn

    from changetrail.api import migrate as migrations

    settings = ApiSettings()
    if migrate:
        migrations.upgrade(settings.database_url)
    uvicorn.run(
        "changetrail.api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=True,
        access_log=False,
    )


@app.command("migrate")
def migrate_command() -> None:
    """Apply pending database migrations and exit."""
    from changetrail.api import migrate as migrations

    migrations.upgrade(ApiSettings().database_url)
    typer.echo("database is at the latest schema", err=True)


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes, e.g. changes:write.")],
    org: Annotated[str, typer.Option(help="Organisation slug (created if missing).")] = "default",
) -> None:
    """Create an API key and print it (only the key, so scripts can capture it)."""
    from changetrail.api.scopes import Scope

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = sorted(set(wanted) - {str(s) for s in Scope})
    if not wanted or unknown:
        raise typer.BadParameter(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(sorted(Scope))}",
            param_hint="--scopes",
        )
    typer.echo(asyncio.run(_create_key(ApiSettings(), org, name, wanted)))


async def _create_key(settings: ApiSettings, org: str, name: str, scopes: list[str]) -> str:
    from changetrail.api import migrate as migrations
    from changetrail.api.db import create_engine, create_sessionmaker
    from changetrail.api.keys import service

    await asyncio.to_thread(migrations.upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            key = await service.issue_for_org_slug(session, org, name, scopes)
    finally:
        await engine.dispose()
    return key.key


def main() -> None:
    app()

"""The API's ``changetrail`` commands: ``api``, ``migrate``, ``keys`` and ``webhooks``.

Stdout carries only results. Each component installs its own ``changetrail`` command and adds
its subcommands through the ``changetrail.commands`` entry-point group, so the API image has no
``operator`` command and a development install, with both components, has every command.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points
from typing import Annotated

import typer

from changetrail_api.detectors.cli import app as webhooks_app
from changetrail_api.settings import ApiSettings

COMMAND_GROUP = "changetrail.commands"
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the API's commands to the ``changetrail`` command."""
    app.command("api")(api)
    app.command("migrate")(migrate_command)
    app.command("openapi")(openapi_command)
    app.add_typer(keys_app, name="keys")
    app.add_typer(webhooks_app, name="webhooks")


def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    migrate: Annotated[bool, typer.Option(help="Apply pending migrations first.")] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="CHANGETRAIL_API_WORKERS",
            help="Worker processes: about one per CPU, at most 2 with SQLite.",
        ),
    ] = 1,
) -> None:
    """Serve the API (applies pending migrations first)."""
    import uvicorn

    from changetrail_api import migrate as migrations
    from changetrail_api.http_protocol import ProblemHttpProtocol

    settings = ApiSettings()
    if migrate:
        migrations.upgrade(settings.database_url)
    uvicorn.run(
        "changetrail_api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        proxy_headers=True,
        access_log=False,
        http=ProblemHttpProtocol,
        loop="uvloop",
    )


def migrate_command() -> None:
    """Apply pending database migrations and exit."""
    from changetrail_api import migrate as migrations

    migrations.upgrade(ApiSettings().database_url)
    typer.echo("database is at the latest schema", err=True)


def openapi_command() -> None:
    """Print the API's OpenAPI document (the HTTP contract clients are written against)."""
    import json

    from changetrail_api.app import create_app

    # The document depends on the code only; the app is built, never started, so the database
    # named here is never opened.
    document = create_app(ApiSettings(database_url="sqlite://")).openapi()
    typer.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes, e.g. changes:write.")],
    org: Annotated[str, typer.Option(help="Organisation slug (created if missing).")] = "default",
) -> None:
    """Create an API key and print it (only the key, so scripts can capture it)."""
    from changetrail_api.scopes import Scope

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
    from changetrail_api import migrate as migrations
    from changetrail_api.db import create_engine, create_sessionmaker
    from changetrail_api.keys import service

    await asyncio.to_thread(migrations.upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            key = await service.issue_for_org_slug(session, org, name, scopes)
    finally:
        await engine.dispose()
    return key.key


def build_app(*, other_components: bool = True) -> typer.Typer:
    """The ``changetrail`` command: the API's commands, and other installed components' too."""
    app = typer.Typer(
        name="changetrail",
        help="What changed? The commands of the changetrail components installed here.",
        no_args_is_help=True,
        add_completion=False,
    )
    register(app)
    for entry in entry_points(group=COMMAND_GROUP) if other_components else ():
        if entry.name != "api":
            entry.load()(app)
    return app


def main() -> None:
    build_app()()

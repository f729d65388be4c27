"""Schema migrations (Alembic), applied by ``changetrail migrate`` and at API start-up."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from changetrail_api.db import is_sqlite, sync_url

# Any constant works; it only has to be the same for every replica of the API.
_MIGRATION_LOCK_ID = 0x6368616E6765


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "changetrail_api:migrations")
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def _run(connection: Connection, revision: str, *, downgrade: bool) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if downgrade:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe when several API replicas start at once."""
    _apply(database_url, revision, downgrade=False)


def downgrade(database_url: str, revision: str) -> None:
    _apply(database_url, revision, downgrade=True)


def _apply(database_url: str, revision: str, *, downgrade: bool) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            if not is_sqlite(database_url):
                # Replicas starting together queue here; the first migrates, the rest find
                # nothing left to do. The lock ends with the transaction.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            _run(connection, revision, downgrade=downgrade)
    finally:
        engine.dispose()

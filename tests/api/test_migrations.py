"""Migrations go up, down and up again, and agree with the models."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from changetrail_api import migrate
from changetrail_api.db import sync_url
from changetrail_api.models import Base
from tests.support.postgres import PostgresServer


def _diff(database_url: str) -> list[object]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


class TestMigrations:
    # The text filter's trigram indexes are PostgreSQL's only (changes.models): on SQLite,
    # which has none, Alembic says it cannot compare expression indexes and leaves them out.
    @pytest.mark.filterwarnings(
        "ignore:autogenerate skipping metadata-specified expression-based index"
    )
    def test_upgrade_downgrade_upgrade_and_models_agree(self, database_url: str) -> None:
        assert _diff(database_url) == []
        migrate.downgrade(database_url, "base")
        assert len(_diff(database_url)) > 0
        migrate.upgrade(database_url)
        migrate.upgrade(database_url)  # a second run finds nothing to do
        assert _diff(database_url) == []


def _pending_list_limits(url: str) -> dict[str, list[str] | None]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'ix_changes_%_trgm'"
        ).fetchall()
    return {name: options for name, options in rows}


def test_the_trigram_indexes_merge_their_pending_lists_a_megabyte_at_a_time(
    postgres_server: PostgresServer,
) -> None:
    name = f"trigram_lists_{uuid.uuid4().hex[:8]}"  # the server is shared by the session
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = postgres_server.url(name)
    migrate.upgrade(url)
    limited = ["gin_pending_list_limit=1024"]
    assert _pending_list_limits(url) == {
        "ix_changes_summary_trgm": limited,
        "ix_changes_description_trgm": limited,
    }

    migrate.downgrade(url, "0009")  # back to PostgreSQL's default (4 MB)
    assert set(_pending_list_limits(url).values()) == {None}

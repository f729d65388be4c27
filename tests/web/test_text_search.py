"""Text search (``q``) on PostgreSQL goes through trigram indexes; without pg_trgm it still works.

The timeline's text filter is the API's: ``lower(summary) LIKE '%text%' OR
lower(coalesce(description, '')) LIKE '%text%'``. Migration 0009 indexes both expressions with
pg_trgm where it can, and only warns where the extension cannot be created.
"""

from __future__ import annotations

import logging

import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from changetrail_api import migrate
from changetrail_api.changes import repository
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.changes.models import Change
from tests.api.conftest import Api
from tests.support.postgres import PostgresServer

TRIGRAM_INDEXES = {"ix_changes_summary_trgm", "ix_changes_description_trgm"}


async def _indexes(app: FastAPI) -> set[str]:
    async with app.state.sessionmaker() as db:
        if db.get_bind().dialect.name == "sqlite":
            found = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'changes'"
        else:
            found = "SELECT indexname FROM pg_indexes WHERE tablename = 'changes'"
        return {str(name) for name in (await db.execute(text(found))).scalars()}


async def test_the_text_filter_reads_through_the_trigram_indexes_on_postgresql(
    app: FastAPI, api: Api
) -> None:
    await api.change(summary="Deploy build 4242 of checkout", description="Nightly")
    await api.change(summary="Scale checkout", description="For BUILD 4242's traffic")
    await api.change(summary="Unrelated")
    indexes = await _indexes(app)

    found = await api.changes(q="build 4242")

    assert sorted(c["summary"] for c in found["data"]) == [
        "Deploy build 4242 of checkout",
        "Scale checkout",
    ]
    if app.state.engine.dialect.name == "sqlite":
        assert not indexes & TRIGRAM_INDEXES  # PostgreSQL only
        return
    assert indexes >= TRIGRAM_INDEXES
    # The text part of the list's conditions (the first is the organisation), as the planner
    # sees it with sequential scans priced out: the indexes serve it only if their expressions
    # are the filter's own. (On a table of a few rows a scan would otherwise always win.)
    filters = ChangeFilters(q="build 4242")
    conditions = repository._conditions(
        repository.list_shape(filters), repository._parameters("org_x", filters)
    )
    counted = select(func.count()).select_from(Change).where(*conditions[1:])
    async with app.state.sessionmaker() as db:
        compiled = counted.compile(
            dialect=db.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        await db.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join((await db.execute(text(f"EXPLAIN {compiled}"))).scalars())
    assert "ix_changes_summary_trgm" in plan, plan
    assert "ix_changes_description_trgm" in plan, plan


def test_without_the_privilege_to_create_pg_trgm_the_migration_warns_and_goes_on(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute("CREATE ROLE ct_plain LOGIN")
        admin.execute('CREATE DATABASE "ct_no_trgm"')
    try:
        with psycopg.connect(postgres_server.url("ct_no_trgm"), autocommit=True) as admin:
            # May build tables in its schema, but not add extensions to the database.
            admin.execute("GRANT ALL ON SCHEMA public TO ct_plain")
        plain = postgres_server.url("ct_no_trgm").replace(
            f"//{postgres_server.user}@", "//ct_plain@"
        )

        with caplog.at_level(logging.WARNING, logger="changetrail_api.migrations"):
            migrate.upgrade(plain)

        warned = [r.getMessage() for r in caplog.records if "pg_trgm" in r.getMessage()]
        assert len(warned) == 1
        assert "CREATE EXTENSION pg_trgm" in warned[0]
        with psycopg.connect(plain) as connection:
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            names = {
                row[0]
                for row in connection.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'changes'"
                )
            }
        assert version is not None
        assert version[0] >= "0009"
        assert "ix_changes_org_created" in names  # the rest of the schema is there
        assert not names & TRIGRAM_INDEXES
    finally:
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute('DROP DATABASE IF EXISTS "ct_no_trgm" WITH (FORCE)')
            admin.execute("DROP ROLE IF EXISTS ct_plain")

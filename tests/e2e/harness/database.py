"""The database behind the e2e API process: PostgreSQL, as in production."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import postgres


@contextmanager
def throwaway_database_url() -> Iterator[str]:
    """``CHANGETRAIL_E2E_DATABASE_URL`` when set, else a PostgreSQL server for this run."""
    if url := os.environ.get("CHANGETRAIL_E2E_DATABASE_URL"):
        yield url
        return
    with postgres.running() as server:
        yield server.url()

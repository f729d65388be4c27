"""Fixtures shared by every test tier: a real PostgreSQL server when the machine has one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import postgres

IN_CI = os.environ.get("CI") == "true"


def postgres_wanted() -> bool:
    """PostgreSQL runs whenever its binaries exist; CHANGETRAIL_TEST_POSTGRES=0 opts out locally."""
    if IN_CI:
        return True
    return os.environ.get("CHANGETRAIL_TEST_POSTGRES", "1") != "0"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    if not postgres_wanted():
        pytest.skip("PostgreSQL tests turned off with CHANGETRAIL_TEST_POSTGRES=0")
    if postgres.find_bindir() is None:
        if IN_CI:
            pytest.fail("CI=true needs PostgreSQL; scripts/ensure-postgres.sh installs it")
        pytest.skip("PostgreSQL binaries not installed (scripts/ensure-postgres.sh installs them)")
    with postgres.running() as server:
        yield server

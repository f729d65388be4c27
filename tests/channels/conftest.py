"""Channels against local receivers on 127.0.0.1, on SQLite and PostgreSQL.

Receivers run on loopback, so these tests turn on the install-wide setting that allows
private destinations (``tests.channels.support.FAST``); the tests of the address guard use
the default, which refuses them. Workers poll and retry on short timings so a scenario that
takes minutes in production (a receiver down for a while) keeps its shape in seconds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpcore
import pytest

from changetrail_api.channels import ssrf
from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API's tests
    database_url,
    postgres_template,
    sqlite_template,
)
from tests.channels.receiver import Receiver
from tests.channels.support import AppClient, channels_settings, serving
from tests.chart.conftest import helm, render, render_error  # noqa: F401 - the chart's fixtures

Serve = Callable[..., AbstractAsyncContextManager[AppClient]]


async def resolve_without_dns(host: str, port: int) -> list[ssrf.IPAddress]:
    """IP literals and localhost only: the tests send nothing beyond this machine, DNS queries
    included. A name like hooks.slack.example does not resolve, which is what an address that is
    not set up yet does too (accepted when saved, a failed connection when sent)."""
    literal = ssrf.literal_address(host)
    if literal is not None:
        return [literal]
    if host == "localhost":
        return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    raise httpcore.ConnectError(f"cannot resolve {host}: names do not resolve in these tests")


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssrf, "resolve", resolve_without_dns)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().up()
    try:
        yield server
    finally:
        await server.down()


@pytest.fixture
def serve(database_url: str) -> Serve:  # noqa: F811
    """``async with serve(**settings) as client``: the app, channels on fast timings."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[AppClient]:
        return serving(channels_settings(database_url, **overrides))

    return start

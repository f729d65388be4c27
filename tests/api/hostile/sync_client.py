"""A synchronous client for the real app, so Hypothesis can drive requests directly.

The app runs with its lifespan on an event loop of its own (in a portal thread), as under a
server; each call waits for its response. httpx's ASGI transport carries the requests.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI


class SyncClient(AbstractContextManager["SyncClient"]):
    def __init__(self, app: FastAPI, headers: dict[str, str]) -> None:
        self.app = app
        self._headers = headers
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> SyncClient:
        portal = self._stack.enter_context(start_blocking_portal())
        self._stack.enter_context(
            portal.wrap_async_context_manager(self.app.router.lifespan_context(self.app))
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
            base_url="http://changetrail.test",
            headers=self._headers,
            timeout=60,
        )
        self._stack.enter_context(portal.wrap_async_context_manager(client))
        self._portal, self._client = portal, client
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self._portal is not None
        assert self._client is not None
        return self._portal.call(functools.partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

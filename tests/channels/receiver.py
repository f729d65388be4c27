"""A local receiver on 127.0.0.1 standing in for Slack, Teams, PagerDuty, Grafana or a webhook.

It records every request and answers as the test says: a status, a Retry-After, a redirect,
an answer that never comes, or no server at all (``down``) and the same port again (``up``).
Plain asyncio and HTTP/1.1 with ``Connection: close``: nothing between the test and the bytes
changetrail sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

_REASONS = {200: "OK", 202: "Accepted", 307: "Temporary Redirect", 429: "Too Many Requests"}


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    # Keep the connection open without answering (until the client gives up).
    hang: bool = False


Responder = Callable[[Received], Reply]


class Receiver:
    def __init__(self, responder: Responder | None = None) -> None:
        self.requests: list[Received] = []
        self.responder: Responder = responder or (lambda _request: Reply())
        self.port = 0
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()
        self._hanging: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def down(self) -> None:
        """Stop listening (connections are refused) and drop connections left hanging."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._hanging):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def posts(self, path: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], within: float = 15.0
    ) -> list[Received]:
        """Wait until the requests so far satisfy ``predicate``; fail after ``within`` s."""
        async with asyncio.timeout(within):
            async with self._arrived:
                await self._arrived.wait_for(lambda: predicate(self.requests))
        return self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            parts = urlsplit(target)
            request = Received(method, parts.path, parse_qs(parts.query), headers, body)
            reply = self.responder(request)
            async with self._arrived:
                self.requests.append(request)
                self._arrived.notify_all()
            if reply.hang:
                self._hanging.add(writer)
                await reader.read()  # until the client closes
                return
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            reason = _REASONS.get(reply.status, "Status")
            writer.write(
                f"HTTP/1.1 {reply.status} {reason}\r\nContent-Length: {len(reply.body)}\r\n"
                f"Content-Type: text/plain\r\nConnection: close\r\n{extra}\r\n".encode()
                + reply.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self._hanging.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

"""One HTTP call to a receiver: guarded connections, timeouts, a few redirects, a short answer.

Built on httpcore directly (httpx's engine), whose network backend is public and takes the
address guard (channels.ssrf). Redirects are followed here, at most ``MAX_REDIRECTS`` hops,
each one through the same guard, so a public URL that redirects to 169.254.169.254 gets
nowhere.

Every call ends in an ``Answer``, never an exception: the worker records what happened and
decides what comes next.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpcore

from changetrail_api.channels.ssrf import (
    AddressPolicy,
    DestinationRefusedError,
    GuardedBackend,
    Resolver,
)

MAX_REDIRECTS = 3
# Enough of an answer to show in the delivery log and to read a receiver's JSON reply.
MAX_ANSWER_BYTES = 16 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
# Headers a redirect to another origin must not carry along.
_CREDENTIAL_HEADERS = {"authorization", "cookie", "x-routing-key"}


@dataclass(frozen=True, slots=True)
class Outbound:
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    # The request may have reached the receiver although no answer came back (a timeout after
    # sending, a dropped connection): a retry could then duplicate it.
    uncertain: bool = False
    # The address policy refused the destination: nothing was sent, and retrying cannot help.
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class Transport:
    """A connection pool for every channel of a process; ``send`` never raises."""

    def __init__(
        self, policy: AddressPolicy, *, timeout: float, resolver: Resolver | None = None
    ) -> None:
        self._timeout = timeout
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(policy, resolver),
            max_connections=64,
            max_keepalive_connections=16,
            keepalive_expiry=30.0,
            retries=0,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def send(self, outbound: Outbound) -> Answer:
        try:
            # One budget for the whole call, redirects included, on top of httpcore's
            # per-phase timeouts: a receiver trickling bytes cannot hold a worker.
            async with asyncio.timeout(self._timeout * 2):
                return await self._follow(outbound)
        except TimeoutError:
            return Answer(error="the receiver did not answer in time", uncertain=True)

    async def _follow(self, outbound: Outbound) -> Answer:
        url = outbound.url
        headers = list(outbound.headers)
        for _hop in range(MAX_REDIRECTS + 1):
            answer = await self._once(outbound.method, url, headers, outbound.body)
            location = answer.headers.get("location")
            if answer.status not in _REDIRECTS or not location:
                return answer
            target = urljoin(url, location)
            if urlsplit(target).scheme not in ("http", "https"):
                return Answer(status=answer.status, error=f"redirect to a non-HTTP URL {target}")
            if _origin(target) != _origin(url):
                headers = [(k, v) for k, v in headers if k.lower() not in _CREDENTIAL_HEADERS]
            url = target
        return Answer(error=f"more than {MAX_REDIRECTS} redirects")

    async def _once(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> Answer:
        timeouts = {"connect": self._timeout, "read": self._timeout, "write": self._timeout}
        try:
            async with self._pool.stream(
                method,
                url,
                headers=headers,
                content=body,
                extensions={"timeout": {**timeouts, "pool": self._timeout}},
            ) as response:
                received = bytearray()
                async for chunk in response.aiter_stream():
                    received += chunk
                    if len(received) >= MAX_ANSWER_BYTES:
                        break
                return Answer(
                    status=response.status,
                    body=bytes(received[:MAX_ANSWER_BYTES]),
                    headers={
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in response.headers
                    },
                )
        except DestinationRefusedError as exc:
            return Answer(error=str(exc), refused=True)
        except (httpcore.ConnectError, httpcore.ConnectTimeout, httpcore.PoolTimeout) as exc:
            return Answer(error=f"could not connect: {_describe(exc)}")
        except httpcore.UnsupportedProtocol as exc:
            return Answer(error=f"unsupported URL: {_describe(exc)}")
        except httpcore.TimeoutException as exc:
            return Answer(error=f"timed out: {_describe(exc)}", uncertain=True)
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            return Answer(error=f"connection failed: {_describe(exc)}", uncertain=True)


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__

"""Failed authentication is throttled, per client address and per webhook token.

Keys and webhook tokens carry 256 random bits, out of reach of guessing at any rate; webhook
and Alertmanager secrets are chosen by people. Either way, an anonymous client should not get
to try them hundreds of times a second. This middleware watches answers rather than
credentials, so it covers every way in at once (API keys, webhook tokens, signatures, pages
that sign in):

- a 401, anywhere, is a failure of the client's address; on a webhook receiver it is also a
  failure of that token (a wrong secret), and a 404 there (an unknown token) one of the address;
- an address or token over its budget gets 429 with ``Retry-After`` before the request is
  looked at, so guessing stalls while a good credential from elsewhere still works.

Budgets are token buckets: ``per_minute`` failures a minute, and as many again at once.
Memory is bounded: at most ``MAX_TRACKED`` addresses and tokens are remembered, least recently
failed first out. Tokens are remembered by digest, never as sent.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from changetrail_api.errors import problem_response

MAX_TRACKED = 50_000
_RECEIVER_PREFIX = "/api/webhooks/incoming/"
# Probes and scrapes take no credentials: an address held back (a shared proxy, a node) must
# still see the process live and ready.
_NEVER_HELD = frozenset({"/healthz", "/readyz", "/metrics"})


class FailureBuckets:
    """Failures per key in token buckets, with a bounded number of keys."""

    def __init__(
        self,
        per_minute: float,
        *,
        max_keys: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return self._capacity
        tokens, stamp = entry
        return min(self._capacity, tokens + (now - stamp) * self._rate)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        if self._rate <= 0:
            return 0.0
        level = self._level(key, self._clock())
        return 0.0 if level >= 1 else (1 - level) / self._rate

    def failed(self, key: str) -> None:
        if self._rate <= 0:
            return
        now = self._clock()
        self._buckets[key] = (max(0.0, self._level(key, now) - 1), now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


def receiver_token(path: str) -> str | None:
    """A digest of the token in ``/api/webhooks/incoming/{kind}/{token}``, if that is the path."""
    if not path.startswith(_RECEIVER_PREFIX):
        return None
    kind, _, token = path[len(_RECEIVER_PREFIX) :].partition("/")
    if not kind or not token or "/" in token:
        return None
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class FailedAuthThrottle:
    """ASGI middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp, *, per_address: int, per_token: int) -> None:
        self.app = app
        self.addresses = FailureBuckets(per_address)
        self.tokens = FailureBuckets(per_token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _NEVER_HELD:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = f"address:{client[0]}" if client else "address:unknown"
        token = receiver_token(scope["path"])
        wait = max(self.addresses.wait(address), self.tokens.wait(token) if token else 0.0)
        if wait > 0:
            response = problem_response(
                429,
                "Too many failed authentication attempts; retry later.",
                headers={"Retry-After": str(math.ceil(wait))},
            )
            await response(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 401:
            self.addresses.failed(address)
            if token:
                self.tokens.failed(token)
        elif status == 404 and token:
            self.addresses.failed(address)

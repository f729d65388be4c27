"""Response headers a security review expects on every answer, set where a route did not.

- ``X-Content-Type-Options: nosniff`` everywhere: a JSON answer that quotes user input is never
  run as a script or rendered as a page.
- A frame policy and a Content-Security-Policy: HTML gets a strict default (pages that need
  another policy, like the web pages and ``/docs``, set their own and keep it); everything else
  gets ``default-src 'none'``, as nothing but HTML should ever be rendered.
- ``Cache-Control: no-store`` on the API: its answers carry an organisation's data and, once,
  a new key or webhook token, which must not rest in a shared or browser cache.
- ``Referrer-Policy``: addresses with webhook tokens in them never leave in a Referer header.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"

_API_PREFIXES = ("/api/", "/openapi.json")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith(_API_PREFIXES)

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Content-Security-Policy", HTML_POLICY if html else OTHER_POLICY)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if is_api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, add_headers)

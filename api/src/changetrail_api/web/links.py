"""Links that work behind an ingress path prefix.

Behind a proxy that serves the app under ``/changetrail/`` and strips the prefix, the app
sees ``/ui`` but the browser must be sent to ``/changetrail/ui``. The prefix comes from the
ASGI ``root_path`` (uvicorn ``--root-path``) or, failing that, the ``X-Forwarded-Prefix``
header that ingress controllers set. Every link, form action, cookie path and asset URL the
pages emit goes through here, so none forgets the prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request

_PREFIX = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
_MAX_PREFIX = 200


def _app_root_path(request: Request) -> str:
    # Inside a mount (the static files) ``root_path`` also holds the mount's own path.
    scope = request.scope
    return str(scope.get("app_root_path", scope.get("root_path")) or "").rstrip("/")


def prefix_of(request: Request) -> str:
    """The path prefix the browser sees in front of the app's own paths ("" for none)."""
    root_path = _app_root_path(request)
    if root_path:
        return root_path
    forwarded = request.headers.get("x-forwarded-prefix", "").strip().rstrip("/")
    # Only a plain path: a header is client-controlled, so nothing that could leave the site.
    if forwarded and len(forwarded) <= _MAX_PREFIX and _PREFIX.match(forwarded):
        return forwarded
    return ""


def route_path(request: Request) -> str:
    """The request's path without the prefix: what the app's routes match."""
    path = request.url.path
    root_path = _app_root_path(request)
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


def query(params: Iterable[tuple[str, str]]) -> str:
    encoded = urlencode(list(params))
    return f"?{encoded}" if encoded else ""


class Links:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def to(self, path: str, params: Iterable[tuple[str, str]] = ()) -> str:
        return self.prefix + path + query(params)

    @property
    def cookie_path(self) -> str:
        return self.prefix + "/"

    def local_target(self, target: str | None, default: str = "/ui") -> str:
        """A redirect target from user input, kept on this site and under the prefix.

        Accepts only an absolute path under the prefix (what the pages put in ``next``), so
        a crafted sign-in link cannot send anyone elsewhere afterwards.
        """
        if target:
            parts = urlsplit(target)
            path = parts.path
            if (
                not parts.scheme
                and not parts.netloc
                and path.startswith(self.prefix + "/ui")
                and "\\" not in target
                and not target.startswith("//")
            ):
                return target
        return self.to(default)

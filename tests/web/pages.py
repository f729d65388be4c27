"""Reading pages over HTTP in tests: forms, CSRF fields and links, without a browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name"):
            self.values[str(found["name"])] = found.get("value") or ""
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))


def inputs(html: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.values


def hrefs(html: str) -> list[str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.links


def text(html: str) -> str:
    """The page's visible words, tags dropped and whitespace folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


class Browser:
    """An HTTP client with a cookie jar, signing in the way the sign-in form does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.http.get(path, **kwargs)  # type: ignore[arg-type]

    async def sign_in(self, key: str, next_url: str = "/ui") -> httpx.Response:
        form = await self.http.get("/ui/sign-in", params={"next": next_url})
        fields = inputs(form.text)
        return await self.http.post(
            "/ui/sign-in",
            data={"csrf": fields["csrf"], "next": fields["next"], "api_key": key},
        )

"""Bad requests get clear problem documents and change nothing; nothing yields a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api.conftest import Api

PROBLEM_KEYS = {"type", "title", "status", "detail"}


async def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json().keys() >= PROBLEM_KEYS
    assert response.json()["status"] == status


class TestBodies:
    async def test_malformed_json_is_400(self, client: httpx.AsyncClient, api: Api) -> None:
        response = await client.post(
            "/api/v1/changes", content=b'{"summary": ', headers={"content-type": "application/json"}
        )
        await assert_problem(response, 400)
        assert (await api.changes())["meta"]["total"] == 0

    @pytest.mark.parametrize("path", ["/api/v1/changes", "/api/v1/changes/batch"])
    @pytest.mark.parametrize("body", [b"\x88", b"\xcc", b'{"summary": "\xff"}'])
    async def test_a_body_that_is_not_utf8_text_is_400(
        self, client: httpx.AsyncClient, api: Api, path: str, body: bytes
    ) -> None:
        response = await client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        await assert_problem(response, 400)
        assert (await api.changes())["meta"]["total"] == 0

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", ""]
    )
    async def test_non_json_is_415(self, client: httpx.AsyncClient, content_type: str) -> None:
        response = await client.post(
            "/api/v1/changes", content=b"summary=x", headers={"content-type": content_type}
        )
        await assert_problem(response, 415)

    async def test_json_with_charset_is_fine(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/changes",
            content=b'{"summary": "x"}',
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 201

    async def test_body_over_the_limit_is_413(self, client: httpx.AsyncClient, api: Api) -> None:
        huge = {"summary": "x", "description": "y" * (1024 * 1024)}
        await assert_problem(await client.post("/api/v1/changes", json=huge), 413)
        assert (await api.changes())["meta"]["total"] == 0

    async def test_streamed_body_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b" " * 100_000

        response = await client.post(
            "/api/v1/changes", content=chunks(), headers={"content-type": "application/json"}
        )
        await assert_problem(response, 413)

    async def test_deeply_nested_details_are_rejected_not_crashed(
        self, client: httpx.AsyncClient
    ) -> None:
        nested = "[" * 5000 + "]" * 5000
        body = b'{"summary": "x", "details": {"a": ' + nested.encode() + b"}}"
        response = await client.post(
            "/api/v1/changes", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500

    async def test_unknown_route_is_a_problem_404(self, client: httpx.AsyncClient) -> None:
        await assert_problem(await client.get("/api/v1/nothing-here"), 404)

    async def test_wrong_method_is_a_problem_405(self, client: httpx.AsyncClient) -> None:
        await assert_problem(await client.put("/api/v1/changes", json={}), 405)

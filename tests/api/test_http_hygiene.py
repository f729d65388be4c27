"""What a security review asks of every answer, and what an anonymous client can make grow.

Headers (nosniff, frame and content policies, no-store), /docs without a CDN, the OpenAPI
document's bearer scheme, uvicorn's own 400s as problem documents, metrics labels from closed
sets, failed authentication throttled per address and per webhook token, and no token in logs.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from changetrail_api import metrics
from changetrail_api.app import create_app
from changetrail_api.http_protocol import ProblemHttpProtocol
from changetrail_api.throttle import FailureBuckets
from changetrail_api.web.rendering import SECURITY_HEADERS as PAGE_HEADERS
from tests.api.conftest import ADMIN_KEY, Api, bearer, serving, settings_for

PROBLEM = "application/problem+json"


class TestHeaders:
    async def test_api_answers_are_not_sniffed_framed_or_cached(
        self, client: httpx.AsyncClient
    ) -> None:
        for response in (
            await client.get("/api/v1/changes"),
            await client.get("/api/v1/nothing-here"),
            await client.post("/api/v1/changes", json={}),
        ):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["x-frame-options"] == "DENY"

    async def test_answers_that_carry_a_secret_are_never_cached(
        self, client: httpx.AsyncClient
    ) -> None:
        key = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]})
        hook = await client.post("/api/v1/webhooks", json={"name": "ci"})

        for response in (key, hook):
            assert response.status_code == 201
            assert response.headers["cache-control"] == "no-store"

    async def test_pages_keep_their_own_content_security_policy(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/ui/sign-in")

        assert page.headers["content-type"].startswith("text/html")
        policy = PAGE_HEADERS["Content-Security-Policy"]
        assert page.headers.get_list("content-security-policy") == [policy]
        assert page.headers["x-content-type-options"] == "nosniff"


class TestDocs:
    async def test_docs_load_only_the_packages_own_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")

        assert page.status_code == 200
        references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert references
        assert all(ref.startswith("/docs/assets/") for ref in references), references
        assert "cdn" not in page.text.lower()
        for reference in references:
            asset = await client.get(reference)
            assert asset.status_code == 200, reference
            assert int(asset.headers["content-length"]) > 0

    async def test_the_docs_policy_allows_exactly_the_pages_own_script(
        self, client: httpx.AsyncClient
    ) -> None:
        page = await client.get("/docs")

        policy = page.headers["content-security-policy"]
        scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
        assert len(scripts) == 1
        digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "validatorUrl" in scripts[0]  # Swagger UI's online validator stays off

    async def test_the_vendored_assets_ship_in_the_package(self) -> None:
        from importlib import resources

        folder = resources.files("changetrail_api") / "static" / "swagger-ui"
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "README.md"):
            assert (folder / name).is_file(), name

    async def test_openapi_declares_the_bearer_scheme(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()

        scheme = document["components"]["securitySchemes"]["apiKey"]
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
        assert document["paths"]["/api/v1/changes"]["post"]["security"] == [{"apiKey": []}]
        receiver = document["paths"]["/api/webhooks/incoming/changes/{token}"]["post"]
        assert "security" not in receiver  # the token in the path is the credential


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(app: FastAPI) -> Iterator[int]:
    """The app behind uvicorn with changetrail's HTTP protocol, on a free local port."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=ProblemHttpProtocol,
        lifespan="off",
        log_level="error",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        # Framing a proxy and this server could read differently (request smuggling).
        b"POST /api/v1/changes HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
        b"Content-Length: 2\r\n\r\nab",
        b"POST /api/v1/changes HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
)
def test_requests_uvicorn_cannot_parse_get_a_problem_document(
    served: int, request_bytes: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", served), timeout=5) as connection:
        connection.sendall(request_bytes)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"status": 400' in body or b'"status":400' in body


class TestMetricsCardinality:
    async def test_anonymous_requests_cannot_add_series(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        hook = (await client.post("/api/v1/webhooks", json={"name": "w"})).json()["data"]
        for number in range(20):
            await client.request(f"FOOBAR{number}", "/healthz")
            await client.post(hook["path"], json={"summary": "x", "source": f"custom-{number}"})
            await api.change(f"change {number}", source=f"tool-{number}")

        text = (await client.get("/metrics")).text

        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if "method" in labels:
                    assert labels["method"] in metrics.METHODS | {metrics.OTHER}
                if "source" in labels:
                    assert labels["source"] in metrics.SOURCES | {metrics.OTHER}
        assert "custom-" not in text
        assert "tool-" not in text
        assert "FOOBAR" not in text


class TestFailedAuthentication:
    async def test_guessing_keys_from_one_address_is_throttled(self, database_url: str) -> None:
        settings = settings_for(database_url, auth_failures_per_minute=30)
        async with serving(settings) as client:
            statuses = [
                (await client.get("/api/v1/changes", headers=bearer(f"ak_live_guess{n}")))
                for n in range(60)
            ]
            codes = [response.status_code for response in statuses]
            assert codes[:30] == [401] * 30
            assert set(codes[30:]) == {429}
            assert int(statuses[-1].headers["retry-after"]) >= 1
            assert statuses[-1].headers["content-type"] == PROBLEM
            # Probes need no credentials and are never held back.
            assert (await client.get("/readyz")).status_code == 200

    async def test_another_address_is_not_held_back(self, database_url: str) -> None:
        settings = settings_for(database_url, auth_failures_per_minute=5)
        app = create_app(settings, run_migrations=False)

        def client_at(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 4000))
            return httpx.AsyncClient(transport=transport, base_url="http://changetrail.test")

        async with (
            app.router.lifespan_context(app),
            client_at("198.51.100.7") as guesser,
            client_at("203.0.113.9") as colleague,
        ):
            for n in range(6):
                await guesser.get("/api/v1/changes", headers=bearer(f"ak_live_guess{n}"))
            held = await guesser.get("/api/v1/changes", headers=bearer(ADMIN_KEY))
            served = await colleague.get("/api/v1/changes", headers=bearer(ADMIN_KEY))
        assert held.status_code == 429  # even a good key, while this address is held back
        assert served.status_code == 200

    async def test_unknown_webhook_tokens_are_throttled(self, database_url: str) -> None:
        settings = settings_for(database_url, auth_failures_per_minute=10)
        async with serving(settings) as client:
            codes = [
                (await client.post(f"/api/webhooks/incoming/changes/whk_{n}", json={})).status_code
                for n in range(15)
            ]
        assert codes[:10] == [404] * 10
        assert set(codes[10:]) == {429}

    async def test_wrong_secrets_for_one_token_are_throttled(self, database_url: str) -> None:
        settings = settings_for(
            database_url, auth_failures_per_minute=1000, webhook_secret_failures_per_minute=10
        )
        secret = "a-long-random-secret-0123456789abcdef"
        async with serving(settings) as client:
            hook = await client.post("/api/v1/webhooks", json={"name": "gh", "secret": secret})
            path = hook.json()["data"]["path"]
            codes = [
                (
                    await client.post(
                        path, json={"summary": "x"}, headers={"x-changetrail-token": f"guess{n}"}
                    )
                ).status_code
                for n in range(15)
            ]
            right = await client.post(
                path, json={"summary": "x"}, headers={"x-changetrail-token": secret}
            )
        assert codes[:10] == [401] * 10
        assert set(codes[10:]) == {429}
        assert right.status_code == 429  # the token is held back, whoever asks

    def test_the_throttle_remembers_a_bounded_number_of_clients(self) -> None:
        now = [0.0]
        buckets = FailureBuckets(3, max_keys=100, clock=lambda: now[0])
        for number in range(10_000):
            buckets.failed(f"address:{number}")
        assert len(buckets) == 100
        for _ in range(3):
            buckets.failed("address:x")
        assert buckets.wait("address:x") == pytest.approx(20)
        now[0] += 20
        assert buckets.wait("address:x") == 0


@pytest.mark.parametrize(
    ("secret", "status"),
    [
        ("short-secret", 422),
        ("a" * 40, 422),
        ("abababababababababababababababab", 422),
        ("It's a Secret to Everybody", 201),
        ("9f2c4e1a7b3d5f6081a2c3e4f5a6b7c8", 201),
    ],
)
async def test_webhook_secrets_must_resist_online_guessing(
    client: httpx.AsyncClient, secret: str, status: int
) -> None:
    response = await client.post("/api/v1/webhooks", json={"name": "gh", "secret": secret})
    assert response.status_code == status, response.text


async def test_an_unexpected_error_never_logs_the_webhook_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from changetrail_api.webhooks import receiver

    hook = (await client.post("/api/v1/webhooks", json={"name": "w"})).json()["data"]

    def broken(*_args: object) -> object:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(receiver, "analyse", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.post(hook["path"], json={"summary": "x"})

    assert response.status_code == 500
    assert "detector bug" in caplog.text
    assert "/api/webhooks/incoming/changes/{token}" in caplog.text
    assert hook["token"] not in caplog.text

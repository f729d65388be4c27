"""The operator's own Kubernetes requests, made with the credentials of kopf's login."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import certifi
import httpx
import kopf
import pytest

from changetrail_operator.handlers import credentials
from changetrail_operator.kube_client import KubeClient, KubeError
from changetrail_operator.kube_connection import USER_AGENT, authorization, ssl_context
from changetrail_operator.resources import ApiResource
from changetrail_operator.runtime import Runtime

CONFIGMAPS = ApiResource("", "v1", "configmaps")
POLICIES = ApiResource("changetrail.io", "v1alpha1", "clusterchangepolicies", namespaced=False)


def _first_ca() -> str:
    bundle = Path(certifi.where()).read_text()
    return bundle[bundle.index("-----BEGIN CERTIFICATE-----") :].split("\n\n", 1)[0] + "\n"


@pytest.mark.parametrize(
    ("info", "header"),
    [
        (kopf.ConnectionInfo(server="https://k", token="t0k"), {"Authorization": "Bearer t0k"}),
        (
            kopf.ConnectionInfo(server="https://k", scheme="Token", token="t0k"),
            {"Authorization": "Token t0k"},
        ),
        (
            kopf.ConnectionInfo(server="https://k", username="u", password="p"),
            {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()},
        ),
        (kopf.ConnectionInfo(server="https://k"), {}),
    ],
    ids=["token", "scheme", "basic", "anonymous"],
)
def test_the_authorization_header_is_read_as_kopf_reads_it(
    info: kopf.ConnectionInfo, header: dict[str, str]
) -> None:
    assert authorization(info) == header


def test_the_server_is_verified_against_the_named_ca_unless_insecure() -> None:
    pem = _first_ca()
    for info in (
        kopf.ConnectionInfo(server="https://k", ca_data=pem),
        # As a kubeconfig holds it:
        kopf.ConnectionInfo(server="https://k", ca_data=base64.b64encode(pem.encode()).decode()),
        kopf.ConnectionInfo(server="https://k", ca_path=certifi.where()),
    ):
        context = ssl_context(info)
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname
        assert context.get_ca_certs()
    insecure = ssl_context(kopf.ConnectionInfo(server="https://k", insecure=True))
    assert insecure.verify_mode is ssl.CERT_NONE
    assert not insecure.check_hostname


def test_a_client_certificate_given_as_data_is_loaded_and_not_left_on_disk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded: list[tuple[Path, str, Path, str]] = []

    def load_cert_chain(self: ssl.SSLContext, certfile: Path, keyfile: Path) -> None:
        loaded.append((certfile, certfile.read_text(), keyfile, keyfile.read_text()))

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", load_cert_chain)
    certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIC\n-----END PRIVATE KEY-----\n"
    ssl_context(
        kopf.ConnectionInfo(
            server="https://k",
            certificate_data=base64.b64encode(certificate.encode()).decode(),
            private_key_data=key,
        )
    )

    [(certfile, certificate_text, keyfile, key_text)] = loaded
    assert (certificate_text, key_text) == (certificate, key)
    assert not certfile.exists()
    assert not keyfile.exists()


class FakeKube:
    """Answers like the Kubernetes API; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: Callable[[httpx.Request], httpx.Response] = self._pages

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @staticmethod
    def _pages(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(200, json=json.loads(request.content))
        after = request.url.params.get("continue")
        page, token = (["b"], "") if after == "next" else (["a1", "a2"], "next")
        items = [{"metadata": {"uid": uid}} for uid in page]
        return httpx.Response(200, json={"items": items, "metadata": {"continue": token}})


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
async def client(kube: FakeKube) -> AsyncIterator[KubeClient]:
    client = KubeClient(page_size=2, transport=httpx.MockTransport(kube))
    client.log_in(kopf.ConnectionInfo(server="https://kube.test", token="first"))
    yield client
    await client.close()


async def _uids(client: KubeClient, namespace: str | None) -> list[str]:
    return [
        item["metadata"]["uid"]
        async for page in client.list_objects(CONFIGMAPS, namespace)
        for item in page
    ]


async def test_listings_come_in_pages_across_or_within_namespaces(
    client: KubeClient, kube: FakeKube
) -> None:
    assert await _uids(client, None) == ["a1", "a2", "b"]
    assert await _uids(client, "payments") == ["a1", "a2", "b"]

    assert [(r.url.path, dict(r.url.params)) for r in kube.requests] == [
        ("/api/v1/configmaps", {"limit": "2"}),
        ("/api/v1/configmaps", {"limit": "2", "continue": "next"}),
        ("/api/v1/namespaces/payments/configmaps", {"limit": "2"}),
        ("/api/v1/namespaces/payments/configmaps", {"limit": "2", "continue": "next"}),
    ]
    for request in kube.requests:
        assert request.headers["Authorization"] == "Bearer first"
        assert request.headers["User-Agent"] == USER_AGENT


async def test_a_status_is_merge_patched_into_the_status_subresource(
    client: KubeClient, kube: FakeKube
) -> None:
    assert await client.patch_status(POLICIES, None, "team-pay", {"objectsMatched": 3})

    [request] = kube.requests
    assert request.method == "PATCH"
    assert request.url.path == "/apis/changetrail.io/v1alpha1/clusterchangepolicies/team-pay/status"
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(request.content) == {"status": {"objectsMatched": 3}}


async def test_a_gone_object_is_no_error_but_a_refusal_is(
    client: KubeClient, kube: FakeKube
) -> None:
    kube.answer = lambda request: httpx.Response(404, json={"reason": "NotFound"})
    assert not await client.patch_status(POLICIES, None, "gone", {})

    kube.answer = lambda request: httpx.Response(403, json={"reason": "Forbidden"})
    with pytest.raises(KubeError, match="HTTP 403") as refused:
        await client.patch_status(POLICIES, None, "forbidden", {})
    assert refused.value.status == 403
    with pytest.raises(KubeError, match="HTTP 403"):
        await _uids(client, None)


async def test_requests_wait_for_the_first_login_and_follow_the_latest(kube: FakeKube) -> None:
    client = KubeClient(transport=httpx.MockTransport(kube))
    listing = asyncio.create_task(_uids(client, None))
    await asyncio.sleep(0.01)
    assert not listing.done()
    assert not client.logged_in

    client.log_in(kopf.ConnectionInfo(server="https://kube.test", token="first"))
    await asyncio.wait_for(listing, 1)
    client.log_in(kopf.ConnectionInfo(server="https://kube.test", token="rotated"))
    await _uids(client, None)
    await client.close()

    assert [r.headers["Authorization"] for r in kube.requests] == ["Bearer first"] * 2 + [
        "Bearer rotated"
    ] * 2


async def test_kopfs_login_hands_the_same_credentials_to_the_operators_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = {
        "current-context": "ctx",
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": "https://kube.test:6443",
                    "certificate-authority-data": base64.b64encode(_first_ca().encode()).decode(),
                },
            }
        ],
        "users": [{"name": "u", "user": {"token": "from-kubeconfig"}}],
    }
    (tmp_path / "config").write_text(json.dumps(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    runtime = SimpleNamespace(kube_server=None, kube=KubeClient())
    settings = kopf.OperatorSettings()

    info = await credentials(cast(Runtime, runtime), settings=settings, logger=_logger())

    assert info is not None
    assert runtime.kube.logged_in
    assert (info.server, info.token) == ("https://kube.test:6443", "from-kubeconfig")


def _logger() -> Any:
    import logging

    return logging.getLogger("test")

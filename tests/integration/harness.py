"""The real API in-process, kopf running the operator, and kmock standing in for Kubernetes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import kmock

from changetrail_api.app import create_app
from changetrail_api.settings import ApiSettings
from changetrail_operator.handlers import run
from changetrail_operator.kopf_internals import ObserverMemories
from changetrail_operator.kube_connection import USER_AGENT
from changetrail_operator.runtime import Runtime
from changetrail_operator.settings import OperatorSettings

API_KEY = "ak_live_test_operator_0123456789"

RESOURCES = {
    "apps/v1/deployments": ("Deployment", True, ()),
    "apps/v1/statefulsets": ("StatefulSet", True, ()),
    "apps/v1/daemonsets": ("DaemonSet", True, ()),
    "batch/v1/cronjobs": ("CronJob", True, ()),
    "v1/secrets": ("Secret", True, ()),
    "v1/configmaps": ("ConfigMap", True, ()),
    "autoscaling/v2/horizontalpodautoscalers": ("HorizontalPodAutoscaler", True, ()),
    "v1/namespaces": ("Namespace", False, ()),
    "changetrail.io/v1alpha1/changepolicies": ("ChangePolicy", True, ("status",)),
    "changetrail.io/v1alpha1/clusterchangepolicies": ("ClusterChangePolicy", False, ("status",)),
}
WATCHED = {"deployments", "configmaps", "horizontalpodautoscalers", "namespaces"}


def _parse_path_with_namespaces(original: Callable[[str], Any]) -> Callable[[str], Any]:
    # kmock 0.8 reads "/api/v1/namespaces" as a namespaced path with no namespace and fails,
    # so the Namespace kind itself cannot be listed or watched; read it as the cluster-scoped
    # "namespaces" resource, which is what the real API server does.
    from kmock._internal.parsing import ParsedPath

    def parse(path: str) -> Any:
        if path.rstrip("/") == "/api/v1/namespaces":
            return ParsedPath("", "v1", "namespaces", None, None, None)
        return original(path)

    return parse


def serve_namespaces(monkeypatch: Any) -> None:
    from kmock._internal import parsing

    monkeypatch.setattr(parsing, "parse_path", _parse_path_with_namespaces(parsing.parse_path))


def declare_resources(emulator: Any) -> None:
    for key, (kind, namespaced, subresources) in RESOURCES.items():
        emulator.resources[key] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            verbs={"list", "watch", "get", "create", "patch", "update", "delete"},
            subresources=set(subresources),
        )


def url(plural: str, namespace: str | None = None, name: str | None = None) -> str:
    known = [*RESOURCES, "cert-manager.io/v1/certificates"]
    group_version = next(key.rsplit("/", 1)[0] for key in known if key.endswith("/" + plural))
    base = f"/api/{group_version}" if group_version == "v1" else f"/apis/{group_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


class Cluster:
    """Writes to the emulated cluster the way kubectl and controllers would."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator

    async def create(self, plural: str, body: dict[str, Any]) -> None:
        namespace = body["metadata"].get("namespace")
        async with self.emulator.post(url(plural, namespace), json=body) as response:
            assert response.status < 300, await response.text()

    async def patch(self, plural: str, namespace: str | None, name: str, patch: Any) -> None:
        async with self.emulator.patch(url(plural, namespace, name), json=patch) as response:
            assert response.status < 300, await response.text()

    async def delete(self, plural: str, namespace: str | None, name: str) -> None:
        async with self.emulator.delete(url(plural, namespace, name)) as response:
            assert response.status < 300, await response.text()

    def operator_writes(self) -> list[Any]:
        """Requests from the operator (kopf's or its own) that would modify something."""
        return [
            request
            for request in self.emulator  # every request the emulator has served
            if str(request.headers.get("User-Agent", "")).startswith(("kopf/", USER_AGENT))
            and request.method not in {kmock.method.GET, kmock.method.HEAD, kmock.method.OPTIONS}
        ]


class SwitchableTransport(httpx.AsyncBaseTransport):
    """The API's transport, with a switch that makes it unreachable (an outage), paths it can
    hide (an older API, answering 404), and a log of what was asked."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0
        self.hidden: set[str] = set()
        self.requests: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if self.down:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path in self.hidden:
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        return await self.inner.handle_async_request(request)

    def count(self, method: str, path: str) -> int:
        return self.requests.count((method, path))


@dataclass
class Api:
    http: httpx.AsyncClient
    transport: SwitchableTransport


@contextlib.asynccontextmanager
async def running_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The real API on SQLite, reached through a transport that can be switched off."""
    app = create_app(
        ApiSettings(database_url=f"sqlite:///{tmp_path}/ct.db", bootstrap_api_key=API_KEY)
    )
    transport = SwitchableTransport(httpx.ASGITransport(app=app))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://api",
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as http,
    ):
        yield Api(http, transport)


def operator_settings(**overrides: Any) -> OperatorSettings:
    values: dict[str, Any] = {
        "cluster_name": "test",
        "hpa_settle_seconds": 0,
        "retry_base_seconds": 0.01,
        "retry_max_seconds": 0.05,
        "policy_status_interval": 0.1,
        "startup_load_wait_seconds": 0.2,
        **overrides,
    }
    return OperatorSettings.model_validate(values)


@contextlib.asynccontextmanager
async def running_operator(
    emulator: Any,
    http: httpx.AsyncClient,
    settings: OperatorSettings | None = None,
    *,
    wait_loaded: bool = True,
    memories: ObserverMemories | None = None,
) -> AsyncIterator[Runtime]:
    runtime = Runtime(
        settings=settings or operator_settings(), http=http, kube_server=str(emulator.url)
    )
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(
        run(
            runtime,
            memories,
            clusterwide=True,
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    await ready.wait()
    if wait_loaded:
        await runtime.loaded.wait()
    try:
        yield runtime
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def recorded(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/changes", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return sorted(data, key=lambda change: change["created_at"])


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Await ``check()`` until it returns something truthy (it may be sync or async)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not true within {within}s: {check}")
        await asyncio.sleep(0.02)


async def synced(runtime: Runtime, objects: int) -> None:
    """Wait until the initial listing has been taken in and stored."""
    await eventually(lambda: len(runtime.observer.records) >= objects)
    await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)

"""The operator's own requests to the Kubernetes API, besides kopf's watches.

The listing of the watched kinds that finds what was deleted while the operator was away
(uids only, in pages, so a start never holds all objects at once), the counts in the status of
ChangePolicy and ClusterChangePolicy objects between their own events, and the listings and
watches of the resources ClusterChangePolicies name (see ``dynamic``), which kopf cannot
start while it runs. They are made with the credentials of kopf's latest login (see
``handlers.login``), so they act as the same identity, under the same RBAC, as the watches.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import kopf

from changetrail_operator.bodies import as_dict, as_list
from changetrail_operator.hashing import JsonDict
from changetrail_operator.kube_connection import http_client
from changetrail_operator.resources import ApiResource

# Objects per page of a listing: what a listing holds parsed at once. 10,000 ConfigMaps are
# 100 short requests.
LIST_PAGE = 100
_MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class KubeError(Exception):
    """A request the Kubernetes API did not answer, or refused."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KubeClient:
    def __init__(
        self,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 30.0,
        page_size: int = LIST_PAGE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._page_size = page_size
        self._transport = transport
        self._credentials: kopf.ConnectionInfo | None = None
        self._http: httpx.AsyncClient | None = None
        self._retired: list[httpx.AsyncClient] = []
        self._logged_in = asyncio.Event()

    @property
    def logged_in(self) -> bool:
        return self._credentials is not None

    def log_in(self, credentials: kopf.ConnectionInfo) -> None:
        """Use these credentials from now on: kopf logged in (again), e.g. with a new token."""
        if credentials == self._credentials:
            return
        self._credentials = credentials
        if self._http is not None:
            self._retired.append(self._http)  # closed by the next request, not mid-request
            self._http = None
        self._logged_in.set()

    async def close(self) -> None:
        for http in [*self._retired, *([self._http] if self._http is not None else [])]:
            await http.aclose()
        self._retired, self._http = [], None

    async def list_objects(
        self, resource: ApiResource, namespace: str | None = None
    ) -> AsyncIterator[list[Mapping[str, Any]]]:
        """The objects of a resource in one namespace (None: all), a page at a time."""
        params = {"limit": str(self._page_size)}
        while True:
            page = await self._request("GET", resource.path(namespace), params=params)
            yield [as_dict(item) for item in as_list(page.get("items"))]
            token = as_dict(page.get("metadata")).get("continue")
            if not token:  # "" on the last page
                return
            params["continue"] = str(token)

    async def discover(self, resource: ApiResource) -> tuple[str, bool] | None:
        """The ``kind`` of a resource and whether it is namespaced; None if not served."""
        path = resource.path().rsplit("/", 1)[0]  # the group version's discovery document
        try:
            document = await self._request("GET", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        for item in as_list(document.get("resources")):
            item = as_dict(item)
            if item.get("name") == resource.plural:
                return str(item.get("kind")), bool(item.get("namespaced"))
        return None

    async def list_pages(
        self, resource: ApiResource, namespace: str | None = None
    ) -> AsyncIterator[tuple[list[Mapping[str, Any]], str]]:
        """Pages of a listing, each with the listing's resourceVersion (to watch from)."""
        params = {"limit": str(self._page_size)}
        while True:
            page = await self._request("GET", resource.path(namespace), params=params)
            meta = as_dict(page.get("metadata"))
            yield (
                [as_dict(item) for item in as_list(page.get("items"))],
                str(meta.get("resourceVersion") or ""),
            )
            token = meta.get("continue")
            if not token:
                return
            params["continue"] = str(token)

    async def watch(
        self,
        resource: ApiResource,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int,
    ) -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
        """Events after ``resource_version`` until the server ends the watch: ``(type, object)``,
        bookmarks included. An expired version raises a KubeError with status 410."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        http = await self._client()
        path = resource.path(namespace)
        timeout = httpx.Timeout(timeout_seconds + 30.0, connect=self._timeout.connect)
        try:
            async with http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise KubeError(
                        f"watch {path}: HTTP {response.status_code}: {response.text[:300]}",
                        response.status_code,
                    )
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = as_dict(json.loads(line))
                    kind, body = str(event.get("type")), as_dict(event.get("object"))
                    if kind == "ERROR":
                        code = body.get("code")
                        raise KubeError(
                            f"watch {path}: {body.get('message')}",
                            code if isinstance(code, int) else None,
                        )
                    yield kind, body
        except httpx.HTTPError as error:
            raise KubeError(f"watch {path}: {type(error).__name__}: {error}") from error

    async def patch_status(
        self, resource: ApiResource, namespace: str | None, name: str, status: JsonDict
    ) -> bool:
        """Merge ``status`` into the object's status; False if the object is gone."""
        try:
            await self._request(
                "PATCH",
                resource.path(namespace, name, "status"),
                content=json.dumps({"status": status}).encode(),
                headers=_MERGE_PATCH,
            )
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    async def _request(self, method: str, path: str, **kwargs: Any) -> JsonDict:
        http = await self._client()
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise KubeError(f"{method} {path}: {type(error).__name__}: {error}") from error
        if response.status_code >= 400:
            raise KubeError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}",
                response.status_code,
            )
        return dict(as_dict(response.json()))

    async def _client(self) -> httpx.AsyncClient:
        # The first requests may come before kopf's first login: they wait for it.
        await self._logged_in.wait()
        while self._retired:
            await self._retired.pop().aclose()
        if self._http is None:
            assert self._credentials is not None  # set before the event
            self._http = http_client(
                self._credentials, timeout=self._timeout, transport=self._transport
            )
        return self._http

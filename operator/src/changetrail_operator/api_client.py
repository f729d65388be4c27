"""HTTP client for the changetrail API: changes, services and the operator's state store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from changetrail_operator.drafts import ChangeDraft, Completion, Outcome
from changetrail_operator.hashing import JsonDict

logger = logging.getLogger(__name__)

PUT_BATCH = 500  # the state store's limit per request
CHANGES_BATCH_PATH = "/api/v1/changes/batch"
CHANGES_BATCH_LIMIT = 1000  # the batch endpoint's limit per request
LOAD_PAGE = 250  # states per page when loading: what a start holds parsed at once
# Ids of recently posted rollouts (changes posted in progress, the only ones completed later), by
# external_id: a rollout usually ends within minutes of its record, so completing it needs no
# look-up. Older ones are looked up by external_id.
RECENT_CHANGE_IDS = 4096
# Services listed at the first use of any: a start that meets thousands of workloads then asks
# the API about none of the services that exist, and creates the new ones without looking first.
SERVICES_LISTED = 5000
SERVICES_PAGE = 100
# Services looked up or created at once. A catch-up meets thousands of new names and the API
# creates one per request: this many in flight keep it busy without flooding it.
SERVICE_REQUESTS_AT_ONCE = 16


class ApiError(Exception):
    """A request the API did not accept."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableError(ApiError):
    """The API is unreachable, overloaded or refusing for now: try again later."""


class RejectedError(ApiError):
    """The API rejected the request's content; retrying the same body cannot help."""


class BatchUnsupportedError(RejectedError):
    """The API has no batch endpoint (an older API, or a proxy that does not route it)."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What the batch endpoint answered for one change: ``created``, ``existing`` (recorded
    before, by its ``external_id``) or ``invalid`` (with the API's errors, for the log)."""

    status: str
    problem: str | None = None

    @property
    def recorded(self) -> bool:
        return self.status in {"created", "existing"}


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object's last recorded state, as the API's state store keeps it."""

    cluster: str
    kind: str
    uid: str
    namespace: str | None
    name: str
    fingerprint: str
    state: JsonDict

    def to_json(self) -> JsonDict:
        return {
            "cluster": self.cluster,
            "kind": self.kind,
            "uid": self.uid,
            "namespace": self.namespace,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "state": self.state,
        }


def change_payload(draft: ChangeDraft, service_id: str | None) -> JsonDict:
    payload: JsonDict = {
        "summary": draft.summary,
        "change_type": draft.change_type.value,
        "source": draft.source,
        "environment": draft.environment,
        "changed_by": draft.changed_by,
        "external_id": draft.external_id,
        "tags": list(draft.tags),
        "details": draft.details,
        "description": draft.description,
        "service_id": service_id,
        "risk_level": draft.risk_level.value if draft.risk_level else None,
        "occurred_at": draft.occurred_at.isoformat() if draft.occurred_at else None,
        "outcome": draft.outcome.value if draft.outcome else None,
        "ended_at": draft.ended_at.isoformat() if draft.ended_at else None,
        "outcome_reason": draft.outcome_reason[:255] if draft.outcome_reason else None,
    }
    return {key: value for key, value in payload.items() if value is not None}


def completion_payload(completion: Completion) -> JsonDict:
    payload: JsonDict = {
        "source": completion.source,
        "outcome": completion.outcome.value,
        "ended_at": completion.ended_at.isoformat() if completion.ended_at else None,
        "outcome_reason": completion.reason[:255] if completion.reason else None,
    }
    return {key: value for key, value in payload.items() if value is not None}


def _raise_for(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = response.text[:500]
    # Auth errors are retried: a rotated key is fixed by configuration, and dropping the change
    # in the meantime would lose it. The logs and the error metric make the refusal visible.
    if status in {401, 403, 408, 429} or status >= 500:
        raise RetryableError(f"{what}: HTTP {status}: {detail}", status)
    raise RejectedError(f"{what}: HTTP {status}: {detail}", status)


class ChangetrailClient:
    def __init__(self, http: httpx.AsyncClient, *, create_services: bool = True) -> None:
        self._http = http
        self._create_services = create_services
        self._service_ids: dict[str, str | None] = {}
        self._services_listing = asyncio.Lock()
        self._services_listed = False
        # Whether the listing held every service: then a name not in it is new.
        self._services_complete = False
        # Names being resolved: whoever asks for one of them meanwhile waits for that answer,
        # so a service is never asked about (or created) twice at once.
        self._resolving: dict[str, asyncio.Future[str | None]] = {}
        self._service_requests = asyncio.Semaphore(SERVICE_REQUESTS_AT_ONCE)
        self._change_ids: OrderedDict[str, str] = OrderedDict()

    async def _request(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise RetryableError(f"{what}: {type(error).__name__}: {error}") from error
        _raise_for(response, what)
        return response

    async def post_change(self, draft: ChangeDraft, service_id: str | None) -> bool:
        """Record a change; ``True`` if it is new, ``False`` if the API already had it."""
        response = await self._request(
            "POST", "/api/v1/changes", "record change", json=change_payload(draft, service_id)
        )
        if draft.external_id and draft.outcome is Outcome.IN_PROGRESS:
            change_id = (response.json().get("data") or {}).get("id")
            if isinstance(change_id, str):
                self._remember(draft.external_id, change_id)
        return response.status_code == 201

    async def post_changes(
        self, items: Sequence[tuple[ChangeDraft, str | None]]
    ) -> list[BatchOutcome]:
        """Record up to ``CHANGES_BATCH_LIMIT`` changes in one request, answered per change in
        the order sent. The API stores the valid ones in one transaction: a failure leaves
        nothing behind, and a retry is answered ``existing`` for what an earlier attempt did
        store (every change the operator posts has an ``external_id``)."""
        body = {"changes": [change_payload(draft, service_id) for draft, service_id in items]}
        try:
            response = await self._request("POST", CHANGES_BATCH_PATH, "record changes", json=body)
        except RejectedError as error:
            if error.status in {404, 405}:
                raise BatchUnsupportedError(str(error), error.status) from error
            raise
        answers = response.json().get("data")
        if not isinstance(answers, list) or len(answers) != len(items):
            # Not the documented answer: nothing can be matched to what was sent.
            raise RejectedError(f"record changes: {len(items)} sent, answer not per item", 200)
        outcomes: list[BatchOutcome] = []
        for (draft, _), answer in zip(items, answers, strict=True):
            status = str(answer.get("status")) if isinstance(answer, dict) else "invalid"
            if status in {"created", "existing"}:
                change_id = (answer.get("change") or {}).get("id")
                if (
                    draft.external_id
                    and draft.outcome is Outcome.IN_PROGRESS
                    and isinstance(change_id, str)
                ):
                    self._remember(draft.external_id, change_id)
                outcomes.append(BatchOutcome(status))
            else:
                errors = answer.get("errors") if isinstance(answer, dict) else answer
                outcomes.append(BatchOutcome("invalid", json.dumps(errors)[:500]))
        return outcomes

    def _remember(self, external_id: str, change_id: str) -> None:
        self._change_ids[external_id] = change_id
        self._change_ids.move_to_end(external_id)
        while len(self._change_ids) > RECENT_CHANGE_IDS:
            self._change_ids.popitem(last=False)

    async def complete_change(self, completion: Completion) -> bool:
        """Complete a recorded change with its outcome; False if the API has no such change
        (it was rejected when posted)."""
        change_id = self._change_ids.get(completion.external_id)
        if change_id is None:
            change_id = await self._find_change(completion.source, completion.external_id)
        if change_id is None:
            return False
        await self._request(
            "PATCH",
            f"/api/v1/changes/{quote(change_id, safe='')}",
            "complete change",
            json=completion_payload(completion),
        )
        return True

    async def _find_change(self, source: str, external_id: str) -> str | None:
        response = await self._request(
            "GET",
            "/api/v1/changes",
            "find change",
            params={"source": source, "external_id": external_id, "limit": 1},
        )
        for item in response.json().get("data") or []:
            if item.get("external_id") == external_id:
                self._remember(external_id, str(item["id"]))
                return str(item["id"])
        return None

    def known_service(self, name: str) -> bool:
        """Whether the id of ``name`` (or that it has none) is known without asking the API."""
        return name in self._service_ids

    async def service_id(self, name: str) -> str | None:
        """The id of the service called ``name``, created on first use when allowed.

        Asked concurrently for the same name, one resolution answers every caller; at most
        ``SERVICE_REQUESTS_AT_ONCE`` names are resolved at once. A key without the services
        scopes (403) records changes without services rather than holding every change back
        until the key is replaced.
        """
        if name in self._service_ids:
            return self._service_ids[name]
        pending = self._resolving.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve_service(name))
            self._resolving[name] = pending
            pending.add_done_callback(lambda done: self._resolved(name, done))
        # Shielded: a caller that gives up does not cancel the answer others wait for.
        return await asyncio.shield(pending)

    def _resolved(self, name: str, done: asyncio.Future[str | None]) -> None:
        self._resolving.pop(name, None)
        if not done.cancelled():
            done.exception()  # retrieved here: every caller that still waits gets it too

    async def _resolve_service(self, name: str) -> str | None:
        async with self._service_requests:
            if name in self._service_ids:  # answered by a 403 meanwhile
                return self._service_ids[name]
            try:
                await self._list_services()
                if name in self._service_ids:
                    return self._service_ids[name]
                # A name missing from a complete listing is new: no need to look it up first.
                found = None if self._services_complete else await self._find_service(name)
                if found is None and self._create_services:
                    found = await self._http_create_service(name)
                    if found is None:  # created concurrently by someone else: look it up
                        found = await self._find_service(name)
            except RetryableError as error:
                if error.status != 403:
                    raise
                logger.warning("The API key may not read or create services; recording without.")
                self._create_services = False
                self._services_listed = self._services_complete = True  # no use asking again
                found = None
            # Unknown services stay unknown until restart when creation is off; that is cheaper
            # than asking the API on every change of an unmapped workload.
            self._service_ids[name] = found
            return found

    async def _list_services(self) -> None:
        """Take in the services that exist, once per process, up to ``SERVICES_LISTED``."""
        async with self._services_listing:
            if self._services_listed:
                return
            offset = 0
            while offset < SERVICES_LISTED:
                response = await self._request(
                    "GET",
                    "/api/v1/services",
                    "list services",
                    params={"limit": SERVICES_PAGE, "offset": offset},
                )
                body = response.json()
                items = body.get("data") or []
                for item in items:
                    self._service_ids.setdefault(str(item["name"]), str(item["id"]))
                offset += len(items)
                if not items or not (body.get("meta") or {}).get("has_more"):
                    self._services_complete = True
                    break
            self._services_listed = True

    async def _find_service(self, name: str) -> str | None:
        response = await self._request(
            "GET", "/api/v1/services", "find service", params={"name": name}
        )
        for item in response.json().get("data") or []:
            if item.get("name") == name:
                return str(item["id"])
        return None

    async def _http_create_service(self, name: str) -> str | None:
        body = {"name": name, "description": "Created by the changetrail Kubernetes operator."}
        try:
            response = await self._request("POST", "/api/v1/services", "create service", json=body)
        except RejectedError as error:
            if error.status == 409:  # created concurrently by someone else: look it up
                return None
            raise
        return str(response.json()["data"]["id"])

    async def list_states(
        self, cluster: str, kind: str | None = None
    ) -> AsyncIterator[StoredObject]:
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"cluster": cluster, "limit": LOAD_PAGE}
            if kind:
                params["kind"] = kind
            if after:
                params["after"] = after
            response = await self._request(
                "GET", "/api/v1/operator/objects", "load states", params=params
            )
            body = response.json()
            for item in body.get("data") or []:
                yield StoredObject(
                    cluster=item["cluster"],
                    kind=item["kind"],
                    uid=item["uid"],
                    namespace=item.get("namespace"),
                    name=item["name"],
                    fingerprint=item["fingerprint"],
                    state=item.get("state") or {},
                )
            after = (body.get("meta") or {}).get("next_after")
            if not after:
                return

    async def put_states(self, items: list[StoredObject]) -> None:
        for start in range(0, len(items), PUT_BATCH):
            batch = [item.to_json() for item in items[start : start + PUT_BATCH]]
            await self._request(
                "PUT", "/api/v1/operator/objects", "store states", json={"items": batch}
            )

    async def delete_state(self, cluster: str, kind: str, uid: str) -> None:
        url = "/api/v1/operator/objects/" + "/".join(
            quote(part, safe="") for part in (cluster, kind, uid)
        )
        try:
            await self._request("DELETE", url, "forget state")
        except RejectedError as error:
            if error.status != 404:  # already gone is what we wanted
                raise

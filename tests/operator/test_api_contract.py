"""The operator speaks the API's HTTP contract: every request its client makes is checked
against the API's published OpenAPI document (``api/openapi.json``), not against API code.

The operator and the API share no Python code. A request the document does not allow (an
unknown path, an undeclared query parameter, a body that fails the schema, an enum value the
API does not know) fails here, before a real API would answer it with a 4xx in production.
The answers given back to the client are checked against the document's response schemas too,
so the client is never tested against shapes the API cannot send.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from changetrail_operator.api_client import ChangetrailClient, StoredObject, change_payload
from changetrail_operator.drafts import (
    ChangeDraft,
    ChangeType,
    Completion,
    Outcome,
    RiskLevel,
    ended,
)

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "api" / "openapi.json"
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
REGISTRY: Registry[Any] = Registry().with_resource(
    "openapi.json", Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)
JsonDict = dict[str, Any]


def schema_errors(schema: JsonDict, instance: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": "openapi.json#"} | schema, registry=REGISTRY)
    return [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)
    ]


def ref(schema: JsonDict) -> JsonDict:
    """A schema taken from the document, with its ``$ref``s resolvable."""
    return {"$ref": "openapi.json" + schema["$ref"]} if "$ref" in schema else schema


def operation(method: str, path: str) -> tuple[str, JsonDict]:
    """The document's operation for a concrete path (templated segments match any value)."""
    for template, operations in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the API's OpenAPI document")


class ContractCheckingApi:
    """Answers the client's requests after checking each against the document."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.answers: dict[tuple[str, str], Callable[[httpx.Request], tuple[int, JsonDict]]] = {}

    def answer(
        self, method: str, template: str, respond: Callable[[httpx.Request], tuple[int, JsonDict]]
    ) -> None:
        self.answers[(method, template)] = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        template, spec = operation(request.method, request.url.path)
        self.requests.append((request.method, template))
        declared = {p["name"]: p for p in spec.get("parameters", []) if p["in"] == "query"}
        for name, value in request.url.params.multi_items():
            assert name in declared, f"{request.method} {template}: undeclared query {name!r}"
            schema = declared[name]["schema"]
            typed: Any = int(value) if _is_integer(schema) else value
            problems = schema_errors(ref(schema), typed)
            assert not problems, f"{request.method} {template} ?{name}={value}: {problems}"
        if request.content:
            body_schema = spec["requestBody"]["content"]["application/json"]["schema"]
            problems = schema_errors(ref(body_schema), json.loads(request.content))
            assert not problems, f"{request.method} {template} body: {problems}"
        else:
            assert not spec.get("requestBody", {}).get("required"), f"{template} needs a body"
        status, body = self.answers[(request.method, template)](request)
        response_spec = spec["responses"][str(status)]
        if "content" in response_spec:
            problems = schema_errors(
                ref(response_spec["content"]["application/json"]["schema"]), body
            )
            assert not problems, f"our answer to {template} breaks the contract: {problems}"
        return httpx.Response(status, json=body)


def _is_integer(schema: JsonDict) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "integer" for option in options)


@pytest.fixture
def api() -> ContractCheckingApi:
    return ContractCheckingApi()


@pytest.fixture
async def client(api: ContractCheckingApi) -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(api), base_url="http://api") as http:
        yield ChangetrailClient(http)


def stored_change(request: httpx.Request) -> tuple[int, JsonDict]:
    sent = json.loads(request.content)
    change = {
        "id": "chg_0123456789abcdef",
        "summary": sent["summary"],
        "description": sent.get("description"),
        "change_type": sent.get("change_type", "deployment"),
        "source": sent.get("source", "api"),
        "service_id": sent.get("service_id"),
        "service_name": None,
        "commit_sha": None,
        "commit_message": None,
        "branch": None,
        "pr_number": None,
        "pr_url": None,
        "pipeline_url": None,
        "environment": sent.get("environment", "production"),
        "risk_level": sent.get("risk_level", "low"),
        "changed_by": sent.get("changed_by"),
        "external_id": sent.get("external_id"),
        "tags": sent.get("tags", []),
        "created_at": "2026-06-01T10:00:00.000Z",
        "occurred_at": "2026-06-01T10:00:00.000Z",
        "ended_at": None,
        "details": sent.get("details"),
        "outcome": sent.get("outcome"),
        "outcome_reason": None,
    }
    return 201, {"data": change}


def every_field_draft(change_type: ChangeType, risk: RiskLevel) -> ChangeDraft:
    return ChangeDraft(
        summary="Deploy payments/api: api:1.4.2 → 1.5.0",
        change_type=change_type,
        description="kubectl rollout",
        source="kubernetes",
        service_name="api",
        environment="production",
        risk_level=risk,
        changed_by="kubectl",
        external_id="k8s:deployment:0b7c:gen:4",
        tags=("cluster:prod-eu", "namespace:payments", "kind:deployment"),
        occurred_at=datetime(2026, 6, 1, 9, 59, 58, tzinfo=UTC),
        details={"diff": [{"path": "spec.template.spec.containers[api].image"}]},
    )


def test_the_operators_change_types_and_risk_levels_are_the_apis() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert {t.value for t in ChangeType} <= set(schemas["ChangeType"]["enum"])
    assert {r.value for r in RiskLevel} <= set(schemas["RiskLevel"]["enum"])
    assert {o.value for o in Outcome} == set(schemas["Outcome"]["enum"])


@pytest.mark.parametrize("change_type", list(ChangeType))
async def test_every_change_the_operator_posts_is_a_valid_change_create(
    api: ContractCheckingApi, client: ChangetrailClient, change_type: ChangeType
) -> None:
    api.answer("POST", "/api/v1/changes", stored_change)

    created = await client.post_change(every_field_draft(change_type, RiskLevel.HIGH), "svc_1")

    assert created is True
    assert api.requests == [("POST", "/api/v1/changes")]


async def test_a_minimal_change_is_valid_too(
    api: ContractCheckingApi, client: ChangetrailClient
) -> None:
    api.answer("POST", "/api/v1/changes", stored_change)

    assert await client.post_change(ChangeDraft(summary="Scale a/b 1 → 2"), None) is True


async def test_a_batch_of_changes_follows_the_contract(
    api: ContractCheckingApi, client: ChangetrailClient
) -> None:
    def record_batch(request: httpx.Request) -> tuple[int, JsonDict]:
        items: list[JsonDict] = []
        for index, sent in enumerate(json.loads(request.content)["changes"]):
            if sent["summary"] == "rejected":
                errors = [{"field": "summary", "message": "not allowed"}]
                items.append({"status": "invalid", "change": None, "errors": errors})
                continue
            single = httpx.Request("POST", "http://api/api/v1/changes", json=sent)
            change = stored_change(single)[1]["data"] | {"id": f"chg_{index:016x}"}
            status = "existing" if index == 1 else "created"
            items.append({"status": status, "change": change, "errors": None})
        meta = {s: sum(i["status"] == s for i in items) for s in ("created", "existing", "invalid")}
        return 200, {"data": items, "meta": meta}

    api.answer("POST", "/api/v1/changes/batch", record_batch)
    drafts = [every_field_draft(t, RiskLevel.MEDIUM) for t in ChangeType]
    # A rollout that ended before it was posted goes with its outcome, end and reason.
    ended_at = datetime(2026, 6, 1, 10, 4, tzinfo=UTC)
    done = Completion("k8s:deployment:0b7c:gen:4", Outcome.FAILED, ended_at, "Deadline " * 40)
    drafts[0] = ended(drafts[0], done)
    drafts.append(ChangeDraft(summary="rejected", external_id="k8s:x"))

    outcomes = await client.post_changes([(draft, "svc_1") for draft in drafts])

    assert api.requests == [("POST", "/api/v1/changes/batch")]
    statuses = [outcome.status for outcome in outcomes]
    assert statuses == ["created", "existing", *["created"] * (len(ChangeType) - 2), "invalid"]
    assert [outcome.recorded for outcome in outcomes][-2:] == [True, False]


async def test_finding_and_creating_a_service_follow_the_contract(
    api: ContractCheckingApi, client: ChangetrailClient
) -> None:
    api.answer(
        "GET",
        "/api/v1/services",
        lambda _: (
            200,
            {"data": [], "meta": {"total": 0, "limit": 20, "offset": 0, "has_more": False}},
        ),
    )
    service = {
        "id": "svc_0123456789abcdef",
        "name": "api",
        "slug": "api",
        "description": "Created by the changetrail Kubernetes operator.",
        "kubernetes": None,
        "created_at": "2026-06-01T10:00:00.000Z",
        "updated_at": "2026-06-01T10:00:00.000Z",
    }
    api.answer("POST", "/api/v1/services", lambda _: (201, {"data": service}))

    assert await client.service_id("api") == "svc_0123456789abcdef"
    assert api.requests == [("GET", "/api/v1/services"), ("POST", "/api/v1/services")]


async def test_the_state_store_is_used_as_documented(
    api: ContractCheckingApi, client: ChangetrailClient
) -> None:
    state = StoredObject(
        cluster="prod-eu",
        kind="Deployment",
        uid="0b7c2f2e-1111-4c1e-9a55-2d7f3c9e8a10",
        namespace="payments",
        name="api",
        fingerprint="5f2b9c0d1e3a4b6c",
        state={"template": "abc", "replicas": 3},
    )
    pages: Iterator[JsonDict] = iter(
        [
            {
                "data": [state.to_json() | {"updated_at": "2026-06-01T10:00:00.000Z"}],
                "meta": {"next_after": "cursor-1"},
            },
            {"data": [], "meta": {"next_after": None}},
        ]
    )
    api.answer("GET", "/api/v1/operator/objects", lambda _: (200, next(pages)))
    api.answer("PUT", "/api/v1/operator/objects", lambda r: (200, {"data": {"stored": 1}}))
    api.answer("DELETE", "/api/v1/operator/objects/{cluster}/{kind}/{uid}", lambda _: (204, {}))

    loaded = [item async for item in client.list_states("prod-eu", "Deployment")]
    await client.put_states([state])
    await client.delete_state("prod-eu", "Deployment", state.uid)

    assert loaded == [state]
    assert [method for method, _ in api.requests] == ["GET", "GET", "PUT", "DELETE"]


async def test_a_rollout_is_posted_in_progress_and_completed_by_its_id(
    api: ContractCheckingApi, client: ChangetrailClient
) -> None:
    api.answer("POST", "/api/v1/changes", stored_change)
    completed: list[JsonDict] = []

    def complete(request: httpx.Request) -> tuple[int, JsonDict]:
        completed.append(json.loads(request.content))
        sent = json.loads(stored_change_request(request.url.path))
        return 200, {"data": sent | completed[-1]}

    api.answer("PATCH", "/api/v1/changes/{change_id}", complete)
    draft = every_field_draft(ChangeType.DEPLOYMENT, RiskLevel.LOW)
    rollout = ChangeDraft(**{**_fields(draft), "outcome": Outcome.IN_PROGRESS})

    await client.post_change(rollout, None)
    assert draft.external_id is not None
    ended = datetime(2026, 6, 1, 10, 4, tzinfo=UTC)
    done = Completion(draft.external_id, Outcome.FAILED, ended, "ProgressDeadlineExceeded")
    assert await client.complete_change(done) is True

    # The id came back with the post: no look-up.
    assert api.requests == [("POST", "/api/v1/changes"), ("PATCH", "/api/v1/changes/{change_id}")]
    assert completed == [
        {
            "source": "kubernetes",
            "outcome": "failed",
            "ended_at": "2026-06-01T10:04:00+00:00",
            "outcome_reason": "ProgressDeadlineExceeded",
        }
    ]


async def test_a_rollout_recorded_before_a_restart_is_found_by_its_external_id(
    api: ContractCheckingApi, client: ChangetrailClient
) -> None:
    found = stored_change_request("/api/v1/changes/chg_0123456789abcdef")
    listing = {
        "data": [json.loads(found)],
        "meta": {"total": 1, "limit": 1, "offset": 0, "has_more": False},
    }
    api.answer("GET", "/api/v1/changes", lambda _: (200, listing))
    api.answer("PATCH", "/api/v1/changes/{change_id}", lambda r: (200, {"data": json.loads(found)}))
    missing = Completion("k8s:unknown", Outcome.SUCCEEDED, None)
    empty = {"data": [], "meta": {"total": 0, "limit": 1, "offset": 0, "has_more": False}}

    done = Completion("k8s:deployment:0b7c:gen:4", Outcome.SUCCEEDED, None)
    assert await client.complete_change(done) is True
    api.answer("GET", "/api/v1/changes", lambda _: (200, empty))
    assert await client.complete_change(missing) is False

    assert api.requests == [
        ("GET", "/api/v1/changes"),
        ("PATCH", "/api/v1/changes/{change_id}"),
        ("GET", "/api/v1/changes"),
    ]


def stored_change_request(path: str) -> str:
    """A stored change as the API answers it, with the id at the end of ``path``."""
    draft = every_field_draft(ChangeType.DEPLOYMENT, RiskLevel.LOW)
    request = httpx.Request(
        "POST", "http://api/api/v1/changes", json=change_payload(draft, "svc_1")
    )
    _, body = stored_change(request)
    return json.dumps(body["data"] | {"id": path.rsplit("/", 1)[-1], "outcome": "in_progress"})


def _fields(draft: ChangeDraft) -> JsonDict:
    return {name: getattr(draft, name) for name in ChangeDraft.__dataclass_fields__}

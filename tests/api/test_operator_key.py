"""CHANGETRAIL_OPERATOR_API_KEY: the in-cluster operator's own key, ensured at start with the
operator's scopes and nothing more, and never the admin key."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from changetrail_api.app import create_app
from changetrail_api.keys import repository as keys_repository
from changetrail_api.keys import service as keys_service
from changetrail_api.keys.models import ApiKey
from changetrail_api.keys.service import EnsuredKey
from changetrail_api.orgs import service as orgs_service
from changetrail_api.security import hash_secret
from changetrail_api.settings import ApiSettings
from tests.api.conftest import ADMIN_KEY, bearer, serving, settings_for

OPERATOR_KEY = "ak_live_operator_key_for_tests_0123456789"
OPERATOR_SCOPES = ["changes:read", "changes:write", "operator", "services:read", "services:write"]


async def _keys(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/api-keys", params={"limit": 100})
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["data"]
    return keys


def _operator_keys(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [key for key in keys if key["prefix"] == OPERATOR_KEY[:12]]


async def _stored_rows(settings: ApiSettings) -> list[ApiKey]:
    application = create_app(settings, run_migrations=False)
    try:
        async with application.state.sessionmaker() as session:
            return list((await session.execute(select(ApiKey))).scalars().all())
    finally:
        await application.state.engine.dispose()


async def test_start_ensures_the_key_with_exactly_the_operators_scopes(database_url: str) -> None:
    settings = settings_for(database_url, operator_api_key=OPERATOR_KEY)
    async with serving(settings) as http:
        (key,) = _operator_keys(await _keys(http))

    assert key["name"] == "operator"
    assert key["scopes"] == OPERATOR_SCOPES
    assert "admin" not in key["scopes"]
    assert key["revoked_at"] is None
    # Only the hash is stored: no column of any key row holds the plaintext.
    rows = await _stored_rows(settings)
    (row,) = [r for r in rows if r.key_hash == hash_secret(OPERATOR_KEY)]
    assert OPERATOR_KEY not in repr([vars(r) for r in rows])
    assert row.prefix == OPERATOR_KEY[:12]


async def test_the_key_does_every_call_the_operator_makes(database_url: str) -> None:
    async with serving(settings_for(database_url, operator_api_key=OPERATOR_KEY)) as admin:
        operator = bearer(OPERATOR_KEY)
        found = await admin.get("/api/v1/services", params={"name": "shop"}, headers=operator)
        assert (found.status_code, found.json()["data"]) == (200, [])
        service = await admin.post("/api/v1/services", json={"name": "shop"}, headers=operator)
        assert service.status_code == 201, service.text
        change = await admin.post(
            "/api/v1/changes",
            json={
                "summary": "Deploy shop/web: web:1 → 2",
                "source": "kubernetes",
                "external_id": "k8s:prod:Deployment:u1:g2",
                "service_id": service.json()["data"]["id"],
                "outcome": "in_progress",
            },
            headers=operator,
        )
        assert change.status_code == 201, change.text
        listed = await admin.get(
            "/api/v1/changes",
            params={"source": "kubernetes", "external_id": "k8s:prod:Deployment:u1:g2"},
            headers=operator,
        )
        assert [c["id"] for c in listed.json()["data"]] == [change.json()["data"]["id"]]
        batch = await admin.post(
            "/api/v1/changes/batch",
            json={"changes": [{"summary": "Scale shop/web 2 → 3", "source": "kubernetes"}]},
            headers=operator,
        )
        assert batch.status_code in {200, 201}, batch.text
        assert batch.json()["meta"]["created"] == 1
        completed = await admin.patch(
            f"/api/v1/changes/{change.json()['data']['id']}",
            json={"source": "kubernetes", "outcome": "failed"},
            headers=operator,
        )
        assert completed.status_code == 200, completed.text
        state = {
            "cluster": "prod",
            "kind": "Deployment",
            "uid": "u1",
            "namespace": "shop",
            "name": "web",
            "fingerprint": "fp",
            "state": {},
        }
        stored = await admin.put(
            "/api/v1/operator/objects", json={"items": [state]}, headers=operator
        )
        assert stored.status_code == 200, stored.text
        loaded = await admin.get(
            "/api/v1/operator/objects", params={"cluster": "prod"}, headers=operator
        )
        assert [s["uid"] for s in loaded.json()["data"]] == ["u1"]
        forgotten = await admin.delete(
            "/api/v1/operator/objects/prod/Deployment/u1", headers=operator
        )
        assert forgotten.status_code in {200, 204}, forgotten.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/api-keys", {"name": "mine", "scopes": ["admin"]}),
        ("GET", "/api/v1/api-keys", None),
        ("POST", "/api/v1/webhooks", {"name": "hook"}),
        ("GET", "/api/v1/webhooks", None),
        ("GET", "/api/v1/incidents", None),
        ("POST", "/api/v1/incidents", {"title": "x", "started_at": "2026-03-30T15:00:00Z"}),
    ],
)
async def test_the_key_is_refused_what_the_operator_never_does(
    database_url: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with serving(settings_for(database_url, operator_api_key=OPERATOR_KEY)) as admin:
        response = await admin.request(method, path, json=body, headers=bearer(OPERATOR_KEY))
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        # The refusal changed nothing: still only the two keys the start ensured.
        assert len(await _keys(admin)) == 2


async def test_restarts_keep_one_key(database_url: str) -> None:
    settings = settings_for(database_url, operator_api_key=OPERATOR_KEY)
    for _ in range(3):
        async with serving(settings) as http:
            keys = await _keys(http)
    assert len(_operator_keys(keys)) == 1
    assert len(keys) == 2  # the bootstrap key and the operator's


async def test_replicas_starting_together_insert_it_once(app: FastAPI) -> None:
    async def ensure() -> EnsuredKey:
        async with app.state.sessionmaker.begin() as session:
            return await keys_service.ensure_operator_key(session, "default", OPERATOR_KEY)

    outcomes = await asyncio.gather(*(ensure() for _ in range(4)))

    assert sorted(outcomes) == sorted([EnsuredKey.CREATED] + [EnsuredKey.PRESENT] * 3)
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(ApiKey).where(ApiKey.name == "operator"))).all()
    assert len(rows) == 1


async def test_a_key_with_that_value_and_other_scopes_is_left_alone_and_logged(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async with app.state.sessionmaker.begin() as session:
        await keys_service.ensure_bootstrap(session, "default", OPERATOR_KEY)  # an admin key

    with caplog.at_level(logging.ERROR, logger="changetrail_api.keys.service"):
        async with app.state.sessionmaker.begin() as session:
            outcome = await keys_service.ensure_operator_key(session, "default", OPERATOR_KEY)

    assert outcome is EnsuredKey.MISMATCHED
    (record,) = caplog.records
    assert "has scopes admin instead of changes:read, changes:write" in record.getMessage()
    assert OPERATOR_KEY not in record.getMessage()
    async with app.state.sessionmaker() as session:
        (row,) = (
            (
                await session.execute(
                    select(ApiKey).where(ApiKey.key_hash == hash_secret(OPERATOR_KEY))
                )
            )
            .scalars()
            .all()
        )
    assert row.scopes == ["admin"], "not narrowed"


async def test_a_key_with_that_value_and_fewer_scopes_is_not_widened(app: FastAPI) -> None:
    async with app.state.sessionmaker.begin() as session:
        org = await orgs_service.ensure(session, "default")
        reader = ApiKey(
            id="key_reader",
            org_id=org.id,
            name="reader",
            key_hash=hash_secret(OPERATOR_KEY),
            prefix=OPERATOR_KEY[:12],
            scopes=["changes:read"],
        )
        await keys_repository.add(session, reader)
    async with app.state.sessionmaker.begin() as session:
        outcome = await keys_service.ensure_operator_key(session, "default", OPERATOR_KEY)

    assert outcome is EnsuredKey.MISMATCHED
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://changetrail.test"
    ) as http:
        refused = await http.post(
            "/api/v1/changes", json={"summary": "x"}, headers=bearer(OPERATOR_KEY)
        )
    assert refused.status_code == 403


async def test_a_revoked_operator_key_stays_revoked_across_restarts(database_url: str) -> None:
    settings = settings_for(database_url, operator_api_key=OPERATOR_KEY)
    async with serving(settings) as http:
        (key,) = _operator_keys(await _keys(http))
        assert (await http.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    async with serving(settings) as http:
        (key,) = _operator_keys(await _keys(http))
        assert key["revoked_at"] is not None
        refused = await http.get("/api/v1/changes", headers=bearer(OPERATOR_KEY))
        assert refused.status_code == 401


async def test_without_the_setting_no_operator_key_is_made(database_url: str) -> None:
    async with serving(settings_for(database_url)) as http:
        keys = await _keys(http)
    assert [key["prefix"] for key in keys] == [ADMIN_KEY[:12]]


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANGETRAIL_OPERATOR_API_KEY", OPERATOR_KEY)
    assert ApiSettings().operator_api_key == OPERATOR_KEY
    monkeypatch.setenv("CHANGETRAIL_OPERATOR_API_KEY", "")
    assert ApiSettings().operator_api_key is None


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("sk_live_operator_key_for_tests_0123456789", "must start with ak_live_"),
        ("ak_live_short", "needs 24 to 200 characters"),
        ("ak_live_" + "x" * 200, "needs 24 to 200 characters"),
        (ADMIN_KEY, "must differ from bootstrap_api_key"),
    ],
)
def test_a_value_unlike_a_key_is_refused_at_start(value: str, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        ApiSettings(bootstrap_api_key=ADMIN_KEY, operator_api_key=value)

"""Managing channels through the API: scopes, validation, write-only destinations."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from changetrail_api.channels.sealing import KEY_FILE_SUFFIX
from tests.api.conftest import bearer, settings_for
from tests.channels.conftest import Serve
from tests.channels.receiver import Receiver, Reply
from tests.channels.support import (
    SECRET_KEY,
    AppClient,
    create_channel,
    make_key,
    serving,
)

SLACK_URL = "https://hooks.slack.example/services/T000/B000/XXXXsecretXXXX"


def slack(**fields: Any) -> dict[str, Any]:
    return {"name": "deploys", "kind": "slack", "url": SLACK_URL, **fields}


class TestAccess:
    async def test_anonymous_is_401(self, serve: Serve) -> None:
        async with serve() as client:
            response = await client.get("/api/v1/channels", headers={"Authorization": ""})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    async def test_reading_needs_channels_read_and_writing_channels_write(
        self, serve: Serve
    ) -> None:
        async with serve() as client:
            reader = bearer(await make_key(client, "channels:read"))
            changes_only = bearer(await make_key(client, "changes:read", "changes:write"))
            assert (await client.get("/api/v1/channels", headers=reader)).status_code == 200
            assert (await client.get("/api/v1/channels", headers=changes_only)).status_code == 403
            created = await client.post("/api/v1/channels", json=slack(), headers=reader)
            assert created.status_code == 403
            writer = bearer(await make_key(client, "channels:write", "channels:read"))
            assert (
                await client.post("/api/v1/channels", json=slack(), headers=writer)
            ).status_code == 201

    async def test_another_organisations_channel_is_not_found(self, serve: Serve) -> None:
        async with serve() as client:
            channel = await create_channel(client, **slack())
            theirs = bearer(await make_key(client, "channels:read", "channels:write", org="other"))
            for method, path in [
                ("GET", f"/api/v1/channels/{channel['id']}"),
                ("PATCH", f"/api/v1/channels/{channel['id']}"),
                ("DELETE", f"/api/v1/channels/{channel['id']}"),
                ("POST", f"/api/v1/channels/{channel['id']}/test"),
                ("GET", f"/api/v1/channels/{channel['id']}/deliveries"),
                ("POST", f"/api/v1/channels/{channel['id']}/deliveries/redeliver"),
            ]:
                body: dict[str, str] | None = {} if method == "PATCH" else None
                response = await client.request(method, path, json=body, headers=theirs)
                assert response.status_code == 404, (method, path, response.text)
            listed = await client.get("/api/v1/channels", headers=theirs)
            assert listed.json()["data"] == []


class TestDestinations:
    async def test_destinations_are_write_only(self, serve: Serve) -> None:
        async with serve() as client:
            created = await create_channel(client, **slack())
            read = (await client.get(f"/api/v1/channels/{created['id']}")).json()["data"]
            listed = (await client.get("/api/v1/channels")).json()
        for document in (created, read, listed):
            assert "XXXXsecretXXXX" not in str(document)
        assert read["destination_host"] == "hooks.slack.example"
        assert read["destination_fields"] == ["url"]
        assert read["max_per_minute"] == 60

    async def test_a_webhook_gets_a_signing_secret_shown_once(self, serve: Serve) -> None:
        async with serve() as client:
            created = await create_channel(
                client, name="ce", kind="webhook", url="https://receiver.example/hook"
            )
            read = (await client.get(f"/api/v1/channels/{created['id']}")).json()["data"]
        assert created["signing_secret"].startswith("whsec_")
        assert "signing_secret" not in read
        assert read["destination_fields"] == ["signing_secret", "url"]

    async def test_nothing_is_stored_in_plaintext(self, serve: Serve, database_url: str) -> None:
        async with serve() as client:
            await create_channel(client, **slack())
            await create_channel(
                client,
                name="pd",
                kind="pagerduty",
                url="https://events.pagerduty.example/v2/change/enqueue",
                routing_key="R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12",
            )
        dump = await _table_text(database_url, "channels")
        assert "XXXXsecretXXXX" not in dump
        assert "R0UT1NGKEY" not in dump
        assert "hooks.slack.example" in dump  # the host alone is kept readable

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "slack"}, "url"),
            ({"kind": "pagerduty", "url": "https://pd.example/x"}, "routing_key"),
            ({"kind": "grafana", "url": "https://grafana.example"}, "token"),
            ({"kind": "slack", "url": SLACK_URL, "token": "x"}, "token"),
            ({"kind": "slack", "url": "hooks.slack.com/x"}, "url"),
            ({"kind": "slack", "url": SLACK_URL, "dashboard_uid": "abc"}, "dashboard_uid"),
            (
                {"kind": "grafana", "url": "https://g.example", "token": "t", "panel_id": 2},
                "panel_id",
            ),
            ({"kind": "sms", "url": SLACK_URL}, "kind"),
            (
                {"kind": "slack", "url": SLACK_URL, "rules": [{"min_risk": "severe"}]},
                "rules.0.min_risk",
            ),
            ({"kind": "slack", "url": SLACK_URL, "max_per_minute": 0}, "max_per_minute"),
            ({"kind": "slack", "url": SLACK_URL, "extra": 1}, "extra"),
        ],
    )
    async def test_a_destination_a_kind_cannot_use_is_a_422_naming_the_field(
        self, serve: Serve, body: dict[str, Any], field: str
    ) -> None:
        async with serve() as client:
            response = await client.post("/api/v1/channels", json={"name": "x", **body})
        assert response.status_code == 422, response.text
        assert field in [error["field"] for error in response.json()["errors"]]

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://10.0.0.5/hook",
        ],
    )
    async def test_private_destinations_are_refused_by_default(
        self, database_url: str, url: str
    ) -> None:
        async with _default_policy_app(database_url, SECRET_KEY) as client:
            response = await client.post(
                "/api/v1/channels", json={"name": "x", "kind": "webhook", "url": url}
            )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "url"
        assert "allows private destinations" in response.json()["errors"][0]["message"]


class TestLifecycle:
    async def test_a_duplicate_name_is_a_409(self, serve: Serve) -> None:
        async with serve() as client:
            await create_channel(client, **slack())
            response = await client.post("/api/v1/channels", json=slack())
        assert response.status_code == 409

    async def test_patch_changes_rules_rate_and_destination(self, serve: Serve) -> None:
        async with serve() as client:
            channel = await create_channel(client, **slack())
            response = await client.patch(
                f"/api/v1/channels/{channel['id']}",
                json={
                    "rules": [{"environments": ["production"], "min_risk": "high"}],
                    "max_per_minute": 10,
                    "enabled": False,
                    "url": "https://hooks.other.example/x",
                },
            )
            assert response.status_code == 200, response.text
            data = response.json()["data"]
        assert data["rules"] == [
            {
                "services": [],
                "environments": ["production"],
                "change_types": [],
                "sources": [],
                "min_risk": "high",
                "clusters": [],
                "namespaces": [],
                "tags": [],
                "outcomes": [],
            }
        ]
        assert (data["max_per_minute"], data["enabled"]) == (10, False)
        assert data["destination_host"] == "hooks.other.example"

    async def test_patch_to_a_taken_name_is_a_409_and_to_a_private_url_a_422(
        self, database_url: str
    ) -> None:
        async with _default_policy_app(database_url, SECRET_KEY) as client:
            first = await create_channel(client, **slack())
            await create_channel(client, **slack(name="second"))
            taken = await client.patch(f"/api/v1/channels/{first['id']}", json={"name": "second"})
            private = await client.patch(
                f"/api/v1/channels/{first['id']}", json={"url": "http://127.0.0.1/x"}
            )
        assert taken.status_code == 409
        assert private.status_code == 422

    async def test_delete(self, serve: Serve) -> None:
        async with serve() as client:
            channel = await create_channel(client, **slack())
            assert (await client.delete(f"/api/v1/channels/{channel['id']}")).status_code == 204
            assert (await client.get(f"/api/v1/channels/{channel['id']}")).status_code == 404
            assert (await client.delete(f"/api/v1/channels/{channel['id']}")).status_code == 404

    async def test_lists_are_paged_by_name(self, serve: Serve) -> None:
        async with serve() as client:
            for name in ("c", "a", "b"):
                await create_channel(client, **slack(name=name))
            page = (await client.get("/api/v1/channels", params={"limit": 2})).json()
        assert [c["name"] for c in page["data"]] == ["a", "b"]
        assert page["meta"] == {"total": 3, "limit": 2, "offset": 0, "has_more": True}

    async def test_an_unknown_delivery_state_filter_is_a_422(self, serve: Serve) -> None:
        async with serve() as client:
            channel = await create_channel(client, **slack())
            response = await client.get(
                f"/api/v1/channels/{channel['id']}/deliveries", params={"state": "lost"}
            )
        assert response.status_code == 422


class TestTestMessage:
    async def test_a_test_message_is_sent_and_logged(
        self, serve: Serve, receiver: Receiver
    ) -> None:
        async with serve() as client:
            channel = await create_channel(client, name="t", kind="teams", url=receiver.url + "/t")
            response = await client.post(f"/api/v1/channels/{channel['id']}/test")
            log = (await client.get(f"/api/v1/channels/{channel['id']}/deliveries")).json()
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["state"], data["last_status"], data["change_id"]) == ("delivered", 200, None)
        assert log["data"] == [data]
        card = receiver.requests[0].json()["attachments"][0]["content"]
        assert card["body"][0]["text"] == "changetrail test message"

    async def test_a_failing_test_message_says_why(self, serve: Serve, receiver: Receiver) -> None:
        receiver.responder = lambda _r: Reply(status=404, body=b"no_service")
        async with serve() as client:
            channel = await create_channel(client, **slack(url=receiver.url + "/s"))
            data = (await client.post(f"/api/v1/channels/{channel['id']}/test")).json()["data"]
        assert (data["state"], data["last_status"]) == ("dead", 404)
        assert data["last_error"] == "HTTP 404: no_service"


async def test_without_a_secret_key_sqlite_generates_one_and_postgresql_refuses(
    database_url: str,
) -> None:
    async with serving(settings_for(database_url)) as client:
        response = await client.post("/api/v1/channels", json=slack())
        listed = await client.get("/api/v1/channels")
    assert listed.status_code == 200
    if database_url.startswith("sqlite"):
        assert response.status_code == 201
        key_file = Path(database_url.removeprefix("sqlite:///") + KEY_FILE_SUFFIX)
        assert key_file.is_file()  # noqa: ASYNC240 - a test's look at a local file
    else:
        # Replicas must share one key, so none is made up: channels wait for the setting.
        assert response.status_code == 503
        assert "CHANGETRAIL_SECRET_KEY" in response.json()["detail"]


def _default_policy_app(
    database_url: str, secret_key: str
) -> AbstractAsyncContextManager[AppClient]:
    """The app with the default address policy (private destinations refused)."""
    return serving(settings_for(database_url, secret_key=secret_key))


async def _table_text(database_url: str, table: str) -> str:
    from sqlalchemy import text

    from changetrail_api.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
    finally:
        await engine.dispose()
    return repr(rows)

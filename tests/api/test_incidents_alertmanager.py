"""Alertmanager notifications open, update and resolve incidents, once per group episode."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, KeyFactory, bearer, serving, settings_for
from tests.api.incidents.corpus import notifications
from tests.api.test_incidents_factories import alert, notification

LATER = "2026-03-30T15:07:00Z"


class Receiver:
    """An Alertmanager webhook endpoint and deliveries to it."""

    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self.client = client
        self.path = path

    async def send(
        self, payload: dict[str, Any], *, expect: int | None = None, **params: str
    ) -> dict[str, Any]:
        response = await self.client.post(self.path, json=payload, params=params)
        if expect is not None:
            assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body


async def new_receiver(client: httpx.AsyncClient, **fields: Any) -> Receiver:
    response = await client.post(
        "/api/v1/webhooks", json={"name": "alertmanager", "kind": "alertmanager", **fields}
    )
    assert response.status_code == 201, response.text
    return Receiver(client, response.json()["data"]["path"])


@pytest.fixture
async def receiver(client: httpx.AsyncClient) -> Receiver:
    return await new_receiver(client)


async def all_incidents(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await client.get("/api/v1/incidents")).json()["data"]
    return data


class TestOpening:
    async def test_a_firing_group_opens_an_incident_with_its_services(
        self, receiver: Receiver, api: Api
    ) -> None:
        checkout = await api.service("checkout")
        payload = notification(
            alert(service="checkout", severity="critical", environment="production")
        )
        body = await receiver.send(payload, expect=201)
        assert body["data"]["action"] == "opened"
        incident = body["data"]["incident"]
        assert incident["id"].startswith("inc_")
        assert incident["title"] == "HighErrorRate: 5xx above 5%"
        assert incident["source"] == "alertmanager"
        assert (incident["severity"], incident["environment"]) == ("critical", "production")
        assert incident["service_ids"] == [checkout["id"]]
        assert incident["started_at"] == "2026-03-30T15:00:00.000Z"
        assert incident["status"] == "open"
        assert incident["details"]["alertmanager"]["fingerprints"] == ["a1b2c3d4e5f60718"]

    async def test_label_values_naming_no_service_are_reported(
        self, receiver: Receiver, api: Api
    ) -> None:
        await api.service("payments")
        body = await receiver.send(
            notification(alert(app="payments", namespace="kube-system")), expect=201
        )
        assert body["data"]["incident"]["services"][0]["name"] == "payments"
        assert body["data"]["unmatched_labels"] == [{"label": "namespace", "value": "kube-system"}]

    async def test_a_service_slug_matches_too(self, receiver: Receiver, api: Api) -> None:
        gateway = await api.service("API Gateway")
        body = await receiver.send(notification(alert(job="api-gateway")), expect=201)
        assert body["data"]["incident"]["service_ids"] == [gateway["id"]]

    async def test_the_label_names_are_configurable(self, receiver: Receiver, api: Api) -> None:
        ledger = await api.service("ledger")
        await api.service("checkout")
        payload = notification(alert(service="checkout", team_service="ledger"))
        body = await receiver.send(payload, expect=201, service_labels="team_service")
        assert body["data"]["incident"]["service_ids"] == [ledger["id"]]

    async def test_the_default_label_names_come_from_settings(self, database_url: str) -> None:
        settings = settings_for(database_url, alertmanager_service_labels="team_service")
        async with serving(settings) as client:
            ledger = await Api(client).service("ledger")
            await Api(client).service("checkout")
            receiver = await new_receiver(client)
            payload = notification(alert(service="checkout", team_service="ledger"))
            body = await receiver.send(payload, expect=201)
        assert body["data"]["incident"]["service_ids"] == [ledger["id"]]

    async def test_invalid_label_names_are_422(self, receiver: Receiver) -> None:
        body = await receiver.send(notification(), expect=422, service_labels="app.kubernetes")
        assert body["errors"][0]["field"] == "service_labels"

    async def test_the_endpoints_service_and_environment_are_defaults(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        search = await api.service("search")
        receiver = await new_receiver(client, service_id=search["id"], environment="staging")
        incident = (await receiver.send(notification(), expect=201))["data"]["incident"]
        assert (incident["service_ids"], incident["environment"]) == ([search["id"]], "staging")

    @pytest.mark.parametrize(
        ("word", "severity"),
        [("warning", "medium"), ("page", "critical"), ("error", "high"), ("info", "low")],
    )
    async def test_severity_labels_map_to_incident_severity(
        self, receiver: Receiver, word: str, severity: str
    ) -> None:
        body = await receiver.send(notification(alert(severity=word)), expect=201)
        assert body["data"]["incident"]["severity"] == severity

    async def test_the_receipt_embeds_the_top_suspects(self, receiver: Receiver, api: Api) -> None:
        checkout = await api.service("checkout")
        deploy = await api.change(
            "Deploy checkout", service_id=checkout["id"], occurred_at="2026-03-30T14:50:00Z"
        )
        body = await receiver.send(notification(alert(service="checkout")), expect=201)
        suspects = body["data"]["incident"]["suspects"]
        assert suspects[0]["id"] == deploy["id"]
        assert "same service" in suspects[0]["reasons"]


class TestRepeats:
    async def test_a_redelivery_changes_nothing(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        first = await receiver.send(notification(), expect=201)
        again = await receiver.send(notification(), expect=200)
        assert again["data"]["action"] == "unchanged"
        assert again["data"]["incident"]["id"] == first["data"]["incident"]["id"]
        assert len(await all_incidents(client)) == 1

    async def test_a_new_alert_in_the_group_updates_the_open_incident(
        self, receiver: Receiver, api: Api, client: httpx.AsyncClient
    ) -> None:
        checkout = await api.service("checkout")
        payments = await api.service("payments")
        await receiver.send(notification(alert(service="checkout")), expect=201)
        grown = notification(
            alert(service="checkout"),
            alert(service="payments", severity="critical", starts_at=LATER, fingerprint="ff01"),
        )
        body = await receiver.send(grown, expect=200)
        assert body["data"]["action"] == "updated"
        incident = body["data"]["incident"]
        assert incident["service_ids"] == [checkout["id"], payments["id"]]
        assert incident["severity"] == "critical"
        assert len(await all_incidents(client)) == 1

    async def test_the_first_alert_leaving_the_group_keeps_the_same_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        opened = await receiver.send(notification(), expect=201)
        only_later = notification(alert(starts_at=LATER, fingerprint="ff01"))
        body = await receiver.send(only_later, expect=200)
        assert body["data"]["incident"]["id"] == opened["data"]["incident"]["id"]
        assert body["data"]["incident"]["started_at"] == "2026-03-30T15:00:00.000Z"
        assert len(await all_incidents(client)) == 1

    async def test_groups_of_two_alertmanager_endpoints_stay_apart(
        self, client: httpx.AsyncClient, receiver: Receiver
    ) -> None:
        other = await new_receiver(client)
        await receiver.send(notification(), expect=201)
        await other.send(notification(), expect=201)
        assert len(await all_incidents(client)) == 2

    async def test_parallel_deliveries_of_one_notification_open_one_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        responses = await asyncio.gather(
            *(client.post(receiver.path, json=notification()) for _ in range(10))
        )
        assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
        assert len({r.json()["data"]["incident"]["id"] for r in responses}) == 1
        assert len(await all_incidents(client)) == 1


class TestResolving:
    async def test_a_resolved_group_resolves_its_incident_at_the_last_end(
        self, receiver: Receiver
    ) -> None:
        opened = await receiver.send(notification(), expect=201)
        resolved = notification(
            alert(status="resolved", ends_at="2026-03-30T15:40:00Z"),
            alert(
                status="resolved",
                starts_at=LATER,
                ends_at="2026-03-30T15:42:30Z",
                fingerprint="ff01",
            ),
            status="resolved",
        )
        body = await receiver.send(resolved, expect=200)
        assert body["data"]["action"] == "resolved"
        incident = body["data"]["incident"]
        assert incident["id"] == opened["data"]["incident"]["id"]
        assert incident["status"] == "resolved"
        assert incident["resolved_at"] == "2026-03-30T15:42:30.000Z"
        again = await receiver.send(resolved, expect=200)
        assert again["data"]["action"] == "unchanged"

    async def test_a_late_firing_redelivery_does_not_reopen(self, receiver: Receiver) -> None:
        await receiver.send(notification(), expect=201)
        await receiver.send(
            notification(alert(status="resolved", ends_at=LATER), status="resolved"), expect=200
        )
        late = await receiver.send(notification(), expect=200)
        assert late["data"]["action"] == "unchanged"
        assert late["data"]["incident"]["status"] == "resolved"

    async def test_firing_again_after_resolving_opens_a_new_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        first = await receiver.send(notification(), expect=201)
        await receiver.send(
            notification(alert(status="resolved", ends_at=LATER), status="resolved"), expect=200
        )
        refired = await receiver.send(
            notification(alert(starts_at="2026-03-30T18:00:00Z")), expect=201
        )
        assert refired["data"]["incident"]["id"] != first["data"]["incident"]["id"]
        assert [i["status"] for i in await all_incidents(client)] == ["open", "resolved"]

    async def test_a_new_firing_beside_the_ended_episodes_resolved_alerts_opens_a_new_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        """A replica that has not dropped the resolved alerts yet sends them with the next firing.

        The resolved alerts point at the ended incident; the alert that fired since is the next
        episode all the same, starting when it fired.
        """
        first = await receiver.send(notification(), expect=201)
        ended = alert(status="resolved", ends_at=LATER)
        await receiver.send(notification(ended, status="resolved"), expect=200)
        refired = alert(starts_at="2026-03-30T18:00:00Z", fingerprint="0b0b")
        body = await receiver.send(notification(ended, refired), expect=201)
        assert body["data"]["action"] == "opened"
        incident = body["data"]["incident"]
        assert incident["id"] != first["data"]["incident"]["id"]
        assert incident["started_at"] == "2026-03-30T18:00:00.000Z"
        assert [i["status"] for i in await all_incidents(client)] == ["open", "resolved"]
        again = await receiver.send(notification(ended, refired), expect=200)
        assert again["data"]["incident"]["id"] == incident["id"]
        assert again["data"]["action"] == "unchanged"

    async def test_late_redeliveries_of_an_earlier_episode_leave_the_current_one_alone(
        self, receiver: Receiver
    ) -> None:
        first_firing = notification()
        first_resolved = notification(alert(status="resolved", ends_at=LATER), status="resolved")
        await receiver.send(first_firing, expect=201)
        await receiver.send(first_resolved, expect=200)
        current = await receiver.send(
            notification(alert(starts_at="2026-03-30T18:00:00Z")), expect=201
        )
        for late in (first_firing, first_resolved):
            body = await receiver.send(late, expect=200)
            assert body["data"]["action"] == "unchanged"
            assert body["data"]["incident"]["id"] != current["data"]["incident"]["id"]
        again = await receiver.send(
            notification(alert(starts_at="2026-03-30T18:00:00Z")), expect=200
        )
        assert again["data"]["incident"]["status"] == "open"
        assert again["data"]["incident"]["started_at"] == "2026-03-30T18:00:00.000Z"

    async def test_a_resolved_group_never_seen_firing_is_recorded_resolved(
        self, receiver: Receiver
    ) -> None:
        body = await receiver.send(
            notification(alert(status="resolved", ends_at=LATER), status="resolved"), expect=201
        )
        assert body["data"]["action"] == "recorded_resolved"
        assert body["data"]["incident"]["resolved_at"] == "2026-03-30T15:07:00.000Z"

    async def test_resolving_by_hand_lets_the_next_firing_open_a_new_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        first = (await receiver.send(notification(), expect=201))["data"]["incident"]
        await client.patch(
            f"/api/v1/incidents/{first['id']}", json={"resolved_at": "2026-03-30T15:30:00Z"}
        )
        refired = notification(alert(starts_at="2026-03-30T16:00:00Z", fingerprint="ff02"))
        assert (await receiver.send(refired, expect=201))["data"]["action"] == "opened"


class TestWhatIsStored:
    async def test_label_values_naming_no_service_are_kept_on_the_incident(
        self, receiver: Receiver, api: Api, client: httpx.AsyncClient
    ) -> None:
        await api.service("payments")
        await receiver.send(notification(alert(app="payments", namespace="kube-system")))
        await receiver.send(
            notification(
                alert(app="payments", namespace="kube-system"), alert(fingerprint="f", job="node")
            )
        )
        (incident,) = await all_incidents(client)
        assert incident["details"]["alertmanager"]["unmatched_labels"] == [
            {"label": "namespace", "value": "kube-system"},
            {"label": "job", "value": "node"},
        ]

    async def test_common_labels_and_annotations_merge_across_notifications(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        await receiver.send(
            notification(common_labels={"alertname": "HighErrorRate", "instance": "web-1"})
        )
        grown = notification(alert(), alert(fingerprint="f", instance="web-2"))
        grown["commonAnnotations"] = {"runbook": "https://runbooks.example/5xx"}
        body = await receiver.send(grown, expect=200)
        stored = body["data"]["incident"]["details"]["alertmanager"]
        assert stored["common_labels"] == {"alertname": "HighErrorRate", "instance": "web-1"}
        assert stored["common_annotations"] == {
            "runbook": "https://runbooks.example/5xx",
            "summary": "5xx above 5%",
        }
        assert [(a["fingerprint"], a["labels"].get("instance")) for a in stored["alerts"]] == [
            ("a1b2c3d4e5f60718", None),
            ("f", "web-2"),
        ]
        (listed,) = await all_incidents(client)
        assert listed["details"] == body["data"]["incident"]["details"]

    async def test_a_resolved_incident_lists_its_alerts_resolved(self, receiver: Receiver) -> None:
        await receiver.send(notification())
        body = await receiver.send(
            notification(alert(status="resolved", ends_at=LATER), status="resolved"), expect=200
        )
        (entry,) = body["data"]["incident"]["details"]["alertmanager"]["alerts"]
        assert (entry["status"], entry["ends_at"]) == ("resolved", "2026-03-30T15:07:00.000Z")


class TestHighAvailability:
    async def test_both_replicas_notifying_at_once_make_one_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        # One episode's notifications from two replicas, all at the same moment: each shares
        # a firing with the others, so whichever is taken first, the rest join it.
        bodies = [notifications()[index] for index in (8, 9, 10, 11)]
        responses = await asyncio.gather(
            *(client.post(receiver.path, json=body) for body in bodies * 2)
        )
        assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
        (incident,) = await all_incidents(client)
        assert (incident["started_at"], incident["resolved_at"]) == (
            "2026-12-01T23:56:55.000Z",
            "2026-12-01T23:58:15.000Z",
        )

    async def test_a_restart_without_storage_restamping_an_alert_keeps_the_incident(
        self, receiver: Receiver, client: httpx.AsyncClient
    ) -> None:
        await receiver.send(notification(), expect=201)
        restamped = notification(alert(starts_at="2026-03-30T15:20:00Z"))
        assert (await receiver.send(restamped, expect=200))["data"]["action"] == "updated"
        resolved = notification(
            alert(
                status="resolved", starts_at="2026-03-30T15:20:00Z", ends_at="2026-03-30T15:30:00Z"
            ),
            status="resolved",
        )
        assert (await receiver.send(resolved, expect=200))["data"]["action"] == "resolved"
        for late in (notification(), restamped, resolved):
            assert (await receiver.send(late, expect=200))["data"]["action"] == "unchanged"
        assert len(await all_incidents(client)) == 1


class TestAccessLog:
    @staticmethod
    def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "changetrail.access"]

    async def test_it_is_off_by_default(
        self, receiver: Receiver, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="changetrail.access")
        await receiver.send(notification(), expect=201)
        assert self.lines(caplog) == []

    async def test_it_says_what_alertmanager_sent_and_never_the_token(
        self,
        database_url: str,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("CHANGETRAIL_ACCESS_LOG", "true")
        caplog.set_level(logging.INFO, logger="changetrail.access")
        async with serving(settings_for(database_url)) as client:
            receiver = await new_receiver(client)
            token = receiver.path.rsplit("/", 1)[1]
            sent = await client.post(
                receiver.path,
                json=notification(),
                params={"service_labels": "service"},
                headers={"user-agent": "Alertmanager/0.28.1"},
            )
            unknown = await client.post(receiver.path + "x", json=notification())
            not_json = await client.post(receiver.path, content=b"<xml/>")
        assert (sent.status_code, unknown.status_code, not_json.status_code) == (201, 404, 415)
        opened, refused, unreadable = self.lines(caplog)
        incident = sent.json()["data"]["incident"]["id"]
        for expected in (
            "method=POST",
            "path=/api/webhooks/incoming/alertmanager/{token}",
            'query="service_labels=service"',
            "status=201",
            "user_agent=Alertmanager/0.28.1",
            'group="{}:{alertname=\\"HighErrorRate\\"}"',
            "group_status=firing",
            "alert_count=1",
            "alerts=a1b2c3d4e5f60718@2026-03-30T15:00:00.000Z:firing",
            "action=opened",
            f"incident={incident}",
        ):
            assert expected in opened, (expected, opened)
        assert "status=404" in refused
        assert "status=415" in unreadable
        assert not any(token in line for line in (opened, refused, unreadable))


class TestRejections:
    async def test_an_unknown_token_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/webhooks/incoming/alertmanager/whk_unknown", json=notification()
        )
        assert response.status_code == 404

    async def test_a_changes_token_is_not_an_alertmanager_token(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await client.post("/api/v1/webhooks", json={"name": "ci"})
        token = created.json()["data"]["token"]
        response = await client.post(
            f"/api/webhooks/incoming/alertmanager/{token}", json=notification()
        )
        assert response.status_code == 404

    async def test_a_secret_requires_the_bearer_credentials(
        self, client: httpx.AsyncClient
    ) -> None:
        receiver = await new_receiver(client, secret="s3cret-value-long-enough-to-pass")
        anonymous = await client.post(receiver.path, json=notification())
        wrong = await client.post(
            receiver.path, json=notification(), headers=bearer("not-the-secret")
        )
        right = await client.post(
            receiver.path, json=notification(), headers=bearer("s3cret-value-long-enough-to-pass")
        )
        assert (anonymous.status_code, wrong.status_code, right.status_code) == (401, 401, 201)

    async def test_a_body_that_is_not_json_is_415(self, receiver: Receiver) -> None:
        response = await receiver.client.post(
            receiver.path, content=b"<xml/>", headers={"content-type": "application/xml"}
        )
        assert response.status_code == 415

    @pytest.mark.parametrize(
        "payload",
        [
            {"status": "firing"},
            {**notification(), "alerts": []},
            {**notification(), "status": "pending"},
            notification(alert(starts_at="0001-01-01T00:00:00+01:00")),
            [1, 2, 3],
        ],
    )
    async def test_a_payload_that_is_not_alertmanagers_is_422(
        self, receiver: Receiver, payload: Any
    ) -> None:
        response = await receiver.client.post(receiver.path, json=payload)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    async def test_incidents_land_in_the_endpoints_organisation_only(
        self, receiver: Receiver, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        await receiver.send(notification(), expect=201)
        theirs = bearer(await make_key("incidents:read", org="other"))
        listed = (await client.get("/api/v1/incidents", headers=theirs)).json()
        assert listed["meta"]["total"] == 0

"""From a recorded change to a local receiver: each kind, rules, bursts, failures, dead letters.

Every scenario runs on SQLite and PostgreSQL, with the worker inside the app as in production
and timings shortened (tests/channels/support.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from changetrail_api.channels.payloads import grafana
from tests.channels import shapes
from tests.channels.conftest import Serve
from tests.channels.receiver import Received, Receiver, Reply
from tests.channels.support import (
    AppClient,
    all_in,
    create_channel,
    deliveries,
    post_change,
    wait_for_deliveries,
)

SHAPES: dict[str, dict[str, Any]] = {
    "slack": shapes.SLACK_MESSAGE,
    "teams": shapes.TEAMS_MESSAGE,
    "webhook": shapes.CLOUDEVENT,
    "pagerduty": shapes.PAGERDUTY_CHANGE_EVENT,
    "grafana": shapes.GRAFANA_ANNOTATION,
}
EXTRA: dict[str, dict[str, Any]] = {
    "pagerduty": {"routing_key": "R" * 32},
    "grafana": {"token": "glsa_test_token"},
}


def event_ids(requests: list[Received]) -> list[str]:
    """The CloudEvents ids a webhook receiver got, batches unpacked."""
    ids: list[str] = []
    for request in requests:
        document = request.json()
        ids += [e["id"] for e in document] if isinstance(document, list) else [document["id"]]
    return ids


def subjects(requests: list[Received]) -> list[str]:
    found: list[str] = []
    for request in requests:
        document = request.json()
        events = document if isinstance(document, list) else [document]
        found += [e["subject"] for e in events]
    return found


async def channel_for(
    client: AppClient, receiver: Receiver, kind: str, **fields: Any
) -> dict[str, Any]:
    path = "/" if kind == "grafana" else f"/{kind}"
    return await create_channel(
        client, kind=kind, url=receiver.url + path, **{**EXTRA.get(kind, {}), **fields}
    )


@pytest.mark.parametrize("kind", list(SHAPES))
async def test_a_recorded_change_reaches_each_kind_in_its_documented_shape(
    serve: Serve, receiver: Receiver, kind: str
) -> None:
    async with serve() as client:
        channel = await channel_for(client, receiver, kind)
        change = await post_change(client, tags=["cluster:eu-1", "namespace:shop"])
        log = await wait_for_deliveries(client, channel["id"], all_in("delivered", 1))
    (request,) = receiver.posts()
    assert shapes.problems(SHAPES[kind], request.json()) == []
    assert request.headers["content-type"].split(";")[0] in (
        "application/json",
        "application/cloudevents+json",
    )
    assert log[0]["change_id"] == change["id"]
    assert log[0]["last_status"] == 200
    if kind == "grafana":
        assert request.path == "/api/annotations"
        assert request.headers["authorization"] == "Bearer glsa_test_token"
        assert "cluster:eu-1" in request.json()["tags"]
    if kind == "webhook":
        assert request.json()["subject"] == change["id"]


async def test_rules_decide_which_channel_receives_what(serve: Serve, receiver: Receiver) -> None:
    async with serve() as client:
        production = await create_channel(
            client,
            name="production deploys",
            kind="webhook",
            url=receiver.url + "/production",
            rules=[{"environments": ["production"], "change_types": ["deployment"]}],
        )
        failures = await create_channel(
            client,
            name="failed rollouts",
            kind="webhook",
            url=receiver.url + "/failures",
            rules=[{"outcomes": ["failed"]}, {"min_risk": "critical"}],
        )
        deploy = await post_change(client, "Deploy to production")
        await post_change(client, "Deploy to staging", environment="staging")
        failed = await post_change(
            client, "Roll out to staging", environment="staging", details={"outcome": "failed"}
        )
        critical = await post_change(
            client, "Rotate keys", change_type="config_change", risk_level="critical"
        )
        await wait_for_deliveries(client, production["id"], all_in("delivered", 1))
        await wait_for_deliveries(client, failures["id"], all_in("delivered", 2))
    assert subjects(receiver.posts("/production")) == [deploy["id"]]
    assert sorted(subjects(receiver.posts("/failures"))) == sorted([failed["id"], critical["id"]])


async def test_a_rollout_completed_as_failed_reaches_the_channels_waiting_for_failures(
    serve: Serve, receiver: Receiver
) -> None:
    async with serve() as client:
        failures = await create_channel(
            client,
            name="failed rollouts",
            kind="webhook",
            url=receiver.url + "/failures",
            rules=[{"outcomes": ["failed"]}],
        )
        everything = await create_channel(
            client, name="everything", kind="webhook", url=receiver.url + "/all"
        )
        rollout = await post_change(client, "Roll out api 2.0", outcome="in_progress")
        await wait_for_deliveries(client, everything["id"], all_in("delivered", 1))
        assert await deliveries(client, failures["id"]) == []
        completed = await client.patch(
            f"/api/v1/changes/{rollout['id']}", json={"source": "api", "outcome": "failed"}
        )
        assert completed.status_code == 200, completed.text
        await wait_for_deliveries(client, failures["id"], all_in("delivered", 1))
        # The channel that had the rollout already is not told twice.
        assert len(await deliveries(client, everything["id"])) == 1
    (failure,) = receiver.posts("/failures")
    assert failure.json()["data"]["outcome"] == "failed"
    assert len(receiver.posts("/all")) == 1


async def test_a_disabled_channel_receives_nothing(serve: Serve, receiver: Receiver) -> None:
    async with serve() as client:
        off = await create_channel(client, kind="webhook", url=receiver.url + "/off", enabled=False)
        on = await create_channel(client, name="on", kind="webhook", url=receiver.url + "/on")
        await post_change(client)
        await wait_for_deliveries(client, on["id"], all_in("delivered", 1))
        assert await deliveries(client, off["id"]) == []
    assert receiver.posts("/off") == []


async def test_a_burst_over_the_rate_folds_into_a_digest(serve: Serve, receiver: Receiver) -> None:
    async with serve() as client:
        # 60 a minute, a burst of 3: twenty changes at once cannot go one by one.
        channel = await channel_for(client, receiver, "slack", max_per_minute=60)
        for n in range(20):
            await post_change(client, f"Deploy build {n}")
        log = await wait_for_deliveries(client, channel["id"], all_in("delivered", 20))
    messages = receiver.posts()
    assert len(messages) < 20
    digests = [m.json() for m in messages if "changes in production" in m.json()["text"]]
    assert digests
    for message in messages:
        assert shapes.problems(shapes.SLACK_MESSAGE, message.json()) == []
    # Every change went out exactly once: in a message of its own or in one digest.
    sizes = {d["message_id"]: d["message_size"] for d in log}
    assert sum(sizes.values()) == 20
    assert len(sizes) == len(messages)


async def test_a_429_holds_the_channel_for_its_retry_after(
    serve: Serve, receiver: Receiver
) -> None:
    answers = iter([Reply(status=429, body=b"rate_limited", headers={"Retry-After": "1"})])
    receiver.responder = lambda _r: next(answers, Reply())
    async with serve() as client:
        channel = await channel_for(client, receiver, "slack")
        await post_change(client)
        log = await wait_for_deliveries(client, channel["id"], all_in("delivered", 1))
    first, second = receiver.posts()
    assert second.at - first.at >= 0.95
    assert first.body == second.body  # the same message again
    assert log[0]["attempts"] == 2


async def test_a_receiver_that_refuses_a_message_dead_letters_it_until_redelivered(
    serve: Serve, receiver: Receiver
) -> None:
    receiver.responder = lambda _r: Reply(status=410, body=b"channel_is_archived")
    async with serve() as client:
        channel = await channel_for(client, receiver, "slack")
        await post_change(client)
        (dead,) = await wait_for_deliveries(client, channel["id"], all_in("dead", 1))
        assert dead["last_error"] == "HTTP 410: channel_is_archived"
        dead_letters = await deliveries(client, channel["id"], state="dead")
        assert [d["id"] for d in dead_letters] == [dead["id"]]
        listed = (await client.get(f"/api/v1/channels/{channel['id']}")).json()["data"]
        assert listed["backlog"] == {"pending": 0, "dead": 1}

        receiver.responder = lambda _r: Reply()
        response = await client.post(f"/api/v1/channels/{channel['id']}/deliveries/redeliver")
        assert response.json()["data"] == {"requeued": 1}
        (delivered,) = await wait_for_deliveries(client, channel["id"], all_in("delivered", 1))
    assert delivered["id"] == dead["id"]
    assert len(receiver.posts()) == 2


async def test_a_delivery_failing_past_its_deadline_is_dead_lettered(
    serve: Serve, receiver: Receiver
) -> None:
    receiver.responder = lambda _r: Reply(status=503, body=b"maintenance")
    async with serve(channels_give_up_after_seconds=0.5) as client:
        channel = await channel_for(client, receiver, "webhook")
        await post_change(client)
        (dead,) = await wait_for_deliveries(client, channel["id"], all_in("dead", 1))
    assert dead["attempts"] >= 2
    assert dead["last_error"] == "HTTP 503: maintenance"


async def test_grafana_is_not_annotated_twice_when_an_answer_was_lost(
    serve: Serve, receiver: Receiver
) -> None:
    """The first post arrives but its answer never comes back: the retry asks Grafana first."""
    stored: list[dict[str, Any]] = []

    def grafana_server(request: Received) -> Reply:
        if request.method == "GET":
            wanted = request.query["tags"][0]
            found = [a for a in stored if wanted in a["tags"]]
            return Reply(body=json.dumps(found).encode())
        stored.append(request.json())
        if len(stored) == 1:
            return Reply(hang=True)  # annotated, but the answer is lost
        return Reply(body=b'{"message": "Annotation added", "id": 2}')

    receiver.responder = grafana_server
    async with serve(channels_timeout_seconds=0.3, channels_lease_seconds=1.2) as client:
        channel = await channel_for(client, receiver, "grafana")
        await post_change(client)
        (delivered,) = await wait_for_deliveries(client, channel["id"], all_in("delivered", 1))
    assert len(stored) == 1
    assert [r.method for r in receiver.requests] == ["POST", "GET"]
    assert delivered["attempts"] == 2
    assert delivered["last_error"] == "found at the receiver from an earlier attempt"
    assert any(tag.startswith(grafana.MESSAGE_TAG) for tag in stored[0]["tags"])


async def test_a_redirect_to_the_metadata_endpoint_is_refused_when_delivering(
    serve: Serve, receiver: Receiver
) -> None:
    receiver.responder = lambda _r: Reply(
        status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    # Private destinations refused, except the receiver's own address.
    async with serve(
        channels_allow_private_destinations=False, channels_allowed_networks="127.0.0.1/32"
    ) as client:
        channel = await channel_for(client, receiver, "webhook")
        await post_change(client)
        (dead,) = await wait_for_deliveries(client, channel["id"], all_in("dead", 1))
    assert "169.254.169.254 is a link-local address" in dead["last_error"]
    assert len(receiver.requests) == 1


async def test_deliveries_show_in_the_metrics_by_kind_and_outcome_only(
    serve: Serve, receiver: Receiver
) -> None:
    async with serve() as client:
        channel = await channel_for(client, receiver, "teams")
        await post_change(client)
        await wait_for_deliveries(client, channel["id"], all_in("delivered", 1))
        text = (await client.get("/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("changetrail_channel_")]
    assert any(
        line.startswith('changetrail_channel_deliveries_total{kind="teams",outcome="delivered"}')
        for line in lines
    )
    assert any(
        line.startswith("changetrail_channel_delivery_latency_seconds_bucket") for line in lines
    )
    labels = {
        part.split("=")[0]
        for line in lines
        if "{" in line
        for part in line[line.index("{") + 1 : line.index("}")].split(",")
    }
    assert labels <= {"kind", "outcome", "shape", "state", "le"}
    assert "127.0.0.1" not in "\n".join(lines)

"""A real Alertmanager HA pair notifying the API: one incident per episode, exactly.

Two Alertmanager v0.28.1 processes gossip on 127.0.0.1 and both notify the changetrail
receiver (no wait between replicas, so both deliver). The suite plays Prometheus: it posts
alerts to both replicas with their ``startsAt``, lets alerts join a group, resolves some of
them, then all, fires the group again, restarts a replica with and without its storage, and
checks what incidents the API holds. Needs the API and PostgreSQL only, no control plane.

Alertmanager must build and start: when it cannot, these tests fail, they never skip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from changetrail_api.timefmt import format_utc as ms
from tests.e2e.harness.alertmanager import (
    Alert,
    AlertmanagerPair,
    ChangetrailApi,
    alertmanager_binary,
    wait_until,
)
from tests.e2e.harness.database import throwaway_database_url

WAIT = 30.0
# Long enough for several group intervals and a repeat: whatever was going to arrive has.
SETTLE = 8.0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alertmanager")


@pytest.fixture(scope="module")
def api(workdir: Path) -> Iterator[ChangetrailApi]:
    with throwaway_database_url() as database_url:
        api = ChangetrailApi(workdir=workdir, database_url=database_url)
        try:
            api.start()
            api.post("/api/v1/services", {"name": "payments"})
            yield api
        finally:
            api.stop()


@pytest.fixture(scope="module")
def pair(api: ChangetrailApi, workdir: Path) -> Iterator[AlertmanagerPair]:
    pair = AlertmanagerPair(
        binary=alertmanager_binary(),
        workdir=workdir,
        receiver_url=api.create_receiver(),
        secret=api.secret,
    )
    try:
        started = time.monotonic()
        pair.start()
        print(f"alertmanager pair clustered in {time.monotonic() - started:.1f}s")
        yield pair
    finally:
        pair.stop()


def logs(api: ChangetrailApi, pair: AlertmanagerPair) -> str:
    return f"--- API log (tail)\n{api.log()}\n{pair.logs()}"


def incidents_when(
    api: ChangetrailApi,
    pair: AlertmanagerPair,
    alertname: str,
    what: str,
    holds: Any,
) -> list[dict[str, Any]]:
    """The group's incidents once ``holds(incidents)`` is true."""

    def probe() -> list[dict[str, Any]] | None:
        found = api.incidents_of(alertname)
        return found if holds(found) else None

    return wait_until(probe, WAIT, f"{alertname}: {what}", lambda: logs(api, pair))


def fingerprints(incident: dict[str, Any]) -> list[str]:
    found: list[str] = incident["details"]["alertmanager"]["fingerprints"]
    return found


def alert(name: str, service: str, instance: str, starts_at: datetime) -> Alert:
    return Alert(
        labels={
            "alertname": name,
            "service": service,
            "instance": instance,
            "severity": "critical",
        },
        annotations={"summary": f"{name} on {instance}"},
        starts_at=starts_at,
    )


def test_an_episode_grouped_partly_resolved_and_resolved_is_one_incident(
    api: ChangetrailApi, pair: AlertmanagerPair
) -> None:
    now = datetime.now(UTC)
    started = now - timedelta(seconds=30)
    deploy = api.post(
        "/api/v1/changes",
        {
            "summary": "Deploy checkout 2.4",
            "service_id": api.post("/api/v1/services", {"name": "checkout-e2e"})["id"],
            "occurred_at": ms(started - timedelta(minutes=5)),
            "change_type": "deployment",
        },
    )
    name = "HighErrorRate"
    web1 = alert(name, "checkout-e2e", "web-1", started)
    pair.fire([web1])
    (opened,) = incidents_when(api, pair, name, "an open incident", lambda f: len(f) == 1)
    assert opened["status"] == "open"
    assert opened["started_at"] == ms(started)
    assert [s["name"] for s in opened["services"]] == ["checkout-e2e"]
    assert opened["severity"] == "critical"
    assert api.incident(opened["id"])["suspects"][0]["id"] == deploy["id"]

    web2 = alert(name, "checkout-e2e", "web-2", started + timedelta(seconds=5))
    pair.fire([web1, web2])
    incidents_when(
        api, pair, name, "a second alert", lambda f: len(f) == 1 and len(fingerprints(f[0])) == 2
    )

    # The first alert resolves: Alertmanager reports it once, then drops it from the group,
    # so the group's next notifications start later than the episode did.
    pair.resolve([web1], datetime.now(UTC))
    web3 = alert(name, "checkout-e2e", "web-3", datetime.now(UTC))
    pair.fire([web2, web3])
    incidents_when(
        api, pair, name, "a third alert", lambda f: len(f) == 1 and len(fingerprints(f[0])) == 3
    )
    time.sleep(SETTLE)
    (still,) = api.incidents_of(name)
    assert (still["id"], still["status"], still["started_at"]) == (
        opened["id"],
        "open",
        ms(started),
    )

    ended = datetime.now(UTC)
    pair.resolve([web2, web3], ended)
    (resolved,) = incidents_when(
        api, pair, name, "the resolve", lambda f: len(f) == 1 and f[0]["status"] == "resolved"
    )
    assert resolved["resolved_at"] == ms(ended)

    # The same alert firing again is a new episode: a new incident with its own start.
    again = alert(name, "checkout-e2e", "web-1", datetime.now(UTC))
    pair.fire([again])
    first, second = incidents_when(api, pair, name, "a second episode", lambda f: len(f) == 2)
    assert (first["id"], first["status"]) == (opened["id"], "resolved")
    assert (second["status"], second["started_at"]) == ("open", ms(again.starts_at))
    finished = datetime.now(UTC)
    pair.resolve([again], finished)
    incidents_when(
        api,
        pair,
        name,
        "the second resolve",
        lambda f: len(f) == 2 and f[-1]["status"] == "resolved",
    )

    time.sleep(SETTLE)
    first, second = api.incidents_of(name)
    assert [(i["started_at"], i["resolved_at"]) for i in (first, second)] == [
        (ms(started), ms(ended)),
        (ms(again.starts_at), ms(finished)),
    ]
    assert (len(fingerprints(first)), len(fingerprints(second))) == (3, 1)


def test_both_replicas_notify_one_restarts_and_it_stays_one_incident(
    api: ChangetrailApi, pair: AlertmanagerPair
) -> None:
    first_replica, second_replica = pair.replicas
    sent_before = [r.webhook_notifications() for r in pair.replicas]
    name = "QueueBacklog"
    started = datetime.now(UTC) - timedelta(seconds=20)
    backlog_a = alert(name, "payments", "a", started)
    pair.fire([backlog_a])
    (opened,) = incidents_when(api, pair, name, "an open incident", lambda f: len(f) == 1)

    def both_notified() -> bool | None:
        sent = [r.webhook_notifications() for r in pair.replicas]
        return True if all(s > b for s, b in zip(sent, sent_before, strict=True)) else None

    wait_until(both_notified, WAIT, "a notification from each replica", pair.logs)

    backlog_b = alert(name, "payments", "b", started + timedelta(seconds=3))
    pair.fire([backlog_a, backlog_b])
    incidents_when(
        api, pair, name, "a second alert", lambda f: len(f) == 1 and len(fingerprints(f[0])) == 2
    )

    # A restart keeps its notification log on disk but not its alerts: Prometheus (here, the
    # suite) sends them again, with the same startsAt.
    second_replica.restart(keep_storage=True)
    pair.wait_ready(second_replica)
    pair.fire([backlog_a, backlog_b], [second_replica])
    # Without its storage it has forgotten what it notified, and notifies the group anew.
    first_replica.restart(keep_storage=False)
    pair.wait_ready(first_replica)
    pair.fire([backlog_a, backlog_b], [first_replica])
    wait_until(
        lambda: True if first_replica.webhook_notifications() > 0 else None,
        WAIT,
        "a notification from the replica restarted without storage",
        pair.logs,
    )
    (still,) = api.incidents_of(name)
    assert (still["id"], still["status"], still["started_at"]) == (
        opened["id"],
        "open",
        ms(started),
    )

    ended = datetime.now(UTC)
    pair.resolve([backlog_a, backlog_b], ended)
    incidents_when(
        api, pair, name, "the resolve", lambda f: len(f) == 1 and f[0]["status"] == "resolved"
    )
    time.sleep(SETTLE)
    (incident,) = api.incidents_of(name)
    assert (incident["id"], incident["started_at"], incident["resolved_at"]) == (
        opened["id"],
        ms(started),
        ms(ended),
    )
    assert len(fingerprints(incident)) == 2
    assert [s["name"] for s in incident["services"]] == ["payments"]


def test_the_receivers_log_shows_what_alertmanager_sent_but_never_the_token(
    api: ChangetrailApi, pair: AlertmanagerPair
) -> None:
    name = "DiskFull"
    pair.fire([alert(name, "inventory", "db-7", datetime.now(UTC))])
    (incident,) = incidents_when(api, pair, name, "an incident", lambda f: len(f) == 1)
    # No service is called inventory: the label is kept on the incident.
    assert incident["details"]["alertmanager"]["unmatched_labels"] == [
        {"label": "service", "value": "inventory"}
    ]
    assert api.process is not None
    log = api.process.log_path.read_text()
    lines = [line for line in log.splitlines() if f"incident={incident['id']}" in line]
    assert lines, log[-4000:]
    assert "path=/api/webhooks/incoming/alertmanager/{token}" in lines[0]
    assert "user_agent=Alertmanager/0.28.1" in lines[0]
    assert 'group="{}:{alertname=\\"DiskFull\\", service=\\"inventory\\"}"' in lines[0]
    token = api.receiver_path.rsplit("/", 1)[1]
    assert token not in log
    assert api.secret not in log

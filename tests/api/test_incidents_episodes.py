"""The episode rules (pure): which incident a notification belongs to and what it changes.

Replayed over the notifications a real Alertmanager sent, in the order it sent them and in
every order its replicas, retries and redeliveries can produce.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings

from changetrail_api.incidents.alert_groups import (
    DEFAULT_SERVICE_LABELS,
    AlertGroup,
    AlertmanagerPayload,
    interpret,
)
from changetrail_api.incidents.episodes import (
    MAX_DETAIL_ALERTS,
    Candidate,
    Episode,
    choose,
    external_id,
    firings,
    fold,
    group_id,
    new_episode_in,
)
from changetrail_api.incidents.schemas import Severity
from tests.api.incidents.corpus import EPISODES, IN_ORDER_ACTIONS, deliveries, notifications
from tests.api.incidents.ledger import Ledger
from tests.api.test_incidents_factories import alert, notification

T0 = datetime(2026, 3, 30, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 30, 16, 0, tzinfo=UTC)


def group_of(payload: dict[str, Any]) -> AlertGroup:
    return interpret(AlertmanagerPayload.model_validate(payload), DEFAULT_SERVICE_LABELS, NOW)


def candidate(
    name: str, *, shared: int = 0, opening: bool = False, holds: bool = False, minutes: int = 0
) -> Candidate:
    return Candidate(name, T0 + timedelta(minutes=minutes), shared, opening, holds)


def opened(payload: dict[str, Any] | None = None, **fields: Any) -> Episode:
    _, episode = fold(
        None,
        group_of(payload or notification()),
        service_ids=fields.pop("service_ids", ()),
        unmatched=fields.pop("unmatched", ()),
        environment=None,
    )
    return episode


def assert_one_incident_per_episode(ledger: Ledger) -> None:
    found = {
        frozenset(e.details["fingerprints"]) | {str(e.started_at)}: e
        for e in ledger.incidents.values()
    }
    assert len(ledger.incidents) == len(EPISODES), sorted(
        (str(e.started_at), str(e.resolved_at)) for e in ledger.incidents.values()
    )
    for expected in EPISODES:
        episode = found.get(expected.fingerprints | {str(expected.started_at)})
        assert episode is not None, f"no incident for {expected.name}"
        assert episode.resolved_at == expected.resolved_at, expected.name


class TestChoosing:
    def test_an_incident_holding_a_firing_wins_over_the_open_one(self) -> None:
        chosen = choose([candidate("open", holds=True), candidate("resolved", shared=1)])
        assert chosen is not None
        assert chosen.incident_id == "resolved"

    def test_without_known_firings_the_open_incident_holds_the_group(self) -> None:
        chosen = choose([candidate("open", holds=True)])
        assert chosen is not None
        assert chosen.incident_id == "open"

    def test_nothing_known_and_nothing_open_is_a_new_episode(self) -> None:
        assert choose([]) is None

    def test_an_incident_recorded_by_its_opening_is_found_by_it(self) -> None:
        chosen = choose([candidate("before-firings", opening=True), candidate("open", holds=True)])
        assert chosen is not None
        assert chosen.incident_id == "before-firings"

    def test_the_answer_does_not_depend_on_the_order_of_candidates(self) -> None:
        listed = [
            candidate("b", shared=2, minutes=5),
            candidate("a", shared=2, minutes=5),
            candidate("c", shared=2, minutes=1),
            candidate("d", shared=1),
        ]
        answers = {choose(order).incident_id for order in (listed, listed[::-1])}  # type: ignore[union-attr]
        assert answers == {"c"}


class TestFolding:
    def test_a_firing_notification_opens_an_episode_at_its_earliest_alert(self) -> None:
        action, episode = fold(
            None,
            group_of(
                notification(alert(), alert(starts_at="2026-03-30T14:58:00Z", fingerprint="f"))
            ),
            service_ids=["svc_1"],
            unmatched=[("namespace", "kube-system")],
            environment="production",
        )
        assert action == "opened"
        assert episode.started_at == T0 - timedelta(minutes=2)
        assert (episode.open, episode.environment, episode.service_ids) == (
            True,
            "production",
            ("svc_1",),
        )
        assert episode.details["unmatched_labels"] == [
            {"label": "namespace", "value": "kube-system"}
        ]

    def test_a_resolved_notification_never_seen_firing_is_recorded_resolved(self) -> None:
        resolved = notification(
            alert(status="resolved", ends_at="2026-03-30T15:10:00Z"), status="resolved"
        )
        action, episode = fold(
            None, group_of(resolved), service_ids=(), unmatched=(), environment=None
        )
        assert action == "recorded_resolved"
        assert episode.resolved_at == T0 + timedelta(minutes=10)
        assert episode.details["alerts"][0]["status"] == "resolved"

    def test_resolving_ends_the_episode_at_the_last_alert_to_resolve(self) -> None:
        resolved = notification(
            alert(status="resolved", ends_at="2026-03-30T15:10:00Z"),
            alert(status="resolved", ends_at="2026-03-30T15:12:00Z", fingerprint="f"),
            status="resolved",
        )
        action, episode = fold(
            opened(), group_of(resolved), service_ids=(), unmatched=(), environment=None
        )
        assert (action, episode.resolved_at) == ("resolved", T0 + timedelta(minutes=12))

    def test_a_resolved_episode_is_never_reopened(self) -> None:
        _, resolved = fold(
            opened(),
            group_of(
                notification(
                    alert(status="resolved", ends_at="2026-03-30T15:10:00Z"), status="resolved"
                )
            ),
            service_ids=(),
            unmatched=(),
            environment=None,
        )
        action, after = fold(
            resolved, group_of(notification()), service_ids=(), unmatched=(), environment=None
        )
        assert (action, after) == ("unchanged", resolved)

    def test_an_older_notification_tells_a_resolved_episode_its_earlier_start(self) -> None:
        late = notification(alert(), alert(starts_at="2026-03-30T14:50:00Z", fingerprint="early"))
        _, resolved = fold(
            opened(),
            group_of(
                notification(
                    alert(status="resolved", ends_at="2026-03-30T15:10:00Z"), status="resolved"
                )
            ),
            service_ids=(),
            unmatched=(),
            environment=None,
        )
        action, after = fold(
            resolved, group_of(late), service_ids=(), unmatched=(), environment=None
        )
        assert action == "updated"
        assert after.started_at == T0 - timedelta(minutes=10)
        assert after.resolved_at == resolved.resolved_at

    def test_services_severity_and_unmatched_labels_accumulate(self) -> None:
        first = opened(service_ids=["svc_1"], unmatched=[("app", "ghost")])
        action, after = fold(
            first,
            group_of(notification(alert(severity="critical"))),
            service_ids=["svc_2", "svc_1"],
            unmatched=[("namespace", "kube-system"), ("app", "ghost")],
            environment=None,
        )
        assert action == "updated"
        assert after.service_ids == ("svc_1", "svc_2")
        assert after.severity is Severity.CRITICAL
        assert after.details["unmatched_labels"] == [
            {"label": "app", "value": "ghost"},
            {"label": "namespace", "value": "kube-system"},
        ]

    def test_common_labels_and_annotations_merge_instead_of_being_replaced(self) -> None:
        first = opened(
            notification(common_labels={"alertname": "HighErrorRate", "instance": "web-1"})
        )
        second = notification(
            alert(),
            alert(fingerprint="f"),
            common_labels={"alertname": "HighErrorRate", "team": "shop"},
        )
        second["commonAnnotations"] = {}
        _, after = fold(first, group_of(second), service_ids=(), unmatched=(), environment=None)
        assert after.details["common_labels"] == {
            "alertname": "HighErrorRate",
            "instance": "web-1",
            "team": "shop",
        }
        assert after.details["common_annotations"] == {"summary": "5xx above 5%"}

    def test_each_firing_is_listed_once_and_stays_resolved(self) -> None:
        partial = notification(
            alert(status="resolved", ends_at="2026-03-30T15:05:00Z"),
            alert(starts_at="2026-03-30T15:03:00Z", fingerprint="f", instance="web-2"),
        )
        _, after = fold(opened(), group_of(partial), service_ids=(), unmatched=(), environment=None)
        _, replayed = fold(
            after, group_of(notification()), service_ids=(), unmatched=(), environment=None
        )
        assert replayed == after
        assert [(a["fingerprint"], a["status"], a["ends_at"]) for a in after.details["alerts"]] == [
            ("a1b2c3d4e5f60718", "resolved", "2026-03-30T15:05:00.000Z"),
            ("f", "firing", None),
        ]
        assert after.details["alerts"][1]["labels"]["instance"] == "web-2"

    def test_an_incident_lists_at_most_a_hundred_alerts_earliest_first(self) -> None:
        many = notification(
            *(
                alert(
                    starts_at=f"2026-03-30T15:{i // 60:02d}:{i % 60:02d}Z", fingerprint=f"f{i:03d}"
                )
                for i in range(150)
            )
        )
        listed = opened(many).details["alerts"]
        assert len(listed) == MAX_DETAIL_ALERTS
        assert listed[0]["fingerprint"] == "f000"


class TestIdentity:
    def test_a_firing_is_a_fingerprint_and_its_start(self) -> None:
        payload = notification(
            alert(), alert(starts_at="2026-03-30T14:59:59.123456789Z", fingerprint="f")
        )
        assert firings(group_of(payload)) == (
            ("f", datetime(2026, 3, 30, 14, 59, 59, 123456, tzinfo=UTC)),
            ("a1b2c3d4e5f60718", T0),
        )

    def test_an_alert_without_fingerprint_gets_one_from_its_labels(self) -> None:
        bare = notification(alert(instance="a"), alert(instance="b"))
        for entry in bare["alerts"]:
            del entry["fingerprint"]
        prints = [fingerprint for fingerprint, _ in firings(group_of(bare))]
        assert len(set(prints)) == 2
        assert prints == [fingerprint for fingerprint, _ in firings(group_of(bare))]

    def test_groups_are_per_endpoint_and_external_ids_keep_their_format(self) -> None:
        assert group_id("whk_a", "{}:{}") != group_id("whk_b", "{}:{}")
        assert external_id("ab" * 32, T0) == f"am:{'ab' * 16}:20260330T150000.000000Z"


class TestTheCorpus:
    def test_as_alertmanager_sent_it(self) -> None:
        ledger = Ledger()
        actions = [ledger.receive(body)[0] for body in notifications()]
        assert actions == IN_ORDER_ACTIONS
        assert_one_incident_per_episode(ledger)

    def test_every_notification_delivered_again_afterwards_changes_nothing(self) -> None:
        ledger = Ledger()
        bodies = notifications()
        first = [ledger.receive(body)[1] for body in bodies]
        state = dict(ledger.incidents)
        again = [ledger.receive(body) for body in bodies]
        assert [incident for _, incident in again] == first
        assert {action for action, _ in again} == {"unchanged"}
        assert ledger.incidents == state

    def test_the_replays_of_the_issue_neither_duplicate_nor_reopen(self) -> None:
        ledger = Ledger()
        bodies = notifications()
        for body in bodies[:12]:
            ledger.receive(body)
        # The resolved notification of LatencyHigh (its earliest alert had left the group), a
        # mid-episode firing of it, and the notification sent after a restart without storage.
        for index in (11, 10, 4, 9):
            action, _ = ledger.receive(bodies[index])
            assert action == "unchanged", index
        assert len(ledger.incidents) == 4
        assert not any(e.open for e in ledger.incidents.values() if e.title.startswith("Latency"))

    def test_a_new_episode_before_the_previous_resolve_is_the_one_order_it_cannot_tell(
        self,
    ) -> None:
        # Alertmanager never sends a group's next episode before the previous one's resolved
        # notification went out; if that happens anyway, the open incident holds the group.
        ledger = Ledger()
        bodies = notifications()
        for index in (0, 1, 25, 5):
            ledger.receive(bodies[index])
        assert len(ledger.incidents) == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=deliveries())
def test_one_incident_per_episode_whatever_the_delivery_order(order: list[int]) -> None:
    bodies = notifications()
    ledger = Ledger()
    for index in order:
        ledger.receive(bodies[index])
    assert_one_incident_per_episode(ledger)
    # Nothing is delivered twice for nothing: every notification ends up in its episode.
    per_incident = Counter(ledger.receive(bodies[index])[1] for index in range(len(bodies)))
    assert len(per_incident) == len(EPISODES)


class TestNewEpisodeIn:
    ended = alert(status="resolved", ends_at="2026-03-30T15:30:00Z")

    def test_alerts_firing_since_the_end_are_narrowed_to_a_new_episode(self) -> None:
        refired = alert(starts_at="2026-03-30T15:45:00Z", fingerprint="0b0b")
        group = group_of(notification(self.ended, refired))
        fresh = new_episode_in(group, set(firings(group)[:1]), T0 + timedelta(minutes=30))
        assert fresh is not None
        assert fresh.status == "firing"
        assert fresh.started_at == T0 + timedelta(minutes=45)
        assert fresh.fingerprints == ("0b0b",)
        assert [a.fingerprint for a in fresh.alerts] == ["0b0b"]

    def test_firings_the_ended_incident_holds_or_older_than_its_end_stay_with_it(self) -> None:
        late = alert(starts_at="2026-03-30T15:20:00Z", fingerprint="0c0c")
        held_since = alert(starts_at="2026-03-30T15:45:00Z", fingerprint="0d0d")
        group = group_of(notification(self.ended, late, held_since))
        held = {("0d0d", T0 + timedelta(minutes=45))}
        assert new_episode_in(group, held, T0 + timedelta(minutes=30)) is None

"""A channel's rate: how many messages it may send, and how bursts fold into digests."""

from __future__ import annotations

from datetime import timedelta

from changetrail_api.channels.folding import (
    Budget,
    Planned,
    Waiting,
    available,
    budget_for,
    hold_until,
    next_free,
    plan,
    spend,
)
from tests.channels.factories import T0

SLACK = Budget(per_minute=60, burst=3)


def waiting(n: int, message_id: str | None = None, at: int = 0) -> Waiting:
    return Waiting(f"dlv_{n:03d}", message_id, T0 + timedelta(seconds=at))


class TestBudget:
    def test_a_fresh_channel_has_its_whole_burst(self) -> None:
        assert available(SLACK, None, T0) == 3

    def test_each_message_takes_one_interval(self) -> None:
        tat = spend(SLACK, None, T0, 2)
        assert tat == T0 + timedelta(seconds=2)
        assert available(SLACK, tat, T0) == 1
        tat = spend(SLACK, tat, T0, 1)
        assert available(SLACK, tat, T0) == 0
        assert available(SLACK, tat, T0 + timedelta(seconds=1)) == 1
        assert available(SLACK, tat, T0 + timedelta(seconds=3)) == 3

    def test_next_free_is_when_one_message_may_go_again(self) -> None:
        tat = spend(SLACK, None, T0, 3)
        assert next_free(SLACK, tat, T0) == T0 + timedelta(seconds=1)
        assert next_free(SLACK, None, T0) == T0

    def test_a_retry_after_far_ahead_leaves_nothing(self) -> None:
        assert available(SLACK, T0 + timedelta(seconds=30), T0) == 0

    def test_a_hold_silences_the_whole_burst_until_its_end(self) -> None:
        until = T0 + timedelta(seconds=30)
        tat = hold_until(SLACK, until)
        assert available(SLACK, tat, until - timedelta(milliseconds=1)) == 0
        assert available(SLACK, tat, until) == 1

    def test_burst_is_a_twentieth_of_the_rate(self) -> None:
        assert budget_for(60) == Budget(60, 3)
        assert budget_for(10) == Budget(10, 1)
        assert budget_for(6000).burst == 50


class TestPlan:
    def test_within_budget_each_change_is_its_own_message(self) -> None:
        planned = plan([waiting(1), waiting(2)], 3, max_batch=None)
        assert planned == [Planned(None, ("dlv_001",)), Planned(None, ("dlv_002",))]

    def test_more_than_the_budget_folds_into_one_digest(self) -> None:
        planned = plan([waiting(n, at=n) for n in range(10)], 3, max_batch=None)
        assert planned == [Planned(None, tuple(f"dlv_{n:03d}" for n in range(10)))]

    def test_a_bounded_batch_splits_the_digest_as_far_as_the_budget_goes(self) -> None:
        planned = plan([waiting(n, at=n) for n in range(250)], 2, max_batch=100)
        assert [len(p.delivery_ids) for p in planned] == [100, 100]

    def test_a_retry_keeps_its_message_and_goes_first(self) -> None:
        items = [waiting(5, at=5), waiting(1, "msg_a", at=1), waiting(2, "msg_a", at=2)]
        planned = plan(items, 3, max_batch=None)
        assert planned == [Planned("msg_a", ("dlv_001", "dlv_002")), Planned(None, ("dlv_005",))]

    def test_nothing_is_planned_without_budget(self) -> None:
        assert plan([waiting(1), waiting(2, "msg_a")], 0, max_batch=None) == []

    def test_changes_stay_in_the_order_they_were_queued(self) -> None:
        planned = plan([waiting(3, at=3), waiting(1, at=1), waiting(2, at=2)], 5, max_batch=None)
        assert [p.delivery_ids[0] for p in planned] == ["dlv_001", "dlv_002", "dlv_003"]

"""The notifications a real Alertmanager sent (see README.md), which episode each belongs to,
and the delivery orders Alertmanager, its HA replicas and retries can produce."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

CORPUS = Path(__file__).with_name("alertmanager-v0.28.1.jsonl")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class ExpectedEpisode:
    """One episode of one group, as it happened: the incident it must become."""

    name: str
    notifications: tuple[int, ...]
    started_at: datetime
    resolved_at: datetime
    fingerprints: frozenset[str]
    # The resolved notification that ends it.
    resolve: int
    # Notifications sharing no alert firing with the rest of their episode: only the order
    # they arrived in ties them to it (see README.md, line 4).
    disjoint: tuple[int, ...] = ()


EPISODES = (
    ExpectedEpisode(
        "HighErrorRate/checkout #1",
        (0, 1, 2, 3, 4, 5),
        _at("2026-12-01T23:54:01.882027"),
        _at("2026-12-01T23:56:47"),
        frozenset({"b1c11497b32ce15e", "32023ffbb2d10963"}),
        resolve=5,
        disjoint=(4,),
    ),
    ExpectedEpisode(
        "DiskFull/inventory",
        (6, 13, 22, 26, 30, 35),
        _at("2026-12-01T23:57:39.565916"),
        _at("2026-12-02T00:02:39.565916"),
        frozenset({"2074e5b32e06204f"}),
        resolve=35,
    ),
    ExpectedEpisode(
        "NodeDown",
        (7, 14, 23, 27, 31, 34),
        _at("2026-12-01T23:57:39.585718"),
        _at("2026-12-02T00:02:39.585718"),
        frozenset({"477dba4432b77791"}),
        resolve=34,
    ),
    ExpectedEpisode(
        "LatencyHigh/payments",
        (8, 9, 10, 11),
        _at("2026-12-01T23:56:55"),
        _at("2026-12-01T23:58:15"),
        frozenset({"2e7af68f662349a9", "65354bccaeaeb4be", "97f194b70336673f"}),
        resolve=11,
    ),
    ExpectedEpisode(
        "QueueBacklog/payments",
        (12, 15, 16, 17),
        _at("2026-12-01T23:57:34"),
        _at("2026-12-01T23:58:54"),
        frozenset({"f4bb399a9ea032bb", "772995afd8c4a14c", "16f936a9ee2f03b5"}),
        resolve=17,
    ),
    ExpectedEpisode(
        "CacheMiss/payments #1",
        (18, 19, 20, 21),
        _at("2026-12-01T23:58:11"),
        _at("2026-12-01T23:59:31"),
        frozenset({"c7cb0e379868676d", "ee32d52137d3a6f2", "f9e60675c7753733"}),
        resolve=21,
    ),
    ExpectedEpisode(
        "CacheMiss/payments #2",
        (24, 28, 32, 37, 39, 40),
        _at("2026-12-01T23:59:42.788955"),
        _at("2026-12-02T00:04:42.788955"),
        frozenset({"13e9fd4a4062b0fa"}),
        resolve=40,
    ),
    ExpectedEpisode(
        "HighErrorRate/checkout #2",
        (25, 29, 33, 36, 38, 41),
        _at("2026-12-01T23:59:42.813469"),
        _at("2026-12-02T00:04:42.813469"),
        frozenset({"b1c11497b32ce15e"}),
        resolve=41,
    ),
)

# What each of the corpus's notifications does when they arrive as Alertmanager sent them.
IN_ORDER_ACTIONS = [
    "opened", "updated", "unchanged", "unchanged", "updated", "resolved",  # HighErrorRate #1
    "opened", "opened",  # DiskFull, NodeDown
    "opened", "updated", "updated", "resolved",  # LatencyHigh
    "opened", "unchanged", "unchanged",  # QueueBacklog; repeats of DiskFull, NodeDown
    "updated", "updated", "resolved",  # QueueBacklog
    "opened", "updated", "updated", "resolved",  # CacheMiss #1
    "unchanged", "unchanged",
    "opened", "opened",  # CacheMiss #2, HighErrorRate #2
    *["unchanged"] * 8,
    "resolved", "resolved",  # NodeDown, DiskFull
    *["unchanged"] * 4,
    "resolved", "resolved",  # CacheMiss #2, HighErrorRate #2
]  # fmt: skip


@cache
def _lines() -> tuple[str, ...]:
    return tuple(CORPUS.read_text().splitlines())


def notifications() -> list[dict[str, Any]]:
    """The 42 bodies, in the order Alertmanager sent them (fresh copies)."""
    return [json.loads(line)["body"] for line in _lines()]


def group_key(index: int) -> str:
    key: str = json.loads(_lines()[index])["body"]["groupKey"]
    return key


def episode_of(index: int) -> ExpectedEpisode:
    return next(e for e in EPISODES if index in e.notifications)


@st.composite
def deliveries(draw: st.DrawFn) -> list[int]:
    """An order in which the corpus may reach the receiver, as indexes into it.

    What Alertmanager guarantees, and nothing more: it notifies one group at a time, so a
    group's next episode begins after the previous one was resolved. Everything else is free:

    - groups interleave in any way;
    - within an episode, notifications arrive in any order (a replica's copy overtaking the
      original, a retry arriving late), except that one sharing no alert firing with the rest
      arrives before the episode is resolved (nothing else could tie it to its episode);
    - a notification that shares a firing with its episode may straggle in after later
      episodes of its group have begun (a replica that lagged behind);
    - any notification may be delivered again, any number of times, at any later point.
    """
    by_group: dict[str, list[list[int]]] = {}
    for episode in EPISODES:
        order = draw(st.permutations(episode.notifications))
        for index in episode.disjoint:
            # Before the resolve: move it just ahead of it if the shuffle put it behind.
            if order.index(index) > order.index(episode.resolve):
                order.remove(index)
                order.insert(order.index(episode.resolve), index)
        by_group.setdefault(group_key(episode.notifications[0]), []).append(order)
    sequences: list[list[int]] = []
    for orders in by_group.values():
        sequence = [index for order in orders for index in order]
        stragglers = [
            index
            for order in orders
            for index in order[1:]
            if index not in episode_of(index).disjoint and index != episode_of(index).resolve
        ]
        for index in draw(st.lists(st.sampled_from(stragglers), unique=True)):
            position = sequence.index(index)
            sequence.remove(index)
            sequence.insert(draw(st.integers(position, len(sequence))), index)
        sequences.append(sequence)
    merged: list[int] = []
    while any(sequences):
        pick = draw(st.sampled_from([s for s in sequences if s]))
        merged.append(pick.pop(0))
    for index in draw(st.lists(st.integers(0, len(merged) - 1), max_size=30)):
        repeated = merged[index]
        merged.insert(draw(st.integers(index + 1, len(merged))), repeated)
    return merged

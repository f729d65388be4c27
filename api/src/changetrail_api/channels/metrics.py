"""Prometheus metrics of channel delivery.

Label values come from closed sets only (the five kinds, a handful of outcomes and states),
never an organisation, a channel or a URL, so the number of series stays fixed however many
channels an install has.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "changetrail_channel_deliveries_total",
    "Deliveries (one change to one channel) by kind and outcome: delivered, retry, dead.",
    ["kind", "outcome"],
)
MESSAGES = Counter(
    "changetrail_channel_messages_total",
    "Messages sent to receivers by kind and shape: single, digest, test.",
    ["kind", "shape"],
)
LATENCY = Histogram(
    "changetrail_channel_delivery_latency_seconds",
    "From a change being recorded to its receiver accepting it, by kind.",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
SEND_SECONDS = Histogram(
    "changetrail_channel_send_duration_seconds",
    "Duration of one call to a receiver, by kind.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BACKLOG = Gauge(
    "changetrail_channel_backlog",
    "Unfinished deliveries by state (pending, sending, dead), as this process last counted.",
    ["state"],
)
WORKER_ERRORS = Counter(
    "changetrail_channel_worker_errors_total",
    "Worker rounds that failed (the database unreachable, ...); the worker carries on.",
)

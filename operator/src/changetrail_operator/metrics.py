"""Prometheus metrics of the operator (served on ``CHANGETRAIL_OPERATOR_METRICS_PORT``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CHANGES_RECORDED = Counter(
    "changetrail_operator_changes_recorded_total",
    "Changes the API accepted, by change type (including ones it already had).",
    ["change_type"],
)
QUEUE_DEPTH = Gauge(
    "changetrail_operator_queue_depth",
    "Deliveries (changes and state updates) waiting for the API.",
)
API_ERRORS = Counter(
    "changetrail_operator_api_errors_total",
    "Failed requests to the API, by kind of failure.",
    ["reason"],
)
WATCH_RESTARTS = Counter(
    "changetrail_operator_watch_restarts_total",
    "Watch streams restarted: re-listed after expiry (gone) or cut when silent (inactive).",
    ["reason"],
)
EVENTS_IGNORED = Counter(
    "changetrail_operator_events_ignored_total",
    "Watch events that recorded nothing, by reason.",
    ["reason"],
)
OBJECTS_TRACKED = Gauge(
    "changetrail_operator_objects_tracked",
    "Objects whose compact state the operator keeps.",
)
ROLLOUTS_COMPLETED = Counter(
    "changetrail_operator_rollouts_completed_total",
    "Recorded rollouts completed with their outcome, by outcome.",
    ["outcome"],
)
BATCH_SIZE = Histogram(
    "changetrail_operator_batch_size",
    "Changes per request to the API's batch endpoint.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
BATCHES_SENT = Counter(
    "changetrail_operator_batches_sent_total",
    "Batches of changes the API answered (each item created, already recorded or invalid).",
)
BATCHES_FAILED = Counter(
    "changetrail_operator_batches_failed_total",
    "Batches of changes not taken, by reason: retried whole (connection, server, "
    "rate_limited, auth), posted one by one instead (unsupported, rejected).",
    ["reason"],
)

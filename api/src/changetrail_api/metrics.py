"""Prometheus metrics of the API process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Histogram(
    "changetrail_http_request_duration_seconds",
    "HTTP request latency by route template and status code.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHANGES_RECORDED = Counter(
    "changetrail_changes_recorded_total",
    "Changes stored (not counting idempotent replays).",
    ["change_type", "source"],
)
WEBHOOK_DELIVERIES = Counter(
    "changetrail_webhook_deliveries_total",
    "Webhook deliveries by detected source and outcome.",
    ["source", "outcome"],
)

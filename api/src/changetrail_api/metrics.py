"""Prometheus metrics of the API process.

Every label value comes from a closed set: a label fed from a request (a method, a ``source``
a client chose) would let anonymous requests create series without bound, and would put one
organisation's vocabulary on a page every scraper can read. Values outside a set count as
``other``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from changetrail_api.detectors import PROVIDERS

OTHER = "other"

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# What the API itself, the operator and each webhook detector record as ``source``.
SOURCES = frozenset({"api", "kubernetes", *(provider.name for provider in PROVIDERS)})


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


def source_label(source: str) -> str:
    return source if source in SOURCES else OTHER


REQUESTS = Histogram(
    "changetrail_http_request_duration_seconds",
    "HTTP request latency by route template and status code.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHANGES_RECORDED = Counter(
    "changetrail_changes_recorded_total",
    "Changes stored (not counting idempotent replays), by type and by known source.",
    ["change_type", "source"],
)
WEBHOOK_DELIVERIES = Counter(
    "changetrail_webhook_deliveries_total",
    "Webhook deliveries by detected source and outcome.",
    ["source", "outcome"],
)
GROUP_COMMIT_SIZE = Histogram(
    "changetrail_changes_stored_together",
    "How many single posts of changes were stored in one statement and commit (a group "
    "commit): 1 when they arrive one at a time, more under load.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
SQLITE_WRITES_WAITED = Counter(
    "changetrail_sqlite_writes_waited_total",
    "Writes of changes on SQLite that found the write lock held (by another process, or a "
    "session of this one) and waited for it on the writer thread.",
)

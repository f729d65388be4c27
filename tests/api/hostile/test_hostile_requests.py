"""The hostile tier: every endpoint, fed what once broke the API, never answers 5xx.

For each operation of the OpenAPI document (so an endpoint added later is covered without an
edit here), schemathesis generates valid requests and Hypothesis puts a hostile value into
their bodies or queries: non-finite numbers, half surrogate pairs, NUL, dates at the ends of
the calendar, deep nesting, large arrays. The webhook receivers, whose bodies the document
does not describe, get every detector's payload (and payloads wrapped in SNS and Pub/Sub
envelopes) treated the same way, and Alertmanager gets extreme ``startsAt`` values.

Afterwards, on SQLite and on PostgreSQL: everything stored is valid JSON within the limits,
and every list, change, incident and correlation read still answers 200.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from changetrail_api.app import create_app
from tests.api.conftest import ADMIN_KEY, settings_for
from tests.api.hostile.strategies import (
    EXTREME_DATES,
    encode,
    hostile_leaves,
    hostile_query_values,
    injected,
)
from tests.api.hostile.sync_client import SyncClient
from tests.api.hostile.world import (
    alertmanager_payload,
    assert_everything_reads,
    assert_stored_json_is_valid,
    create_world,
    receiver_payloads,
    wrapped,
)

# Examples per operation: the whole tier stays well under a minute per backend.
EXAMPLES = 12
RECEIVER_EXAMPLES = 60
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"}
PROBLEM = "application/problem+json"
# Path parameters the world supplies, so requests reach past the 404 to the body.
KNOWN = ("service_id", "change_id", "incident_id", "key_id", "cluster", "kind", "uid")


def hypothesis_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def http(database_url: str) -> Iterator[SyncClient]:
    # No outbound deliveries from a test, whatever the fuzzing creates; every feature
    # configured, so each endpoint gets as far into its work as input can take it.
    configured = settings_for(
        database_url,
        channels_worker=False,
        secret_key="hostile-tier-secret-key-0123456789abcdef",
        auth_failures_per_minute=0,
    )
    app = create_app(configured, run_migrations=False)
    with SyncClient(app, headers=HEADERS) as http:
        yield http


class Outcomes:
    """Status codes seen per operation; any 5xx fails the test with its request."""

    def __init__(self) -> None:
        self.statuses: Counter[tuple[str, int]] = Counter()

    def check(self, label: str, response: Any, sent: bytes | None) -> None:
        status = response.status_code
        self.statuses[(label, status)] += 1
        shown = (sent or b"")[:300]
        assert status < 500, f"{label}: {status} for {shown!r}: {response.text[:300]}"
        if status >= 400 and status != 405:
            assert response.headers["content-type"] == PROBLEM, (label, status)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def fuzz_operation(
    client: SyncClient, operation: Any, world: dict[str, str], outcomes: Outcomes
) -> None:
    method = operation.method.upper()
    label = f"{method} {operation.path}"
    names = {parameter.name for parameter in operation.iter_parameters()}
    fixed = {
        name: world[name]
        for name in KNOWN
        if name in names and method != "DELETE"  # never delete the world itself
    }
    query_names = sorted(
        parameter.name for parameter in operation.iter_parameters() if parameter.location == "query"
    )

    @hypothesis_settings(EXAMPLES)
    @given(case=operation.as_strategy(path_parameters=fixed), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        body: bytes | None = None
        if operation.body:
            value = case.body if case.body is not None else {}
            if data.draw(st.integers(0, 9)) < 8:
                value = data.draw(injected(value))
            body = encode(value)
        query = dict(case.query or {})
        hostile_query = data.draw(st.booleans())
        if query_names and hostile_query:
            query[data.draw(st.sampled_from(query_names))] = data.draw(hostile_query_values)
        if "tag" in query_names and data.draw(st.integers(0, 9)) == 0:
            query["tag"] = [f"t{i}" for i in range(data.draw(st.sampled_from([21, 1000])))]
        path = operation.path.format(
            **{name: quote(str(value), safe="") for name, value in case.path_parameters.items()}
        )
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = client.request(
            method, path, params=query, content=body, headers={**HEADERS, **headers}
        )
        outcomes.check(label, response, body)

    run()


def fuzz_receivers(client: SyncClient, world: dict[str, str], outcomes: Outcomes) -> None:
    changes = f"/api/webhooks/incoming/changes/{world['changes_token']}"
    alerts = f"/api/webhooks/incoming/alertmanager/{world['alertmanager_token']}"
    payloads = receiver_payloads()

    @hypothesis_settings(RECEIVER_EXAMPLES)
    @given(choice=st.integers(0, len(payloads) - 1), data=st.data())
    def deliveries(choice: int, data: st.DataObject) -> None:
        headers, payload = payloads[choice]
        body = encode(data.draw(injected(payload)))
        sent = [(headers, body)]
        if data.draw(st.booleans()):
            sent = wrapped(headers, body)
        for sent_headers, sent_body in sent:
            response = client.post(changes, content=sent_body, headers=sent_headers)
            outcomes.check("POST changes receiver", response, sent_body)

    @hypothesis_settings(RECEIVER_EXAMPLES)
    @given(starts_at=st.sampled_from(EXTREME_DATES), data=st.data())
    def notifications(starts_at: str, data: st.DataObject) -> None:
        payload = alertmanager_payload(starts_at)
        if data.draw(st.booleans()):
            payload = data.draw(injected(payload))
        body = encode(payload)
        response = client.post(alerts, content=body, headers={"content-type": "application/json"})
        outcomes.check("POST alertmanager receiver", response, body)

    deliveries()
    notifications()


def test_no_hostile_request_breaks_the_api_or_what_it_stored(
    http: SyncClient, database_url: str
) -> None:
    client = http
    started = time.monotonic()
    world = create_world(client)
    outcomes = Outcomes()
    schema = schemathesis.openapi.from_dict(client.app.openapi())
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "every operation of the document is usable"
    for operation in operations:
        fuzz_operation(client, operation, world, outcomes)
    fuzz_receivers(client, world, outcomes)

    stored = assert_stored_json_is_valid(database_url)
    reads = assert_everything_reads(client, database_url)

    fuzzed = {label for label, _ in outcomes.statuses}
    assert len(fuzzed) >= len(operations), "every operation was fuzzed"
    assert "POST /api/v1/changes/batch" in fuzzed, "batches, hostile items and all, were fuzzed"
    assert stored > 0
    assert reads > 0
    # What happened, for the run's log (pytest -rP shows it).
    refused = sum(n for (_, status), n in outcomes.statuses.items() if status == 422)
    print(
        f"{outcomes.total} hostile requests to {len(fuzzed)} operations, {refused} refused "
        f"with 422; {stored} JSON values stored, {reads} reads after; "
        f"{time.monotonic() - started:.1f} s"
    )


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/changes", "details.v"),
        ("/api/v1/incidents", "details"),
    ],
)
@pytest.mark.parametrize("leaf", ["NaN", "1e400", '"\\ud800"', '"a\\u0000b"'])
def test_a_refusal_names_the_field(http: SyncClient, path: str, field: str, leaf: str) -> None:
    body = {"summary": "x", "title": "x", "started_at": "2026-11-30T10:00:00Z"}
    raw = json.dumps(body)[:-1] + (
        f', "details": {{"v": {leaf}}}}}' if path.endswith("changes") else f', "details": {leaf}}}'
    )

    response = http.post(path, content=raw.encode())

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(leaf=hostile_leaves)
def test_hostile_values_never_reach_the_detectors_unchecked(leaf: Any) -> None:
    from changetrail_api.detectors import PayloadError, analyse

    body = encode({"summary": "x", "details": {"v": leaf}})
    try:
        detection = analyse({}, body, None)
    except PayloadError:
        return
    for change in detection.changes:
        json.dumps(change.details, allow_nan=False)

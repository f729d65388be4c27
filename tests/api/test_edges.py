"""Edges of the calendar and of counts, and the small behaviour bugs found beside them.

Every date a request carries, anywhere between year 1 and 9999 and at any offset, is either
used or refused with a 422 naming its field; recorded instants must lie in the recorded range.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changetrail_api.app import create_app
from changetrail_api.timefmt import EARLIEST_RECORDED, LATEST_RECORDED
from tests.api.conftest import ADMIN_KEY, Api, settings_for
from tests.api.hostile.sync_client import SyncClient
from tests.api.hostile.world import alertmanager_payload

offsets = st.one_of(
    st.none(),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)
instants = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3)),
        st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(1970, 1, 2)),
        st.datetimes(min_value=datetime(2999, 12, 30), max_value=datetime(3000, 1, 2)),
        st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 31, 23, 59)),
        st.datetimes(),
    ),
    offsets,
)


def utc(moment: datetime) -> datetime | None:
    """``moment`` in UTC, or None where UTC leaves Python's calendar."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        return None


def recordable(moment: datetime) -> bool:
    in_utc = utc(moment)
    return in_utc is not None and EARLIEST_RECORDED <= in_utc < LATEST_RECORDED


@pytest.fixture
def http(database_url: str) -> Iterator[SyncClient]:
    app = create_app(settings_for(database_url), run_migrations=False)
    with SyncClient(app, {"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        yield client


def refused_naming(response: httpx.Response, field: str) -> bool:
    if response.status_code != 422:
        return False
    return field in {error["field"] for error in response.json()["errors"]}


def test_every_date_is_used_or_refused_naming_its_field(http: SyncClient) -> None:
    hook = http.post("/api/v1/webhooks", json={"name": "am", "kind": "alertmanager"})
    alerts = hook.json()["data"]["path"]

    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(moment=instants)
    def check(moment: datetime) -> None:
        text = moment.isoformat()
        ok = recordable(moment)

        change = http.post("/api/v1/changes", json={"summary": "x", "occurred_at": text})
        assert change.status_code == 201 if ok else refused_naming(change, "occurred_at"), text

        incident = http.post("/api/v1/incidents", json={"title": "x", "started_at": text})
        assert incident.status_code == 201 if ok else refused_naming(incident, "started_at")

        delivered = http.post(alerts, json=alertmanager_payload(starts_at=text))
        assert delivered.status_code in (200, 201) if ok else delivered.status_code == 422

        listed = http.get("/api/v1/changes", params={"start_date": text, "end_date": text})
        representable = utc(moment) is not None
        assert listed.status_code == 200 if representable else refused_naming(listed, "start_date")

    check()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "0001-01-01T00:00:00+01:00"),
        ("occurred_at", "9999-12-31T23:59:59-01:00"),
        ("ended_at", "3000-01-01T00:00:00Z"),
    ],
)
async def test_change_instants_out_of_range_are_422(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    response = await client.post("/api/v1/changes", json={"summary": "x", field: value})
    assert refused_naming(response, field), response.text


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z"])
async def test_incidents_at_the_ends_of_the_calendar_are_422(
    client: httpx.AsyncClient, value: str
) -> None:
    created = await client.post("/api/v1/incidents", json={"title": "x", "started_at": value})
    assert refused_naming(created, "started_at"), created.text
    incident = await client.post(
        "/api/v1/incidents", json={"title": "x", "started_at": "2026-11-30T10:00:00Z"}
    )
    moved = await client.patch(
        f"/api/v1/incidents/{incident.json()['data']['id']}", json={"started_at": value}
    )
    assert refused_naming(moved, "started_at"), moved.text


async def test_query_dates_beyond_the_calendar_are_422(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/changes", "/api/v1/incidents"):
        response = await client.get(path, params={"start_date": "9999-12-31T23:59:59-01:00"})
        assert refused_naming(response, "start_date"), response.text
        far = await client.get(path, params={"start_date": "0001-01-01", "end_date": "9999-12-31"})
        assert far.status_code == 200


async def test_repeated_tag_filters_are_bounded(client: httpx.AsyncClient, api: Api) -> None:
    await api.change("tagged", tags=[f"t{n}" for n in range(20)])

    many = await client.get("/api/v1/changes", params=[("tag", f"t{n}") for n in range(1000)])
    enough = await client.get("/api/v1/changes", params=[("tag", f"t{n}") for n in range(20)])

    assert refused_naming(many, "tag"), many.text
    assert enough.json()["meta"]["total"] == 1


@pytest.mark.parametrize("path", ["/api/v1/changes", "/api/v1/operator/objects"])
async def test_nesting_600_deep_is_422_naming_the_field(
    client: httpx.AsyncClient, path: str
) -> None:
    deep = '{"a":' * 600 + "1" + "}" * 600
    if path.endswith("changes"):
        method, body, field = "POST", '{"summary": "x", "details": ' + deep + "}", "details.a"
    else:
        item = '{"cluster":"c","kind":"K","uid":"u","name":"n","fingerprint":"f","state":'
        method, body, field = "PUT", '{"items": [' + item + deep + "}]}", "items.0.state"

    response = await client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith(field)


async def test_names_without_ascii_letters_get_distinct_slugs(api: Api) -> None:
    first, second = await api.service("決済"), await api.service("配送")

    assert first["slug"].startswith("service-")
    assert second["slug"].startswith("service-")
    assert first["slug"] != second["slug"]
    assert (await api.service("Zürich Café"))["slug"] == "zurich-cafe"


async def test_an_end_before_the_default_start_is_422(client: httpx.AsyncClient) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    ended = await client.post("/api/v1/changes", json={"summary": "x", "ended_at": past})
    both = await client.post(
        "/api/v1/changes",
        json={"summary": "x", "occurred_at": past, "ended_at": datetime.now(UTC).isoformat()},
    )

    assert refused_naming(ended, "ended_at"), ended.text
    assert both.status_code == 201


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("content_type", "parts", "status"),
    [
        ("text/plain", (b"summary=", b"x"), 415),
        ("", (b"summary=", b"x"), 415),
        ("application/json", (b'{"summary": ', b'"chunked"}'), 201),
    ],
)
async def test_chunked_bodies_are_judged_like_sized_ones(
    client: httpx.AsyncClient, content_type: str, parts: tuple[bytes, ...], status: int
) -> None:
    response = await client.post(
        "/api/v1/changes", content=chunks(*parts), headers={"content-type": content_type}
    )
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/changes?source=a%00b", "source"),
        ("/api/v1/changes?%00=x", "query"),
        ("/api/v1/changes/chg%00x", "path"),
    ],
)
async def test_a_nul_anywhere_in_the_address_is_422(
    client: httpx.AsyncClient, url: str, field: str
) -> None:
    response = await client.get(url)
    assert refused_naming(response, field), response.text

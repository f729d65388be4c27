"""Bad input on a page is a clear page with the right status, never a 500 and never JSON."""

from __future__ import annotations

import pytest

from tests.api.conftest import KeyFactory
from tests.web.pages import Browser, text


@pytest.fixture
async def signed_in(browser: Browser, make_key: KeyFactory) -> Browser:
    await browser.sign_in(await make_key("changes:read", "incidents:read", "services:read"))
    return browser


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/ui?change_type=DEPLOYMENT", "change_type"),
        ("/ui?risk_level=extreme", "risk_level"),
        ("/ui?outcome=exploded", "outcome"),
        ("/ui?start_date=yesterday", "start_date"),
        ("/ui?end_date=2026-13-45", "end_date"),
        ("/ui?limit=7", "limit"),
        ("/ui?offset=-1", "offset"),
        ("/ui?window=1y", "window"),
        ("/ui?q=" + "x" * 201, "q"),
        ("/ui?tag=" + "t" * 101, "tag"),
        ("/ui/incidents?severity=apocalyptic", "severity"),
        ("/ui/incidents?status=closed", "status"),
        ("/ui/what-changed?at=tomorrowish", "at"),
        ("/ui/what-changed?at=0001-01-01T00:00:00Z", "at"),
        ("/ui/what-changed?at=0001-01-01T00:00:00%2B14:00", "at"),
        ("/ui/chart?started=0001-01-01T00:00:00%2B14:00", "started"),
        ("/ui/what-changed?before=1y", "before"),
        ("/ui/services?offset=abc", "offset"),
    ],
)
async def test_a_bad_parameter_is_a_400_page_naming_it(
    signed_in: Browser, path: str, named: str
) -> None:
    response = await signed_in.get(path)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert named in text(response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/ui/changes/chg_unknown",
        "/ui/incidents/inc_unknown",
        "/ui/services/svc_unknown",
        "/ui/no-such-page",
        "/ui/static/no-such-file.js",
    ],
)
async def test_an_unknown_address_is_a_404_page(signed_in: Browser, path: str) -> None:
    response = await signed_in.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text


@pytest.mark.parametrize(
    "query",
    [
        "q=%00%ff",
        "q=%F0%9F%92%A5' OR 1=1 --",
        "start_date=9999-12-31&end_date=0001-01-01",
        "start_date=0001-01-01T00:00:00%2B14:00",
        "tag=a&tag=a&tag=b",
        "service_id=%E2%80%AE",
        "cluster=<script>",
    ],
)
async def test_odd_but_valid_filters_render_without_error(signed_in: Browser, query: str) -> None:
    response = await signed_in.get(f"/ui?{query}")
    # A NUL is refused by the API's request guard (422) before any page runs.
    assert response.status_code in (200, 303, 400, 422)
    assert "<script>" not in response.text


async def test_the_api_keeps_answering_problem_json(signed_in: Browser) -> None:
    response = await signed_in.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_pages_forbid_framing_and_foreign_scripts(signed_in: Browser) -> None:
    response = await signed_in.get("/ui")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"

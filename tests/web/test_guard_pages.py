"""What the app-wide middleware refuses before any route runs is a page on a page's path.

The request guard (a NUL in the address, a body over the limit) and the failed-authentication
throttle answer problem+json for the API; a browser on ``/ui`` gets the site's error page with
the same status instead, also behind an ingress path prefix.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from changetrail_api.settings import ApiSettings
from changetrail_api.web.problem_pages import accepts_html
from tests.api.conftest import KeyFactory, settings_for
from tests.web.pages import Browser, hrefs, inputs, text

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MAX_BODY = 2048


@pytest.fixture
def settings(database_url: str) -> ApiSettings:
    # A small body limit and a throttle that trips on the third failure, to reach both quickly.
    return settings_for(database_url, max_body_bytes=MAX_BODY, auth_failures_per_minute=2)


@pytest.fixture
async def signed_in(browser: Browser, make_key: KeyFactory) -> Browser:
    await browser.sign_in(await make_key("changes:read", "incidents:read", "services:read"))
    return browser


def assert_error_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"Error {status}" in text(response.text)
    return text(response.text)


@pytest.mark.parametrize(
    "path",
    ["/ui?q=%00", "/ui/chart?service_id=a%00b", "/ui/incidents?status=%00", "/?q=%00", "/ui/%00"],
)
async def test_a_nul_in_a_page_address_is_a_422_page_naming_it(
    signed_in: Browser, path: str
) -> None:
    response = await signed_in.get(path, headers={"Accept": BROWSER_ACCEPT})

    words = assert_error_page(response, 422)
    assert "contains a NUL character" in words
    assert "/ui" in hrefs(response.text)
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_the_page_names_the_parameter(signed_in: Browser) -> None:
    response = await signed_in.get("/ui?service_id=x&cluster=a%00", headers={"Accept": "*/*"})

    assert_error_page(response, 422)
    assert "<code>cluster</code>: contains a NUL character" in response.text


@pytest.mark.parametrize(
    "accept", ["application/json", "application/problem+json", "text/html;q=0"]
)
async def test_a_client_that_does_not_take_html_keeps_the_problem(
    signed_in: Browser, accept: str
) -> None:
    response = await signed_in.get("/ui?q=%00", headers={"Accept": accept})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "q", "message": "contains a NUL character"}]


async def test_the_api_keeps_its_problems_even_for_a_browser(signed_in: Browser) -> None:
    response = await signed_in.get("/api/v1/changes?q=%00", headers={"Accept": BROWSER_ACCEPT})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_over_the_limit_is_a_413_page(browser: Browser) -> None:
    form = inputs((await browser.get("/ui/sign-in")).text)

    response = await browser.http.post(
        "/ui/sign-in",
        data={"csrf": form["csrf"], "next": "/ui", "api_key": "k" * (MAX_BODY * 2)},
        headers={"Accept": BROWSER_ACCEPT},
    )

    assert f"exceeds {MAX_BODY} bytes" in assert_error_page(response, 413)


async def test_a_throttled_address_gets_a_429_page_with_retry_after(
    browser: Browser, api: object
) -> None:
    for _ in range(3):
        failed = await browser.get("/api/v1/changes", headers={"Authorization": "Bearer wrong"})
        assert failed.status_code in (401, 429)

    page = await browser.get("/ui", headers={"Accept": BROWSER_ACCEPT})
    held_api = await browser.get("/api/v1/changes", headers={"Accept": BROWSER_ACCEPT})

    assert "Slow down" in assert_error_page(page, 429)
    assert int(page.headers["retry-after"]) >= 1
    assert held_api.status_code == 429
    assert held_api.headers["content-type"] == "application/problem+json"


async def test_behind_a_forwarded_prefix_the_page_links_under_it(signed_in: Browser) -> None:
    response = await signed_in.get(
        "/ui?q=%00", headers={"Accept": BROWSER_ACCEPT, "X-Forwarded-Prefix": "/changetrail"}
    )

    assert_error_page(response, 422)
    assert "/changetrail/ui" in hrefs(response.text)


async def test_under_a_root_path_the_page_is_found_and_links_under_it(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, root_path="/changetrail"),
        base_url="http://changetrail.test",
    ) as http:
        page = await http.get("/changetrail/ui?q=%00", headers={"Accept": BROWSER_ACCEPT})
        api = await http.get("/changetrail/api/v1/changes?q=%00", headers={"Accept": "*/*"})

    assert_error_page(page, 422)
    assert "/changetrail/ui" in hrefs(page.text)
    assert api.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, True),
        ("", True),
        (BROWSER_ACCEPT, True),
        ("text/*", True),
        ("TEXT/HTML; q=0.5", True),
        ("application/json", False),
        ("text/html;q=0, application/json", False),
        ("text/html;q=nonsense", False),
        ("image/png, */*;q=0", False),
    ],
)
def test_accepting_html(accept: str | None, html: bool) -> None:
    assert accepts_html(accept) is html

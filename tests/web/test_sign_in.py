"""Signing in with an API key: a server-side session behind an HttpOnly cookie, and its end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from changetrail_api.base import utcnow_ms
from changetrail_api.web.access import SESSION_COOKIE
from changetrail_api.web.models import WebSession
from tests.api.conftest import KeyFactory
from tests.web.pages import Browser, inputs


async def sessions_in(app: FastAPI) -> list[WebSession]:
    async with app.state.sessionmaker() as db:
        return list((await db.execute(select(WebSession))).scalars())


class TestSignedOut:
    @pytest.mark.parametrize(
        "path", ["/ui", "/ui/incidents", "/ui/services", "/ui/what-changed", "/ui/changes/chg_x"]
    )
    async def test_every_page_sends_to_sign_in_and_shows_no_data(
        self, browser: Browser, path: str
    ) -> None:
        response = await browser.get(path)

        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/sign-in?next=")
        assert "chg_" not in response.text

    async def test_the_site_root_leads_to_the_timeline(self, browser: Browser) -> None:
        response = await browser.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui"


class TestSignIn:
    async def test_a_read_only_key_opens_a_session_with_a_safe_cookie(
        self, browser: Browser, make_key: KeyFactory, app: FastAPI
    ) -> None:
        key = await make_key("changes:read")

        response = await browser.sign_in(key, next_url="/ui?change_type=rollback")

        assert response.status_code == 303
        assert response.headers["location"] == "/ui?change_type=rollback"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/" in cookie
        assert "Max-Age=43200" in cookie
        assert "Secure" not in cookie  # plain http here; see the https test
        assert (await browser.get("/ui")).status_code == 200

    async def test_the_table_holds_neither_the_cookie_nor_the_key(
        self, browser: Browser, make_key: KeyFactory, app: FastAPI
    ) -> None:
        key = await make_key("changes:read")
        await browser.sign_in(key)
        token = browser.http.cookies[SESSION_COOKIE]

        [row] = await sessions_in(app)

        stored = " ".join(str(getattr(row, c.key)) for c in WebSession.__table__.columns)
        assert token not in stored
        assert key not in stored
        assert key.removeprefix("ak_live_") not in stored

    async def test_the_cookie_is_secure_when_the_browser_came_over_https(
        self, browser: Browser, make_key: KeyFactory
    ) -> None:
        key = await make_key("changes:read")
        form = await browser.get("/ui/sign-in")
        response = await browser.http.post(
            "/ui/sign-in",
            data={"csrf": inputs(form.text)["csrf"], "next": "/ui", "api_key": key},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "Secure" in response.headers["set-cookie"]

    async def test_an_unknown_key_is_refused_on_the_form(self, browser: Browser) -> None:
        response = await browser.sign_in("ak_live_not_a_real_key_0000000000000")

        assert response.status_code == 401
        assert "not valid" in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")

    async def test_a_key_that_can_read_nothing_is_refused(
        self, browser: Browser, make_key: KeyFactory
    ) -> None:
        response = await browser.sign_in(await make_key("changes:write"))

        assert response.status_code == 403
        assert "can read nothing" in response.text

    async def test_a_post_without_the_form_token_is_refused(
        self, browser: Browser, make_key: KeyFactory
    ) -> None:
        key = await make_key("changes:read")
        await browser.get("/ui/sign-in")  # the cookie half of the token, but not the field

        response = await browser.http.post(
            "/ui/sign-in", data={"csrf": "forged", "next": "/ui", "api_key": key}
        )

        assert response.status_code == 403
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")

    @pytest.mark.parametrize(
        "target", ["https://evil.example/", "//evil.example/ui", "/api/v1/changes", "/\\evil"]
    )
    async def test_after_sign_in_it_never_leaves_the_pages(
        self, browser: Browser, make_key: KeyFactory, target: str
    ) -> None:
        response = await browser.sign_in(await make_key("changes:read"), next_url=target)
        assert response.headers["location"] == "/ui"


class TestSessionEnd:
    async def test_sign_out_deletes_the_session_and_needs_its_token(
        self, browser: Browser, make_key: KeyFactory, app: FastAPI
    ) -> None:
        await browser.sign_in(await make_key("changes:read"))
        page = await browser.get("/ui")
        token = browser.http.cookies[SESSION_COOKIE]

        forged = await browser.http.post("/ui/sign-out", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert len(await sessions_in(app)) == 1

        done = await browser.http.post("/ui/sign-out", data={"csrf": inputs(page.text)["csrf"]})
        assert done.status_code == 303
        assert await sessions_in(app) == []
        browser.http.cookies.set(SESSION_COOKIE, token)  # a copy of the old cookie is dead too
        assert (await browser.get("/ui")).status_code == 303

    async def test_an_expired_session_asks_to_sign_in_again(
        self, browser: Browser, make_key: KeyFactory, app: FastAPI
    ) -> None:
        await browser.sign_in(await make_key("changes:read"))
        async with app.state.sessionmaker.begin() as db:
            await db.execute(update(WebSession).values(expires_at=utcnow_ms() - timedelta(1)))

        response = await browser.get("/ui")

        assert response.status_code == 303
        assert "/ui/sign-in" in response.headers["location"]

    async def test_revoking_the_key_ends_its_sessions(
        self, browser: Browser, make_key: KeyFactory, api: object, app: FastAPI
    ) -> None:
        from tests.api.conftest import Api

        assert isinstance(api, Api)
        key = await make_key("changes:read")
        await browser.sign_in(key)
        [listed] = [
            k
            for k in (await api.client.get("/api/v1/api-keys", params={"limit": 100})).json()[
                "data"
            ]
            if key.startswith(k["prefix"])
        ]
        await api.client.delete(f"/api/v1/api-keys/{listed['id']}")

        response = await browser.get("/ui")

        assert response.status_code == 303
        assert "revoked" in response.headers["location"]

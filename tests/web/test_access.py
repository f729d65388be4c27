"""What a signed-in key may see: its scopes, its organisation, and nothing through a side door."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from changetrail_api.web.settings import WebSettings
from tests.api.conftest import Api, KeyFactory
from tests.web.pages import Browser, inputs, text


class TestScopes:
    @pytest.mark.parametrize(
        ("path", "scope"),
        [("/ui/incidents", "incidents:read"), ("/ui/services", "services:read")],
    )
    async def test_a_page_needs_its_read_scope(
        self, browser: Browser, make_key: KeyFactory, path: str, scope: str
    ) -> None:
        await browser.sign_in(await make_key("changes:read"))

        response = await browser.get(path)

        assert response.status_code == 403
        assert scope in text(response.text)

    async def test_navigation_offers_only_what_the_key_can_read(
        self, browser: Browser, make_key: KeyFactory
    ) -> None:
        await browser.sign_in(await make_key("changes:read"))
        page = await browser.get("/ui")
        assert 'href="/ui/incidents"' not in page.text
        assert 'href="/ui/services"' not in page.text
        assert 'href="/ui/what-changed"' in page.text


class TestOrganisations:
    async def test_another_organisations_change_is_not_found(
        self, browser: Browser, make_key: KeyFactory, api: Api
    ) -> None:
        other = await make_key("admin", org="elsewhere")
        foreign = (
            await api.client.post(
                "/api/v1/changes",
                json={"summary": "Foreign deploy"},
                headers={"Authorization": f"Bearer {other}"},
            )
        ).json()["data"]
        await browser.sign_in(await make_key("changes:read"))

        detail = await browser.get(f"/ui/changes/{foreign['id']}")
        listed = await browser.get("/ui")

        assert detail.status_code == 404
        assert "Foreign deploy" not in detail.text
        assert "Foreign deploy" not in listed.text


class TestProxyIdentity:
    async def test_the_identity_header_is_ignored_unless_configured(self, browser: Browser) -> None:
        response = await browser.get("/ui", headers={"X-Forwarded-Email": "ann@example.com"})
        assert response.status_code == 303

    async def test_a_trusted_header_signs_in_as_the_configured_key(
        self, browser: Browser, make_key: KeyFactory, app: FastAPI, api: Api
    ) -> None:
        await api.change("Visible through the proxy")
        app.state.web_settings = WebSettings(
            identity_header="X-Forwarded-Email",
            identity_api_key=await make_key("changes:read"),
        )

        response = await browser.get("/ui", headers={"X-Forwarded-Email": "ann@example.com"})

        assert response.status_code == 200
        assert "ann@example.com" in response.text
        assert "Visible through the proxy" in response.text
        assert "Sign out" not in response.text  # the proxy owns the session
        assert (
            await browser.get("/ui/incidents", headers={"X-Forwarded-Email": "a"})
        ).status_code == 403


class TestPathPrefix:
    async def test_links_cookies_and_assets_carry_the_ingress_prefix(
        self, browser: Browser, make_key: KeyFactory
    ) -> None:
        prefix = {"X-Forwarded-Prefix": "/changetrail"}
        form = await browser.get("/ui/sign-in", headers=prefix)
        assert 'action="/changetrail/ui/sign-in"' in form.text
        assert "/changetrail/ui/static/app.css?v=" in form.text

        assert "Path=/changetrail/" in form.headers["set-cookie"]
        fields = inputs(form.text)
        # The proxy strips the prefix, so the app sees /ui/...; the browser's cookie jar, which
        # keys cookies by the prefixed path, is played by hand here.
        signed = await browser.http.post(
            "/ui/sign-in",
            data={
                "csrf": fields["csrf"],
                "next": "/changetrail/ui",
                "api_key": await make_key("changes:read"),
            },
            headers={**prefix, "Cookie": f"ct_signin={fields['csrf']}"},
        )
        assert signed.headers["location"] == "/changetrail/ui"
        assert "Path=/changetrail/" in signed.headers["set-cookie"]

    async def test_a_prefix_that_is_not_a_plain_path_is_ignored(self, browser: Browser) -> None:
        form = await browser.get("/ui/sign-in", headers={"X-Forwarded-Prefix": "//evil.example"})
        assert 'action="/ui/sign-in"' in form.text

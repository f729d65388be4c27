"""Every page in headless Chromium: what a person signing in with a read key sees and does."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.web.browser.conftest import PHONE, Docs, sign_in
from tests.web.browser.seed import CONFIG_VALUE, FILLER, OTHER_ORG_WORD
from tests.web.browser.site import Site, ago

DASH = "\u2013"


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def summaries(page: Page) -> list[str]:
    return page.locator(".timeline .changes .summary").all_inner_texts()


class TestSignIn:
    def test_a_read_key_signs_in_to_the_timeline_and_signing_out_ends_it(
        self, page: Page, site: Site, reader_key: str, docs: Docs
    ) -> None:
        page.goto(site.url("/ui?change_type=rollback"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        docs.shoot(page, "sign-in")

        sign_in(page, site, reader_key, "/ui?change_type=rollback")

        assert query(page) == {"change_type": ["rollback"]}
        expect(page.get_by_role("heading", name="What changed")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You are signed out.")).to_be_visible()
        page.goto(site.url("/ui"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    def test_a_wrong_key_is_refused_with_a_message(self, page: Page, site: Site) -> None:
        sign_in(page, site, "ak_live_wrong_key_000000000000000000000")
        expect(page.get_by_role("alert")).to_contain_text("not valid")


class TestTimeline:
    def test_rows_are_grouped_by_day_newest_first_in_the_viewers_zone(
        self, reader: Page, site: Site, docs: Docs
    ) -> None:
        reader.goto(site.url("/ui"))

        first = reader.locator(".timeline .change").first
        expect(first).to_contain_text("Roll back payments/payments-api")
        expect(first).to_have_class(re.compile(r"\bis-rollback\b"))
        expect(reader.locator(".change.is-failed")).to_contain_text("Pipeline 4711")
        expect(reader.locator(".day-heading").first).to_contain_text("Today")
        exact = first.locator("time").get_attribute("title") or ""
        assert exact.endswith("IST"), exact  # the browser's zone, not the server's UTC
        expect(reader.locator(".chart svg .bar").first).to_be_attached()
        docs.shoot(reader, "timeline")

    def test_the_chart_stacks_every_type_in_its_own_colour_with_a_legend(
        self, reader: Page, site: Site
    ) -> None:
        reader.goto(site.url("/ui"))
        legend = reader.get_by_label("Change types in this span")
        legend.wait_for()  # the chart arrives after the list

        names = [
            item.split("\n")[0].rsplit(" ", 1)[0] for item in legend.locator("li").all_inner_texts()
        ]
        seeded = ["Rollback", "Deployment", "Config change", "Feature flag", "Scaling", "Code"]
        assert sorted(names) == sorted(seeded), names
        assert names[:3] == ["Rollback", "Deployment", "Config change"]  # bottom of the stack first
        colours = {}
        for change_type in (
            "rollback",
            "deployment",
            "config_change",
            "feature_flag",
            "scaling",
            "code",
        ):
            swatch = legend.locator(f".swatch.t-{change_type}")
            segment = reader.locator(f".chart svg .seg.t-{change_type}").first
            expect(segment).to_be_attached()
            colours[change_type] = swatch.evaluate("e => getComputedStyle(e).backgroundColor")
            assert segment.evaluate("e => getComputedStyle(e).fill") == colours[change_type]
        assert len(set(colours.values())) == len(colours)  # a colour per type
        labels = " ".join(
            bar.get_attribute("aria-label") or ""
            for bar in reader.locator(".chart svg a.bar").all()
        )
        for words in ("scaling", "feature flag", "code"):
            assert words in labels

    def test_filtering_by_type_keeps_the_view_in_the_url(self, reader: Page, site: Site) -> None:
        reader.goto(site.url("/ui"))
        reader.locator("summary", has_text="Filters").click()

        reader.get_by_label("Type", exact=True).select_option("rollback")
        reader.get_by_role("button", name="Apply").click()

        # Empty fields and the zone stay out of the address that people paste.
        assert query(reader) == {"change_type": ["rollback"]}
        assert summaries(reader) == [
            "Roll back payments/payments-api to revision 7 (payments-api:1.4.2)"
        ]
        expect(reader.get_by_label("Active filters")).to_contain_text("type: rollback")
        reader.get_by_role("link", name="Remove filter type rollback").click()
        assert query(reader) == {}

    def test_the_text_filter_and_a_cluster_narrow_the_list(self, reader: Page, site: Site) -> None:
        reader.goto(site.url("/ui?q=payments-config&cluster=prod-eu"))
        assert summaries(reader) == [
            "Config payments/payments-config: 2 keys changed (LOG_LEVEL, TIMEOUT)"
        ]

    def test_dragging_across_the_chart_zooms_to_that_span(self, reader: Page, site: Site) -> None:
        reader.goto(site.url("/ui?source=kubernetes"))
        plot = reader.locator(".chart-plot svg")
        plot.wait_for()  # the chart arrives after the list
        box = plot.bounding_box()
        assert box is not None

        y = box["y"] + box["height"] * 0.4
        reader.mouse.move(box["x"] + box["width"] * 0.90, y)
        reader.mouse.down()
        reader.mouse.move(box["x"] + box["width"] * 0.95, y, steps=5)
        reader.mouse.move(box["x"] + box["width"] * 0.999, y, steps=5)
        reader.mouse.up()
        reader.wait_for_url(re.compile(r"start_date="))

        zoomed = query(reader)
        assert zoomed["source"] == ["kubernetes"]  # the other filters survive a zoom
        assert "end_date" in zoomed
        expect(reader.locator(".chart figcaption")).not_to_contain_text("per 6 hours")
        listed = summaries(reader)
        assert "Roll back payments/payments-api to revision 7 (payments-api:1.4.2)" in listed
        assert len(listed) < 20

    def test_a_bar_is_a_link_that_zooms_to_its_span(self, reader: Page, site: Site) -> None:
        reader.goto(site.url("/ui"))
        last = reader.locator(".chart svg a.bar").last
        last.wait_for()
        label = last.get_attribute("aria-label") or ""
        last.focus()
        reader.keyboard.press("Enter")
        reader.wait_for_url(re.compile(r"end_date="))
        assert label.split(":")[0] in (reader.locator(".chart figcaption").inner_text() + label)
        assert "start_date" in query(reader)

    def test_paging_walks_to_older_changes_and_back(self, reader: Page, site: Site) -> None:
        reader.goto(site.url("/ui"))
        total = FILLER + 5
        expect(reader.locator(".pager .range").first).to_have_text(f"1{DASH}50 of {total}")
        newest = summaries(reader)[0]

        reader.get_by_role("link", name="Older →").click()

        assert query(reader)["offset"] == ["50"]
        expect(reader.locator(".pager .range").first).to_have_text(f"51{DASH}{total} of {total}")
        assert len(summaries(reader)) == total - 50
        reader.get_by_role("link", name="← Newer").click()
        assert summaries(reader)[0] == newest

    def test_a_bad_filter_is_a_clear_error_page(self, reader: Page, site: Site, docs: Docs) -> None:
        response = reader.goto(site.url("/ui?change_type=deploy&start_date=yesterday"))

        assert response is not None
        assert response.status == 400
        expect(reader.get_by_role("heading", name="That filter does not work")).to_be_visible()
        expect(reader.locator(".problems")).to_contain_text("change_type")
        expect(reader.locator(".problems")).to_contain_text("start_date")
        docs.shoot(reader, "bad-filter")

    def test_an_address_refused_before_any_page_runs_is_still_a_page(
        self, reader: Page, site: Site
    ) -> None:
        # A NUL in the address is refused by the request guard in front of every route.
        response = reader.goto(site.url("/ui?service_id=x&q=a%00b"))

        assert response is not None
        assert response.status == 422
        assert response.headers["content-type"].startswith("text/html")
        expect(reader.get_by_role("heading", name="That does not work")).to_be_visible()
        expect(reader.locator(".problems")).to_contain_text("q: contains a NUL character")
        reader.get_by_role("link", name="Back to the timeline").click()
        expect(reader.get_by_role("heading", name="What changed")).to_be_visible()

    def test_keys_move_between_changes_and_every_control_has_a_label(
        self, reader: Page, site: Site
    ) -> None:
        reader.goto(site.url("/ui"))
        reader.keyboard.press("j")
        reader.keyboard.press("j")
        focused = reader.evaluate("document.activeElement.textContent")
        assert focused == summaries(reader)[1]
        unlabelled = reader.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
                .map(c => c.name)"""
        )
        assert unlabelled == []

    def test_the_timeline_fits_a_phone(self, reader: Page, site: Site, docs: Docs) -> None:
        reader.set_viewport_size(PHONE)
        reader.goto(site.url("/ui"))
        expect(reader.locator(".chart svg .bar").first).to_be_attached()
        overflow = reader.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        docs.shoot(reader, "timeline-phone")


class TestChange:
    def test_a_deployment_shows_its_diff(self, reader: Page, site: Site, docs: Docs) -> None:
        reader.goto(site.url(f"/ui/changes/{site.ids['deploy']}"))

        image = reader.locator("tr", has_text="containers.api.image")
        expect(image.locator(".before")).to_have_text("registry.example/payments-api:1.4.2")
        expect(image.locator(".after")).to_have_text("registry.example/payments-api:1.5.0")
        memory = reader.locator("tr", has_text="resources.limits.memory")
        expect(memory.locator(".before")).to_have_text("512Mi")
        expect(memory.locator(".after")).to_have_text("256Mi")
        expect(reader.locator("tr", has_text="env.FEATURE_FASTPAY")).to_contain_text("added")
        related = reader.locator("section", has_text="Around it")
        expect(related).to_contain_text("Roll back payments/payments-api")
        expect(related).to_contain_text("Config payments/payments-config")
        docs.shoot(reader, "change-diff", full_page=True)

    def test_configmap_keys_show_hashes_never_values(
        self, reader: Page, site: Site, docs: Docs
    ) -> None:
        reader.goto(site.url(f"/ui/changes/{site.ids['config']}"))

        row = reader.locator("tr", has_text="data.LOG_LEVEL")
        expect(row.locator(".before")).to_have_text("3f1c9a7be4d2")
        expect(row.locator(".after")).to_have_text("9b0e77d1c2f4")
        assert CONFIG_VALUE not in reader.content()
        docs.shoot(reader, "change-configmap")

    def test_links_lead_to_the_pull_request_pipeline_and_commit(
        self, reader: Page, site: Site
    ) -> None:
        reader.goto(site.url(f"/ui/changes/{site.ids['failed']}"))
        links = reader.get_by_label("Links")
        expect(links.get_by_role("link", name="Pull request #231")).to_have_attribute(
            "href", "https://gitlab.example/shop/checkout/-/merge_requests/231"
        )
        expect(links.get_by_role("link", name="Pipeline")).to_be_visible()
        expect(links.get_by_role("link", name=re.compile("^Commit"))).to_have_attribute(
            "href", "https://gitlab.example/shop/checkout/-/commit/a1b2c3d4e5f6a7b8c9d0"
        )

    def test_an_unknown_change_is_a_not_found_page(self, reader: Page, site: Site) -> None:
        response = reader.goto(site.url("/ui/changes/chg_does_not_exist"))
        assert response is not None
        assert response.status == 404
        expect(reader.get_by_role("heading", name="Not found")).to_be_visible()


class TestIncidents:
    def test_an_incident_ranks_its_suspects_with_reasons(
        self, reader: Page, site: Site, docs: Docs
    ) -> None:
        reader.goto(site.url("/ui/incidents"))
        docs.shoot(reader, "incidents")
        reader.get_by_role("link", name="Payments API: 5xx above 5%").click()

        first = reader.locator(".suspect").first
        expect(first).to_contain_text("Deploy payments/payments-api")
        expect(first.get_by_label("Why it is suspected")).to_contain_text("same service")
        expect(first.locator(".score-value")).to_have_text(re.compile(r"^\d+%$"))
        scores = [int(s[:-1]) for s in reader.locator(".score-value").all_inner_texts()]
        assert scores == sorted(scores, reverse=True)
        window = reader.locator("section", has_text="The incident's window")
        expect(window.locator(".chart .marker-label").first).to_have_text("started")
        docs.shoot(reader, "incident", full_page=True)

    def test_what_changed_before_a_moment_works_without_an_incident(
        self, reader: Page, site: Site, docs: Docs
    ) -> None:
        reader.goto(site.url("/ui/what-changed"))
        reader.get_by_label("Service").select_option(label="Payments API")
        reader.get_by_role("button", name="Show changes").click()

        assert query(reader)["service_id"] == [site.ids["payments"]]
        assert query(reader)["at"][0].endswith("Z")  # the shared address is unambiguous
        expect(reader.locator(".suspect").first).to_contain_text("same service")
        docs.shoot(reader, "what-changed")


class TestServices:
    def test_a_service_page_shows_its_timeline_and_deploy_frequency(
        self, reader: Page, site: Site, docs: Docs
    ) -> None:
        reader.goto(site.url("/ui/services"))
        docs.shoot(reader, "services")
        reader.get_by_role("link", name="Payments API").first.click()

        expect(reader.get_by_role("heading", name="Payments API")).to_be_visible()
        expect(reader.locator(".stats")).to_contain_text("Rollbacks, last 28 days")
        services = {t.strip() for t in reader.locator(".timeline .meta a").all_inner_texts()}
        assert services == {"Payments API"}
        expect(reader.locator(".chart svg .bar").first).to_be_attached()
        docs.shoot(reader, "service")


class TestOrganisations:
    def test_nothing_of_another_organisation_shows_or_opens(self, reader: Page, site: Site) -> None:
        moment = ago(minutes=1)
        for path in ("/ui", "/ui/incidents", "/ui/services", f"/ui/what-changed?at={moment}"):
            reader.goto(site.url(path))
            assert OTHER_ORG_WORD not in reader.content()
        reader.goto(site.url(f"/ui?q={OTHER_ORG_WORD}"))
        assert summaries(reader) == []
        for path in (
            f"/ui/changes/{site.ids['other_change']}",
            f"/ui/incidents/{site.ids['other_incident']}",
            f"/ui/services/{site.ids['other_service']}",
        ):
            response = reader.goto(site.url(path))
            assert response is not None
            assert response.status == 404, path
            assert OTHER_ORG_WORD not in reader.content()
        reader.goto(site.url(f"/ui?service_id={site.ids['other_service']}"))
        assert summaries(reader) == []

    def test_the_other_organisation_sees_only_its_own(self, page: Page, site: Site) -> None:
        sign_in(page, site, site.key("changes:read", org="other-org"))
        assert summaries(page) == [f"Deploy {OTHER_ORG_WORD} secret project"]

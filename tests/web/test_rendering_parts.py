"""How changes read on a page: diffs without secrets, safe links, the viewer's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.web import diffs, links, present, zones

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


def change(**fields: Any) -> ChangeOut:
    values: dict[str, Any] = {
        "id": "chg_1",
        "service_id": None,
        "service_name": None,
        "change_type": "deployment",
        "summary": "Deploy",
        "description": None,
        "source": "api",
        "commit_sha": None,
        "commit_message": None,
        "branch": None,
        "pr_number": None,
        "pr_url": None,
        "pipeline_url": None,
        "environment": "production",
        "risk_level": "low",
        "changed_by": None,
        "external_id": None,
        "tags": [],
        "details": None,
        "occurred_at": NOW,
        "ended_at": None,
        "created_at": NOW,
        "outcome": None,
        "outcome_reason": None,
        **fields,
    }
    return ChangeOut(**values)


class TestDiffs:
    def test_configmap_keys_show_hashes_and_never_their_values(self) -> None:
        [row] = diffs.diff_rows(
            {
                "diff": [
                    {
                        "field": "data.PASSWORD",
                        "key": "PASSWORD",
                        "change": "changed",
                        "old_hash": "aaaaaaaaaaaaaaaa",
                        "new_hash": "bbbbbbbbbbbbbbbb",
                        "old": "hunter2",
                        "new": "hunter3",
                    }
                ]
            }
        )
        assert (row.kind, row.before, row.after) == ("hash", "aaaaaaaaaaaa", "bbbbbbbbbbbb")
        assert "hunter" not in repr(row)

    def test_resources_read_per_quantity(self) -> None:
        [row] = diffs.diff_rows(
            {
                "diff": [
                    {
                        "field": "containers.api.resources",
                        "change": "changed",
                        "old": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}},
                        "new": {"limits": {"cpu": "2"}, "requests": {"memory": "1Gi"}},
                    }
                ]
            }
        )
        assert [(p.label, p.before, p.after) for p in row.parts] == [("limits.cpu", "1", "2")]

    def test_a_malformed_diff_renders_what_it_can(self) -> None:
        rows = diffs.diff_rows({"diff": ["not an entry", {"change": "added"}, {"field": 3}]})
        assert [r.label for r in rows] == ["?", "3"]
        assert diffs.diff_rows({"diff": "nope"}) == []


class TestLinks:
    @pytest.mark.parametrize(
        "url", ["javascript:alert(1)", "data:text/html,x", "//evil.example", "ftp://x/y", ""]
    )
    def test_only_web_addresses_become_links(self, url: str) -> None:
        assert present.links(change(pr_url=url, pipeline_url=url)) == []

    def test_a_github_commit_is_linked_from_its_pull_request(self) -> None:
        found = present.links(
            change(pr_url="https://github.com/o/r/pull/7", pr_number="7", commit_sha="abc123")
        )
        assert found == [
            ("Pull request #7", "https://github.com/o/r/pull/7"),
            ("Commit abc123", "https://github.com/o/r/commit/abc123"),
        ]

    @pytest.mark.parametrize(
        "target", ["https://evil.example/ui", "//evil.example/ui", "/elsewhere", "/ui\\..\\x"]
    )
    def test_a_return_address_stays_on_the_pages(self, target: str) -> None:
        assert links.Links("").local_target(target) == "/ui"
        assert links.Links("/ct").local_target("/ct/ui?q=1") == "/ct/ui?q=1"


class TestTimes:
    def test_days_are_the_viewers_days(self) -> None:
        late = change(created_at=datetime(2026, 3, 29, 23, 30, tzinfo=UTC), id="chg_late")
        days = present.by_day([late], zones.zone_named("Asia/Tokyo"), NOW)
        assert days[0].iso == "2026-03-30"
        assert days[0].rows[0].clock == "08:30:00"

    def test_an_unknown_zone_falls_back_to_utc(self) -> None:
        assert zones.zone_named("Mars/Olympus_Mons") is UTC
        assert zones.zone_named("../../etc/passwd") is UTC

    @pytest.mark.parametrize(
        ("delta", "said"),
        [
            (timedelta(seconds=10), "just now"),
            (timedelta(minutes=5), "5 min ago"),
            (timedelta(hours=3), "3 h ago"),
            (timedelta(days=1), "1 day ago"),
            (timedelta(days=-2), "in 2 days"),
        ],
    )
    def test_relative_times(self, delta: timedelta, said: str) -> None:
        assert zones.relative(NOW - delta, NOW) == said

    def test_rollbacks_and_failed_rollouts_stand_out(self) -> None:
        assert present.emphasis(change(change_type="rollback")) == "rollback"
        assert present.emphasis(change(tags=["pipeline", "failed"])) == "failed"
        assert present.emphasis(change(details={"state": "failure"})) == "failed"
        assert present.emphasis(change(outcome="failed")) == "failed"
        assert present.emphasis(change()) is None

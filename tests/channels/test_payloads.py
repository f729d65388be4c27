"""Each kind's request holds to its provider's documented shape, for any change.

Pure: the request a kind builds for a message, checked against tests/channels/shapes.py.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.channels.kinds import KINDS
from changetrail_api.channels.payloads import cloudevents, grafana, pagerduty, slack, teams
from changetrail_api.channels.payloads.common import Message
from changetrail_api.channels.transport import Answer
from tests.channels import shapes
from tests.channels.factories import change, context, message, test_message

DESTINATIONS = {
    "slack": {"url": "https://hooks.slack.example/services/T/B/X"},
    "teams": {"url": "https://prod.westeurope.logic.example/workflows/1"},
    "webhook": {"url": "https://receiver.example/hook", "signing_secret": "whsec_" + "A" * 32},
    "pagerduty": {"url": pagerduty.DEFAULT_URL, "routing_key": "R" * 32},
    "grafana": {"url": "https://grafana.example/sub/", "token": "glsa_token"},
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "slack": shapes.SLACK_MESSAGE,
    "teams": shapes.TEAMS_MESSAGE,
    "pagerduty": shapes.PAGERDUTY_CHANGE_EVENT,
    "grafana": shapes.GRAFANA_ANNOTATION,
}


def body_of(kind: str, sent: Message) -> Any:
    request = KINDS[kind].request(sent, context(), DESTINATIONS[kind], 1_800_000_000)
    return json.loads(request.body)


def assert_conforms(kind: str, document: Any) -> None:
    if kind == "webhook":
        schema = shapes.CLOUDEVENTS_BATCH if isinstance(document, list) else shapes.CLOUDEVENT
    else:
        schema = SCHEMAS[kind]
    assert shapes.problems(schema, document) == []


LONG = "x<&>" * 3000


class TestSlack:
    def test_one_change_has_a_header_facts_and_links(self) -> None:
        body = body_of("slack", message(change(description="Ships billing <v2> & fixes")))
        assert_conforms("slack", body)
        assert body["text"] == "[production] Deploy payments/api: api:1.4.2 → 1.5.0"
        header, facts, description, context_block, actions = body["blocks"]
        assert header["text"]["text"].startswith("Deploy payments/api")
        assert {"type": "mrkdwn", "text": "*Service*\npayments"} in facts["fields"]
        assert description["text"]["text"] == "Ships billing &lt;v2&gt; &amp; fixes"
        assert "chg_" in context_block["elements"][0]["text"]
        urls = [element["url"] for element in actions["elements"]]
        assert urls[0].startswith("https://changetrail.example.com/ui/changes/chg_")
        assert "https://github.example.com/shop/payments/pull/42" in urls

    def test_a_digest_lists_changes_and_counts_the_rest(self) -> None:
        body = body_of("slack", message(*(change(n) for n in range(40))))
        assert_conforms("slack", body)
        assert body["blocks"][0]["text"]["text"] == "40 changes in production"
        assert body["blocks"][1]["text"]["text"].count("•") == 15
        assert "and 25 more" in body["blocks"][2]["elements"][0]["text"]
        assert body["text"].startswith("40 changes in production: 40 deployment")

    def test_the_test_message(self) -> None:
        assert_conforms("slack", body_of("slack", test_message()))

    def test_oversized_text_is_cut_to_slacks_limits(self) -> None:
        huge = change(summary=LONG[:500], description=LONG, service_name=LONG[:200])
        assert_conforms("slack", body_of("slack", message(huge)))
        assert_conforms("slack", body_of("slack", message(*(huge for _ in range(30)))))


class TestTeams:
    def test_one_change_is_an_adaptive_card(self) -> None:
        body = body_of("teams", message(change()))
        assert_conforms("teams", body)
        card = body["attachments"][0]["content"]
        assert card["version"] == teams.CARD_VERSION
        assert card["body"][0]["text"].startswith("Deploy payments/api")
        facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
        assert facts["Environment"] == "production"
        assert facts["Cluster"] == "eu-1"
        assert card["actions"][0]["type"] == "Action.OpenUrl"

    def test_digest_and_test_message(self) -> None:
        assert_conforms("teams", body_of("teams", message(*(change(n) for n in range(20)))))
        assert_conforms("teams", body_of("teams", test_message()))


class TestCloudEvents:
    def test_one_change_is_one_structured_event(self) -> None:
        sent = message(change())
        request = KINDS["webhook"].request(sent, context(), DESTINATIONS["webhook"], 1_800_000_000)
        headers = {name.lower(): value for name, value in request.headers}
        assert headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        event = json.loads(request.body)
        assert_conforms("webhook", event)
        assert event["id"] == sent.items[0].delivery_id
        assert event["type"] == "io.changetrail.change.recorded"
        assert event["subject"] == event["data"]["id"]
        assert event["source"] == "urn:changetrail:org:org_1"
        assert shapes.is_rfc3339(event["time"])

    def test_a_digest_is_a_batch_in_which_each_change_keeps_its_event(self) -> None:
        sent = message(change(1), change(2), change(3))
        request = KINDS["webhook"].request(sent, context(), DESTINATIONS["webhook"], 1_800_000_000)
        assert dict(request.headers)["Content-Type"].startswith(
            "application/cloudevents-batch+json"
        )
        batch = json.loads(request.body)
        assert_conforms("webhook", batch)
        assert [e["id"] for e in batch] == [item.delivery_id for item in sent.items]

    def test_the_signature_verifies_per_standard_webhooks(self) -> None:
        sent = message(change())
        secret = cloudevents.new_secret()
        request = KINDS["webhook"].request(
            sent, context(), {"url": "https://r/", "signing_secret": secret}, 1_800_000_000
        )
        headers = {name.lower(): value for name, value in request.headers}
        assert headers["webhook-id"] == sent.id
        assert headers["webhook-timestamp"] == "1800000000"
        assert shapes.standard_webhooks_verify(secret, headers, request.body)
        assert not shapes.standard_webhooks_verify(secret, headers, request.body + b" ")
        assert not shapes.standard_webhooks_verify(cloudevents.new_secret(), headers, request.body)

    def test_a_secret_without_the_prefix_is_used_as_its_bytes(self) -> None:
        mine = cloudevents.signature("plain-secret-1234", "msg_1", 5, b"{}")
        assert mine == cloudevents.signature("whsec_cGxhaW4tc2VjcmV0LTEyMzQ=", "msg_1", 5, b"{}")

    def test_the_test_event(self) -> None:
        event = body_of("webhook", test_message())
        assert_conforms("webhook", event)
        assert event["type"] == cloudevents.TEST_TYPE


class TestPagerDuty:
    def test_one_change_is_a_change_event(self) -> None:
        body = body_of("pagerduty", message(change(details={"outcome": "failed"})))
        assert_conforms("pagerduty", body)
        assert body["routing_key"] == "R" * 32
        assert body["payload"]["summary"] == "[production] Deploy payments/api: api:1.4.2 → 1.5.0"
        assert body["payload"]["source"] == "payments"
        assert body["payload"]["custom_details"]["outcome"] == "failed"
        assert shapes.is_rfc3339(body["payload"]["timestamp"])
        assert body["links"][0]["text"] == "View in changetrail"

    def test_digest_and_test_message(self) -> None:
        body = body_of("pagerduty", message(*(change(n) for n in range(80))))
        assert_conforms("pagerduty", body)
        assert body["payload"]["custom_details"]["count"] == 80
        assert len(body["payload"]["custom_details"]["changes"]) == 50
        assert body["payload"]["custom_details"]["not_listed"] == 30
        assert_conforms("pagerduty", body_of("pagerduty", test_message()))

    def test_the_summary_stays_within_1024_characters(self) -> None:
        body = body_of("pagerduty", message(change(summary="s" * 500, environment="e" * 100)))
        assert len(body["payload"]["summary"]) <= 1024


class TestGrafana:
    def test_a_change_is_an_organisation_annotation_tagged_for_dashboards(self) -> None:
        sent = message(change(ended_at=change().occurred_at.replace(minute=45)))
        request = KINDS["grafana"].request(sent, context(), DESTINATIONS["grafana"], 0)
        assert request.url == "https://grafana.example/sub/api/annotations"
        assert ("Authorization", "Bearer glsa_token") in request.headers
        body = json.loads(request.body)
        assert_conforms("grafana", body)
        assert "dashboardUID" not in body
        assert body["timeEnd"] - body["time"] == 15 * 60 * 1000
        assert body["tags"] == [
            "changetrail",
            "service:payments",
            "environment:production",
            "cluster:eu-1",
            "namespace:payments",
            "type:deployment",
            grafana.MESSAGE_TAG + sent.id,
        ]

    def test_a_dashboard_and_panel_pin_the_annotation(self) -> None:
        pinned = context(options={"dashboard_uid": "abc", "panel_id": 4})
        request = KINDS["grafana"].request(message(), pinned, DESTINATIONS["grafana"], 0)
        body = json.loads(request.body)
        assert (body["dashboardUID"], body["panelId"]) == ("abc", 4)
        assert_conforms("grafana", body)

    def test_a_digest_spans_its_burst(self) -> None:
        body = body_of("grafana", message(*(change(n) for n in range(1, 11))))
        assert_conforms("grafana", body)
        assert body["timeEnd"] - body["time"] == 9000
        assert body["text"].startswith("10 changes in production")

    def test_the_look_up_finds_an_earlier_copy_by_its_message_tag(self) -> None:
        kind = KINDS["grafana"]
        lookup = kind.lookup(message(), context(), DESTINATIONS["grafana"])
        assert lookup is not None
        assert lookup.method == "GET"
        assert "tags=changetrail-message%3Amsg_1" in lookup.url
        assert kind.seen(Answer(status=200, body=b'[{"id": 7}]'))
        assert not kind.seen(Answer(status=200, body=b"[]"))
        assert not kind.seen(Answer(status=500, body=b"[{}]"))
        assert not kind.seen(Answer(status=200, body=b"not json"))

    def test_the_pull_endpoint_rows(self) -> None:
        row = grafana.annotation(change(), context())
        assert set(row) == {"id", "time", "timeEnd", "title", "text", "tags"}
        assert row["time"] == row["timeEnd"]
        assert row["text"].endswith("/ui/changes/" + row["id"])

    def test_the_test_message(self) -> None:
        assert_conforms("grafana", body_of("grafana", test_message()))


# --- any change, any kind ----------------------------------------------------------------------

text = st.text(min_size=1, max_size=600)
changes = st.builds(
    lambda summary, description, environment, service, tags: change(
        summary=summary[:500],
        description=description,
        environment=environment[:100],
        service_name=service,
        tags=tags,
    ),
    text,
    st.none() | st.text(max_size=12000),
    text,
    st.none() | st.text(min_size=1, max_size=200),
    st.lists(st.text(min_size=1, max_size=100), max_size=50),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(changes, min_size=1, max_size=60))
def test_every_kind_conforms_for_any_changes(batch: list[ChangeOut]) -> None:
    sent = message(*batch)
    for kind in KINDS:
        assert_conforms(kind, body_of(kind, sent))


def test_slack_and_teams_escape_nothing_they_should_not() -> None:
    assert slack.escape("a <b> & c") == "a &lt;b&gt; &amp; c"
    card = teams.build(message(change(summary="a <b> & c")), context())
    assert card["attachments"][0]["content"]["body"][0]["text"] == "a <b> & c"

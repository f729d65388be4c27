"""Hostile or broken bodies end in PayloadError, never in another exception or a hang."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changetrail_api.detectors import MAX_DEPTH, PayloadError, analyse, load_payload
from tests.api.detectors.factories import all_fixture_names, delivery


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert load_payload(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))


def test_nesting_one_past_the_limit_is_refused() -> None:
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        load_payload(nested(MAX_DEPTH + 1))


def test_nesting_far_past_the_interpreter_recursion_limit_is_refused_cleanly() -> None:
    with pytest.raises(PayloadError, match="nested deeper"):
        load_payload(nested(200_000))


def test_deep_objects_are_counted_like_arrays() -> None:
    body = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)

    with pytest.raises(PayloadError):
        load_payload(body)


def test_wide_documents_are_not_mistaken_for_deep_ones() -> None:
    wide = json.dumps({"Records": [{"a": {"b": i}} for i in range(20_000)]}).encode()

    assert len(load_payload(wide)["Records"]) == 20_000  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"payload=%7B%7D", "set the webhook's content type to application/json"),
        (b"ref=main&sha=abc", "not valid JSON"),
        (b'{"a": 1', "not valid JSON"),
        (b"\xff\xfe\xfa", "not"),
        (b"1" * 5000, "not usable JSON"),
        (b'{"replicas": NaN}', "NaN"),
        (b"[Infinity]", "Infinity"),
    ],
)
def test_unreadable_bodies_raise_payload_error_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        load_payload(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"replicas": 1e400}', "1e400"),
        (b'{"summary": "x", "details": {"n": -1E999}}', "-1E999"),
        (b'{"summary": "\\ud800"}', "surrogate"),
        (b'{"summary": "a\\u0000b"}', "NUL"),
        (b'{"\\udc00": 1}', "surrogate"),
    ],
)
def test_unstorable_values_are_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        load_payload(body)


def test_unstorable_values_inside_a_wrapped_message_are_refused() -> None:
    # An SNS notification carries its message as a JSON string: the edge of the API only sees
    # a string, so the detector's own parse must hold the same limits.
    inner = '{"detail-type": "x", "source": "aws.ecs", "detail": {"n": 1e400}}'
    body = json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:x", "Message": inner})
    detection = analyse({"x-amz-sns-message-type": "Notification"}, body.encode(), None)

    assert detection.changes == []


def test_analyse_refuses_a_deep_body_even_when_headers_name_a_provider() -> None:
    with pytest.raises(PayloadError):
        analyse({"x-github-event": "push"}, nested(10_000), None)


# Storable JSON: NUL, lone surrogates and non-finite numbers are refused by design (see
# test_unstorable_values_are_refused_with_a_reason), so they are not generated here.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Records",
                    "eventSource",
                    "eventName",
                    "detail",
                    "detail-type",
                    "source",
                    "message",
                    "data",
                    "protoPayload",
                    "object_kind",
                    "project",
                    "repository",
                    "sender",
                    "schemaId",
                    "summary",
                    "Type",
                    "TopicArn",
                    "Message",
                    "records",
                    "operationName",
                    "eventType",
                    "subject",
                    "deployment",
                    "ref",
                    "after",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
provider_headers = st.sampled_from(
    [
        {},
        {"x-github-event": "push"},
        {"x-github-event": "deployment_status"},
        {"x-gitlab-event": "Pipeline Hook"},
        {"x-amz-sns-message-type": "Notification"},
        {"aeg-event-type": "Notification"},
        {"ce-type": "google.cloud.audit.log.v1.written"},
    ]
)


@settings(max_examples=300, deadline=None)
@given(payload=json_values, headers=provider_headers)
def test_any_json_under_any_provider_header_is_detected_without_raising(
    payload: object, headers: dict[str, str]
) -> None:
    detection = analyse(headers, json.dumps(payload).encode(), None)

    assert detection.source
    assert all(change.summary for change in detection.changes)


def leaf_paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a value inside ``value`` (containers included)."""
    paths: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += leaf_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += leaf_paths(child, (*prefix, index))
    return paths


def replace_at(value: Any, path: tuple[str | int, ...], replacement: object) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = replacement


odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "0" * 40, "refs/heads/", "arn:aws:x", "/", "a/b/c", "2026-13-45"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(all_fixture_names()), data=st.data())
def test_fixtures_with_fields_of_the_wrong_type_never_raise(name: str, data: st.DataObject) -> None:
    original = delivery(name)
    payload = original.payload()
    paths = leaf_paths(payload)
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        path = data.draw(st.sampled_from(paths))
        try:
            replace_at(payload, path, data.draw(odd_values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path

    detection = original.with_payload(payload).detect()

    assert all(isinstance(change.summary, str) and change.summary for change in detection.changes)


WRONG_TYPES: tuple[object, ...] = ("not-a-number", 7, None, [], {"x": 1})


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_field_of_every_fixture_tolerates_a_value_of_the_wrong_type(name: str) -> None:
    original = delivery(name)
    failures = []
    for path in leaf_paths(original.payload()):
        for odd in WRONG_TYPES:
            payload = original.payload()
            replace_at(payload, path, odd)
            try:
                detection = original.with_payload(payload).detect()
            except Exception as error:
                failures.append(f"{path} = {odd!r}: {error!r}")
                continue
            failures += [
                f"{path} = {odd!r}: summary {change.summary!r}"
                for change in detection.changes
                if not change.summary.strip() or "None" in change.summary
            ]

    assert failures == []

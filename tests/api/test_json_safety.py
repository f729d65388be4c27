"""json_safety: what enters is storable JSON, what was stored reads back, whatever it holds."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changetrail_api import json_safety
from tests.api.hostile.strategies import encode, hostile_documents

# Valid JSON text that Python's parser takes but no backend stores or response carries.
UNSTORABLE = [
    (b'{"x": NaN}', "x", "NaN"),
    (b'{"x": [1, Infinity]}', "x.1", "Infinity"),
    (b'{"x": -Infinity}', "x", "-Infinity"),
    (b'{"x": 1e400}', "x", "1e400"),
    (b'{"x": {"y": -2E999}}', "x.y", "-2E999"),
    (b'{"x": "\\ud800"}', "x", "surrogate"),
    (b'{"x": "ok \\udfff"}', "x", "surrogate"),
    (b'{"\\ud83d": 1}', "\ud83d", "surrogate"),
    (b'{"x": "a\\u0000b"}', "x", "NUL"),
    # A surrogate as raw UTF-8 bytes, and documents in UTF-16 and UTF-32 (which the parser
    # takes too), where neither escape appears as the bytes of ASCII text.
    (b'{"x": "\xed\xa0\x80"}', "x", "surrogate"),
    ('{"x": "\ud800"}'.encode("utf-16-le", "surrogatepass"), "x", "surrogate"),
    ('{"x": "a\\u0000b"}'.encode("utf-16"), "x", "NUL"),
    ('{"x": ["\udfff"]}'.encode("utf-32-be", "surrogatepass"), "x.0", "surrogate"),
    (b"[" * 65 + b"]" * 65, "0.0.0.0.0.0.…", "nested deeper than 64"),
    (b"[" * 100_000 + b"]" * 100_000, "body", "nested deeper"),
]


@pytest.mark.parametrize(("document", "field", "message"), UNSTORABLE)
def test_unstorable_json_is_refused_naming_where(document: bytes, field: str, message: str) -> None:
    with pytest.raises(json_safety.UnsafeJsonError, match=message) as refused:
        json_safety.loads(document)
    assert json_safety.field_name(refused.value.path) == field


@pytest.mark.parametrize(
    "document",
    [
        b'{"emoji": "\\ud83d\\ude00", "text": "\xf0\x9f\x98\x80 Z\xc3\xbcrich"}',
        b'{"big": 1e308, "small": -1e-320, "int": ' + b"9" * 400 + b"}",
        b"[" * 64 + b"]" * 64,
        b'{"a": [' + b",".join([b'{"b": 1}'] * 5000) + b"]}",
    ],
)
def test_storable_json_round_trips(document: bytes) -> None:
    value = json_safety.loads(document)

    assert json_safety.lenient_loads(json_safety.dumps(value)) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, {"x": -math.inf}, ["\ud800"]])
def test_the_storage_serialiser_refuses_what_a_reader_could_not_serve(value: object) -> None:
    with pytest.raises(ValueError, match=r"Out of range float|surrogates not allowed"):
        json_safety.dumps(value)


def test_a_stored_document_is_bounded_in_size() -> None:
    with pytest.raises(json_safety.UnsafeJsonError, match="at most 65536 bytes"):
        json_safety.check_document({"x": "y" * 70_000}, at=("details",))


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ('{"x": NaN, "y": Infinity, "z": -Infinity}', {"x": None, "y": None, "z": None}),
        ('{"x": 1e400}', {"x": None}),
        ('{"x": "\\ud800", "\\udc00": "a\\u0000b"}', {"x": "\ufffd", "\ufffd": "a\ufffdb"}),
        ('{"pair": "\\ud83d\\ude00"}', {"pair": "\U0001f600"}),
    ],
)
def test_rows_stored_before_the_limits_read_back_repaired(stored: str, read: object) -> None:
    assert json_safety.lenient_loads(stored) == read
    assert json_safety.lenient_loads(stored.encode()) == read


def test_a_row_nested_past_the_limit_reads_back_cut_at_the_limit() -> None:
    stored = '{"a": ' * 600 + "1" + "}" * 600

    value = json_safety.lenient_loads(stored)

    json_safety.check(value)  # servable: within the depth every response can carry
    assert json.dumps(value).count("{") == json_safety.MAX_DEPTH


@settings(max_examples=300, deadline=None)
@given(document=hostile_documents())
def test_whatever_json_arrives_it_is_refused_or_stored_and_read_back_intact(
    document: object,
) -> None:
    text = encode(document)
    try:
        value = json_safety.loads(text)
    except (json_safety.UnsafeJsonError, json_safety.NotJsonError):
        # What was refused would still read back (repaired) had an older version stored it.
        json_safety.check(json_safety.lenient_loads(text.decode("utf-8", "surrogatepass")))
        return
    stored = json_safety.dumps(value)
    assert json_safety.lenient_loads(stored) == value
    assert json_safety.lenient_loads(stored.encode()) == value


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=50))
def test_text_problems_are_exactly_nul_and_lone_surrogates(text: str) -> None:
    problem = json_safety.text_problem(text)
    unencodable = any("\ud800" <= c <= "\udfff" for c in text)

    assert (problem is None) == ("\x00" not in text and not unencodable)

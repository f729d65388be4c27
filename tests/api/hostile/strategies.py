"""Hostile JSON and query values, and how to put them into an otherwise valid request.

What the review found breaking the API, as generators: numbers that only fit as infinity,
``NaN``, half surrogate pairs, NUL, dates at the ends of the calendar, deep nesting, large
arrays, huge integers and long strings. ``Raw`` carries a JSON fragment Python cannot express
as a value (``1e400``, ``"\\ud800"``) into a document verbatim.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """A JSON fragment written into a document as is."""

    text: str


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1E999", "123456789e999", "1.5e309"]
BAD_TEXT = ['"\\ud800"', '"x\\udfff"', '"\\udc00\\ud800"', '"a\\u0000b"', '"\\u0000"']
EXTREME_DATES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31",
    "1969-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "2999-12-31T23:59:59-14:00",
    "1970-01-01T00:00:00+14:00",
    "2026-02-30T00:00:00Z",
    "2026-03-30T15:30:00.123456789Z",
    "+10000-01-01T00:00:00Z",
]
# Valid but awkward: what must be stored and read back exactly.
AWKWARD = [
    1e308,
    -0.0,
    5e-324,
    10**400,
    -(2**63) - 1,
    2**64,
    "\U0001f600 Zürich 決済",
    "\ufffd\u200b\u202e",
    "x" * 20_000,
    "",
]


def nested(depth: int, *, objects: bool) -> Raw:
    if objects:
        return Raw('{"a":' * depth + "1" + "}" * depth)
    return Raw("[" * depth + "]" * depth)


hostile_leaves: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(NON_FINITE).map(Raw),
    st.sampled_from(BAD_TEXT).map(Raw),
    st.sampled_from(EXTREME_DATES),
    st.tuples(st.sampled_from([60, 64, 65, 254, 600, 5000]), st.booleans()).map(
        lambda shape: nested(shape[0], objects=shape[1])
    ),
    st.sampled_from(AWKWARD),
    st.integers(min_value=100, max_value=3000).map(
        lambda n: [{"summary": f"item {i}", "n": i} for i in range(n)]
    ),
    st.text(st.characters(exclude_categories=()), max_size=30),
)

plain_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)


def hostile_documents() -> st.SearchStrategy[Any]:
    """JSON documents with hostile values anywhere in them, now and then."""
    return st.recursive(
        plain_json | hostile_leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(st.characters(exclude_categories=()), max_size=8), children)
        ),
        max_leaves=8,
    )


def encode(value: object) -> bytes:
    """JSON text of ``value`` with every ``Raw`` fragment written verbatim (ASCII, so any
    lone surrogate in a Python string becomes a ``\\udXXX`` escape, as a client would send)."""
    return _encode(value).encode("ascii")


def _encode(value: object) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        members = (json.dumps(str(key)) + ":" + _encode(item) for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value)


def _containers(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        found.append(path)
        for key, item in value.items():
            found += _containers(item, (*path, key))
    elif isinstance(value, list):
        found.append(path)
        for index, item in enumerate(value):
            found += _containers(item, (*path, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def injected(draw: st.DrawFn, body: Any, leaves: st.SearchStrategy[Any] = hostile_leaves) -> Any:
    """``body`` with one hostile value put in: replacing a field, an item, or added beside."""
    leaf = draw(leaves)
    if not isinstance(body, dict | list):
        return draw(st.sampled_from([leaf, {"summary": "x", "details": {"v": leaf}}]))
    body = json.loads(json.dumps(body))  # a copy we may change
    container = _at(body, draw(st.sampled_from(_containers(body))))
    if isinstance(container, dict):
        key = draw(st.sampled_from([*container.keys(), "details", "extra"]))
        container[key] = leaf
    elif container:
        container[draw(st.integers(0, len(container) - 1))] = leaf
    else:
        container.append(leaf)
    return body


# Query values: the same edges, as text.
hostile_query_values = st.one_of(
    st.sampled_from(EXTREME_DATES),
    st.sampled_from(["\x00", "a\x00b", "%00", "NaN", "-1", "1e400", "9" * 400, "x" * 5000]),
    st.text(st.characters(codec="utf-8"), max_size=30),
)

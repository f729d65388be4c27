"""JSON that every backend can store and every reader can serve back.

Python's parser accepts more than the databases and the response encoder do: ``NaN`` and
``Infinity``, numbers such as ``1e400`` that only fit as ``inf``, ``"\\ud800"`` (half of a
UTF-16 pair, which UTF-8 cannot encode), ``"\\u0000"`` (which PostgreSQL refuses in text and
``jsonb``) and nesting deep enough to overflow the response serialiser. A document holding any
of them was stored and then broke every read that touched it.

So one set of limits applies to every JSON value that enters: request bodies (checked once, at
the edge, for every endpoint), webhook payloads, and each value the database layer serialises.
Reads are lenient instead (``lenient_loads``): a row stored before these limits existed is
served with the offending parts replaced, never as an error.

Pure: no I/O, no framework.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted anywhere (real documents stay under 15; the
response serialiser gives up past 254)."""

MAX_DOCUMENT_BYTES = 64 * 1024
"""Largest stored JSON value (``details`` of a change, an operator's object state), as UTF-8."""

Path = tuple[str | int, ...]


class UnsafeJsonError(ValueError):
    """Valid JSON syntax that cannot be stored or served back; ``path`` says where."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{field_name(path)}: {message}")
        self.path = path
        self.message = message


class NotJsonError(ValueError):
    """The text is not JSON at all (syntax, encoding)."""


class _NonFinite:
    """What the parser hands back for ``NaN``, ``Infinity`` or an overflowing number, so the
    walk that follows can say where it was."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _number(literal: str) -> float | _NonFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NonFinite(literal)


def field_name(path: Path, *, keep: int = 6) -> str:
    """``details.items.0.name``; long paths keep their start (the field a person wrote)."""
    if not path:
        return "body"
    shown = ".".join(str(part) for part in path[:keep])
    return shown + ".…" if len(path) > keep else shown


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored, or None. Fast for ASCII, which is nearly everything."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains half of a UTF-16 surrogate pair, which is not valid Unicode"
    return None


def check(
    value: object, *, max_depth: int = MAX_DEPTH, at: Path = (), strings: bool = True
) -> None:
    """Raise ``UnsafeJsonError`` naming the first part of ``value`` that cannot be stored.

    Iterative, so a hostile depth costs no Python recursion; stops at the first problem.
    ``strings=False`` skips looking into strings, for a value parsed from text that cannot
    hold a bad one (see ``loads``).
    """
    if not _within_limits(value, max_depth, strings=strings):
        _name_first_problem(value, max_depth, at, strings=strings)


def _within_limits(value: object, max_depth: int, *, strings: bool) -> bool:
    """Whether ``check`` finds nothing: the same walk without the paths it keeps to name a
    problem, so a clean value (nearly every one) costs less; a batch body of a thousand
    changes, whose strings need no look, about half."""
    walked = _WALKED if strings else _WALKED_BUT_STRINGS
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if depth >= max_depth:
                return False
            if kind is dict:
                for key, child in node.items():  # type: ignore[attr-defined]
                    if not isinstance(key, str) or (strings and text_problem(key) is not None):
                        return False
                    if type(child) in walked:
                        stack.append((child, depth + 1))
            else:
                children = (c for c in node if type(c) in walked)  # type: ignore[attr-defined]
                stack.extend((child, depth + 1) for child in children)
        elif kind is str:
            if strings and text_problem(node) is not None:  # type: ignore[arg-type]
                return False
        elif kind is _NonFinite or (kind is float and not math.isfinite(node)):  # type: ignore[arg-type]
            return False
    return True


def _name_first_problem(value: object, max_depth: int, at: Path, *, strings: bool) -> None:
    """Raise ``UnsafeJsonError`` for the first problem of ``value``, with where it is."""
    stack: list[tuple[object, Path, int]] = [(value, at, 0)]
    while stack:
        node, path, depth = stack.pop()
        kind = type(node)
        if kind is str:
            if not strings:
                continue
            problem = text_problem(node)  # type: ignore[arg-type]
            if problem is not None:
                raise UnsafeJsonError(path, problem)
        elif kind is dict or kind is list:
            if depth >= max_depth:
                raise UnsafeJsonError(path, f"nested deeper than {max_depth} levels")
            if kind is dict:
                for key, child in node.items():  # type: ignore[attr-defined]
                    if not isinstance(key, str):
                        raise UnsafeJsonError(path, "object keys must be strings")
                    problem = text_problem(key) if strings else None
                    if problem is not None:
                        raise UnsafeJsonError((*path, key), "key " + problem)
                    if type(child) in _WALKED:
                        stack.append((child, (*path, key), depth + 1))
            else:
                for index, child in enumerate(node):  # type: ignore[arg-type]
                    if type(child) in _WALKED:
                        stack.append((child, (*path, index), depth + 1))
        elif kind is _NonFinite:
            literal = node.literal  # type: ignore[attr-defined]
            raise UnsafeJsonError(path, f"{literal} is not a finite number")
        elif kind is float and not math.isfinite(node):  # type: ignore[arg-type]
            raise UnsafeJsonError(path, f"{node} is not a finite number")


# Leaves that need no look: numbers that are finite by type, booleans, null.
_WALKED = frozenset({str, dict, list, float, _NonFinite})
_WALKED_BUT_STRINGS = _WALKED - {str}


def loads(document: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse and check: a value every backend stores and every response can carry.

    Raises ``NotJsonError`` for text that is not JSON and ``UnsafeJsonError`` for JSON that
    breaks a limit.
    """
    try:
        value = json.loads(document, parse_constant=_NonFinite, parse_float=_number)
    except RecursionError:
        raise UnsafeJsonError((), f"nested deeper than {max_depth} levels") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, integer digit limit
        raise NotJsonError(str(error)) from None
    check(value, max_depth=max_depth, strings=_may_hold_bad_text(document))
    return value


def _may_hold_bad_text(document: bytes | str) -> bool:
    """Whether a parsed string of ``document`` could hold a NUL or half a surrogate pair.

    Both can only arrive escaped (``\\u0000``, ``\\ud800``: the parser refuses raw control
    characters), or, in bytes, as the UTF-8 form of a surrogate, whose first byte is 0xED, or
    in a document in UTF-16 or UTF-32, which the parser also takes and which holds NUL bytes
    (UTF-8 JSON never does). A document with none of these needs no look into its strings.
    """
    if isinstance(document, str):
        return True
    return b"\\u" in document or b"\xed" in document or b"\x00" in document


def check_document(value: object, *, at: Path = (), max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
    """``check`` plus the size limit of one stored value (UTF-8 bytes of its JSON)."""
    check(value, at=at)
    if len(dumps(value).encode()) > max_bytes:
        raise UnsafeJsonError(at, f"must serialise to at most {max_bytes} bytes of JSON")


def dumps(value: object) -> str:
    """The storage form: strict JSON, refusing non-finite numbers and invalid Unicode.

    The database layer serialises every JSON column through this, so no code path can store
    what a reader would choke on, even one that skipped the checks above.
    """
    text = _STORAGE_ENCODER.encode(value)
    text.encode("utf-8")  # raises UnicodeEncodeError for a lone surrogate
    return text


# One encoder for every stored value: json.dumps with options builds a new one per call.
_STORAGE_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def lenient_loads(document: bytes | str) -> Any:
    """Read a stored value, repairing what older versions let in instead of failing the read.

    Non-finite numbers read as ``null``, NUL and lone surrogates as U+FFFD, and containers
    beyond ``MAX_DEPTH`` as the string ``"…"``. Values stored under the checks above come back
    as they were written; the repairs cost a walk only when the raw text hints at them.
    """
    try:
        value = json.loads(document, parse_constant=_null, parse_float=_finite_or_null)
    except RecursionError:
        # Deeper than the parser can go: nothing of it is servable.
        return None
    if isinstance(document, str):
        suspect = _SUSPECT_TEXT.search(document) is not None
        containers = document.count("[") + document.count("{")
    else:
        suspect = _SUSPECT_BYTES.search(document) is not None
        containers = document.count(b"[") + document.count(b"{")
    if suspect or (containers > MAX_DEPTH and _too_deep(value, MAX_DEPTH)):
        value = _repaired(value, 0)
    return value


# Escapes that may decode to a lone surrogate or a NUL.
_SUSPECT_TEXT = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_SUSPECT_BYTES = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


def _null(_literal: str) -> None:
    return None


def _finite_or_null(literal: str) -> float | None:
    value = float(literal)
    return value if math.isfinite(value) else None


def _too_deep(value: object, allowed: int) -> bool:
    # Visits containers only and stops at the limit, so it is cheap for ordinary documents.
    if not isinstance(value, dict | list):
        return False
    if allowed <= 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(_too_deep(child, allowed - 1) for child in children)


def _clean(text: str) -> str:
    if text_problem(text) is None:
        return text
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)


def _repaired(value: Any, depth: int) -> Any:
    # Recursion is bounded: it never goes below MAX_DEPTH levels.
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {_clean(k): _repaired(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_repaired(item, depth + 1) for item in value]
    return value

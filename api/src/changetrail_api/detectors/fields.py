"""Small, forgiving readers for untrusted JSON: every provider module shares them.

Webhook payloads are read defensively: a field that is missing, ``null`` or of the wrong type
reads as ``None`` instead of raising, so one odd payload never turns into a server error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

from changetrail_api.detectors.model import Headers

SUMMARY_LIMIT = 200
ZERO_SHA = "0" * 40


def dig(value: object, *path: str | int) -> object:
    """Follow ``path`` through nested objects and arrays; ``None`` where it does not lead."""
    node = value
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
    return node


def text(value: object, *path: str | int) -> str | None:
    """A non-empty string (numbers are written out) at ``path``, else ``None``."""
    found = dig(value, *path)
    if isinstance(found, bool):
        return None
    if isinstance(found, int | float):
        return str(found)
    if isinstance(found, str) and found.strip():
        return found
    return None


def first_text(value: object, *paths: tuple[str | int, ...]) -> str | None:
    """The first non-empty string among several paths."""
    for path in paths:
        found = text(value, *path)
        if found is not None:
            return found
    return None


def obj(value: object, *path: str | int) -> dict[str, Any]:
    """The object at ``path``, or an empty one."""
    found = dig(value, *path)
    return found if isinstance(found, dict) else {}


def items(value: object, *path: str | int) -> list[Any]:
    """The array at ``path``, or an empty one."""
    found = dig(value, *path)
    return found if isinstance(found, list) else []


def flag(value: object, *path: str | int) -> bool:
    """True only for a JSON ``true`` at ``path``."""
    return dig(value, *path) is True


_FRACTION = re.compile(r"(\.\d{6})\d+")
_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def timestamp(value: object, *path: str | int) -> datetime | None:
    """An aware UTC datetime from the ISO 8601 and near-ISO forms providers send.

    Handles ``Z``, nanosecond fractions (GCP, Azure), ``2016-08-12 15:23:28 UTC`` and
    ``2021-04-28 21:50:00 +0200`` (GitLab). Anything else reads as ``None``.
    """
    raw = text(value, *path)
    if raw is None or len(raw) > 64:
        return None
    cleaned = raw.strip()
    if cleaned.endswith(" UTC"):
        cleaned = cleaned[: -len(" UTC")] + "+00:00"
    cleaned = cleaned.replace(" +", "+").replace(" -", "-")
    cleaned = _FRACTION.sub(r"\1", cleaned)
    cleaned = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", cleaned)
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 once in UTC
        return None


def clip(summary: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line of at most ``limit`` characters, for summaries built from free text."""
    line = " ".join(summary.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def first_line(message: str | None) -> str | None:
    """The subject line of a commit message."""
    if message is None:
        return None
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return None


def short_sha(sha: str | None) -> str | None:
    return sha[:7] if sha else None


def last_segment(path: str | None, separator: str = "/") -> str | None:
    """``projects/p/zones/z/instances/vm-1`` → ``vm-1``; ARNs use ``:`` and ``/``."""
    if not path:
        return None
    tail = path.rstrip(separator).rsplit(separator, 1)[-1]
    return tail or None


def push_summary(count: int, target: str, ref: str, message: str | None) -> str:
    """``Push 2 commits to org/repo@main: subject``, worded alike for every Git provider."""
    noun = "commit" if count == 1 else "commits"
    subject = first_line(message)
    summary = f"Push {count} {noun} to {target}@{branch_of(ref) or ref}"
    return summary + (f": {subject}" if subject else "")


def branch_of(ref: str | None) -> str | None:
    """``refs/heads/main`` → ``main``; tags and other refs are not branches."""
    if ref is None:
        return None
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/") :]
    if ref.startswith("refs/"):
        return None
    return ref


def tag_of(ref: str | None) -> str | None:
    if ref is not None and ref.startswith("refs/tags/"):
        return ref[len("refs/tags/") :]
    return None


def header(headers: Headers, name: str) -> str | None:
    """A header value by its lower-case name, ``None`` when absent or blank."""
    value = headers.get(name)
    return value.strip() if value and value.strip() else None


def same_secret(presented: str | None, secret: str) -> bool:
    """Constant-time equality, false for a missing value."""
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), secret.encode())


def content_digest(payload: object) -> str:
    """A stable digest of a JSON value, independent of key order and whitespace."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]

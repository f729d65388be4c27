"""Reading Kubernetes objects and stored states defensively: an absent or mistyped field reads
as empty, so one odd object can never stop the observer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def metadata(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(body.get("metadata"))


def opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def str_dict(value: Any) -> dict[str, str]:
    return {str(key): str(item) for key, item in as_dict(value).items()}


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as Kubernetes writes it (``2026-02-01T10:00:00Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

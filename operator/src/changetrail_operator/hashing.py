"""Short, stable content hashes: what the operator remembers instead of the values themselves."""

from __future__ import annotations

import hashlib
import json
from typing import Any

JsonDict = dict[str, Any]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def content_hash(value: Any, length: int = 16) -> str:
    """A hex digest of a JSON-able value; equal values give equal hashes across processes."""
    return hashlib.sha256(canonical_json(value)).hexdigest()[:length]


def text_hash(value: str | bytes, length: int = 16) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:length]


def fingerprint(state: JsonDict) -> str:
    """The fingerprint stored next to a state: equal fingerprints mean nothing to record."""
    return "sha256:" + content_hash(state, 32)

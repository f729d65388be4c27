"""The last recorded state of every object: a fingerprint in memory, the state on local disk.

The observer decides nearly every event by fingerprint alone (re-lists, status writes,
metadata churn), so memory holds only that: a uid and a 16-byte digest per object. The state
itself is read only when an object did change, to diff it, and lives in a private SQLite file.
The file is a cache, not a store of record: the API's state store is the durable copy and is
loaded into it at every start, so it needs no journal and no fsync, and it is unlinked as
soon as it is open, leaving nothing behind when the process ends however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

from changetrail_operator.hashing import JsonDict, canonical_json

Key = tuple[str, str]  # (kind, uid)

_FINGERPRINT_PREFIX = "sha256:"
_SCHEMA = """
CREATE TABLE states (
    kind TEXT NOT NULL,
    uid TEXT NOT NULL,
    namespace TEXT,
    name TEXT NOT NULL,
    service TEXT,
    environment TEXT,
    fingerprint TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (kind, uid)
) WITHOUT ROWID
"""
_SELECT = (
    "SELECT namespace, name, service, environment, fingerprint, state FROM states"
    " WHERE kind = ? AND uid = ?"
)
_UPSERT = (
    "INSERT OR REPLACE INTO states"
    " (kind, uid, namespace, name, service, environment, fingerprint, state)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class Record:
    """The last recorded state of one object, and what it was recorded as."""

    kind: str
    namespace: str | None
    name: str
    state: JsonDict
    fingerprint: str
    service: str | None = None
    environment: str | None = None


def _digest(fingerprint: str) -> bytes:
    # "sha256:<hex>" packs into half its length; any other form is kept as its text.
    if fingerprint.startswith(_FINGERPRINT_PREFIX):
        with contextlib.suppress(ValueError):
            return bytes.fromhex(fingerprint[len(_FINGERPRINT_PREFIX) :])
    return fingerprint.encode()


class Records(MutableMapping[Key, Record]):
    def __init__(self, directory: str | None = None) -> None:
        descriptor, path = tempfile.mkstemp(
            prefix="changetrail-states-", suffix=".sqlite", dir=directory
        )
        os.close(descriptor)
        # Autocommit: every write stands alone; ``bulk`` groups a load into one transaction.
        self._db = sqlite3.connect(path, isolation_level=None)
        os.unlink(path)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("PRAGMA cache_size = -1024")  # KiB: the disk is the point
        self._db.execute(_SCHEMA)
        self._digests: dict[str, dict[str, bytes]] = {}  # kind → uid → fingerprint digest

    def close(self) -> None:
        self._db.close()

    def matches(self, key: Key, fingerprint: str) -> bool:
        """Whether ``key`` is recorded with this fingerprint, answered from memory."""
        kind, uid = key
        return self._digests.get(kind, {}).get(uid) == _digest(fingerprint)

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Group many writes into one transaction (loading thousands of states)."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        kind, uid = key
        return uid in self._digests.get(kind, {})

    def __getitem__(self, key: Key) -> Record:
        if key not in self:
            raise KeyError(key)
        kind, uid = key
        row = self._db.execute(_SELECT, (kind, uid)).fetchone()
        if row is None:
            raise KeyError(key)
        namespace, name, service, environment, fingerprint, state = row
        return Record(kind, namespace, name, json.loads(state), fingerprint, service, environment)

    def __setitem__(self, key: Key, record: Record) -> None:
        kind, uid = key
        self._db.execute(
            _UPSERT,
            (
                kind,
                uid,
                record.namespace,
                record.name,
                record.service,
                record.environment,
                record.fingerprint,
                canonical_json(record.state),
            ),
        )
        self._digests.setdefault(kind, {})[uid] = _digest(record.fingerprint)

    def __delitem__(self, key: Key) -> None:
        kind, uid = key
        del self._digests.get(kind, {})[uid]
        self._db.execute("DELETE FROM states WHERE kind = ? AND uid = ?", (kind, uid))

    def __iter__(self) -> Iterator[Key]:
        for kind, uids in list(self._digests.items()):
            for uid in list(uids):
                yield kind, uid

    def __len__(self) -> int:
        return sum(len(uids) for uids in self._digests.values())

    def clear(self) -> None:
        self._db.execute("DELETE FROM states")
        self._digests.clear()

"""Recorded states: fingerprints answered from memory, states read back from disk intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from changetrail_operator.hashing import JsonDict, fingerprint
from changetrail_operator.records import Record, Records


@pytest.fixture
def records(tmp_path: Path) -> Iterator[Records]:
    store = Records(str(tmp_path))
    yield store
    store.close()


def _record(name: str, state: JsonDict) -> Record:
    return Record(
        "ConfigMap", "payments", name, state, fingerprint(state), service="api", environment="prod"
    )


def test_a_stored_record_reads_back_equal(records: Records) -> None:
    record = _record("api-config", {"data": {"A": "0f1e"}, "values": {"B": "ünïcode"}})
    records[("ConfigMap", "u1")] = record

    assert records[("ConfigMap", "u1")] == record
    assert records.get(("ConfigMap", "u2")) is None
    assert records.get(("Deployment", "u1")) is None
    assert ("ConfigMap", "u1") in records
    assert len(records) == 1
    assert list(records) == [("ConfigMap", "u1")]


def test_matches_compares_the_fingerprint_of_the_last_write(records: Records) -> None:
    first: JsonDict = {"data": {"A": "1"}}
    second: JsonDict = {"data": {"A": "2"}}
    records[("ConfigMap", "u1")] = _record("c", first)
    records[("ConfigMap", "u1")] = _record("c", second)

    assert records.matches(("ConfigMap", "u1"), fingerprint(second))
    assert not records.matches(("ConfigMap", "u1"), fingerprint(first))
    assert not records.matches(("ConfigMap", "u2"), fingerprint(second))
    assert records[("ConfigMap", "u1")].state == second
    assert len(records) == 1


def test_fingerprints_of_another_form_still_match(records: Records) -> None:
    state: JsonDict = {"data": {}}
    records[("ConfigMap", "u1")] = Record("ConfigMap", None, "c", state, "md5:abc")

    assert records.matches(("ConfigMap", "u1"), "md5:abc")
    assert not records.matches(("ConfigMap", "u1"), fingerprint(state))


def test_deleted_and_cleared_records_are_gone(records: Records) -> None:
    with records.bulk():
        for index in range(50):
            records[("ConfigMap", f"u{index}")] = _record(f"c{index}", {"n": index})
    del records[("ConfigMap", "u7")]

    assert len(records) == 49
    assert records.get(("ConfigMap", "u7")) is None
    with pytest.raises(KeyError):
        del records[("ConfigMap", "u7")]
    assert records[("ConfigMap", "u8")].state == {"n": 8}
    records.clear()
    assert len(records) == 0
    assert records.get(("ConfigMap", "u8")) is None


def test_the_cache_file_leaves_nothing_behind(tmp_path: Path, records: Records) -> None:
    records[("ConfigMap", "u1")] = _record("c", {"data": {}})

    assert list(tmp_path.iterdir()) == []
    assert records[("ConfigMap", "u1")].name == "c"

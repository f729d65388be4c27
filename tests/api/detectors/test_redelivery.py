"""Redelivery: the same payload always maps to the same external ids, so it is stored once."""

from __future__ import annotations

import pytest

from tests.api.detectors.factories import all_fixture_names, delivery


@pytest.mark.parametrize("name", all_fixture_names())
def test_delivering_a_payload_twice_yields_the_same_external_ids(name: str) -> None:
    first = delivery(name).detect()
    again = delivery(name).detect()

    assert [c.external_id for c in first.changes] == [c.external_id for c in again.changes]


def test_redelivery_with_a_new_github_delivery_id_is_still_the_same_change() -> None:
    original = delivery("github/deployment_status-success")
    redelivered = original.with_headers(x_github_delivery="ffffffff-0000-11f1-8000-000000000000")

    assert original.detect().changes[0].external_id == redelivered.detect().changes[0].external_id


def test_external_ids_differ_across_every_recorded_fixture() -> None:
    ids = [
        (change.source, change.external_id)
        for name in all_fixture_names()
        if name != "gcp/cloudevent-run-replaceservice"  # the same audit entry as a CloudEvent
        for change in delivery(name).detect().changes
    ]

    assert len(ids) == len(set(ids))


def test_an_audit_entry_as_a_cloudevent_is_the_same_change_as_the_entry() -> None:
    as_entry = delivery("gcp/logentry-run-replaceservice").detect().changes[0]
    as_cloudevent = delivery("gcp/cloudevent-run-replaceservice").detect().changes[0]

    assert as_entry.external_id == as_cloudevent.external_id

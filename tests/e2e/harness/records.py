"""The records one test namespace produced, and a sentinel to know when they are all in.

Proving that nothing *else* was recorded needs a moment after which no more records
can arrive. Rather than sleeping, a scenario edits a sentinel ConfigMap in its own
namespace after its last action and waits for that edit's record: the operator
handles events in order, so anything earlier has been recorded (or dropped) by then.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from tests.e2e.harness.changes_api import ChangesApi, Record, RecordsNotReachedError
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap

SENTINEL_NAME = "e2e-sentinel"
PROBE_NAMESPACE = "e2e-probe"
SENTINEL_ATTEMPT_SECONDS = 10.0


def is_sentinel(record: Record) -> bool:
    return f"/{SENTINEL_NAME}" in str(record.get("summary"))


@dataclass
class NamespaceRecords:
    changes: ChangesApi
    kubectl: Kubectl
    namespace: str

    @property
    def tag(self) -> str:
        return f"namespace:{self.namespace}"

    def all(self) -> list[Record]:
        return [r for r in self.changes.list_changes(tag=self.tag) if not is_sentinel(r)]

    def wait_for_count(self, count: int, timeout: float = 60.0) -> list[Record]:
        records = self.changes.wait_for(
            lambda found: sum(not is_sentinel(r) for r in found) >= count, timeout, tag=self.tag
        )
        return [r for r in records if not is_sentinel(r)]

    def create_sentinel(self) -> None:
        self.kubectl.apply(configmap(SENTINEL_NAME, {"created": "yes"}), namespace=self.namespace)

    def settled(self, timeout: float = 60.0) -> list[Record]:
        """Every record of the namespace once the operator has caught up with the cluster."""
        # A fresh key name per edit: the edit's record names it in its summary, which tells
        # this edit's record apart from earlier ones without knowing how many there were.
        # An edit can rightly go unrecorded (one made while the operator lists, or the first
        # one after a policy starts to govern the sentinel), so edits repeat until one is in.
        markers: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            markers.append(f"edit-{secrets.token_hex(4)}")
            self.kubectl.apply(
                configmap(SENTINEL_NAME, {markers[-1]: "x"}), namespace=self.namespace
            )
            attempt = min(SENTINEL_ATTEMPT_SECONDS, max(0.0, deadline - time.monotonic()))
            try:
                records = self.changes.wait_for(
                    lambda found: any(
                        is_sentinel(r) and any(m in str(r.get("summary")) for m in markers)
                        for r in found
                    ),
                    attempt,
                    tag=self.tag,
                )
            except RecordsNotReachedError:
                if time.monotonic() >= deadline:
                    raise
                continue
            return [r for r in records if not is_sentinel(r)]


def ids(found: list[Record]) -> set[str]:
    return {str(record["id"]) for record in found}


def added_since(before: list[Record], after: list[Record]) -> list[Record]:
    """Records in ``after`` that ``before`` did not have, oldest first."""
    known = ids(before)
    return [record for record in after if record["id"] not in known]


def summaries(found: list[Record]) -> list[str]:
    return [str(record["summary"]) for record in found]


def wait_until_operator_records(
    changes: ChangesApi, kubectl: Kubectl, timeout: float = 120.0
) -> None:
    """Edit a ConfigMap in a namespace of its own until an edit is recorded: the operator
    is then watching, talking to the API and past its initial listing.

    An edit made while the operator is still listing becomes part of its starting point
    and is rightly never recorded, hence the repeated edits.
    """
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PROBE_NAMESPACE}})
    probe = NamespaceRecords(changes, kubectl, PROBE_NAMESPACE)
    probe.create_sentinel()
    probe.settled(timeout=timeout)

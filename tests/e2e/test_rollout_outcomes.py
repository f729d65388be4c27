"""How each recorded rollout ended, completed within seconds of the controller saying so:
failed (ProgressDeadlineExceeded), superseded by a newer rollout, rolled back by an undo."""

from __future__ import annotations

import json
import time

from tests.e2e.harness.changes_api import Record
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import deployment, image
from tests.e2e.harness.records import NamespaceRecords, added_since, is_sentinel, summaries

# Pods asking for more CPU than any node has stay Pending: a rollout that cannot progress.
UNSCHEDULABLE_CPU = "1000"
# How soon after the controller reports a failed rollout its record must say so.
VISIBLE_WITHIN_SECONDS = 5.0


def _progressing_reason(kubectl: Kubectl, namespace: str) -> str:
    conditions = kubectl.get("deployment", "api", namespace)["status"].get("conditions", [])
    return next((c["reason"] for c in conditions if c["type"] == "Progressing"), "")


def _own(found: list[Record]) -> list[Record]:
    return [record for record in found if not is_sentinel(record)]


def _strategic_patch(kubectl: Kubectl, namespace: str, patch: dict[str, object]) -> None:
    kubectl.run(
        "-n", namespace, "patch", "deployment", "api", "--type=strategic",
        f"--patch={json.dumps(patch)}",
    )  # fmt: skip


def test_a_stuck_rollout_fails_within_seconds_and_later_ones_are_superseded_or_rolled_back(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    manifest = deployment("api", tag="1.0.0")
    manifest["spec"]["progressDeadlineSeconds"] = 5
    kubectl.apply(manifest, namespace=namespace)
    kubectl.rollout_status("api", namespace)
    created = _own(
        records.changes.wait_for(
            lambda found: [r["outcome"] for r in _own(found)] == ["succeeded"], tag=records.tag
        )
    )

    kubectl.run(
        "-n", namespace, "set", "resources", "deployment/api", f"--requests=cpu={UNSCHEDULABLE_CPU}"
    )
    deadline = time.monotonic() + 120
    while _progressing_reason(kubectl, namespace) != "ProgressDeadlineExceeded":
        assert time.monotonic() < deadline, "the deployment controller never gave up"
        time.sleep(0.2)
    reported = time.monotonic()
    failed = records.changes.wait_for(
        lambda found: any(r["outcome"] == "failed" for r in found),
        timeout=VISIBLE_WITHIN_SECONDS,
        tag=records.tag,
    )
    visible_after = time.monotonic() - reported
    [stuck] = [r for r in failed if r["outcome"] == "failed"]
    assert stuck["summary"] == f"Deploy {namespace}/api: resources (api)"
    assert stuck["outcome_reason"] == "ProgressDeadlineExceeded"
    assert stuck["ended_at"] >= stuck["occurred_at"]
    assert visible_after < VISIBLE_WITHIN_SECONDS

    # Two more stuck rollouts (with a long deadline now), then an undo of the last one.
    _strategic_patch(
        kubectl,
        namespace,
        {
            "spec": {
                "progressDeadlineSeconds": 600,
                "template": {"spec": {"containers": [{"name": "api", "image": image("1.1.0")}]}},
            }
        },
    )
    records.wait_for_count(3)
    kubectl.run("-n", namespace, "set", "image", "deployment/api", f"api={image('1.2.0')}")
    records.wait_for_count(4)
    kubectl.run("-n", namespace, "rollout", "undo", "deployment/api")

    added = added_since(
        created,
        _own(
            records.changes.wait_for(
                lambda found: (
                    [r["outcome"] for r in _own(found)]
                    == ["succeeded", "failed", "superseded", "rolled_back", "in_progress"]
                ),
                timeout=60,
                tag=records.tag,
            )
        ),
    )
    assert summaries(added) == [
        f"Deploy {namespace}/api: resources (api)",
        f"Deploy {namespace}/api: api:1.0.0 → 1.1.0",
        f"Deploy {namespace}/api: api:1.1.0 → 1.2.0",
        f"Roll back {namespace}/api to revision 3 (api:1.1.0)",
    ]
    # Lists filter on the outcome.
    [only] = records.changes.list_changes(tag=records.tag, outcome="failed")
    assert only["id"] == stuck["id"]
    assert summaries(records.settled()) == summaries([*created, *added])

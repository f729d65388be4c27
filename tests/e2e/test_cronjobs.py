"""A CronJob's job template is a deployment, its schedule and suspension are config, and the
Jobs and Pods it spawns are never changes."""

from __future__ import annotations

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import cronjob, image
from tests.e2e.harness.records import NamespaceRecords, added_since, summaries


def test_cronjob_template_schedule_and_suspend_but_never_its_runs(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(cronjob("backup", tag="1.0.0", schedule="0 2 * * *"), namespace=namespace)
    [created] = records.settled()
    assert created["summary"] == f"Create CronJob {namespace}/backup (0 2 * * *, api:1.0.0)"
    assert created["change_type"] == "deployment"

    # A run, now: the Job and its Pod the CronJob spawns, and the status it keeps of them.
    kubectl.run("-n", namespace, "create", "job", "--from=cronjob/backup", "backup-now")
    kubectl.run(
        "-n", namespace, "wait", "pod", "-l", "job-name=backup-now",
        "--for=condition=Ready", "--timeout=90s",
    )  # fmt: skip
    kubectl.run("-n", namespace, "set", "image", "cronjob/backup", f"backup={image('1.1.0')}")
    kubectl.merge_patch("cronjob", "backup", {"spec": {"schedule": "0 3 * * *"}}, namespace)
    kubectl.merge_patch("cronjob", "backup", {"spec": {"suspend": True}}, namespace)

    added = added_since([created], records.settled())
    assert summaries(added) == [
        f"Deploy {namespace}/backup: api:1.0.0 → 1.1.0",
        f"CronJob {namespace}/backup: schedule 0 2 * * * → 0 3 * * *",
        f"CronJob {namespace}/backup: suspended",
    ]
    assert [record["change_type"] for record in added] == [
        "deployment",
        "config_change",
        "config_change",
    ]
    assert added[0]["details"]["diff"] == [
        {
            "field": "containers.backup.image",
            "change": "changed",
            "old": image("1.0.0"),
            "new": image("1.1.0"),
        }
    ]
    assert {record["outcome"] for record in [created, *added]} == {None}

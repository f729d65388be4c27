"""Argo Rollouts, noticed when their CRD is installed: template changes, promotions, aborts,
rollbacks, and how each rollout ended.

No Argo controller runs here: the test installs the Rollout CRD and writes what the
controller and the ``kubectl argo rollouts`` plugin write, under their field managers: the
revision annotation, the status of each step, a promotion, an abort.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import image
from tests.e2e.harness.records import NamespaceRecords, added_since, is_sentinel, summaries

CRD_NAME = "rollouts.argoproj.io"
CONTROLLER = "rollouts-controller"
PLUGIN = "kubectl-argo-rollouts"
REVISION = "rollout.argoproj.io/revision"
# A canary that pauses for someone to promote it at its second step.
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]


def rollout_crd() -> dict[str, Any]:
    """The Rollout CRD as far as the API server needs it: open schemas, a status subresource."""
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": "argoproj.io",
            "scope": "Namespaced",
            "names": {"kind": "Rollout", "plural": "rollouts", "singular": "rollout"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": open_object, "status": open_object},
                        }
                    },
                }
            ],
        },
    }


def rollout(name: str, tag: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"canary": {"steps": STEPS}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image(tag)}]},
            },
        },
    }


@pytest.fixture
def rollout_crd_installed(kubectl: Kubectl) -> Iterator[None]:
    """The CRD, installed while the operator runs (it watches Rollouts from then on)."""
    kubectl.apply(rollout_crd())
    kubectl.run("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    yield
    kubectl.run("delete", "crd", CRD_NAME, "--wait=false")


class ArgoPlay:
    """Writes what Argo's controller and plugin write, each as its own field manager."""

    def __init__(self, kubectl: Kubectl, namespace: str) -> None:
        self.kubectl = kubectl
        self.namespace = namespace

    def _patch(self, patch: dict[str, Any], manager: str, status: bool = False) -> None:
        self.kubectl.run(
            "-n", self.namespace, "patch", "rollout", "web", "--type=merge",
            f"--patch={json.dumps(patch)}", f"--field-manager={manager}",
            *(["--subresource=status"] if status else []),
        )  # fmt: skip

    def revision(self, number: int) -> None:
        self._patch({"metadata": {"annotations": {REVISION: str(number)}}}, CONTROLLER)

    def status(self, **status: Any) -> None:
        generation = self.kubectl.get("rollout", "web", self.namespace)["metadata"]["generation"]
        self._patch({"status": {"observedGeneration": str(generation), **status}}, CONTROLLER, True)

    def plugin(self, **status: Any) -> None:
        self._patch({"status": status}, PLUGIN, status=True)

    def set_image(self, tag: str) -> None:
        self._patch(
            {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "web", "image": image(tag)}]}}
                }
            },
            "kubectl-edit",
        )


def test_rollouts_are_watched_once_their_crd_appears_with_promotions_aborts_and_undo(
    rollout_crd_installed: None, kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    del rollout_crd_installed
    argo = ArgoPlay(kubectl, namespace)
    kubectl.apply(rollout("web", "1.0.0"), namespace=namespace)
    argo.revision(1)
    argo.status(phase="Healthy", currentStepIndex=3, stableRS="web-1")
    [created] = records.wait_for_count(1, timeout=90)
    assert created["summary"] == f"Create Rollout {namespace}/web (api:1.0.0)"

    # A canary of 1.1.0 that waits at its pause until someone promotes it, then is healthy.
    argo.set_image("1.1.0")
    argo.revision(2)
    argo.status(phase="Progressing", currentStepIndex=0)
    argo.status(phase="Paused", currentStepIndex=1, pauseConditions=[{"reason": "CanaryPauseStep"}])
    records.wait_for_count(2)
    argo.plugin(pauseConditions=None, controllerPause=False)
    records.wait_for_count(3)
    argo.status(phase="Healthy", currentStepIndex=3)

    # A canary of 1.2.0, aborted: traffic goes back to the stable version, the rollout fails.
    argo.set_image("1.2.0")
    argo.revision(3)
    argo.status(phase="Progressing", currentStepIndex=0)
    records.wait_for_count(4)
    argo.plugin(abort=True)
    argo.status(phase="Degraded", message="RolloutAborted: Rollout aborted update to revision 3")
    records.wait_for_count(5)
    # `kubectl argo rollouts undo`: the template of revision 2 again.
    argo.set_image("1.1.0")
    argo.revision(4)

    everything = records.changes.wait_for(
        lambda found: (
            [r["outcome"] for r in found if not is_sentinel(r)]
            == ["succeeded", "succeeded", None, "failed", None, "in_progress"]
        ),
        timeout=60,
        tag=records.tag,
    )
    added = added_since([created], [r for r in everything if not is_sentinel(r)])
    assert summaries(added) == [
        f"Deploy {namespace}/web: api:1.0.0 → 1.1.0 (canary)",
        f"Promote {namespace}/web past step 2 (api:1.1.0)",
        f"Deploy {namespace}/web: api:1.1.0 → 1.2.0 (canary)",
        f"Abort {namespace}/web (api:1.2.0): back to the stable version",
        f"Roll back {namespace}/web to revision 2 (api:1.1.0) (canary)",
    ]
    assert [r["change_type"] for r in added] == [
        "deployment", "deployment", "deployment", "rollback", "rollback",
    ]  # fmt: skip
    assert [r["changed_by"] for r in added[1::2]] == ["kubectl", "kubectl"]  # the plugin
    assert added[2]["outcome_reason"].startswith("RolloutAborted")
    assert summaries(records.settled()) == summaries([created, *added])

"""Secrets: keys and keyed hashes, never values. Argo Rollouts: the moves people make."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from changetrail_operator.drafts import ChangeType, Outcome
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.kinds.secret import SecretKind
from changetrail_operator.observer import Observer
from tests.operator.conftest import ObserverFactory, drafts, summaries
from tests.operator.factories import (
    JsonDict,
    deployment,
    evolve,
    managed,
    rollout,
    secret,
    with_image,
)

HASH_KEY = b"an-installation-key-of-32-bytes-or-more"
PASSWORD = "correct horse battery staple"
ROTATED = "Tr0ub4dor&3-rotated"


@pytest.fixture
def watching_secrets(make_observer: ObserverFactory) -> Observer:
    observer = make_observer()
    observer.kinds["Secret"] = SecretKind(HASH_KEY)
    return observer


def _forms(value: str) -> list[str]:
    """Every form of a value that must never leave the cluster: itself, base64, plain hashes."""
    raw = value.encode()
    digests = [hashlib.sha256(raw).hexdigest(), hashlib.md5(raw).hexdigest()]  # noqa: S324
    return [value, base64.b64encode(raw).decode(), *digests, *(d[:16] for d in digests)]


def test_a_rotated_secret_names_the_key_with_keyed_hashes_and_lengths_only(
    watching_secrets: Observer, inventory: StaticInventory
) -> None:
    applied = json.dumps({"stringData": {"PASSWORD": PASSWORD, "TOKEN": ROTATED}})
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": applied}
    before = secret(data={"PASSWORD": PASSWORD, "USER": "app"}, annotations=annotations)
    watching_secrets.observe("Secret", None, before, inventory)
    after = evolve(before, spec_change=False)
    after["data"]["PASSWORD"] = base64.b64encode(ROTATED.encode()).decode()
    after["data"]["TOKEN"] = base64.b64encode(b"t0k3n").decode()
    after["metadata"]["managedFields"] = [
        managed("kubectl-client-side-apply", "2026-02-01T10:00:00Z", ("data", "PASSWORD"))
    ]
    watching_secrets.observe("Secret", "MODIFIED", after, inventory)

    [change] = drafts(watching_secrets)
    assert change.summary == "Secret payments/db: 2 keys changed (PASSWORD, TOKEN)"
    assert change.change_type is ChangeType.CONFIG_CHANGE
    assert change.changed_by == "kubectl"
    assert change.details is not None
    password, token = change.details["diff"]
    assert (password["change"], password["old_bytes"], password["new_bytes"]) == (
        "changed",
        len(PASSWORD),
        len(ROTATED),
    )
    assert (token["change"], token["new_bytes"], "old_hash" in token) == ("added", 5, False)
    assert len(password["new_hash"]) == 16
    assert password["old_hash"] != password["new_hash"]
    assert change.details["hash"] == "hmac-sha256"
    # No value, no base64 of one, no plain hash of one: not in the change, not in the state.
    stored = json.dumps([record.state for record in watching_secrets.records.values()])
    shown = json.dumps(change.details) + change.summary + str(change.description)
    for value in (PASSWORD, ROTATED, "t0k3n"):
        for form in _forms(value):
            assert form not in shown
            assert form not in stored


def test_keyed_hashes_differ_per_installation_and_per_secret(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    hashes = []
    for key, name in ((HASH_KEY, "db"), (HASH_KEY[::-1], "db"), (HASH_KEY, "other")):
        observer = make_observer()
        observer.kinds["Secret"] = SecretKind(key)
        body = secret(name, data={"PASSWORD": PASSWORD})
        observer.observe("Secret", None, body, inventory)
        hashes.append(observer.records[("Secret", body["metadata"]["uid"])].state["hashes"])
    assert len({json.dumps(found) for found in hashes}) == 3


def test_service_account_tokens_and_helm_releases_are_noise(
    watching_secrets: Observer, inventory: StaticInventory
) -> None:
    for name, kind in (
        ("default-token-x", "kubernetes.io/service-account-token"),
        ("sh.helm.release.v1.shop.v3", "helm.sh/release.v1"),
    ):
        body = secret(name, kind=kind, created="2026-07-01T00:00:00Z")
        watching_secrets.observe("Secret", "ADDED", body, inventory)
        watching_secrets.observe("Secret", "MODIFIED", evolve(body, data={"x": "eQ=="}), inventory)
    assert drafts(watching_secrets) == []
    assert watching_secrets.records == {}


def test_a_secret_change_belongs_to_the_workloads_that_use_it(
    watching_secrets: Observer, inventory: StaticInventory
) -> None:
    api = deployment(labels={"app.kubernetes.io/part-of": "payments"})
    api["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "db"}}]
    watching_secrets.observe("Deployment", None, api, inventory)
    body = secret()
    watching_secrets.observe("Secret", None, body, inventory)
    watching_secrets.observe("Secret", "MODIFIED", evolve(body, data={}), inventory)

    [change] = drafts(watching_secrets)
    assert change.service_name == "payments"
    assert change.details is not None
    assert change.details["consumers"] == ["Deployment/api"]


# Argo Rollouts ------------------------------------------------------------------------------


def _status(body: JsonDict, manager: str = "rollouts-controller", **status: object) -> JsonDict:
    new = evolve(body, spec_change=False)
    new["status"] = {**new["status"], **status}
    new["metadata"]["managedFields"] = [
        managed(
            manager, "2026-02-01T10:05:00Z", *(("status", k) for k in status), subresource="status"
        )
    ]
    return new


def _rolled(observer: Observer, inventory: StaticInventory) -> JsonDict:
    body = rollout()
    observer.observe("Rollout", None, body, inventory)
    new = with_image(body, "registry.example.com/web:2.4")
    new["status"].update(observedGeneration="1", phase="Progressing", currentStepIndex=0)
    observer.observe("Rollout", "MODIFIED", new, inventory)
    return new


def test_a_rollout_template_change_names_its_canary_and_ends_healthy(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = _rolled(observer, inventory)
    paused = _status(
        body,
        observedGeneration="2",
        phase="Paused",
        currentStepIndex=1,
        pauseConditions=[{"reason": "CanaryPauseStep"}],
    )
    observer.observe("Rollout", "MODIFIED", paused, inventory)
    promoted = _status(
        paused, manager="kubectl-argo-rollouts", pauseConditions=None, controllerPause=False
    )
    observer.observe("Rollout", "MODIFIED", promoted, inventory)
    healthy = _status(promoted, phase="Healthy", currentStepIndex=3)
    observer.observe("Rollout", "MODIFIED", healthy, inventory)

    rolled, promotion = drafts(observer)
    assert rolled.summary == "Deploy shop/web: web:2.3 → 2.4 (canary)"
    assert rolled.outcome is Outcome.IN_PROGRESS
    assert promotion.summary == "Promote shop/web past step 2 (web:2.4)"
    assert (promotion.change_type, promotion.changed_by) == (ChangeType.DEPLOYMENT, "kubectl")
    ended = [c for d in observer.outbox.queued() for c in d.completions]
    assert [(c.external_id, c.outcome) for c in ended] == [(rolled.external_id, Outcome.SUCCEEDED)]


def test_an_abort_is_a_rollback_that_fails_the_rollout_and_a_retry_starts_again(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = _rolled(observer, inventory)
    aborted = _status(body, manager="kubectl-argo-rollouts", abort=True, observedGeneration="2")
    observer.observe("Rollout", "MODIFIED", aborted, inventory)
    degraded = _status(aborted, phase="Degraded", message="RolloutAborted: aborted by user")
    observer.observe("Rollout", "MODIFIED", degraded, inventory)
    retried = _status(degraded, manager="kubectl-argo-rollouts", abort=False, phase="Progressing")
    observer.observe("Rollout", "MODIFIED", retried, inventory)

    assert summaries(observer) == [
        "Deploy shop/web: web:2.3 → 2.4 (canary)",
        "Abort shop/web (web:2.4): back to the stable version",
        "Retry shop/web (web:2.4)",
    ]
    rolled, abort, retry = drafts(observer)
    assert abort.change_type is ChangeType.ROLLBACK
    assert retry.outcome is Outcome.IN_PROGRESS
    ended = [c for d in observer.outbox.queued() for c in d.completions]
    assert [(c.external_id, c.outcome) for c in ended] == [(rolled.external_id, Outcome.FAILED)]
    assert ended[0].reason == "RolloutAborted"


def test_a_rollout_undo_is_a_rollback_to_its_revision(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = _rolled(observer, inventory)
    body["metadata"]["annotations"]["rollout.argoproj.io/revision"] = "2"
    observer.observe("Rollout", "MODIFIED", evolve(body, spec_change=False), inventory)
    undone = with_image(body, "registry.example.com/web:2.3")
    observer.observe("Rollout", "MODIFIED", undone, inventory)

    assert summaries(observer)[-1] == "Roll back shop/web to revision 1 (web:2.3) (canary)"
    ended = [c for d in observer.outbox.queued() for c in d.completions]
    assert [c.outcome for c in ended] == [Outcome.ROLLED_BACK]

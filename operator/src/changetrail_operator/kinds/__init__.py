"""The watched kinds, in the order they are watched and listed.

Watching another kind is a module in this package implementing ``base.Kind`` and one line in
``registry``: the observer, the kopf handlers, the deletion sweep and the policies' ``kinds``
all follow it. (The CRDs' list of kinds and the chart's RBAC rules name them too.) Workloads
come first, so that the ConfigMaps and Secrets they use are linked to them from the start.

Secrets are watched only when asked for (``CHANGETRAIL_WATCH_SECRETS``, which needs a hash
key); Argo Rollouts unless turned off, and only while their CRD is installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from changetrail_operator.kinds.argo_rollout import ArgoRolloutKind
from changetrail_operator.kinds.base import Kind
from changetrail_operator.kinds.configmap import ConfigMapKind
from changetrail_operator.kinds.cronjob import CronJobKind
from changetrail_operator.kinds.daemonset import DaemonSetKind
from changetrail_operator.kinds.deployment import DeploymentKind
from changetrail_operator.kinds.hpa import HpaKind
from changetrail_operator.kinds.secret import SecretKind
from changetrail_operator.kinds.statefulset import StatefulSetKind

if TYPE_CHECKING:
    from changetrail_operator.settings import OperatorSettings


def registry(
    *, secret_hash_key: bytes | None = None, argo_rollouts: bool = True
) -> tuple[Kind[Any], ...]:
    """The kinds to watch: Secrets only with a hash key, Argo Rollouts unless turned off."""
    kinds: list[Kind[Any]] = [
        DeploymentKind(),
        StatefulSetKind(),
        DaemonSetKind(),
        CronJobKind(),
    ]
    if argo_rollouts:
        kinds.append(ArgoRolloutKind())
    kinds.append(ConfigMapKind())
    if secret_hash_key is not None:
        kinds.append(SecretKind(secret_hash_key))
    kinds.append(HpaKind())
    return tuple(kinds)


def watched_kinds(settings: OperatorSettings) -> tuple[Kind[Any], ...]:
    """The kinds this operator's settings ask for."""
    return registry(
        secret_hash_key=settings.secret_hash_bytes() if settings.watch_secrets else None,
        argo_rollouts=settings.watch_argo_rollouts,
    )


# The kinds watched by default (no Secrets).
KINDS: tuple[Kind[Any], ...] = registry()
# Every kind a policy may name, watched here or not (Secrets, when they are not watched, are
# simply never governed).
KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in registry(secret_hash_key=b"-" * 32))

__all__ = ["KINDS", "KIND_NAMES", "Kind", "registry", "watched_kinds"]

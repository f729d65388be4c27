"""The watched kinds, in the order they are watched and listed.

Watching another kind is a module in this package implementing ``base.Kind`` and one line in
``KINDS``: the observer, the kopf handlers, the deletion sweep and the policies' ``kinds`` all
follow this registry. (The CRDs' list of kinds and the chart's RBAC rules name them too.)
"""

from __future__ import annotations

from typing import Any

from changetrail_operator.kinds.base import Kind
from changetrail_operator.kinds.configmap import ConfigMapKind
from changetrail_operator.kinds.deployment import DeploymentKind
from changetrail_operator.kinds.hpa import HpaKind

KINDS: tuple[Kind[Any], ...] = (
    DeploymentKind(),
    ConfigMapKind(),
    HpaKind(),
)
KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in KINDS)

__all__ = ["KINDS", "KIND_NAMES", "Kind"]

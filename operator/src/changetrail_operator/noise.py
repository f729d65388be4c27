"""Objects that are never a change, whatever happens to them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

# Written by the control plane itself, continuously or once per namespace.
SYSTEM_CONFIGMAPS = frozenset({"kube-root-ca.crt", "cluster-autoscaler-status"})
# Older client-go leader election stores its lock as this annotation on a ConfigMap (or
# Endpoints); the lock is renewed every few seconds.
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


def ignored_namespace(
    namespace: str | None, watched: Collection[str], ignored: Collection[str]
) -> bool:
    if namespace is None:
        return False
    if watched and namespace not in watched:
        return True
    return namespace in ignored


def ignore_reason(
    kind: str,
    body: Mapping[str, Any],
    watched_namespaces: Collection[str],
    ignored_namespaces: Collection[str],
) -> str | None:
    """Why an object is noise by nature (``namespace``, ``system``, ``leader-election``)."""
    meta = body.get("metadata") or {}
    if ignored_namespace(meta.get("namespace"), watched_namespaces, ignored_namespaces):
        return "namespace"
    if kind == "ConfigMap":
        if meta.get("name") in SYSTEM_CONFIGMAPS:
            return "system"
        if LEADER_ANNOTATION in (meta.get("annotations") or {}):
            return "leader-election"
    return None

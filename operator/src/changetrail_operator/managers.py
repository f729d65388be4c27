"""Who made a change: the field manager that last wrote the changed fields.

Server-side field tracking (``metadata.managedFields``) names the client of every write and the
fields it owns. The manager whose entry is newest among those owning a changed field made the
change; names of well-known clients are folded into one (every kubectl verb is ``kubectl``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CHANGE_CAUSE = "kubernetes.io/change-cause"

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("kubectl", "kubectl"),
    ("helm", "helm"),
    ("argocd", "argocd-controller"),
    ("kustomize-controller", "flux"),
    ("helm-controller", "flux"),
    ("terraform", "terraform"),
    ("pulumi", "pulumi"),
    ("spinnaker", "spinnaker"),
)


def normalise_manager(manager: str) -> str:
    """``kubectl-client-side-apply`` → ``kubectl``, ``helm`` → ``helm``; others unchanged."""
    lowered = manager.lower()
    for prefix, name in _PREFIXES:
        if lowered.startswith(prefix):
            return name
    return manager


def _touches(fields: Mapping[str, Any], path: Sequence[str]) -> bool:
    node: Any = fields
    for part in path:
        if not isinstance(node, Mapping):
            return False
        key = f"f:{part}"
        if key not in node:
            return False
        node = node[key]
    return True


def changed_by(
    body: Mapping[str, Any], changed_paths: Iterable[Sequence[str]]
) -> tuple[str | None, str | None]:
    """The normalised manager of the newest write that touched any of ``changed_paths``,
    with the time of that write (``None, None`` without field tracking).

    ``changed_paths`` are field paths such as ``("spec", "template")``. When no entry owns one
    of them (an object without field tracking, or an apply that dropped a field), the newest
    write to the object, status writes aside, is the best remaining guess.
    """
    paths = [tuple(path) for path in changed_paths]
    # Status writes are the controllers' reports, never the change, unless the change is in
    # the status itself (an Argo Rollouts promotion or abort is written there).
    of_status = any(path[:1] == ("status",) for path in paths)
    entries = [
        entry
        for entry in (body.get("metadata") or {}).get("managedFields") or []
        if isinstance(entry, Mapping)
        and entry.get("manager")
        and (of_status or entry.get("subresource") != "status")
    ]
    if not entries:
        return None, None
    owning = [
        entry
        for entry in entries
        if any(_touches(entry.get("fieldsV1") or {}, path) for path in paths)
    ]
    # ISO timestamps sort lexically; entries without a time sort first.
    newest = max(owning or entries, key=lambda entry: str(entry.get("time") or ""))
    time = newest.get("time")
    return normalise_manager(str(newest["manager"])), str(time) if time else None


def change_cause(body: Mapping[str, Any]) -> str | None:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    cause = annotations.get(CHANGE_CAUSE)
    return str(cause) if cause else None

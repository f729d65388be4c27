"""Objects that are never a change, whatever happens to them, whatever their kind.

Noise particular to a kind (the control plane's own ConfigMaps) is that kind's ``noise``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from changetrail_operator.bodies import metadata


def ignored_namespace(
    namespace: str | None, watched: Collection[str], ignored: Collection[str]
) -> bool:
    if namespace is None:
        return False
    if watched and namespace not in watched:
        return True
    return namespace in ignored


def ignore_reason(
    body: Mapping[str, Any],
    watched_namespaces: Collection[str],
    ignored_namespaces: Collection[str],
) -> str | None:
    """Why an object is noise wherever it is (``namespace``); None if it is not."""
    if ignored_namespace(metadata(body).get("namespace"), watched_namespaces, ignored_namespaces):
        return "namespace"
    return None

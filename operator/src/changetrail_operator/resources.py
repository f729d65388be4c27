"""Where a kind of object is served in the Kubernetes API, and the paths of its requests."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class ApiResource:
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True

    @property
    def selector(self) -> tuple[str, str, str]:
        """``(group, version, plural)``, as kopf's handler decorators take a resource."""
        return self.group, self.version, self.plural

    def path(
        self,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        """The request path: of the collection, or of one object and its subresource.

        A namespaced resource without a namespace is the collection across all namespaces.
        """
        path = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
            if subresource is not None:
                path += f"/{subresource}"
        return path

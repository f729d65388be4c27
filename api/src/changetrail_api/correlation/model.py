"""What the scorer knows about an incident and about each candidate change.

Plain values, no database rows: the API builds them from its tables, the tests and the
benchmark build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    """A service of the incident and how to recognise its workloads in Kubernetes changes.

    ``names`` holds the service's name and slug; ``namespaces`` and ``workloads`` come from the
    service's ``kubernetes`` mapping (the same one the operator uses to link objects to it).
    """

    id: str
    names: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    workloads: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    started_at: datetime
    services: tuple[ServiceProfile, ...] = ()
    # None: the incident does not say, so every environment is as plausible as any other.
    environment: str | None = None

    @property
    def service_ids(self) -> frozenset[str]:
        return frozenset(service.id for service in self.services)


@dataclass(frozen=True, slots=True)
class KubernetesRef:
    """The Kubernetes object a change happened to, as far as the change says."""

    namespace: str | None = None
    kind: str | None = None
    name: str | None = None
    # Workloads that use the object (a ConfigMap lists the Deployments that mount or read it).
    consumers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CandidateChange:
    id: str
    change_type: str
    risk_level: str
    occurred_at: datetime
    ended_at: datetime | None = None
    service_id: str | None = None
    environment: str | None = None
    kubernetes: KubernetesRef | None = None
    # How the change ended, when its producer follows it (domain.Outcome's values).
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class Suspect:
    """A change with its score in [0, 1] and the reasons, strongest first."""

    change_id: str
    score: float
    reasons: tuple[str, ...] = field(default=())

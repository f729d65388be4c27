"""Ranking changes against incidents (pure, no I/O).

``rank(incident, changes)`` scores every candidate change with ``score`` (a documented product
of time, service, environment, type and risk factors) and returns them most suspicious first,
each with its reasons. The API feeds it rows; the tests and the benchmark feed it the labelled
scenarios under ``tests/api/correlation/``.
"""

from changetrail_api.correlation.links import Link, Relation, kubernetes_ref, link
from changetrail_api.correlation.model import (
    CandidateChange,
    IncidentFacts,
    KubernetesRef,
    ServiceProfile,
    Suspect,
)
from changetrail_api.correlation.scoring import (
    DEFAULT_WEIGHTS,
    Weights,
    describe_duration,
    rank,
    score,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "CandidateChange",
    "IncidentFacts",
    "KubernetesRef",
    "Link",
    "Relation",
    "ServiceProfile",
    "Suspect",
    "Weights",
    "describe_duration",
    "kubernetes_ref",
    "link",
    "rank",
    "score",
]

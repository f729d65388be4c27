"""Ranking changes against incidents (pure, no I/O).

``rank(incident, changes)`` scores every candidate change with ``score`` (a documented product
of time, service, environment, type and risk factors) and returns them most suspicious first,
each with its reasons. The API feeds it rows; the tests and the benchmark feed it the labelled
scenarios of ``changetrail.correlation.scenarios``.
"""

from changetrail.correlation.links import Link, Relation, kubernetes_ref, link
from changetrail.correlation.model import (
    CandidateChange,
    IncidentFacts,
    KubernetesRef,
    ServiceProfile,
    Suspect,
)
from changetrail.correlation.scoring import DEFAULT_WEIGHTS, Weights, describe_duration, rank, score

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

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from changetrail_api.pagination import ListMeta
from changetrail_api.timefmt import Instant

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,198}[a-z0-9])?$")]
LabelMap = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=317)],
    Annotated[str, StringConstraints(max_length=63)],
]


class KubernetesMapping(BaseModel):
    """How the operator links workloads to this service (any match links)."""

    model_config = ConfigDict(extra="forbid")

    namespaces: Annotated[
        list[Annotated[str, StringConstraints(max_length=63)]], Field(max_length=100)
    ] = []
    workloads: Annotated[
        list[Annotated[str, StringConstraints(max_length=253)]], Field(max_length=100)
    ] = []
    labels: LabelMap = {}


class ServiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    kubernetes: KubernetesMapping | None = None


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    slug: Slug | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    kubernetes: KubernetesMapping | None = None


class ServiceOut(BaseModel):
    id: str
    name: str
    slug: str
    description: str | None
    kubernetes: KubernetesMapping | None
    created_at: Instant
    updated_at: Instant


class ServiceEnvelope(BaseModel):
    data: ServiceOut


class ServiceListEnvelope(BaseModel):
    data: list[ServiceOut]
    meta: ListMeta


def slugify(name: str) -> str:
    """``Payments API`` → ``payments-api``; accents fold to ASCII (``Zürich`` → ``zurich``).

    A name with no ASCII letter or digit left (``決済``) gets ``service-`` and a digest of the
    name: different names get different slugs, instead of all colliding on one.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:200].strip("-")
    if slug:
        return slug
    return "service-" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:12]

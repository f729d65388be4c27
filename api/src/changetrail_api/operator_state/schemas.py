from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from changetrail_api import json_safety
from changetrail_api.timefmt import Instant

MAX_STATE_BYTES = json_safety.MAX_DOCUMENT_BYTES

Key = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ObjectState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    kind: Key
    uid: Key
    namespace: Annotated[str, StringConstraints(max_length=253)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    state: dict[str, Any]

    @field_validator("state")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The limits every stored JSON value meets: a state the operator cannot read back would
        # leave its cluster's memory unreadable.
        json_safety.check_document(value, at=("state",), max_bytes=MAX_STATE_BYTES)
        return value


class ObjectStateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[ObjectState], Field(min_length=1, max_length=500)]


class ObjectStateOut(ObjectState):
    updated_at: Instant


class ObjectStatePageMeta(BaseModel):
    next_after: str | None


class ObjectStatePage(BaseModel):
    data: list[ObjectStateOut]
    meta: ObjectStatePageMeta


class StoredEnvelope(BaseModel):
    data: dict[str, int]

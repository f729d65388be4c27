from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from changetrail_api import json_safety
from changetrail_api.domain import ChangeType, Outcome, RiskLevel
from changetrail_api.pagination import ListMeta
from changetrail_api.timefmt import Instant, RecordedInstant

MAX_DETAILS_BYTES = json_safety.MAX_DOCUMENT_BYTES


def _pr_number(value: object) -> object:
    # The contract types pr_number as a string; CI systems often send a number.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


Text = Annotated[str, StringConstraints(max_length=10_000)]
Short = Annotated[str, StringConstraints(max_length=255)]
Url = Annotated[str, StringConstraints(max_length=2048)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]
PrNumber = Annotated[str, BeforeValidator(_pr_number), StringConstraints(max_length=50)]


class ChangeCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": True})

    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    service_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    change_type: ChangeType = ChangeType.DEPLOYMENT
    description: Text | None = None
    source: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = "api"
    commit_sha: Annotated[str, StringConstraints(max_length=100)] | None = None
    commit_message: Text | None = None
    branch: Short | None = None
    pr_number: PrNumber | None = None
    pr_url: Url | None = None
    pipeline_url: Url | None = None
    environment: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = "production"
    risk_level: RiskLevel = RiskLevel.LOW
    changed_by: Short | None = None
    external_id: Short | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    occurred_at: RecordedInstant | None = None
    ended_at: RecordedInstant | None = None
    details: dict[str, Any] | None = None
    outcome: Outcome | None = None
    outcome_reason: Short | None = None

    @field_validator("details")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The limits every stored JSON value meets, whichever path (API, webhook) it came by.
        if value is not None:
            json_safety.check_document(value, at=("details",), max_bytes=MAX_DETAILS_BYTES)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ChangeCreate:
        if self.occurred_at and self.ended_at and self.ended_at < self.occurred_at:
            raise ValueError("ended_at must not be before occurred_at")
        if self.outcome is Outcome.IN_PROGRESS and self.ended_at is not None:
            raise ValueError("a change in progress has no ended_at yet")
        # Duplicated tags would only make tag filters and counts confusing.
        self.tags = list(dict.fromkeys(self.tags))
        return self


# Response fields that no column of a change holds: looked up when a change is read.
COMPUTED_FIELDS = ("service_name",)


# A stored change: its public columns (changes.models.PUBLIC_COLUMNS) and COMPUTED_FIELDS. No
# docstring, which would become the schema's description in the OpenAPI document.
class ChangeOut(BaseModel):
    id: str
    service_id: str | None
    service_name: str | None
    change_type: str
    summary: str
    description: str | None
    source: str
    commit_sha: str | None
    commit_message: str | None
    branch: str | None
    pr_number: str | None
    pr_url: str | None
    pipeline_url: str | None
    environment: str
    risk_level: str
    changed_by: str | None
    external_id: str | None
    tags: list[str]
    details: dict[str, Any] | None
    occurred_at: Instant
    ended_at: Instant | None
    created_at: Instant
    outcome: str | None
    outcome_reason: str | None


# Terminal outcomes: once a change has one, a completion may only repeat it.
ENDED = frozenset(Outcome) - {Outcome.IN_PROGRESS}


class ChangeCompletion(BaseModel):
    """How a recorded change ended. Only the source that recorded the change completes it."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        Field(description="The source that recorded the change (checked, never changed)."),
    ]
    outcome: Outcome
    ended_at: Annotated[
        Instant | None,
        Field(description="When it ended; the time of the completion when omitted."),
    ] = None
    outcome_reason: Annotated[
        Short | None, Field(description="Why it ended so: ProgressDeadlineExceeded, ...")
    ] = None

    @model_validator(mode="after")
    def _consistent(self) -> ChangeCompletion:
        if self.outcome is Outcome.IN_PROGRESS and self.ended_at is not None:
            raise ValueError("a change in progress has no ended_at yet")
        return self


class ChangeEnvelope(BaseModel):
    data: ChangeOut


class ChangeListEnvelope(BaseModel):
    data: list[ChangeOut]
    meta: ListMeta


# Most changes one batch may carry: a request stays well under the batch body limit's worth of
# work, and one transaction stays short enough not to hold counter rows for long.
MAX_BATCH_ITEMS = 1000


class ChangeBatch(BaseModel):
    """Up to 1,000 changes to record at once; each item is what `POST /api/v1/changes` takes."""

    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one by the endpoint, so an invalid item is answered on its
    # own instead of failing the whole batch; the schema still names what each should be.
    changes: Annotated[
        list[Any],
        Field(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            json_schema_extra={"items": {"$ref": "#/components/schemas/ChangeCreate"}},
        ),
    ]


class ItemError(BaseModel):
    field: str
    message: str


class ChangeBatchItem(BaseModel):
    status: Annotated[
        Literal["created", "existing", "invalid"],
        Field(
            description=(
                "created: stored now; existing: recorded already (an earlier request or an "
                "earlier item of this batch with the same source and external_id); invalid: "
                "not stored, see errors"
            )
        ),
    ]
    change: ChangeOut | None
    errors: list[ItemError] | None


class ChangeBatchMeta(BaseModel):
    created: int
    existing: int
    invalid: int


class ChangeBatchEnvelope(BaseModel):
    data: list[ChangeBatchItem]
    meta: ChangeBatchMeta

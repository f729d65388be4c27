from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.pagination import ListMeta
from changetrail_api.timefmt import Instant, RecordedInstant


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_ORDER = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ServiceIds = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=40)]], Field(max_length=50)
]
Environment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    started_at: RecordedInstant
    resolved_at: RecordedInstant | None = None
    service_ids: ServiceIds = Field(default_factory=list)
    environment: Environment | None = Field(
        default=None, description="Where it happened; omitted means any environment."
    )
    severity: Severity = Severity.MEDIUM
    source: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = "api"
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="ID in the reporting system; a repeat returns the first."
    )

    @model_validator(mode="after")
    def _consistent(self) -> IncidentCreate:
        if self.resolved_at is not None and self.resolved_at < self.started_at:
            raise ValueError("resolved_at must not be before started_at")
        self.service_ids = list(dict.fromkeys(self.service_ids))
        return self


class IncidentUpdate(BaseModel):
    """Only the fields sent change; ``resolved_at: null`` reopens an incident."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    started_at: RecordedInstant | None = None
    resolved_at: RecordedInstant | None = None
    service_ids: ServiceIds | None = None
    environment: Environment | None = None
    severity: Severity | None = None

    @model_validator(mode="after")
    def _not_null(self) -> IncidentUpdate:
        for name in ("title", "started_at", "service_ids", "severity"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.service_ids is not None:
            self.service_ids = list(dict.fromkeys(self.service_ids))
        return self


class ServiceRef(BaseModel):
    id: str
    name: str


class SuspectOut(ChangeOut):
    """A candidate change, with how suspicious it is and why."""

    score: float = Field(ge=0, le=1)
    reasons: list[str]


class IncidentOut(BaseModel):
    id: str
    title: str
    status: Literal["open", "resolved"]
    severity: str
    environment: str | None
    service_ids: list[str]
    services: list[ServiceRef]
    source: str
    external_id: str | None
    details: dict[str, Any] | None
    started_at: Instant
    resolved_at: Instant | None
    created_at: Instant
    updated_at: Instant
    suspects: list[SuspectOut] | None = Field(
        default=None,
        description="The most suspicious changes in the default window; lists leave it null.",
    )


class IncidentEnvelope(BaseModel):
    data: IncidentOut


class IncidentListEnvelope(BaseModel):
    data: list[IncidentOut]
    meta: ListMeta


class CorrelationMeta(ListMeta):
    window_start: Instant
    window_end: Instant
    candidates: int = Field(description="Changes scored (before limit and offset).")
    truncated: bool = Field(
        description="The window held more changes than are scored; the oldest were left out."
    )


class SuspectListEnvelope(BaseModel):
    data: list[SuspectOut]
    meta: CorrelationMeta


class UnmatchedLabel(BaseModel):
    label: str
    value: str


AlertAction = Literal["opened", "updated", "resolved", "recorded_resolved", "unchanged"]


class AlertReceipt(BaseModel):
    action: AlertAction
    incident: IncidentOut
    unmatched_labels: list[UnmatchedLabel] = Field(
        description="Service label values that name no service in this organisation."
    )


class AlertReceiptEnvelope(BaseModel):
    data: AlertReceipt

"""What a list of changes asks for: read from the query by endpoints, turned into SQL by the
repository. A value of its own, so neither layer has to import the other to name it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChangeFilters:
    service_id: str | None = None
    change_type: str | None = None
    source: str | None = None
    environment: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    risk_level: str | None = None
    changed_by: str | None = None
    tags: tuple[str, ...] = ()
    q: str | None = None
    external_id: str | None = None
    outcome: str | None = None
    sort: str = "created_at"

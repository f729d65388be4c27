"""What a list of incidents asks for: read from the query by endpoints, turned into SQL by the
repository. A value of its own, so neither layer has to import the other to name it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class IncidentFilters:
    status: str | None = None
    severity: str | None = None
    environment: str | None = None
    service_id: str | None = None
    source: str | None = None
    external_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None

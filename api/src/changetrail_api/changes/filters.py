"""What a list of changes asks for: read from the query by endpoints, turned into SQL by the
repository. A value of its own, so neither layer has to import the other to name it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from changetrail_api.errors import FieldError

# Each tag is one more condition in the query; SQLite refuses an expression tree past 1,000
# levels, and no person narrows a list by more than a handful of tags.
MAX_TAG_FILTERS = 20


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

    def __post_init__(self) -> None:
        if len(self.tags) > MAX_TAG_FILTERS:
            raise FieldError("tag", f"at most {MAX_TAG_FILTERS} tag filters may be combined")

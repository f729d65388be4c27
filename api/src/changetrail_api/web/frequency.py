"""How often a service deploys: counts of deployments over recent days, via the changes service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.changes import service as changes_service
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.domain import ChangeType
from changetrail_api.web import chart

DAYS = 28


@dataclass(frozen=True, slots=True)
class Frequency:
    last_7_days: int
    last_28_days: int
    rollbacks_28_days: int
    per_day: list[tuple[str, int]]  # (local day, deployments), oldest first

    @property
    def daily_average(self) -> float:
        return self.last_28_days / DAYS

    @property
    def peak(self) -> int:
        return max((n for _, n in self.per_day), default=0)


async def _total(db: AsyncSession, org_id: str, filters: ChangeFilters) -> int:
    _, total = await changes_service.list_changes(db, org_id, filters, limit=1, offset=0)
    return total


async def deployments(
    db: AsyncSession, org_id: str, service_id: str, zone: tzinfo, now: datetime
) -> Frequency:
    """Deployments in the last 7 and 28 days, per day for the chart, and rollbacks beside."""
    deploys = ChangeFilters(service_id=service_id, change_type=ChangeType.DEPLOYMENT)
    today = now.astimezone(zone).date()
    plan = chart.Bucketing(
        [
            datetime.combine(today - timedelta(days=DAYS - 1 - i), time.min, zone).astimezone(UTC)
            for i in range(DAYS + 1)
        ]
    )
    counts = await chart.count(db, org_id, deploys, plan)
    per_day = counts.series.get(ChangeType.DEPLOYMENT, [0] * DAYS)
    rollbacks = await _total(
        db,
        org_id,
        ChangeFilters(
            service_id=service_id,
            change_type=ChangeType.ROLLBACK,
            start=plan.start,
            end=plan.end,
        ),
    )
    days = [plan.edges[i].astimezone(zone).strftime("%a %-d %b") for i in range(DAYS)]
    return Frequency(
        last_7_days=sum(per_day[-7:]),
        last_28_days=sum(per_day),
        rollbacks_28_days=rollbacks,
        per_day=list(zip(days, per_day, strict=True)),
    )


async def recent_deployments(db: AsyncSession, org_id: str, service_id: str, now: datetime) -> int:
    """Deployments of the service in the last 7 days (one count, for the services list)."""
    return await _total(
        db,
        org_id,
        ChangeFilters(
            service_id=service_id,
            change_type=ChangeType.DEPLOYMENT,
            start=now - timedelta(days=7),
        ),
    )

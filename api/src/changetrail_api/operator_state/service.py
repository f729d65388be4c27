"""The operator's remembered object states: read back in pages, stored in batches, forgotten one
by one. Never commits: the request's session does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import utcnow_ms
from changetrail_api.errors import NotFoundError
from changetrail_api.operator_state import repository
from changetrail_api.operator_state.models import OperatorObject
from changetrail_api.operator_state.schemas import (
    ObjectStateBatch,
    ObjectStateOut,
    ObjectStatePage,
    ObjectStatePageMeta,
)


def to_out(row: OperatorObject) -> ObjectStateOut:
    # Read by field name from the row: a column the response declares needs no edit here.
    return ObjectStateOut.model_validate(row, from_attributes=True)


async def page(
    session: AsyncSession,
    org_id: str,
    cluster: str,
    *,
    kind: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> ObjectStatePage:
    """One page after the (kind, uid) cursor; ``next_after`` is set while more may follow."""
    rows = await repository.page(session, org_id, cluster, kind=kind, after=after, limit=limit)
    next_after = f"{rows[-1].kind}/{rows[-1].uid}" if len(rows) == limit else None
    return ObjectStatePage(
        data=[to_out(row) for row in rows], meta=ObjectStatePageMeta(next_after=next_after)
    )


async def store(session: AsyncSession, org_id: str, batch: ObjectStateBatch) -> int:
    """Upsert a batch; returns how many objects it named."""
    now = utcnow_ms()
    # The last entry wins when a batch names the same object twice.
    unique = {(i.cluster, i.kind, i.uid): i for i in batch.items}
    rows = [{**item.model_dump(), "org_id": org_id, "updated_at": now} for item in unique.values()]
    await repository.upsert_many(session, rows)
    return len(rows)


async def forget(session: AsyncSession, org_id: str, cluster: str, kind: str, uid: str) -> None:
    if not await repository.remove(session, org_id, cluster, kind, uid):
        raise NotFoundError("object", f"{cluster}/{kind}/{uid}")

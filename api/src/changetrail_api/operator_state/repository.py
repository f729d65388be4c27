"""All SQL about the operator's remembered object states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.operator_state.models import OperatorObject
from changetrail_api.upsert import insert


async def upsert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    statement = insert(session, OperatorObject).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["org_id", "cluster", "kind", "uid"],
        set_={
            "namespace": statement.excluded.namespace,
            "name": statement.excluded.name,
            "fingerprint": statement.excluded.fingerprint,
            "state": statement.excluded.state,
            "updated_at": statement.excluded.updated_at,
        },
    )
    await session.execute(statement)


async def page(
    session: AsyncSession,
    org_id: str,
    cluster: str,
    *,
    kind: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[OperatorObject]:
    statement = select(OperatorObject).where(
        OperatorObject.org_id == org_id, OperatorObject.cluster == cluster
    )
    if kind is not None:
        statement = statement.where(OperatorObject.kind == kind)
    if after is not None:
        statement = statement.where(
            (OperatorObject.kind > after[0])
            | ((OperatorObject.kind == after[0]) & (OperatorObject.uid > after[1]))
        )
    statement = statement.order_by(OperatorObject.kind, OperatorObject.uid).limit(limit)
    return list((await session.execute(statement)).scalars().all())


async def remove(session: AsyncSession, org_id: str, cluster: str, kind: str, uid: str) -> bool:
    result = await session.execute(
        delete(OperatorObject)
        .where(
            OperatorObject.org_id == org_id,
            OperatorObject.cluster == cluster,
            OperatorObject.kind == kind,
            OperatorObject.uid == uid,
        )
        .returning(OperatorObject.uid)
    )
    return result.scalar_one_or_none() is not None

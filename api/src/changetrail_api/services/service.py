"""Services: the things changes happen to. Never commits: the request's session does."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.changes import service as changes_service
from changetrail_api.errors import NotFoundError, ProblemError
from changetrail_api.services import repository
from changetrail_api.services.models import Service
from changetrail_api.services.schemas import (
    KubernetesMapping,
    ServiceCreate,
    ServiceOut,
    ServiceUpdate,
    slugify,
)


def to_out(service: Service) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        name=service.name,
        slug=service.slug,
        description=service.description,
        kubernetes=KubernetesMapping.model_validate(service.kubernetes)
        if service.kubernetes
        else None,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


def _conflict(name: str, slug: str) -> ProblemError:
    return ProblemError(409, f"A service named {name!r} or with slug {slug!r} already exists.")


async def create(session: AsyncSession, org_id: str, body: ServiceCreate) -> ServiceOut:
    now = utcnow_ms()
    slug = body.slug or slugify(body.name)
    values = {
        "id": new_id("svc"),
        "org_id": org_id,
        "name": body.name,
        "slug": slug,
        "description": body.description,
        "kubernetes": body.kubernetes.model_dump() if body.kubernetes else None,
        "created_at": now,
        "updated_at": now,
    }
    if not await repository.insert_if_new(session, values):
        raise _conflict(body.name, slug)
    return to_out(Service(**values))


async def find(session: AsyncSession, org_id: str, service_id: str) -> Service | None:
    """This organisation's service with this id; a foreign one reads like a missing one."""
    return await repository.get(session, org_id, service_id)


async def get(session: AsyncSession, org_id: str, service_id: str) -> Service:
    service = await find(session, org_id, service_id)
    if service is None:
        raise NotFoundError("service", service_id)
    return service


async def find_by_name_or_slug(session: AsyncSession, org_id: str, value: str) -> Service | None:
    """The service a producer or an alert names; an exact name beats a slug."""
    return await repository.find_by_name_or_slug(session, org_id, value)


async def list_services(
    session: AsyncSession,
    org_id: str,
    *,
    name: str | None,
    slug: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ServiceOut], int]:
    rows, total = await repository.page(
        session, org_id, name=name, slug=slug, limit=limit, offset=offset
    )
    return [to_out(row) for row in rows], total


async def update(
    session: AsyncSession, org_id: str, service_id: str, body: ServiceUpdate
) -> ServiceOut:
    service = await get(session, org_id, service_id)
    changes = body.model_dump(exclude_unset=True)
    name = changes.get("name") or service.name
    slug = changes.get("slug") or (slugify(name) if "name" in changes else service.slug)
    if await repository.name_or_slug_taken(session, org_id, name, slug, except_id=service.id):
        raise _conflict(name, slug)
    service.name, service.slug = name, slug
    if "description" in changes:
        service.description = body.description
    if "kubernetes" in changes:
        service.kubernetes = body.kubernetes.model_dump() if body.kubernetes else None
    service.updated_at = utcnow_ms()
    try:
        await session.flush()
    except IntegrityError:
        # The check above raced with another rename to the same name: that one won.
        raise _conflict(name, slug) from None
    return to_out(service)


async def delete(session: AsyncSession, org_id: str, service_id: str) -> None:
    service = await get(session, org_id, service_id)
    await changes_service.forget_service(session, org_id, service.id)
    await repository.remove(session, service)

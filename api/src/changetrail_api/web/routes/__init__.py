"""The pages' routes, one module per page family."""

from fastapi import APIRouter

from changetrail_api.web.routes import changes, incidents, services, signin

router = APIRouter(include_in_schema=False)
for module in (signin, changes, incidents, services):
    router.include_router(module.router)

__all__ = ["router"]

"""The FastAPI application: routers, error handling, middleware and start-up."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from changetrail_api import docs_ui, migrate, web
from changetrail_api.auth import KeyCache, RateLimiter
from changetrail_api.changes.endpoints import BATCH_PATH
from changetrail_api.changes.endpoints import router as changes_router
from changetrail_api.changes.service import ChangeWriter
from changetrail_api.channels.wiring import install as install_channels
from changetrail_api.db import Database, create_engine, create_sessionmaker
from changetrail_api.errors import install_error_handlers
from changetrail_api.health import router as health_router
from changetrail_api.incidents.alertmanager import router as alertmanager_router
from changetrail_api.incidents.endpoints import router as incidents_router
from changetrail_api.keys import service as keys_service
from changetrail_api.keys.endpoints import router as keys_router
from changetrail_api.middleware import RequestGuard, RequestMetrics
from changetrail_api.operator_state.endpoints import router as operator_router
from changetrail_api.security_headers import SecurityHeaders
from changetrail_api.services.endpoints import router as services_router
from changetrail_api.settings import ApiSettings
from changetrail_api.throttle import FailedAuthThrottle
from changetrail_api.webhooks.endpoints import router as webhooks_router
from changetrail_api.webhooks.receiver import router as receiver_router

DESCRIPTION = (
    "Log deployments, configuration changes and other changes to your services, and see "
    "what changed before an incident."
)


def create_app(settings: ApiSettings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        if settings.bootstrap_api_key:
            async with app.state.sessionmaker.begin() as session:
                await keys_service.ensure_bootstrap(
                    session, settings.bootstrap_org, settings.bootstrap_api_key
                )
        if settings.operator_api_key:
            # The in-cluster operator's own key: its scopes only, never the admin key above.
            async with app.state.sessionmaker.begin() as session:
                await keys_service.ensure_operator_key(
                    session, settings.bootstrap_org, settings.operator_api_key
                )
        # What start-up made (the app, its routes, models and metadata) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks all of it
        # while requests wait.
        gc.freeze()
        try:
            yield
        finally:
            await app.state.database.dispose()
            await app.state.engine.dispose()

    app = FastAPI(
        title="changetrail",
        version=version("changetrail-api"),
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is served from the package's own copy of Swagger UI (docs_ui), never a CDN.
        docs_url=None,
        redoc_url=None,
    )
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.database = Database(settings.database_url, engine, pool_size=settings.db_pool_size)
    app.state.change_writer = ChangeWriter(app.state.database)
    app.state.key_cache = KeyCache(settings.auth_cache_seconds)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)

    install_error_handlers(app)
    for router in (
        health_router,
        changes_router,
        services_router,
        keys_router,
        webhooks_router,
        receiver_router,
        operator_router,
        incidents_router,
        alertmanager_router,
    ):
        app.include_router(router)
    web.install(app)
    install_channels(app, settings)
    docs_ui.install(app)
    # Outermost last: metrics see every answer, security headers go on every answer, what the
    # middleware below refuses on a page's path is a page, failed authentication is throttled
    # before a body is read, and the guard bounds what gets in.
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        path_limits={BATCH_PATH: settings.max_batch_body_bytes},
    )
    app.add_middleware(
        FailedAuthThrottle,
        per_address=settings.auth_failures_per_minute,
        per_token=settings.webhook_secret_failures_per_minute,
    )
    app.add_middleware(web.ProblemsAsPages)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics)
    return app

"""Channels in the app: their routes, and at start-up the declared channels and the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from changetrail_api.channels import declared, endpoints, pull
from changetrail_api.channels.runtime import build_runtime
from changetrail_api.channels.worker import Worker
from changetrail_api.settings import ApiSettings


def install(app: FastAPI, settings: ApiSettings) -> None:
    """Serve the channel endpoints, and run channels inside the app's lifespan.

    The app's own lifespan (migrations, the bootstrap key) runs first and is wrapped, so the
    worker starts on a migrated database and stops before the engine is disposed.
    """
    app.include_router(endpoints.router)
    app.include_router(pull.router)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with outer(application) as state:
            runtime = build_runtime(settings)
            application.state.channels = runtime
            worker: Worker | None = None
            try:
                if settings.channels_file:
                    entries = declared.load(settings.channels_file)
                    async with application.state.sessionmaker.begin() as session:
                        await declared.sync(session, entries, runtime, settings.bootstrap_org)
                if settings.channels_worker:
                    worker = Worker(application.state.sessionmaker, runtime)
                    worker.start()
                yield state
            finally:
                if worker is not None:
                    await worker.stop()
                await runtime.transport.aclose()

    app.router.lifespan_context = lifespan

"""ASGI entry point for servers: ``uvicorn changetrail_api.asgi:app``.

Migrations are applied by ``changetrail api`` (or ``changetrail migrate``) before the server
starts, so worker processes do not race to migrate.
"""

from changetrail_api.app import create_app

app = create_app(run_migrations=False)

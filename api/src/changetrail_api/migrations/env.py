"""Alembic environment: runs on a connection handed in by ``changetrail_api.migrate``."""

from alembic import context
from sqlalchemy.engine import Connection

from changetrail_api.models import Base

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic's entry point. The store runs migrations itself at open (``monitor.store.engine``),
handing over the connection that holds the migration lock; there is no alembic.ini to keep."""

from __future__ import annotations

from alembic import context

from monitor.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through monitor.store (Store.open), which passes a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

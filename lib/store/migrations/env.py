"""Alembic environment: run programmatically only, on a connection that the caller provides.

seedscope.store.engine.upgrade opens a write transaction (and takes a lock), puts the connection in
`config.attributes["connection"]` and calls `alembic.command.upgrade`; no alembic.ini is needed.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through seedscope.store.engine.upgrade (no alembic.ini here)"
    )

context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()

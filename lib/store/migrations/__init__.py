"""Alembic migrations of the run history; applied by seedscope.store.engine.upgrade at start-up."""

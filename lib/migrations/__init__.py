"""Alembic migrations of the run history; applied by lib.store_engine.upgrade at start-up."""

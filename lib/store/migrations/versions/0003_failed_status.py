"""Experiments may end `failed` (every run was made and every one failed).

Widens the CHECK constraint on experiments.status. SQLite cannot alter a constraint, so batch
mode rebuilds the table (copy, drop, rename); seedscope.store.engine.upgrade turns SQLite's
foreign keys off around migrations, because dropping `experiments` with them on would
cascade-delete every run. PostgreSQL alters the constraint in place.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-20
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NAME = "ck_experiments_status"
_WITH_FAILED = "status IN ('running', 'complete', 'failed', 'cancelled', 'interrupted')"
_WITHOUT_FAILED = "status IN ('running', 'complete', 'cancelled', 'interrupted')"


def _replace_check(condition: str) -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_constraint(_NAME, type_="check")
        batch.create_check_constraint(_NAME, condition)


def upgrade() -> None:
    _replace_check(_WITH_FAILED)


def downgrade() -> None:
    # `failed` has no place in the older schema; the closest older status is `complete`.
    op.execute("UPDATE experiments SET status = 'complete' WHERE status = 'failed'")
    _replace_check(_WITHOUT_FAILED)

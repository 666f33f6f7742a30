"""Budgets and who started what: experiments.started_by and the spending ledger.

experiments.started_by is the logged-in user (email, else OIDC subject) who started an
experiment from the page; NULL without a login, from the command line, and for every existing
row. `spending` holds one row per start or resume from the page: when, for whom (the user, or
the browser session), how many runs and how many worst-case completion tokens, and whether a
paid backend serves them. Budgets count these rows, so a restart does not reset them; an
experiment deleted later still counts (no foreign key).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As in seedscope.store.schema: SQLite only auto-increments INTEGER PRIMARY KEY.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("started_by", sa.String(320), nullable=True))
    op.create_table(
        "spending",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("experiment_id", sa.String(32), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("worst_case_tokens", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_spending_at", "spending", ["at"])
    op.create_index("ix_spending_owner_at", "spending", ["owner", "at"])


def downgrade() -> None:
    op.drop_index("ix_spending_owner_at", table_name="spending")
    op.drop_index("ix_spending_at", table_name="spending")
    op.drop_table("spending")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("started_by")

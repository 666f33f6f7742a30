"""runs.tokens: the tokens a run generated, with logprobs when its arm captured them.

One compact JSON text per run (seedscope.tokens.trace); NULL for every existing run and for
runs whose backend reported no tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("tokens", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("tokens")

"""runs.base_url_host: the host that answered each run, now that an arm may name its backend.

'' (NO_HOST) for the embedded model, else the server's host. NULL for every existing run:
all runs of an experiment went to its one backend then, so experiments.base_url_host applies
(the read queries take it when the run's own is NULL).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("base_url_host", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("base_url_host")

"""Suites: experiments.kind and runs.case_id, and a run is unique per case.

experiments.kind says what spec_json holds ('experiment' for every existing row, 'suite',
'import'). runs.case_id names the suite case of a run; outside suites it is '' rather than
NULL, because a unique key treats NULLs as distinct on SQLite and PostgreSQL alike and would
no longer stop a plain experiment's run from being stored twice. The unique key becomes
(experiment_id, case_id, arm_label, run_index).

SQLite cannot alter constraints, so batch mode rebuilds both tables; seedscope.store.engine
.upgrade turns SQLite's foreign keys off around migrations (see revision 0003).

Revision ID: 0004
Revises: 0003
Create Date: 2026-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD_UNIQUE = "uq_runs_experiment_arm_run"
_NEW_UNIQUE = "uq_runs_experiment_case_arm_run"
_KIND_CHECK = "ck_experiments_kind"


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="experiment")
        )
        batch.create_check_constraint(_KIND_CHECK, "kind IN ('experiment', 'suite', 'import')")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("case_id", sa.String(200), nullable=False, server_default=""))
        batch.drop_constraint(_OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(
            _NEW_UNIQUE, ["experiment_id", "case_id", "arm_label", "run_index"]
        )


def downgrade() -> None:
    # Suites and imports have no place in the older schema: their runs would collide on the
    # narrower key, so they are removed (runs first: foreign keys are off during migrations).
    op.execute(
        "DELETE FROM runs WHERE experiment_id IN "
        "(SELECT id FROM experiments WHERE kind <> 'experiment')"
    )
    op.execute("DELETE FROM experiments WHERE kind <> 'experiment'")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(_NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(_OLD_UNIQUE, ["experiment_id", "arm_label", "run_index"])
        batch.drop_column("case_id")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_constraint(_KIND_CHECK, type_="check")
        batch.drop_column("kind")

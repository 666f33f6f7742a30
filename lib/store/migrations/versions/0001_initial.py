"""Initial run history: experiments, runs, embedding cache.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("base_url_host", sa.String(255), nullable=True),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("owner_host", sa.String(255), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'complete', 'cancelled', 'interrupted')",
            name="ck_experiments_status",
        ),
    )
    op.create_index("ix_experiments_created_at", "experiments", ["created_at"])
    op.create_index(
        "ix_experiments_provider_model_created_at",
        "experiments",
        ["provider", "model", "created_at"],
    )
    op.create_index("ix_experiments_status", "experiments", ["status"])

    op.create_table(
        "runs",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.String(32),
            sa.ForeignKey("experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("arm_label", sa.String(200), nullable=False),
        sa.Column("run_index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("system_fingerprint", sa.String(255), nullable=True),
        sa.Column("requested_seed", sa.BigInteger(), nullable=True),
        sa.Column("effective_seed", sa.BigInteger(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("top_p", sa.Float(), nullable=False),
        sa.Column("max_tokens", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("finish_reason", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error_type", sa.String(200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.UniqueConstraint(
            "experiment_id", "arm_label", "run_index", name="uq_runs_experiment_arm_run"
        ),
    )
    op.create_index(
        "ix_runs_provider_model_started_at", "runs", ["provider", "model", "started_at"]
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])

    op.create_table(
        "embedding_cache",
        sa.Column("embedder_id", sa.String(200), primary_key=True),
        sa.Column("text_sha256", sa.String(64), primary_key=True),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("embedding_cache")
    op.drop_table("runs")
    op.drop_table("experiments")

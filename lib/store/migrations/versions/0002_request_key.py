"""Request keys on runs, so drift series are one indexed scan per fixed request.

Adds runs.request_key (sha256 of provider, base URL host, model, prompt, system message,
seed, temperature, top_p, max_tokens), fills it for every stored run, and indexes it with
the start time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-01
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BATCH = 1000


def _request_key(row: sa.Row) -> str:
    # Frozen copy of seedscope.store.schema.request_key at this revision (stored text is already
    # clean, so clean_text is a no-op here).
    fields = [
        row.provider,
        row.base_url_host,
        row.model,
        row.prompt,
        row.system_prompt,
        row.requested_seed,
        float(row.temperature),
        float(row.top_p),
        int(row.max_tokens),
    ]
    encoded = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def upgrade() -> None:
    op.add_column("runs", sa.Column("request_key", sa.String(64), nullable=True))
    bind = op.get_bind()
    runs = sa.table(
        "runs",
        sa.column("id"),
        sa.column("experiment_id"),
        sa.column("provider"),
        sa.column("model"),
        sa.column("requested_seed"),
        sa.column("temperature"),
        sa.column("top_p"),
        sa.column("max_tokens"),
        sa.column("request_key"),
    )
    experiments = sa.table(
        "experiments",
        sa.column("id"),
        sa.column("prompt"),
        sa.column("system_prompt"),
        sa.column("base_url_host"),
    )
    query = (
        sa.select(
            runs.c.id,
            runs.c.provider,
            runs.c.model,
            runs.c.requested_seed,
            runs.c.temperature,
            runs.c.top_p,
            runs.c.max_tokens,
            experiments.c.prompt,
            experiments.c.system_prompt,
            experiments.c.base_url_host,
        )
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .order_by(runs.c.id)
    )
    update = (
        sa.update(runs)
        .where(runs.c.id == sa.bindparam("run_id"))
        .values(request_key=sa.bindparam("key"))
    )
    last_id = None
    while True:
        page = query if last_id is None else query.where(runs.c.id > last_id)
        rows = bind.execute(page.limit(_BATCH)).all()
        if not rows:
            break
        bind.execute(update, [{"run_id": row.id, "key": _request_key(row)} for row in rows])
        last_id = rows[-1].id
    op.create_index("ix_runs_request_key_started_at", "runs", ["request_key", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_request_key_started_at", table_name="runs")
    op.drop_column("runs", "request_key")

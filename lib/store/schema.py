"""Tables of the run history, as SQLAlchemy Core metadata (the schema at the newest migration).

The Alembic revisions in lib/store/migrations create exactly these tables; tests check that the two
agree. Column types are chosen to behave the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from seedscope.providers.base import clean_text
from seedscope.tokens.trace import TokenTrace
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

EXPERIMENT_STATUSES = ("running", "complete", "failed", "cancelled", "interrupted")
EXPERIMENT_KINDS = ("experiment", "suite", "import")
# runs.case_id of a run outside any suite. Not NULL: a unique key treats NULLs as distinct on
# both SQLite and PostgreSQL, so (experiment, NULL, arm, run) could be stored twice.
NO_CASE = ""
# runs.base_url_host of a run the embedded model answered (it has no host). NULL is a run stored
# before runs had a host of their own (revision 0007): its experiment's host applies.
NO_HOST = ""


class CleanText(TypeDecorator[str]):
    """Text column that stores untrusted strings safely (see clean_text)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else clean_text(value)


class CleanString(CleanText):
    impl = String
    cache_ok = True


class TokenTraceText(TypeDecorator[TokenTrace]):
    """A run's generated tokens, as the compact JSON of seedscope.tokens.trace (NULL: none)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: TokenTrace | None, dialect: Any) -> str | None:
        return None if value is None else clean_text(value.to_json())

    def process_result_value(self, value: str | None, dialect: Any) -> TokenTrace | None:
        return None if value is None else TokenTrace.from_json(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, on every backend.

    SQLite has no time zone type, so values are stored as naive UTC there (the fixed-width
    ISO format sorts correctly as text); PostgreSQL stores timestamptz. Naive input is taken
    to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid; PostgreSQL gets bigint.
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("status", String(16), nullable=False),
    Column("label", CleanString(200), nullable=True),
    Column("prompt", CleanText(), nullable=False),
    Column("system_prompt", CleanText(), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("model", CleanString(200), nullable=False),
    Column("base_url_host", CleanString(255), nullable=True),
    Column("spec_json", CleanText(), nullable=False),
    # Which process runs the experiment: start-up recovery only marks an experiment
    # interrupted when that process is gone (see Store.recover_interrupted).
    Column("owner_host", String(255), nullable=True),
    Column("owner_pid", Integer(), nullable=True),
    # What spec_json holds: an ExperimentSpec, a SuiteSpec, or an imported suite (revision 0004).
    Column("kind", String(16), nullable=False, server_default="experiment"),
    # The logged-in user who started it from the page (email, else subject; revision 0005).
    Column("started_by", CleanString(320), nullable=True),
    # Widened by revision 0003 (`failed`); tests compare it with the database's own.
    CheckConstraint(
        "status IN ('running', 'complete', 'failed', 'cancelled', 'interrupted')",
        name="ck_experiments_status",
    ),
    Index("ix_experiments_created_at", "created_at"),
    Index("ix_experiments_provider_model_created_at", "provider", "model", "created_at"),
    CheckConstraint("kind IN ('experiment', 'suite', 'import')", name="ck_experiments_kind"),
    Index("ix_experiments_status", "status"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "experiment_id",
        String(32),
        ForeignKey("experiments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("arm_label", CleanString(200), nullable=False),
    Column("run_index", Integer(), nullable=False),
    Column("text", CleanText(), nullable=False),
    Column("system_fingerprint", CleanString(255), nullable=True),
    Column("requested_seed", BigInteger(), nullable=True),
    Column("effective_seed", BigInteger(), nullable=True),
    Column("temperature", Float(), nullable=False),
    Column("top_p", Float(), nullable=False),
    Column("max_tokens", Integer(), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("model", CleanString(200), nullable=False),
    Column("prompt_tokens", Integer(), nullable=True),
    Column("completion_tokens", Integer(), nullable=True),
    Column("latency_s", Float(), nullable=False),
    Column("finish_reason", CleanString(64), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("error_type", CleanString(200), nullable=True),
    Column("error_message", CleanText(), nullable=True),
    # Hash of the fixed request (see request_key); added by revision 0002 for drift series.
    Column("request_key", String(64), nullable=True),
    # The suite case of the run, NO_CASE outside suites (revision 0004).
    Column("case_id", CleanString(200), nullable=False, server_default=NO_CASE),
    # The generated tokens (revision 0006); NULL when the backend reported none.
    Column("tokens", TokenTraceText(), nullable=True),
    # The host that answered (revision 0007): an arm may have its own backend. NO_HOST: the
    # embedded model; NULL: the experiment's host (every run stored before 0007).
    Column("base_url_host", CleanString(255), nullable=True),
    # A run is stored at most once (since revision 0001; per case since 0004): a resume can
    # never duplicate one.
    UniqueConstraint(
        "experiment_id",
        "case_id",
        "arm_label",
        "run_index",
        name="uq_runs_experiment_case_arm_run",
    ),
    Index("ix_runs_provider_model_started_at", "provider", "model", "started_at"),
    Index("ix_runs_started_at", "started_at"),
    Index("ix_runs_request_key_started_at", "request_key", "started_at"),
)

# One row per start or resume from the page, for the budgets (revision 0005): kept when the
# experiment is deleted, so deleting cannot reset a budget.
spending = Table(
    "spending",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("owner", CleanString(320), nullable=False),  # the user, or the browser session
    Column("experiment_id", String(32), nullable=True),
    Column("runs", Integer(), nullable=False),
    Column("worst_case_tokens", BigInteger(), nullable=False),
    Column("paid", Boolean(), nullable=False),
    Index("ix_spending_at", "at"),
    Index("ix_spending_owner_at", "owner", "at"),
)

embedding_cache = Table(
    "embedding_cache",
    metadata,
    Column("embedder_id", String(200), primary_key=True),
    Column("text_sha256", String(64), primary_key=True),
    Column("dim", Integer(), nullable=False),
    Column("vector", LargeBinary(), nullable=False),  # float32, little-endian
)

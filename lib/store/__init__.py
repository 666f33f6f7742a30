"""Run history: every experiment and every run, stored as it completes.

SQLite file in the per-user data directory by default; any PostgreSQL URL (psycopg 3) via
SEEDSCOPE_DATABASE_URL, with the same code. The schema is migrated at start-up (Alembic).
One Store may be shared by many threads: every call checks a connection out of the pool for
one short transaction. Several processes may write to one SQLite file at once.

    store = Store.from_settings(settings)          # app / CLI start-up: migrate + recover
    experiment_id = create_experiment(store, spec, provider)         # seedscope.experiments:
    result = run_experiment(store, experiment_id, spec, provider)    # the one lifecycle
    store.load_experiment(experiment_id)           # spec + every run, for analysis/export

Front ends never create, fill or finish experiments themselves: seedscope.experiments does
(statuses: running, then complete | failed | cancelled | interrupted). A run is stored at most
once per (experiment, case, arm, run index) (case '' outside suites), which is what makes
resuming safe.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Unpack

import numpy as np
from seedscope.fingerprints import FingerprintChange
from seedscope.providers.base import Completion, request_key, utc_now
from seedscope.settings import Settings
from seedscope.settings import base_url_host as host_of_url
from seedscope.spec import ExperimentSpec, Limits
from seedscope.store.engine import (
    WRITE_OPTION,
    StoreError,
    create_store_engine,
    default_database_url,
    display_url,
    resolve_url,
    translated_errors,
    upgrade,
)
from seedscope.store.queries import (
    ExperimentFilters,
    RunFilters,
    count_query,
    drift_query,
    fingerprint_spans_query,
    history_query,
    providers_and_models_query,
    timeline_query,
)
from seedscope.store.records import (
    DriftPoint,
    ExperimentSummary,
    FingerprintSpan,
    Spending,
    StoredExperiment,
    TimelineRow,
)
from seedscope.store.schema import (
    EXPERIMENT_KINDS,
    NO_CASE,
    NO_HOST,
    embedding_cache,
    experiments,
    runs,
    spending,
)
from seedscope.suites import SuiteSpec
from sqlalchemy import Connection, Row, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

__all__ = [
    "DriftPoint",
    "ExperimentFilters",
    "ExperimentSummary",
    "FingerprintChange",
    "FingerprintSpan",
    "RunFilters",
    "Spending",
    "Store",
    "StoreError",
    "StoredExperiment",
    "TimelineRow",
]

FINAL_STATUSES = ("complete", "failed", "cancelled", "interrupted")
# A stored spec was valid when it was saved; loading must not re-apply today's limits.
_NO_LIMITS = Limits(
    max_runs_per_arm=10**9,
    max_tokens=10**9,
    max_prompt_chars=10**9,
    max_cases=10**9,
    max_suite_runs=10**9,
)
_IN_CHUNK = 500  # keys per IN (...) list: well under every backend's parameter limit
_HOST = socket.gethostname()
_COMPLETION_FIELDS = tuple(field.name for field in fields(Completion))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _clean_host(value: str | None) -> str | None:
    """Only ever a host[:port]: a full URL (which could carry credentials) is cut down."""
    if not value:
        return None
    if "://" in value:
        return host_of_url(value)
    return value.rpartition("@")[2]


class Store:
    """The history database. See the module docstring; all methods are thread-safe."""

    def __init__(self, url: str, *, recover: bool = False):
        """Open (creating and migrating as needed) the database at `url`.

        `recover=True` also marks experiments left `running` by a crashed process as
        `interrupted`; do that once at app/CLI start-up (`Store.open`, `from_settings`).
        """
        self._url: URL = resolve_url(url)
        self._context: dict[str, tuple[str, str, str | None]] = {}
        with translated_errors(self._url, "opening the run history"):
            self._engine = create_store_engine(self._url)
            self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
            upgrade(self._engine)
        if recover:
            self.recover_interrupted()

    @classmethod
    def open(cls, url: str, *, recover: bool = True) -> Store:
        return cls(url, recover=recover)

    @classmethod
    def from_settings(cls, settings: Settings, *, recover: bool = True) -> Store:
        """The store named by Settings.database_url (SEEDSCOPE_DATABASE_URL), else the default."""
        return cls(settings.database_url or default_database_url(), recover=recover)

    @property
    def url_for_display(self) -> str:
        return display_url(self._url)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def _write(self, doing: str, work: Callable[[Connection], Any]) -> Any:
        with translated_errors(self._url, doing), self._writer.begin() as connection:
            return work(connection)

    def _read(self, doing: str, work: Callable[[Connection], Any]) -> Any:
        with translated_errors(self._url, doing), self._engine.connect() as connection:
            return work(connection)

    def create_experiment(
        self,
        spec: ExperimentSpec | SuiteSpec,
        *,
        base_url_host: str | None,
        label: str | None = None,
        kind: str | None = None,
        started_by: str | None = None,
    ) -> str:
        """Store a new `running` experiment for a validated spec; returns its id.

        `kind` defaults to 'suite' for a SuiteSpec and 'experiment' otherwise; imports pass
        'import'. `started_by`: the logged-in user who started it from the page, if any.
        """
        kind = kind or ("suite" if isinstance(spec, SuiteSpec) else "experiment")
        if kind not in EXPERIMENT_KINDS or (kind == "experiment") != isinstance(
            spec, ExperimentSpec
        ):
            raise ValueError(f"kind {kind!r} does not fit a {type(spec).__name__}")
        experiment_id = uuid.uuid4().hex
        host = _clean_host(base_url_host)
        prompt, system = _headline(spec)
        values = {
            "id": experiment_id,
            "created_at": utc_now(),
            "finished_at": None,
            "status": "running",
            "label": label,
            "prompt": prompt,
            "system_prompt": system,
            "provider": spec.provider,
            "model": spec.model,
            "base_url_host": host,
            "spec_json": spec.model_dump_json(),
            "owner_host": _HOST,
            "owner_pid": os.getpid(),
            "kind": kind,
            "started_by": started_by,
        }
        self._write("saving an experiment", lambda c: c.execute(experiments.insert(), values))
        self._context[experiment_id] = _RequestContext.of(spec, kind, host)
        return experiment_id

    def _request_context(self, experiment_id: str) -> _RequestContext:
        context = self._context.get(experiment_id)
        if context is None:
            query = select(
                experiments.c.kind, experiments.c.spec_json, experiments.c.base_url_host
            ).where(experiments.c.id == experiment_id)
            row = self._read("reading an experiment", lambda c: c.execute(query).first())
            if row is None:
                raise StoreError(f"no experiment {experiment_id!r} in {self.url_for_display}")
            spec = _parse_spec(row.kind, row.spec_json)
            context = self._context[experiment_id] = _RequestContext.of(
                spec, row.kind, row.base_url_host
            )
        return context

    def _run_values(self, experiment_id: str, completion: Completion) -> dict[str, Any]:
        context = self._request_context(experiment_id)
        # Plain attribute reads: dataclasses.asdict deep-copies and was a fifth of the cost.
        values = {name: getattr(completion, name) for name in _COMPLETION_FIELDS}
        values["experiment_id"] = experiment_id
        values["case_id"] = completion.case_id or NO_CASE
        # The embedded model has no host (NO_HOST); a remote run without one takes its
        # experiment's (NULL), as runs did before arms could have their own backend.
        values["base_url_host"] = (
            NO_HOST if completion.provider == "local" else _clean_host(completion.base_url_host)
        )
        values["request_key"] = context.request_key(completion)
        return values

    def create_imported_experiment(
        self, spec: SuiteSpec, completions: Sequence[Completion], *, label: str | None = None
    ) -> str:
        """Store imported outputs as a `complete` experiment of kind 'import', the experiment
        and every run in one transaction: if any row is refused, nothing is stored."""
        experiment_id = uuid.uuid4().hex
        prompt, system = _headline(spec)
        now = utc_now()
        values = {
            "id": experiment_id,
            "created_at": now,
            "finished_at": now,
            "status": "complete",
            "label": label,
            "prompt": prompt,
            "system_prompt": system,
            "provider": spec.provider,
            "model": spec.model,
            "base_url_host": None,
            "spec_json": spec.model_dump_json(),
            "owner_host": _HOST,
            "owner_pid": os.getpid(),
            "kind": "import",
        }
        self._context[experiment_id] = _RequestContext.of(spec, "import", None)
        rows = [self._run_values(experiment_id, completion) for completion in completions]

        def work(connection: Connection) -> None:
            connection.execute(experiments.insert(), values)
            if rows:
                connection.execute(runs.insert(), rows)

        try:
            self._write("importing outputs", work)
        except StoreError:
            self._context.pop(experiment_id, None)
            raise
        return experiment_id

    def add_run(self, experiment_id: str, completion: Completion) -> None:
        """Store one run in its own short transaction (committed before returning)."""
        values = self._run_values(experiment_id, completion)
        self._write("saving a run", lambda c: c.execute(runs.insert(), values))

    def add_runs(self, experiment_id: str, completions: Sequence[Completion]) -> None:
        """Store many runs in one transaction (imports, benchmarks)."""
        if not completions:
            return
        rows = [self._run_values(experiment_id, completion) for completion in completions]
        self._write("saving runs", lambda c: c.execute(runs.insert(), rows))

    def sink(self, experiment_id: str) -> Callable[[Completion], None]:
        """For seedscope.runner: each completion is written the moment it arrives."""
        self._request_context(experiment_id)  # fail now, before any model call, if unknown

        def store_completion(completion: Completion) -> None:
            self.add_run(experiment_id, completion)

        return store_completion

    def finish_experiment(self, experiment_id: str, status: str) -> None:
        if status not in FINAL_STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(FINAL_STATUSES)}")
        statement = (
            update(experiments)
            .where(experiments.c.id == experiment_id)
            .values(status=status, finished_at=utc_now())
        )
        result = self._write("finishing an experiment", lambda c: c.execute(statement))
        if result.rowcount == 0:
            raise StoreError(f"no experiment {experiment_id!r} in {self.url_for_display}")

    def reopen_experiment(self, experiment_id: str, *, from_statuses: Sequence[str]) -> bool:
        """Mark an experiment `running` again, owned by this process, if its status is one of
        `from_statuses` (atomically: of two processes resuming it, one wins). True if it was."""
        statement = (
            update(experiments)
            .where(experiments.c.id == experiment_id, experiments.c.status.in_(from_statuses))
            .values(status="running", finished_at=None, owner_host=_HOST, owner_pid=os.getpid())
        )
        result = self._write("resuming an experiment", lambda c: c.execute(statement))
        return result.rowcount > 0

    def delete_experiment(self, experiment_id: str) -> bool:
        def work(connection: Connection) -> bool:
            connection.execute(delete(runs).where(runs.c.experiment_id == experiment_id))
            result = connection.execute(
                delete(experiments).where(experiments.c.id == experiment_id)
            )
            return result.rowcount > 0

        deleted = self._write("deleting an experiment", work)
        self._context.pop(experiment_id, None)
        return deleted

    def recover_interrupted(self, *, stale_after: timedelta = timedelta(hours=6)) -> list[str]:
        """Mark experiments whose process is gone as `interrupted`; returns their ids.

        An experiment started on this host is interrupted when its process no longer exists.
        One started on another host (a shared PostgreSQL) cannot be checked that way, so it
        counts as interrupted after `stale_after` without a new run. Completed runs are kept.
        """
        last_run = (
            select(func.max(runs.c.started_at))
            .where(runs.c.experiment_id == experiments.c.id)
            .scalar_subquery()
        )
        query = select(
            experiments.c.id,
            experiments.c.owner_host,
            experiments.c.owner_pid,
            experiments.c.created_at,
            last_run.label("last_run"),
        ).where(experiments.c.status == "running")
        rows = self._read("reading running experiments", lambda c: c.execute(query).all())
        now = utc_now()
        found: list[tuple[str, datetime]] = []
        for row in rows:
            last_activity = max(row.created_at, row.last_run or row.created_at)
            if row.owner_host == _HOST and row.owner_pid is not None:
                gone = row.owner_pid != os.getpid() and not _pid_alive(row.owner_pid)
            else:
                gone = now - last_activity > stale_after
            if gone:
                found.append((row.id, last_activity))

        def work(connection: Connection) -> list[str]:
            marked = []
            for experiment_id, last_activity in found:
                result = connection.execute(
                    update(experiments)
                    .where(experiments.c.id == experiment_id, experiments.c.status == "running")
                    .values(status="interrupted", finished_at=last_activity)
                )
                if result.rowcount:
                    marked.append(experiment_id)
            return marked

        return self._write("recovering interrupted experiments", work) if found else []

    # -- reading -------------------------------------------------------------------------

    @staticmethod
    def _summary(row: Row) -> ExperimentSummary:
        return ExperimentSummary(**row._mapping)  # history_query labels are the field names

    def list_experiments(
        self, *, limit: int = 50, offset: int = 0, **filters: Unpack[ExperimentFilters]
    ) -> list[ExperimentSummary]:
        """Experiments newest first, filtered by provider, model, `since <= created_at < until`
        and `prompt_contains` (ignores case)."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be 0 or more")
        query = history_query(limit=limit, offset=offset, **filters)
        rows = self._read("listing experiments", lambda c: c.execute(query).all())
        return [self._summary(row) for row in rows]

    def count_experiments(self, **filters: Unpack[ExperimentFilters]) -> int:
        """How many experiments list_experiments would page through with these filters."""
        query = count_query(**filters)
        return self._read("counting experiments", lambda c: c.execute(query).scalar_one())

    def resolve_id(self, prefix: str) -> str | None:
        """The full id of the one experiment whose id starts with `prefix` (at least 4 chars).

        None when nothing matches; StoreError when the prefix is ambiguous.
        """
        prefix = prefix.strip().lower()
        if len(prefix) < 4 or not all(ch in "0123456789abcdef" for ch in prefix):
            return None
        query = (
            select(experiments.c.id)
            .where(experiments.c.id >= prefix, experiments.c.id < prefix + "g")
            .limit(2)
        )
        ids = self._read("finding an experiment", lambda c: c.execute(query).scalars().all())
        if len(ids) > 1:
            raise StoreError(f"experiment id {prefix!r} is ambiguous; give more characters")
        return ids[0] if ids else None

    # -- spending (budgets) ------------------------------------------------------------------

    def record_spending(self, spent: Spending) -> None:
        """Note a start or resume from the page (seedscope.budgets counts these rows)."""
        values = asdict(spent)
        self._write("recording spending", lambda c: c.execute(spending.insert(), values))

    def spending_since(
        self, since: datetime, *, owner: str | None = None, paid_only: bool = False
    ) -> list[Spending]:
        """Spending at or after `since`, oldest first; of one owner, or of paid backends."""
        query = select(
            spending.c.at,
            spending.c.owner,
            spending.c.experiment_id,
            spending.c.runs,
            spending.c.worst_case_tokens,
            spending.c.paid,
        ).where(spending.c.at >= since)
        if owner is not None:
            query = query.where(spending.c.owner == owner)
        if paid_only:
            query = query.where(spending.c.paid.is_(True))
        rows = self._read("reading spending", lambda c: c.execute(query.order_by(spending.c.at)))
        return [Spending(**row._mapping) for row in rows]

    def load_specs(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentSpec | SuiteSpec]:
        """The specs of these experiments (without their runs), by id; unknown ids are left out."""
        if not experiment_ids:
            return {}
        query = select(experiments.c.id, experiments.c.kind, experiments.c.spec_json).where(
            experiments.c.id.in_(list(experiment_ids))
        )
        rows = self._read("loading experiment specs", lambda c: c.execute(query).all())
        return {row.id: _parse_spec(row.kind, row.spec_json) for row in rows}

    def load_experiment(self, experiment_id: str) -> StoredExperiment | None:
        """One experiment with its spec and every stored run (arm order, then run index)."""
        head = history_query(limit=1).where(experiments.c.id == experiment_id)
        spec_query = select(experiments.c.kind, experiments.c.spec_json).where(
            experiments.c.id == experiment_id
        )
        runs_query = (
            select(runs)
            .where(runs.c.experiment_id == experiment_id)
            .order_by(runs.c.case_id, runs.c.arm_label, runs.c.run_index)
        )

        def work(connection: Connection) -> tuple[Row | None, Row | None, list[Row]]:
            summary_row = connection.execute(head).first()
            if summary_row is None:
                return None, None, []
            spec_row = connection.execute(spec_query).one()
            return summary_row, spec_row, connection.execute(runs_query).all()

        summary_row, spec_row, run_rows = self._read("loading an experiment", work)
        if summary_row is None or spec_row is None:
            return None
        kind, spec_json = spec_row
        spec = _parse_spec(kind, spec_json)
        arm_order = {arm.label: position for position, arm in enumerate(spec.arms)}
        case_order = (
            {case.id: position for position, case in enumerate(spec.cases)}
            if isinstance(spec, SuiteSpec)
            else {}
        )
        completions = [_completion(row) for row in run_rows]
        completions.sort(
            key=lambda c: (
                case_order.get(c.case_id, len(case_order)),
                arm_order.get(c.arm_label, len(arm_order)),
                c.run_index,
            )
        )
        return StoredExperiment(self._summary(summary_row), spec, completions, kind)

    def timeline_rows(
        self, *, limit: int | None = None, **filters: Unpack[RunFilters]
    ) -> list[TimelineRow]:
        """Successful runs, oldest first, for the fingerprint timeline."""
        query = timeline_query(limit=limit, **filters)
        rows = self._read("reading the timeline", lambda c: c.execute(query).all())
        return [TimelineRow(*row) for row in rows]  # columns in field order

    def fingerprint_history(
        self, **filters: Unpack[RunFilters]
    ) -> tuple[list[FingerprintSpan], list[FingerprintChange]]:
        """The spans and the change events (seedscope.fingerprints says what they are), from
        one query, so they always agree: every span but a series' first begins with an event.

        Spans: runs in a row with one fingerprint, by series (provider, model, host), each
        series' spans in time order. Events: oldest first.
        """
        query = fingerprint_spans_query(**filters)
        rows = self._read("reading fingerprint changes", lambda c: c.execute(query).all())
        spans, events = [], []
        for row in rows:
            (provider, model, host, fingerprint, first_seen, last_seen, runs_, number) = row[:8]
            spans.append(
                FingerprintSpan(provider, model, host, fingerprint, first_seen, last_seen, runs_)
            )
            if number > 1:  # not where its series starts: a change from the span before
                events.append(
                    FingerprintChange(
                        started_at=first_seen,
                        provider=provider,
                        model=model,
                        base_url_host=host,
                        previous_fingerprint=row.previous_fingerprint,
                        system_fingerprint=fingerprint,
                        runs_before=row.previous_runs,
                        runs_after=runs_,
                        previous_seen=row.previous_seen,
                    )
                )
        events.sort(key=lambda e: (e.started_at, e.provider, e.model, e.base_url_host or ""))
        return spans, events

    def fingerprint_changes(self, **filters: Unpack[RunFilters]) -> list[FingerprintSpan]:
        """The spans of `fingerprint_history`."""
        return self.fingerprint_history(**filters)[0]

    def fingerprint_events(self, **filters: Unpack[RunFilters]) -> list[FingerprintChange]:
        """The change events of `fingerprint_history`, oldest first."""
        return self.fingerprint_history(**filters)[1]

    def drift_series(
        self, *, request_key: str | None = None, **filters: Unpack[RunFilters]
    ) -> list[DriftPoint]:
        """Successful seeded runs grouped by fixed request, each compared with the one before."""
        query = drift_query(request_key=request_key, **filters)
        rows = self._read("reading drift series", lambda c: c.execute(query).all())
        return [_drift_point(row) for row in rows]

    def previous_labelled_experiment(
        self, *, label: str, request_key: str, before_id: str
    ) -> str | None:
        """The newest experiment labelled `label`, created before `before_id`, that has a
        successful run of the request `request_key` (how a probe finds its previous run)."""
        created = select(experiments.c.created_at).where(experiments.c.id == before_id)
        has_runs = (
            select(runs.c.id)
            .where(
                runs.c.experiment_id == experiments.c.id,
                runs.c.request_key == request_key,
                runs.c.error_type.is_(None),
            )
            .exists()
        )
        query = (
            select(experiments.c.id)
            .where(
                experiments.c.label == label,
                experiments.c.id != before_id,
                experiments.c.created_at <= created.scalar_subquery(),
                has_runs,
            )
            .order_by(experiments.c.created_at.desc(), experiments.c.id.desc())
            .limit(1)
        )
        return self._read("finding the previous run", lambda c: c.execute(query).scalar())

    def previous_labelled_suite(
        self, *, label: str, request_keys: Sequence[str], before_id: str
    ) -> str | None:
        """The newest suite experiment labelled `label`, created before `before_id`, with a
        successful run of any of `request_keys` (how a suite probe finds its previous run:
        a suite whose cases all changed, or another backend, starts a new comparison)."""
        created = select(experiments.c.created_at).where(experiments.c.id == before_id)
        keys = list(dict.fromkeys(request_keys))
        found: list[Row] = []
        for start in range(0, len(keys), _IN_CHUNK):  # the newest over every chunk of keys
            has_runs = (
                select(runs.c.id)
                .where(
                    runs.c.experiment_id == experiments.c.id,
                    runs.c.request_key.in_(keys[start : start + _IN_CHUNK]),
                    runs.c.error_type.is_(None),
                )
                .exists()
            )
            query = (
                select(experiments.c.created_at, experiments.c.id)
                .where(
                    experiments.c.label == label,
                    experiments.c.kind == "suite",
                    experiments.c.id != before_id,
                    experiments.c.created_at <= created.scalar_subquery(),
                    has_runs,
                )
                .order_by(experiments.c.created_at.desc(), experiments.c.id.desc())
                .limit(1)
            )
            row = self._read("finding the previous run", lambda c, q=query: c.execute(q).first())
            if row is not None:
                found.append(row)
        return max(found, key=tuple).id if found else None

    def providers_and_models(self) -> list[tuple[str, str]]:
        query = providers_and_models_query()
        rows = self._read("listing models", lambda c: c.execute(query).all())
        return [(row.provider, row.model) for row in rows]

    # -- embedding cache (seedscope.embeddings.VectorCache) ---------------------------------------

    def get_vectors(self, embedder_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached float32 vectors by text sha256; missing hashes are simply absent."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}

        def work(connection: Connection) -> None:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = select(
                    embedding_cache.c.text_sha256, embedding_cache.c.dim, embedding_cache.c.vector
                ).where(
                    embedding_cache.c.embedder_id == embedder_id,
                    embedding_cache.c.text_sha256.in_(chunk),
                )
                for row in connection.execute(query):
                    vector = np.frombuffer(row.vector, dtype="<f4")
                    if vector.shape == (row.dim,):
                        found[row.text_sha256] = vector.astype(np.float32)  # a writable copy

        if wanted:
            self._read("reading cached embeddings", work)
        return found

    def put_vectors(self, embedder_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Cache vectors (1-D, stored as float32); an existing entry is replaced."""
        rows = []
        for text_sha256, vector in vectors.items():
            array = np.asarray(vector, dtype="<f4")
            if array.ndim != 1:
                raise ValueError(f"vector for {text_sha256} has shape {array.shape}; expected 1-D")
            rows.append(
                {
                    "embedder_id": embedder_id,
                    "text_sha256": text_sha256,
                    "dim": int(array.shape[0]),
                    "vector": array.tobytes(),
                }
            )
        if not rows:
            return
        insert = (postgresql if self.dialect == "postgresql" else sqlite).insert(embedding_cache)
        upsert = insert.on_conflict_do_update(
            index_elements=[embedding_cache.c.embedder_id, embedding_cache.c.text_sha256],
            set_={"dim": insert.excluded.dim, "vector": insert.excluded.vector},
        )
        self._write("caching embeddings", lambda c: c.execute(upsert, rows))


def _completion(row: Row) -> Completion:
    mapping = row._mapping  # the runs table has a column for every Completion field
    values = {name: mapping[name] for name in _COMPLETION_FIELDS}
    values["case_id"] = values["case_id"] or None  # NO_CASE: not part of a suite
    # NO_HOST (the embedded model) and NULL (the experiment's host) both read as None.
    values["base_url_host"] = values["base_url_host"] or None
    return Completion(**values)


def _parse_spec(kind: str, spec_json: str) -> ExperimentSpec | SuiteSpec:
    model = ExperimentSpec if kind == "experiment" else SuiteSpec
    return model.model_validate_json(spec_json, context={"limits": _NO_LIMITS})


def _headline(spec: ExperimentSpec | SuiteSpec) -> tuple[str, str]:
    """What experiments.prompt/system_prompt hold: the request itself, or for a suite its name
    and size (what history lists and `prompt_contains` searches)."""
    if isinstance(spec, ExperimentSpec):
        return spec.prompt, spec.system
    cases = len(spec.cases)
    return f"suite {spec.suite.name}: {cases} case{'s' if cases != 1 else ''}", spec.system


@dataclass(frozen=True, slots=True)
class _RequestContext:
    """What a run's request key needs beyond the run itself: the backend host and the
    (prompt, system message) of the experiment, or of each case of a suite."""

    kind: str
    host: str | None
    default: tuple[str, str]
    cases: Mapping[str, tuple[str, str]]
    top_logprobs: Mapping[str, int | None]  # arm label -> logprobs asked for

    @classmethod
    def of(cls, spec: ExperimentSpec | SuiteSpec, kind: str, host: str | None) -> _RequestContext:
        capture = {arm.label: arm.top_logprobs for arm in spec.arms}
        if isinstance(spec, ExperimentSpec):
            return cls(kind, host, (spec.prompt, spec.system), {}, capture)
        return cls(kind, host, ("", spec.system), spec.case_requests(), capture)

    def request_key(self, completion: Completion) -> str | None:
        if self.kind == "import":
            return None  # not a request Seedscope sent: no host, maybe no prompt
        if completion.case_id is None:
            prompt, system = self.default
        else:
            try:
                prompt, system = self.cases[completion.case_id]
            except KeyError:
                raise StoreError(
                    f"the run names case {completion.case_id!r}, which the suite does not have"
                ) from None
        # The host that answered (an arm may have its own backend), else the experiment's.
        host = None if completion.provider == "local" else completion.base_url_host or self.host
        return request_key(
            provider=completion.provider,
            base_url_host=host,
            model=completion.model,
            prompt=prompt,
            system=system,
            seed=completion.requested_seed,
            temperature=completion.temperature,
            top_p=completion.top_p,
            max_tokens=completion.max_tokens,
            top_logprobs=self.top_logprobs.get(completion.arm_label),
        )


def _drift_point(row: Row) -> DriftPoint:
    # Unpacked by position (the column order of drift_query): reading 20 attributes by name
    # was most of the time of a long series.
    (
        _id,
        key,
        provider,
        model,
        seed,
        temperature,
        top_p,
        max_tokens,
        started_at,
        experiment_id,
        arm_label,
        run_index,
        fingerprint,
        preview,
        previous_id,
        same_text,
        previous_fingerprint,
        previous_started_at,
        _run_host,
        prompt,
        system,
        host,
    ) = row
    first = previous_id is None
    return DriftPoint(
        request_key=key,
        provider=provider,
        model=model,
        base_url_host=host,
        prompt=prompt,
        system=system,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        started_at=started_at,
        experiment_id=experiment_id,
        arm_label=arm_label,
        run_index=run_index,
        system_fingerprint=fingerprint,
        previous_fingerprint=None if first else previous_fingerprint,
        previous_started_at=None if first else previous_started_at,
        status="first" if first else ("same" if same_text else "changed"),
        fingerprint_changed=None if first else previous_fingerprint != fingerprint,
        text_preview=preview,
    )

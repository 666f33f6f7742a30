"""The backend capability table: which backend keeps which promise, as last checked.

One row per backend (provider, model, host) that has successful runs or stored checks:

- **seed honoured**, from its newest seed check (`seedscope check seed`);
- **fingerprint reported**, from its runs: "yes" when every successful run reported a
  `system_fingerprint`, "no" when none did, "partly" otherwise; and its **change events**,
  counted by the store's one definition (seedscope.fingerprints, `Store.fingerprint_history`),
  so this count is the Fingerprints page's;
- **logprobs supported**, from its newest logprobs check (`seedscope check logprobs`): whether
  the runs that asked for logprobs got them back, and whether asking changed the output;
- **load-invariant**, from its newest load probe (`seedscope check load`);

each with when it was last checked (the check's start; None: never checked). Nothing is stored
beyond the runs: the checks' verdicts are recomputed from them (seedscope.checks.history).
The embedded model has no host (`base_url_host` None), shown as "embedded".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from seedscope.checks.history import CheckRecord, latest_checks
from seedscope.checks.load import LOAD_DEPENDENT, LOAD_INVARIANT
from seedscope.checks.logprobs import CHANGED, UNCHANGED
from seedscope.checks.seed import (
    DETERMINISTIC,
    HONOURED_NOT_DETERMINISTIC,
    SEED_HONOURED,
    SEED_IGNORED,
)
from seedscope.fingerprints import FingerprintChange
from seedscope.store import FingerprintSpan, Store

Backend = tuple[str, str, str | None]  # provider, model, base_url_host

NEVER_CHECKED = "never checked"
NO_RUNS = "no successful runs"
EMBEDDED = "embedded"
NOT_RECORDED = "not recorded"
INCONCLUSIVE = "inconclusive"

SEED_ANSWERS = {
    SEED_HONOURED: "yes",
    HONOURED_NOT_DETERMINISTIC: "yes, not deterministic",
    SEED_IGNORED: "no",
    DETERMINISTIC: "not needed (deterministic)",
}
LOAD_ANSWERS = {LOAD_INVARIANT: "yes", LOAD_DEPENDENT: "no"}
ONE_CALL_AT_A_TIME = "yes, one call at a time"
LOGPROBS_CHANGE_ANSWERS = {CHANGED: "yes", UNCHANGED: "no"}


@dataclass(frozen=True, slots=True)
class BackendCapabilities:
    """One backend's row. Answers are short words ("yes", "no", ...; None: never checked, or
    for the fingerprint: no successful run); times are UTC; `to_dict` is JSON-ready."""

    provider: str
    model: str
    base_url_host: str | None  # None: the embedded model (or a remote host not recorded)
    runs: int  # successful runs in the history
    last_run_at: datetime | None
    # the newest seed check
    seed_honoured: str | None  # yes | yes, not deterministic | no | not needed (deterministic)
    #                            | inconclusive
    seed_verdict: str | None
    seed_checked_at: datetime | None
    seed_experiment_id: str | None
    # the runs' fingerprints, and their change events (seedscope.fingerprints)
    fingerprint_reported: str | None  # yes | no | partly
    fingerprint_runs: int  # successful runs that reported one
    fingerprints: list[str | None]  # distinct, first seen first (None: not reported)
    latest_fingerprint: str | None
    fingerprint_changes: int
    fingerprint_ever_changed: bool
    # the newest logprobs check
    logprobs_supported: str | None  # yes | no | partly | inconclusive (no run got an answer)
    logprobs_returned_runs: int | None  # runs that asked for logprobs and got them
    logprobs_asked_runs: int | None  # successful runs that asked for them
    logprobs_change_outputs: str | None  # yes | no | inconclusive
    logprobs_verdict: str | None
    logprobs_checked_at: datetime | None
    logprobs_experiment_id: str | None
    # the newest load probe
    load_invariant: str | None  # yes | yes, one call at a time | no | inconclusive
    load_verdict: str | None
    load_checked_at: datetime | None
    load_experiment_id: str | None

    @property
    def backend(self) -> Backend:
        return (self.provider, self.model, self.base_url_host)

    @property
    def host_label(self) -> str:
        """The host as shown: "embedded" for the embedded model."""
        if self.base_url_host:
            return self.base_url_host
        return EMBEDDED if self.provider == "local" else NOT_RECORDED

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 with +00:00."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }


def _seed_columns(check: CheckRecord | None) -> dict[str, Any]:
    if check is None:
        return dict.fromkeys(
            ("seed_honoured", "seed_verdict", "seed_checked_at", "seed_experiment_id")
        )
    return {
        "seed_honoured": SEED_ANSWERS.get(check.verdict, INCONCLUSIVE),
        "seed_verdict": check.verdict,
        "seed_checked_at": check.checked_at,
        "seed_experiment_id": check.experiment_id,
    }


def logprobs_supported(returned: int, asked: int) -> str:
    """Did the backend send logprobs back when asked? From the newest logprobs check."""
    if asked == 0:
        return INCONCLUSIVE  # no run that asked for them succeeded
    if returned == asked:
        return "yes"
    return "no" if returned == 0 else "partly"


def _logprobs_columns(check: CheckRecord | None) -> dict[str, Any]:
    names = (
        "logprobs_supported",
        "logprobs_returned_runs",
        "logprobs_asked_runs",
        "logprobs_change_outputs",
        "logprobs_verdict",
        "logprobs_checked_at",
        "logprobs_experiment_id",
    )
    if check is None:
        return dict.fromkeys(names)
    returned = check.evidence.get("logprobs_returned") or {"runs": 0, "of": 0}
    return {
        "logprobs_supported": logprobs_supported(returned["runs"], returned["of"]),
        "logprobs_returned_runs": returned["runs"],
        "logprobs_asked_runs": returned["of"],
        "logprobs_change_outputs": LOGPROBS_CHANGE_ANSWERS.get(check.verdict, INCONCLUSIVE),
        "logprobs_verdict": check.verdict,
        "logprobs_checked_at": check.checked_at,
        "logprobs_experiment_id": check.experiment_id,
    }


def _load_columns(check: CheckRecord | None) -> dict[str, Any]:
    if check is None:
        return dict.fromkeys(
            ("load_invariant", "load_verdict", "load_checked_at", "load_experiment_id")
        )
    answer = LOAD_ANSWERS.get(check.verdict, INCONCLUSIVE)
    if check.verdict == LOAD_INVARIANT and check.evidence.get("one_call_at_a_time"):
        answer = ONE_CALL_AT_A_TIME  # nothing ran at once: load could not change the output
    return {
        "load_invariant": answer,
        "load_verdict": check.verdict,
        "load_checked_at": check.checked_at,
        "load_experiment_id": check.experiment_id,
    }


def _fingerprint_columns(
    spans: list[FingerprintSpan], events: list[FingerprintChange]
) -> dict[str, Any]:
    """From one series' spans (in time order) and change events, as the store gives them."""
    runs = sum(span.runs for span in spans)
    reporting = sum(span.runs for span in spans if span.system_fingerprint is not None)
    seen: list[str | None] = []
    for span in spans:
        if span.system_fingerprint not in seen:
            seen.append(span.system_fingerprint)
    if not runs:
        reported = None
    elif reporting == runs:
        reported = "yes"
    else:
        reported = "no" if reporting == 0 else "partly"
    return {
        "runs": runs,
        "last_run_at": max((span.last_seen for span in spans), default=None),
        "fingerprint_reported": reported,
        "fingerprint_runs": reporting,
        "fingerprints": seen,
        "latest_fingerprint": spans[-1].system_fingerprint if spans else None,
        "fingerprint_changes": len(events),
        "fingerprint_ever_changed": bool(events),
    }


def _sort_key(backend: Backend) -> tuple[str, str, int, str]:
    provider, model, host = backend
    return (provider, model, host is not None, host or "")  # no host first, as the store


def capability_table(store: Store) -> list[BackendCapabilities]:
    """One row per backend with successful runs or stored checks, by provider, model, host."""
    spans, events = store.fingerprint_history()  # the one definition of a change event
    spans_of: dict[Backend, list[FingerprintSpan]] = {}
    for span in spans:  # each series' spans come in time order
        spans_of.setdefault((span.provider, span.model, span.base_url_host), []).append(span)
    events_of: dict[Backend, list[FingerprintChange]] = {}
    for event in events:
        events_of.setdefault((event.provider, event.model, event.base_url_host), []).append(event)
    checks: dict[tuple[str, Backend], CheckRecord] = {}
    for record in latest_checks(store):  # the newest of each kind per backend
        checks.setdefault((record.kind, record.backend), record)

    backends = set(spans_of) | {backend for _, backend in checks}
    rows = []
    for backend in sorted(backends, key=_sort_key):
        provider, model, host = backend
        rows.append(
            BackendCapabilities(
                provider=provider,
                model=model,
                base_url_host=host,
                **_fingerprint_columns(spans_of.get(backend, []), events_of.get(backend, [])),
                **_seed_columns(checks.get(("seed", backend))),
                **_logprobs_columns(checks.get(("logprobs", backend))),
                **_load_columns(checks.get(("load", backend))),
            )
        )
    return rows


# -- the table as shown on the Fingerprints page and by `seedscope backends` ----------------------

BACKEND = "backend"
HOST = "host"
SEED = "seed honoured"
SEED_CHECKED = "seed checked (UTC)"
FINGERPRINT = "fingerprint reported"
CHANGES = "fingerprint changed"
LOGPROBS = "logprobs supported"
LOGPROBS_CHANGE = "logprobs change output"
LOGPROBS_CHECKED = "logprobs checked (UTC)"
LOAD = "load-invariant"
LOAD_CHECKED = "load checked (UTC)"
LAST_RUN = "last run (UTC)"
TABLE_COLUMNS = (
    BACKEND,
    HOST,
    SEED,
    SEED_CHECKED,
    FINGERPRINT,
    CHANGES,
    LOGPROBS,
    LOGPROBS_CHANGE,
    LOGPROBS_CHECKED,
    LOAD,
    LOAD_CHECKED,
    LAST_RUN,
)
TIME_COLUMNS = (SEED_CHECKED, LOGPROBS_CHECKED, LOAD_CHECKED, LAST_RUN)


def _answer(value: str | None) -> str:
    return NEVER_CHECKED if value is None else value


def _logprobs_text(row: BackendCapabilities) -> str:
    if row.logprobs_supported is None:
        return NEVER_CHECKED
    if row.logprobs_asked_runs:
        return (
            f"{row.logprobs_supported} ({row.logprobs_returned_runs} of {row.logprobs_asked_runs})"
        )
    return row.logprobs_supported


def _changes_text(row: BackendCapabilities) -> str:
    if row.fingerprint_reported is None:
        return "–"
    if not row.fingerprint_ever_changed:
        return "no"
    events = (
        "1 change event"
        if row.fingerprint_changes == 1
        else (f"{row.fingerprint_changes} change events")
    )
    return f"yes ({events})"


def table_row(row: BackendCapabilities) -> dict[str, Any]:
    """One row as shown, by TABLE_COLUMNS: words for the answers ("never checked" where no
    check exists), times as datetimes (None: never). Model and host are untrusted text: a
    dataframe shows them literally; a terminal needs seedscope.terminal first."""
    return {
        BACKEND: f"{row.provider}/{row.model}",
        HOST: row.host_label,
        SEED: _answer(row.seed_honoured),
        SEED_CHECKED: row.seed_checked_at,
        FINGERPRINT: row.fingerprint_reported or NO_RUNS,
        CHANGES: _changes_text(row),
        LOGPROBS: _logprobs_text(row),
        LOGPROBS_CHANGE: _answer(row.logprobs_change_outputs),
        LOGPROBS_CHECKED: row.logprobs_checked_at,
        LOAD: _answer(row.load_invariant),
        LOAD_CHECKED: row.load_checked_at,
        LAST_RUN: row.last_run_at,
    }

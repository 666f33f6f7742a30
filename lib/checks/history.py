"""The checks in the run history, for a capability table: which backend kept which promise.

Every check is an experiment labelled `check:<kind>`; its verdict is recomputed from the stored
spec and runs (the same pure function that judged it when it ran), so nothing beyond the runs
is stored and no migration is needed. An experiment with a check label whose arms are not the
check's (say a drift probe someone named "check:seed") is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from seedscope.checks.common import Verdict
from seedscope.checks.load import LOAD_PROBE_LABEL, evaluate_load_probe, is_load_probe_spec
from seedscope.checks.logprobs import (
    LOGPROBS_CHECK_LABEL,
    evaluate_logprobs_check,
    is_logprobs_check_spec,
)
from seedscope.checks.seed import SEED_CHECK_LABEL, evaluate_seed_check, is_seed_check_spec
from seedscope.store import Store
from seedscope.store.records import ExperimentSummary

CHECK_KINDS: dict[str, tuple[str, Callable[[Any], bool], Callable[..., Verdict]]] = {
    SEED_CHECK_LABEL: ("seed", is_seed_check_spec, evaluate_seed_check),
    LOAD_PROBE_LABEL: ("load", is_load_probe_spec, evaluate_load_probe),
    LOGPROBS_CHECK_LABEL: ("logprobs", is_logprobs_check_spec, evaluate_logprobs_check),
}
PAGE_SIZE = 500


@dataclass(frozen=True)
class CheckRecord:
    """One stored check of one backend, with its verdict recomputed from its runs."""

    kind: str  # "seed" | "load" | "logprobs"
    verdict: str
    evidence: dict[str, Any]
    experiment_id: str
    provider: str
    model: str
    base_url_host: str | None  # None for the embedded model
    checked_at: datetime  # when the check started
    finished_at: datetime | None
    status: str  # complete | failed | cancelled | interrupted

    @property
    def backend(self) -> tuple[str, str, str | None]:
        return (self.provider, self.model, self.base_url_host)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data


def _check_summaries(store: Store, kind: str | None) -> Iterator[ExperimentSummary]:
    """Finished experiments with a check label (of `kind`, if given), newest first."""
    offset = 0
    while True:
        page = store.list_experiments(limit=PAGE_SIZE, offset=offset, kind="experiment")
        for summary in page:
            known = CHECK_KINDS.get(summary.label or "")
            if known and summary.status != "running" and kind in (None, known[0]):
                yield summary
        if len(page) < PAGE_SIZE:
            return
        offset += PAGE_SIZE


def _record(store: Store, summary: ExperimentSummary) -> CheckRecord | None:
    kind, fits, evaluate = CHECK_KINDS[summary.label or ""]
    stored = store.load_experiment(summary.id)
    if stored is None or not fits(stored.spec):
        return None
    verdict = evaluate(stored.spec, stored.completions)
    return CheckRecord(
        kind=kind,
        verdict=verdict.verdict,
        evidence=verdict.evidence,
        experiment_id=summary.id,
        provider=summary.provider,
        model=summary.model,
        base_url_host=summary.base_url_host,
        checked_at=summary.created_at,
        finished_at=summary.finished_at,
        status=summary.status,
    )


def check_history(store: Store, *, kind: str | None = None) -> list[CheckRecord]:
    """Every stored check (of `kind`: "seed", "load" or "logprobs"), newest first."""
    records = (_record(store, summary) for summary in _check_summaries(store, kind))
    return [record for record in records if record is not None]


def latest_checks(store: Store) -> list[CheckRecord]:
    """The newest check of each kind for each backend (provider, model, host), newest first:
    what a capability table shows, with the time each was last checked. Only the newest
    check of each is loaded and recomputed."""
    seen: set[tuple[str, str, str, str | None]] = set()
    latest = []
    for summary in _check_summaries(store, None):
        key = (summary.label or "", summary.provider, summary.model, summary.base_url_host)
        if key in seen:
            continue
        record = _record(store, summary)
        if record is not None:
            seen.add(key)
            latest.append(record)
    return latest

"""What the run history returns: plain, immutable records (no database types leak out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

from seedscope.providers.base import Completion
from seedscope.spec import ExperimentSpec
from seedscope.suites import SuiteSpec


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in data.items()
    }


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    id: str
    created_at: datetime
    finished_at: datetime | None
    status: str  # running | complete | failed | cancelled | interrupted
    provider: str
    model: str
    prompt: str
    base_url_host: str | None
    label: str | None  # the probe name for probe runs, else None
    runs: int
    failed_runs: int
    kind: str = "experiment"  # experiment | suite | import
    started_by: str | None = None  # the logged-in user who started it from the page

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (timestamps as ISO 8601 with +00:00)."""
        return _jsonable(asdict(self))


@dataclass(frozen=True, slots=True)
class StoredExperiment:
    summary: ExperimentSummary
    spec: ExperimentSpec | SuiteSpec  # a SuiteSpec when kind is 'suite' or 'import'
    completions: list[Completion]  # case order of a suite, arm order of the spec, run index
    kind: str = "experiment"  # experiment | suite | import

    case_id: str | None = None  # set on the view of one suite case (see case_view)

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def status(self) -> str:
        return self.summary.status

    def case_view(self, case_id: str) -> StoredExperiment:
        """One case of a suite (or import) as a plain experiment: the case's request under
        the suite's arms, and only its runs; the experiment id and status stay the suite's.

        The spec is built without validation: its parts were validated with the suite (and an
        import's provider, 'import', is not one a new comparison may choose).
        """
        if not isinstance(self.spec, SuiteSpec):
            raise ValueError(f"experiment {self.id[:8]} is not a suite")
        suite = self.spec
        case = suite.suite.case(case_id)
        if case is None:
            raise KeyError(f"no case {case_id!r} in suite {suite.suite.name!r}")
        spec = ExperimentSpec.model_construct(
            prompt=case.prompt,
            system=suite.system_for(case),
            provider=suite.provider,
            model=suite.model,
            max_tokens=suite.max_tokens,
            top_p=suite.top_p,
            arms=list(suite.arms),
        )
        runs = [c for c in self.completions if c.case_id == case_id]
        summary = replace(
            self.summary,
            prompt=case.prompt,
            runs=len(runs),
            failed_runs=sum(not c.ok for c in runs),
        )
        return StoredExperiment(summary, spec, runs, kind=self.kind, case_id=case_id)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One successful run on the fingerprint timeline."""

    started_at: datetime
    provider: str
    model: str
    base_url_host: str | None
    system_fingerprint: str | None  # None: the backend reported none
    arm_label: str
    run_index: int
    requested_seed: int | None
    effective_seed: int | None
    temperature: float
    text: str
    experiment_id: str

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True, slots=True)
class FingerprintSpan:
    """Consecutive successful runs of one backend/model that reported the same fingerprint.

    A new span starts whenever the fingerprint differs from the previous run's, so
    A, A, B, A gives three spans: each boundary is a change event.
    """

    provider: str
    model: str
    base_url_host: str | None
    system_fingerprint: str | None
    first_seen: datetime
    last_seen: datetime
    runs: int

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


DriftStatus = Literal["first", "same", "changed"]


@dataclass(frozen=True, slots=True)
class DriftPoint:
    """One successful seeded run, compared with the previous run of the same fixed request.

    `request_key` groups a series; `status` is "first" for the earliest run of the key,
    else "same" (identical text) or "changed". `fingerprint_changed` is None for "first".
    """

    request_key: str
    provider: str
    model: str
    base_url_host: str | None
    prompt: str
    system: str
    seed: int
    temperature: float
    top_p: float
    max_tokens: int
    started_at: datetime
    experiment_id: str
    arm_label: str
    run_index: int
    system_fingerprint: str | None
    previous_fingerprint: str | None
    previous_started_at: datetime | None
    status: DriftStatus
    fingerprint_changed: bool | None
    text_preview: str

    @property
    def same_text(self) -> bool | None:
        return None if self.status == "first" else self.status == "same"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True, slots=True)
class Spending:
    """One start or resume from the page, as the budgets count it (seedscope.budgets)."""

    at: datetime
    owner: str  # the logged-in user, or the browser session
    experiment_id: str | None
    runs: int
    worst_case_tokens: int  # runs x max_tokens: completion tokens at most
    paid: bool  # served by a paid backend (the configured OpenAI-compatible one)

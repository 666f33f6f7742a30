"""What the seed check and the load probe share: their specs, their result, runs by arm, timing.

A check is an ordinary experiment: one ExperimentSpec with fixed arm labels, created and run
through seedscope.experiments and labelled `check:<kind>` so that the history, the fingerprint
timeline and `latest_checks` find it. Its verdict is a pure function of the stored spec and
runs, so it can be recomputed at any time from the history (no extra table, no migration).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seedscope.providers.base import Completion
from seedscope.spec import ExperimentSpec, Limits, SpecError, validate_spec
from seedscope.store import Store, StoreError

if TYPE_CHECKING:  # the lifecycle imports the runner; checks import it only when they run
    from seedscope.experiments import ExperimentResult
    from seedscope.providers.base import Provider
    from seedscope.runner import ProgressEvent

CHECK_LABEL_PREFIX = "check:"


def check_label_kind(label: str | None) -> str | None:
    """The check an experiment label names ("check:load" -> "load"), or None for any other."""
    if label is None or not label.startswith(CHECK_LABEL_PREFIX):
        return None
    return label.removeprefix(CHECK_LABEL_PREFIX)


INCONCLUSIVE = "inconclusive"
# At least two runs per measured arm: one run cannot show whether a request repeats itself.
MIN_RUNS = 2
# Two calls "overlap" (were in flight together) only when they share more than this many
# seconds: stored start times and latencies come from two clocks and are rounded to a
# microsecond, and calls made one after another must never count as simultaneous.
OVERLAP_TOLERANCE_S = 0.001


@dataclass(frozen=True)
class Verdict:
    """A check's verdict and the evidence it rests on (JSON-ready: plain types only)."""

    verdict: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CheckResult:
    """How one check ended: its verdict, evidence, and the experiment that stores its runs."""

    kind: str  # "seed" | "load"
    verdict: str
    evidence: dict[str, Any]
    experiment_id: str
    status: str  # the experiment's status: complete | failed | cancelled | interrupted
    failure_summary: str | None = None  # every run failed: the most common reason
    problem: str | None = None  # why it stopped early (saving failed)
    runs: list[Completion] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the command line prints."""
        return {
            "verdict": self.verdict,
            "evidence": self.evidence,
            "experiment_id": self.experiment_id,
        }


def check_spec(
    base: ExperimentSpec,
    arms: list[dict[str, Any]],
    parameters: dict[tuple[int, str], str],
    limits: Limits,
    problems: Sequence[str] = (),
) -> ExperimentSpec:
    """`base`'s request (prompt, system, backend, model, max_tokens, top_p) with `arms`,
    validated. SpecError lists every problem: `problems` found by the caller first, then the
    spec's own, each naming the check's parameter instead of the arm field
    (`parameters` maps (arm index, field) to that name). A parameter the caller already
    complained about is not reported twice."""
    messages = list(problems)
    data = {**base.model_dump(), "arms": arms}
    try:
        spec = validate_spec(data, limits)
    except SpecError as error:
        named = {message.split(":", 1)[0] for message in messages}
        for message in error.messages:
            renamed = _renamed(message, parameters)
            if renamed.split(":", 1)[0] not in named and renamed not in messages:
                messages.append(renamed)
        raise SpecError(messages) from None
    if messages:
        raise SpecError(messages)
    return spec


def _renamed(message: str, parameters: dict[tuple[int, str], str]) -> str:
    """ "arms[2].seed: seed 0 is out of range ..." -> "seed_b: seed 0 is out of range ..." """
    for (index, name), parameter in parameters.items():
        prefix = f"arms[{index}].{name}: "
        if message.startswith(prefix):
            text = message.removeprefix(prefix)
            # The arm field's own wording: a check's parameter cannot be none, nor repeat itself.
            text = text.removesuffix(", or none for an unseeded arm")
            text = text.removesuffix(", or none to capture no logprobs")
            return f"{parameter}: {text}"
    return message


def runs_in_range(parameter: str, value: int, low: int, limits: Limits, what: str) -> list[str]:
    """A problem line when `value` is outside low..max_runs_per_arm, else none."""
    high = limits.max_runs_per_arm
    if low <= value <= high:
        return []
    return [
        f"{parameter}: {value} is out of range for {what}; allowed {low} to {high} "
        "(SEEDSCOPE_MAX_RUNS_PER_ARM)"
    ]


def has_arms(spec: Any, labels: Sequence[str]) -> bool:
    """True when `spec` is a plain experiment whose arm labels are exactly `labels`."""
    return isinstance(spec, ExperimentSpec) and [arm.label for arm in spec.arms] == list(labels)


def runs_by_arm(completions: Sequence[Completion]) -> dict[str, dict[int, Completion]]:
    """Stored runs by arm label, then by run index."""
    arms: dict[str, dict[int, Completion]] = {}
    for completion in completions:
        arms.setdefault(completion.arm_label, {})[completion.run_index] = completion
    return arms


def arm_summary(planned: int, runs: dict[int, Completion]) -> dict[str, Any]:
    """Planned, stored, succeeded and failed runs of one arm, and its distinct outputs."""
    ok = [c.text for c in runs.values() if c.ok]
    return {
        "runs": planned,
        "succeeded": len(ok),
        "failed": sum(not c.ok for c in runs.values()),
        "missing": planned - len(runs),
        "distinct_outputs": len(set(ok)),
    }


def fingerprints_seen(completions: Sequence[Completion]) -> list[str | None]:
    """Distinct `system_fingerprint`s of the successful runs, in run order (None: the backend
    reported none)."""
    seen: list[str | None] = []
    for completion in completions:
        if completion.ok and completion.system_fingerprint not in seen:
            seen.append(completion.system_fingerprint)
    return seen


def _interval(completion: Completion) -> tuple[float, float]:
    """When the call was in flight, shrunk by half the tolerance at each end (see
    OVERLAP_TOLERANCE_S), as (start, end) in seconds since the epoch."""
    start = completion.started_at.timestamp()
    end = start + max(completion.latency_s, 0.0)
    half = OVERLAP_TOLERANCE_S / 2
    start, end = start + half, end - half
    return start, max(end, start)


def peak_in_flight(completions: Sequence[Completion]) -> int:
    """The most of these calls that were in flight at one moment (0 for none, 1 when they ran
    one after another), from their stored start times and latencies."""
    events = []
    for completion in completions:
        start, end = _interval(completion)
        events.append((start, 1))
        events.append((end if end > start else start + 1e-9, -1))
    events.sort()  # at equal times an end (-1) comes before a start (+1): touching is not overlap
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def overlapping(completion: Completion, others: Sequence[Completion]) -> int:
    """How many of `others` were in flight at some moment of `completion`'s call."""
    start, end = _interval(completion)
    count = 0
    for other in others:
        other_start, other_end = _interval(other)
        if other_start < end and start < other_end:
            count += 1
    return count


def stored_runs(store: Store, experiment_id: str, fallback: list[Completion]) -> list[Completion]:
    """The experiment's runs as the store returns them (what `latest_checks` reads later, so
    a verdict printed now and one recomputed later agree), or `fallback` (the runs in memory)
    when the store cannot be read."""
    try:
        stored = store.load_experiment(experiment_id)
    except StoreError:
        return fallback
    return fallback if stored is None else stored.completions


def check_experiment(
    store: Store, spec: ExperimentSpec, provider: Provider, label: str, started_by: str | None
) -> str:
    """Store the check's experiment (status running) and return its id."""
    from seedscope.experiments import create_experiment

    return create_experiment(store, spec, provider, label=label, started_by=started_by)


def run_one_at_a_time(
    kind: str,
    store: Store,
    spec: ExperimentSpec,
    provider: Provider,
    evaluate: Callable[[ExperimentSpec, Sequence[Completion]], Verdict],
    *,
    label: str,
    started_by: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    experiment_id: str | None = None,
) -> CheckResult:
    """Store and run a check's spec through the experiment lifecycle one call at a time (so
    that load cannot be mistaken for what the check measures), and judge the stored runs.
    `experiment_id`: the check's experiment, created already (a background job creates it
    when it starts); None: create it here."""
    experiment_id = experiment_id or check_experiment(store, spec, provider, label, started_by)
    from seedscope.experiments import run_experiment

    result = run_experiment(
        store, experiment_id, spec, provider, concurrency=1, cancel=cancel, on_progress=on_progress
    )
    return judged(kind, store, experiment_id, spec, result, evaluate)


def judged(
    kind: str,
    store: Store,
    experiment_id: str,
    spec: ExperimentSpec,
    result: ExperimentResult,
    evaluate: Callable[[ExperimentSpec, Sequence[Completion]], Verdict],
) -> CheckResult:
    """A check's result: `evaluate`'s verdict on the runs as stored (see stored_runs)."""
    runs = stored_runs(store, experiment_id, result.completions)
    verdict = evaluate(spec, runs)
    return CheckResult(
        kind,
        verdict.verdict,
        verdict.evidence,
        experiment_id,
        result.status,
        result.failure_summary(),
        result.problem,
        runs,
    )

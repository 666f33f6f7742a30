"""The load probe: does a seeded request's output depend on what else the backend is doing?

One experiment, labelled `check:load`, with four arms on one request (prompt, system,
max_tokens, top_p), seed S at temperature T (default 0: greedy, so only load can move it):

    "sequential"  seed S, N runs, one call after another, nothing else in flight
    "concurrent"  seed S, K runs, all K copies sent at once
    "under load"  seed S, N runs, one at a time, each sent together with B background requests
    "background"  N x B background requests, unseeded at temperature 1 (other continuations
                  of the prompt); not measured, but stored like every call that is sent

Schedule. The phases run in that order. In round r of "under load" the background requests
r*B .. r*B+B-1 are started first, then the measured run r; the next round starts once all B+1
calls have ended. The runner is handed every run at once (concurrency = all runs of the probe)
and a thin wrapper of the backend holds each call until its turn comes. That is only done when
the backend takes that many calls at once (`max_concurrency` None: any remote server). A
backend that takes fewer (the embedded model: one at a time) gets the calls in the runner's
usual interleaved order, at most `max_concurrency` at a time, so the K copies and the
background requests queue behind each other. The probe sends up to max(K, B + 1) calls at once
whatever SEEDSCOPE_REMOTE_CONCURRENCY says, since that is what it measures; K and N x B are
bounded by SEEDSCOPE_MAX_RUNS_PER_ARM.

Verdict. The *reference* is the text of the first successful "sequential" run (lowest run
index); the *measured* runs are the successful runs of "sequential", "concurrent" and "under
load". The first of these that applies:

1. `inconclusive`: no "sequential" run succeeded, so there is nothing to compare with.
2. `load_dependent`: at least one measured run's text differs from the reference (exact string
   comparison). The evidence lists every such run: arm, run index, first divergence char
   against the reference. If "sequential" runs already differ among themselves, the output
   changes even with nothing else in flight; the explanation says so (see the seed check).
   A differing run is evidence whatever failed around it, so this comes before rule 3.
3. `inconclusive`: no measured run differs, but some arm (background included) has fewer than
   ceil(runs / 2) successful runs: too few to claim invariance (say the background requests
   were refused with 429, so "under load" was hardly under load).
4. `load_invariant`: every measured run, at least half of each arm, gave the reference text.

What really ran at once is read from the stored runs' start times and latencies (calls
overlap when they share more than OVERLAP_TOLERANCE_S): per arm `peak_in_flight` (1 for
"sequential"; K for "concurrent" when the backend took the copies together) and
`background_in_flight`, the fewest background calls in flight during any "under load" run.
When no two calls of the probe overlapped, `one_call_at_a_time` is true and, on the embedded
model, the explanation says that it serves one call at a time, so concurrency cannot change its
outputs (the probe then shows only that an output does not depend on the calls before it).

Known limits: every arm of an experiment shares one prompt, so the background requests send the
probe's own prompt (unseeded, so their continuations differ) rather than other prompts.
`seedscope resume` of an interrupted probe sends the missing runs without this schedule: run
the probe again instead.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from seedscope.checks.common import (
    CHECK_LABEL_PREFIX,
    INCONCLUSIVE,
    MIN_RUNS,
    CheckResult,
    Verdict,
    arm_summary,
    check_experiment,
    check_spec,
    fingerprints_seen,
    has_arms,
    judged,
    overlapping,
    peak_in_flight,
    runs_by_arm,
    runs_in_range,
)
from seedscope.metrics import first_divergence_char
from seedscope.providers.base import Completion, CompletionRequest, Provider
from seedscope.runner import ProgressEvent
from seedscope.spec import ExperimentSpec, Limits
from seedscope.store import Store

LOAD_PROBE_LABEL = CHECK_LABEL_PREFIX + "load"
SEQUENTIAL, CONCURRENT, UNDER_LOAD, BACKGROUND = (
    "sequential",
    "concurrent",
    "under load",
    "background",
)
LOAD_ARMS = (SEQUENTIAL, CONCURRENT, UNDER_LOAD, BACKGROUND)
MEASURED_ARMS = (SEQUENTIAL, CONCURRENT, UNDER_LOAD)

LOAD_INVARIANT = "load_invariant"
LOAD_DEPENDENT = "load_dependent"
LOAD_VERDICTS = (LOAD_INVARIANT, LOAD_DEPENDENT, INCONCLUSIVE)

DEFAULT_SEED, DEFAULT_TEMPERATURE, DEFAULT_COPIES, DEFAULT_BACKGROUND = 123, 0.0, 4, 4
BACKGROUND_TEMPERATURE = 1.0


def load_probe_spec(
    base: ExperimentSpec,
    *,
    seed: int = DEFAULT_SEED,
    temperature: float = DEFAULT_TEMPERATURE,
    runs: int = 5,
    copies: int = DEFAULT_COPIES,
    background: int = DEFAULT_BACKGROUND,
    limits: Limits | None = None,
) -> ExperimentSpec:
    """The load probe's spec on `base`'s request (its arms are ignored); SpecError names the
    parameter (seed, temperature, runs, copies, background) of every problem, before any call."""
    limits = limits or Limits()
    runs_problems = runs_in_range("runs", runs, MIN_RUNS, limits, "the load probe")
    copies_problems = runs_in_range("copies", copies, 2, limits, "the copies sent at once")
    background_problems = runs_in_range(
        "background", background, 1, limits, "the background requests per run"
    )
    total_background = runs * background
    if not (runs_problems or background_problems) and total_background > limits.max_runs_per_arm:
        background_problems.append(
            f"background: runs x background = {runs} x {background} = {total_background} "
            f"background requests; allowed at most {limits.max_runs_per_arm} "
            "(SEEDSCOPE_MAX_RUNS_PER_ARM): lower --runs or --background"
        )
    problems = runs_problems + copies_problems + background_problems
    # A refused count is replaced by a valid one, so the spec still reports its own problems.
    runs_ok = MIN_RUNS if runs_problems else runs
    measured = {"seed": seed, "temperature": temperature}
    arms = [
        {"label": SEQUENTIAL, **measured, "runs": runs_ok},
        {"label": CONCURRENT, **measured, "runs": 2 if copies_problems else copies},
        {"label": UNDER_LOAD, **measured, "runs": runs_ok},
        {
            "label": BACKGROUND,
            "seed": None,
            "temperature": BACKGROUND_TEMPERATURE,
            "runs": runs_ok if background_problems else total_background,
        },
    ]
    parameters = {(index, name): name for index in range(3) for name in ("seed", "temperature")}
    parameters |= {(0, "runs"): "runs", (1, "runs"): "copies", (2, "runs"): "runs"}
    parameters[(3, "runs")] = "background"
    return check_spec(base, arms, parameters, limits, problems)


def is_load_probe_spec(spec: Any) -> bool:
    return has_arms(spec, LOAD_ARMS)


def probe_sizes(spec: ExperimentSpec) -> tuple[int, int, int]:
    """(N runs, K copies, B background requests per run) of a load probe spec."""
    arms = {arm.label: arm for arm in spec.arms}
    runs = arms[UNDER_LOAD].runs
    return arms[SEQUENTIAL].runs, arms[CONCURRENT].runs, arms[BACKGROUND].runs // runs


def evaluate_load_probe(spec: ExperimentSpec, completions: Sequence[Completion]) -> Verdict:
    """The verdict of a load probe from its spec and stored runs (see the module docstring)."""
    if not is_load_probe_spec(spec):
        raise ValueError(f"not a load probe: its arms must be {', '.join(LOAD_ARMS)}")
    arms = {arm.label: arm for arm in spec.arms}
    runs, copies, background = probe_sizes(spec)
    by_arm = runs_by_arm(completions)
    sequential = [by_arm.get(SEQUENTIAL, {})[i] for i in sorted(by_arm.get(SEQUENTIAL, {}))]
    reference = next((c for c in sequential if c.ok), None)
    differing: list[dict[str, Any]] = []
    if reference is not None:
        for label in MEASURED_ARMS:
            for index in sorted(by_arm.get(label, {})):
                run = by_arm[label][index]
                if run.ok and run.text != reference.text:
                    differing.append(
                        {
                            "arm": label,
                            "run_index": index,
                            "first_divergence_char": first_divergence_char(
                                reference.text, run.text
                            ),
                        }
                    )
    summaries = {label: arm_summary(arms[label].runs, by_arm.get(label, {})) for label in LOAD_ARMS}
    for label in MEASURED_ARMS:
        summaries[label]["matching_reference"] = (
            None
            if reference is None
            else sum(c.ok and c.text == reference.text for c in by_arm.get(label, {}).values())
        )
    for label in LOAD_ARMS:
        summaries[label]["peak_in_flight"] = peak_in_flight(list(by_arm.get(label, {}).values()))
    background_runs = list(by_arm.get(BACKGROUND, {}).values())
    under_load = list(by_arm.get(UNDER_LOAD, {}).values())
    background_in_flight = (
        min(overlapping(run, background_runs) for run in under_load) if under_load else None
    )
    everything = [c for c in completions if c.arm_label in LOAD_ARMS]
    one_at_a_time = peak_in_flight(everything) <= 1
    sequential_texts = {c.text for c in sequential if c.ok}
    sequential_agree = None if not sequential_texts else len(sequential_texts) == 1
    short = [
        label
        for label in LOAD_ARMS
        if summaries[label]["succeeded"] < math.ceil(arms[label].runs / 2)
    ]

    if reference is None:
        verdict = INCONCLUSIVE
        explanation = "every sequential run failed, so there is no output to compare with"
    elif differing:
        verdict = LOAD_DEPENDENT
        where = sorted({d["arm"] for d in differing}, key=LOAD_ARMS.index)
        explanation = (
            f"{len(differing)} of the measured runs differ from the first sequential run "
            f"(in {', '.join(where)})"
        )
        if not sequential_agree:
            explanation += (
                "; the sequential runs already differ from each other, so the output changes "
                "even with nothing else in flight, not only under load (see the seed check)"
            )
    elif short:
        verdict = INCONCLUSIVE
        explanation = (
            f"no measured run differed, but fewer than half the runs of {', '.join(short)} "
            "succeeded: too few to call the output load-invariant"
        )
    else:
        verdict = LOAD_INVARIANT
        requests = "request" if background == 1 else "requests"
        explanation = (
            f"every measured run gave the first sequential run's text: alone, {copies} copies "
            f"at once, and next to {background} background {requests}"
        )
    if one_at_a_time and everything:
        if spec.provider == "local":
            explanation += (
                ". The embedded model serves one call at a time: the copies and the background "
                "requests were queued one after another, so concurrency cannot change its "
                "outputs here"
            )
        else:
            explanation += (
                ". No two calls were in flight together (the backend answered one at a time), "
                "so this probe did not load it"
            )
    evidence: dict[str, Any] = {
        "explanation": explanation,
        "seed": arms[SEQUENTIAL].seed,
        "temperature": arms[SEQUENTIAL].temperature,
        "max_tokens": spec.max_tokens,
        "runs": runs,
        "copies": copies,
        "background": background,
        "reference": None
        if reference is None
        else {"arm": SEQUENTIAL, "run_index": reference.run_index},
        "differing_runs": differing,
        "sequential_runs_agree": sequential_agree,
        "arms": summaries,
        "background_in_flight": background_in_flight,
        "one_call_at_a_time": one_at_a_time,
        "fingerprints": fingerprints_seen(completions),
    }
    return Verdict(verdict, evidence)


def runs_concurrently(provider: Provider, spec: ExperimentSpec) -> bool:
    """True when the backend takes every run of the probe at once, so the schedule can hold
    them (see the module docstring); False: the runner's order, max_concurrency at a time."""
    limit = provider.max_concurrency
    return limit is None or limit >= spec.total_runs


def run_load_probe(
    store: Store,
    spec: ExperimentSpec,
    provider: Provider,
    *,
    label: str = LOAD_PROBE_LABEL,
    started_by: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    experiment_id: str | None = None,
) -> CheckResult:
    """Store and run the load probe (`spec` from load_probe_spec) through the experiment
    lifecycle on its schedule, and judge it from the runs as stored. `experiment_id`: its
    experiment, if created already (a background job's)."""
    from seedscope.experiments import run_experiment

    if not is_load_probe_spec(spec):
        raise ValueError("run_load_probe needs the spec load_probe_spec builds")
    experiment_id = experiment_id or check_experiment(store, spec, provider, label, started_by)
    if runs_concurrently(provider, spec):
        backend: Provider = ScheduledProvider(provider, spec, cancel)
        concurrency: int | None = spec.total_runs
    else:
        backend, concurrency = provider, None
    result = run_experiment(
        store,
        experiment_id,
        spec,
        backend,
        concurrency=concurrency,
        cancel=cancel,
        on_progress=on_progress,
    )
    return judged("load", store, experiment_id, spec, result, evaluate_load_probe)


class _Countdown:
    """An event that is set once `count` calls have ended (at once when count is 0)."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.event = asyncio.Event()
        if count <= 0:
            self.event.set()

    def done(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.event.set()

    async def wait(self) -> None:
        await self.event.wait()


class ScheduledProvider:
    """The backend, with each call of one load probe held until its phase and turn come.

    Used for one run of the probe (the runner hands it every run at once); the completions
    are the backend's own, unchanged. When `cancel` is set, calls not yet started end without
    being sent (as cancelled tasks: the runner then finishes the experiment `cancelled`).
    """

    def __init__(
        self, provider: Provider, spec: ExperimentSpec, cancel: threading.Event | None = None
    ) -> None:
        self._provider = provider
        self._cancel = cancel
        self.name = provider.name
        self.model = provider.model
        self.max_concurrency = provider.max_concurrency
        self.base_url_host = provider.base_url_host
        runs, copies, background = probe_sizes(spec)
        self._background = background
        self._sequential = [_Countdown(1) for _ in range(runs)]
        self._copies = _Countdown(copies)
        self._background_started = [_Countdown(background) for _ in range(runs)]
        self._rounds = [_Countdown(background + 1) for _ in range(runs)]

    def list_models(self) -> list[str]:
        return self._provider.list_models()

    async def aclose(self) -> None:
        closer = getattr(self._provider, "aclose", None)
        if closer is not None:
            await closer()

    async def complete(self, request: CompletionRequest) -> Completion:
        label, index = request.arm_label, request.run_index
        finished: _Countdown | None = None
        try:
            if label == SEQUENTIAL:
                finished = self._sequential[index]
                if index > 0:
                    await self._sequential[index - 1].wait()
            elif label == CONCURRENT:
                finished = self._copies
                await self._sequential[-1].wait()
            else:  # UNDER_LOAD or BACKGROUND: round r of phase (iii)
                measured = label == UNDER_LOAD
                round_ = index if measured else index // self._background
                finished = self._rounds[round_]
                await self._copies.wait()
                if round_ > 0:
                    await self._rounds[round_ - 1].wait()
                if measured:
                    await self._background_started[round_].wait()
                    await asyncio.sleep(0)  # let the background calls go out first
                else:
                    self._background_started[round_].done()
            if self._cancel is not None and self._cancel.is_set():
                raise asyncio.CancelledError  # not sent: the runner counts it as not run
            return await self._provider.complete(request)
        finally:
            if finished is not None:
                finished.done()

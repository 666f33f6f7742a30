"""The logprobs check: does asking for logprobs change the outputs?

One experiment, labelled `check:logprobs`, with two arms of N runs each, the same seeded
request at one temperature (default 1.0), sent one call at a time:

    "without logprobs"   seed S, N runs, no logprobs asked for
    "with logprobs"      seed S, N runs, logprobs with the top k alternatives (default 5)

On some servers the logprob path computes differently (reported for Ollama: 3/3 distinct with
logprobs, 20/20 identical without); on the embedded model a capturing arm runs on a load of its
own (logits_all). Over the successful runs, the verdict is the first of these that applies:

1. `inconclusive`: fewer than max(2, ceil(N / 2)) successful runs in either arm, or the arm
   without logprobs gave more than one text: the seeded request does not repeat itself even
   without logprobs, so a difference could not be put down to them.
2. `logprobs_do_not_change_outputs`: every run with logprobs gave the text of the runs
   without.
3. `logprobs_change_outputs`: some run with logprobs gave another text (the evidence lists
   those runs, with the first differing character).

Whether the backend returned logprobs at all is in the evidence (`logprobs_returned`: runs with
logprobs whose answer carried them), and what a capability table shows as "logprobs supported".
"""

from __future__ import annotations

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
    check_spec,
    fingerprints_seen,
    has_arms,
    run_one_at_a_time,
    runs_by_arm,
    runs_in_range,
)
from seedscope.metrics import first_divergence_char
from seedscope.providers.base import Completion, Provider
from seedscope.runner import ProgressEvent
from seedscope.spec import ExperimentSpec, Limits
from seedscope.store import Store

LOGPROBS_CHECK_LABEL = CHECK_LABEL_PREFIX + "logprobs"
WITHOUT, WITH = "without logprobs", "with logprobs"
LOGPROBS_ARMS = (WITHOUT, WITH)

UNCHANGED = "logprobs_do_not_change_outputs"
CHANGED = "logprobs_change_outputs"
LOGPROBS_VERDICTS = (UNCHANGED, CHANGED, INCONCLUSIVE)
DEFAULT_SEED, DEFAULT_TEMPERATURE, DEFAULT_TOP_LOGPROBS = 123, 1.0, 5


def logprobs_check_spec(
    base: ExperimentSpec,
    *,
    seed: int = DEFAULT_SEED,
    temperature: float = DEFAULT_TEMPERATURE,
    top_logprobs: int = DEFAULT_TOP_LOGPROBS,
    runs: int = 5,
    limits: Limits | None = None,
) -> ExperimentSpec:
    """The logprobs check's spec on `base`'s request (its arms are ignored); SpecError names
    the parameter (seed, temperature, top_logprobs, runs) of every problem, before any call."""
    limits = limits or Limits()
    problems = runs_in_range("runs", runs, MIN_RUNS, limits, "the logprobs check")
    runs_ok = runs if not problems else MIN_RUNS
    arm = {"seed": seed, "temperature": temperature, "runs": runs_ok}
    arms = [{"label": WITHOUT, **arm}, {"label": WITH, **arm, "top_logprobs": top_logprobs}]
    parameters = {(1, "top_logprobs"): "top_logprobs"}
    for index in range(2):
        parameters |= {
            (index, "seed"): "seed",
            (index, "temperature"): "temperature",
            (index, "runs"): "runs",
        }
    return check_spec(base, arms, parameters, limits, problems)


def is_logprobs_check_spec(spec: Any) -> bool:
    return (
        has_arms(spec, LOGPROBS_ARMS)
        and spec.arms[0].top_logprobs is None
        and spec.arms[1].top_logprobs is not None
    )


def successful_runs_needed(runs: int) -> int:
    return max(MIN_RUNS, math.ceil(runs / 2))


def evaluate_logprobs_check(spec: ExperimentSpec, completions: Sequence[Completion]) -> Verdict:
    """The verdict of a logprobs check from its spec and stored runs (module docstring)."""
    if not is_logprobs_check_spec(spec):
        raise ValueError(f"not a logprobs check: its arms must be {', '.join(LOGPROBS_ARMS)}")
    runs = spec.arms[0].runs
    by_arm = runs_by_arm(completions)
    without = [c for c in by_arm.get(WITHOUT, {}).values() if c.ok]
    with_ = sorted((c for c in by_arm.get(WITH, {}).values() if c.ok), key=lambda c: c.run_index)
    needed = successful_runs_needed(runs)
    plain_texts = {c.text for c in without}
    reference = next(iter(plain_texts)) if len(plain_texts) == 1 else None
    differing = [
        {
            "run_index": c.run_index,
            "first_divergence_char": first_divergence_char(reference, c.text),
        }
        for c in with_
        if reference is not None and c.text != reference
    ]
    if len(without) < needed or len(with_) < needed:
        verdict = INCONCLUSIVE
        explanation = (
            f"too many runs failed: {len(without)} without and {len(with_)} with logprobs "
            f"succeeded of {runs}; {needed} of each are needed"
        )
    elif reference is None:
        verdict = INCONCLUSIVE
        explanation = (
            f"without logprobs the seeded request gave {len(plain_texts)} different texts in "
            f"{len(without)} runs: it does not repeat itself, so a difference could not be put "
            "down to logprobs; lower the temperature or check the seed first"
        )
    elif not differing:
        verdict = UNCHANGED
        explanation = (
            f"all {len(with_)} runs with logprobs gave the text of the {len(without)} runs "
            "without: asking for logprobs does not change the output"
        )
    else:
        verdict = CHANGED
        explanation = (
            f"{len(differing)} of {len(with_)} runs with logprobs gave another text than the "
            f"{len(without)} identical runs without: asking for logprobs changes the output"
        )
    returned = sum(c.tokens is not None and c.tokens.logprobs is not None for c in with_)
    evidence: dict[str, Any] = {
        "explanation": explanation,
        "runs_per_arm": runs,
        "seed": spec.arms[0].seed,
        "temperature": spec.arms[0].temperature,
        "top_logprobs": spec.arms[1].top_logprobs,
        "max_tokens": spec.max_tokens,
        "differing_runs": differing,
        "logprobs_returned": {"runs": returned, "of": len(with_)},
        "successful_runs_needed": needed,
        "arms": {label: arm_summary(runs, by_arm.get(label, {})) for label in LOGPROBS_ARMS},
        "fingerprints": {
            label: fingerprints_seen(list(by_arm.get(label, {}).values()))
            for label in LOGPROBS_ARMS
        },
    }
    return Verdict(verdict, evidence)


def run_logprobs_check(
    store: Store,
    spec: ExperimentSpec,
    provider: Provider,
    *,
    label: str = LOGPROBS_CHECK_LABEL,
    started_by: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    experiment_id: str | None = None,
) -> CheckResult:
    """Store and run the logprobs check (`spec` from logprobs_check_spec) one call at a time,
    and judge it from the runs as stored. `experiment_id`: its experiment, if created already."""
    if not is_logprobs_check_spec(spec):
        raise ValueError("run_logprobs_check needs the spec logprobs_check_spec builds")
    return run_one_at_a_time(
        "logprobs",
        store,
        spec,
        provider,
        evaluate_logprobs_check,
        label=label,
        started_by=started_by,
        cancel=cancel,
        on_progress=on_progress,
        experiment_id=experiment_id,
    )

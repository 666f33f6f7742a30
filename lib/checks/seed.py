"""The seed check: does the backend honour the `seed`?

One experiment, labelled `check:seed`, with three arms of N runs each at one temperature above
0 (default 1.0), sent one call at a time (concurrency 1, so that load cannot be mistaken for
a seed effect):

    "seed A"         seed A, N runs
    "seed A again"   seed A, N runs (the same request once more)
    "seed B"         seed B, N runs

Run i of each arm forms two *pairs*: the same-seed pair ("seed A" i, "seed A again" i) and
the cross-seed pair ("seed A" i, "seed B" i). A pair *matches* when both texts are exactly the
same string. Over the usable pairs (both runs stored and successful):

    s = matching same-seed pairs / usable same-seed pairs     ("A matches A")
    c = matching cross-seed pairs / usable cross-seed pairs    ("A matches B")
    margin = s - c                                             (how much more the seed matters)

The verdict is the first of these that applies:

1. `inconclusive`: fewer than max(2, ceil(N / 2)) usable pairs of either kind. A failed (or
   missing) run leaves its pair out, because a failure says nothing about the seed; but when
   more than half the pairs are gone, the shares describe the few calls that got through, not
   the backend, and one chance coincidence could decide. The evidence says how many failed.
2. `deterministic_regardless_of_seed`: every successful run of all three arms is the same text
   (the seed changes nothing, and neither does anything else).
3. `inconclusive`: c > 0.5, i.e. seed B gave seed A's text in more than half the pairs but not
   everything is identical: the outputs vary too little (max_tokens too small, temperature too
   low, or a very certain answer) to tell whether the seed is honoured. Raise max_tokens or
   the temperature.
4. `seed_ignored`: margin < 0.5: the same seed matches its repeat less than half a share more
   often than a different seed does, i.e. "A vs A differ about as much as A vs B".
5. `seed_honoured`: s = 1 (run i of "seed A" equals run i of "seed A again" for every usable
   i), and by 3 and 4, c <= 0.5 (A differs from B in at least half the pairs).
6. `seed_honoured_not_deterministic`: margin >= 0.5 but s < 1: the seed matters, but the same
   seed does not always give the same text.

Why 0.5: the two ideal cases are margin 1 (honoured: s = 1, c = 0) and margin 0 (ignored: both
shares are the same chance-coincidence rate); 0.5 is halfway. For an ignoring backend to cross
it by chance, over half its same-seed pairs must coincide while its cross-seed pairs do not,
which at N = 5 and a 10% coincidence rate happens in about 1 check of 200; rule 3 keeps
the outputs varied enough for that rate to be low. The cut for c in rule 3 is the same 0.5 so
that rules 3-6 cover every case without overlap (c = 0.5 with s = 1 is margin 0.5: honoured).

Worked values (N = 5, letters are texts, x failed):

    seed A        a b c d e | a b c d e | p q r s t | a b c d e | a a a a a | a b c d e
    seed A again  a b c d e | a b X d Y | u v w z y | a b X Y Z | a a a a a | a b c d e
    seed B        v w k y z | v w k y z | k l m n o | v w k y z | a a a a a | a b c y z
    s, c          1, 0      | 0.6, 0    | 0, 0      | 0.4, 0    | 1, 1      | 1, 0.6
    verdict       honoured  | honoured_ | ignored   | ignored   | determin- | inconclusive
                            | not_det.  |           |           | istic     | (too alike)

With runs 2 and 4 of "seed A again" failed (x), the same-seed pairs 2 and 4 are left out:
3 usable pairs, enough for N = 5 (3 needed). With a third failure, 2 usable < 3: inconclusive.
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

SEED_CHECK_LABEL = CHECK_LABEL_PREFIX + "seed"
SEED_A, SEED_A_AGAIN, SEED_B = "seed A", "seed A again", "seed B"
SEED_ARMS = (SEED_A, SEED_A_AGAIN, SEED_B)

SEED_HONOURED = "seed_honoured"
SEED_IGNORED = "seed_ignored"
DETERMINISTIC = "deterministic_regardless_of_seed"
HONOURED_NOT_DETERMINISTIC = "seed_honoured_not_deterministic"
SEED_VERDICTS = (
    SEED_HONOURED,
    SEED_IGNORED,
    DETERMINISTIC,
    HONOURED_NOT_DETERMINISTIC,
    INCONCLUSIVE,
)

MARGIN_THRESHOLD = 0.5  # margin s - c at or above which the seed matters (see the docstring)
MAX_CROSS_SEED_SHARE = 0.5  # c above this: the outputs are too alike to tell
MIN_USABLE_PAIRS = 2
DEFAULT_SEED_A, DEFAULT_SEED_B, DEFAULT_TEMPERATURE = 123, 456, 1.0


def seed_check_spec(
    base: ExperimentSpec,
    *,
    seed_a: int = DEFAULT_SEED_A,
    seed_b: int = DEFAULT_SEED_B,
    temperature: float = DEFAULT_TEMPERATURE,
    runs: int = 5,
    limits: Limits | None = None,
) -> ExperimentSpec:
    """The seed check's spec on `base`'s request (its arms are ignored); SpecError names the
    parameter (seed_a, seed_b, temperature, runs) of every problem, before any call."""
    limits = limits or Limits()
    problems = runs_in_range("runs", runs, MIN_RUNS, limits, "the seed check")
    if seed_a == seed_b:
        problems.append(f"seed_b: {seed_b} is seed A too; the check compares two different seeds")
    if temperature == 0:
        problems.append(
            "temperature: at 0 the output is the same whatever the seed, so the check could "
            "not tell an honoured seed from an ignored one; use a temperature above 0 "
            f"(default {DEFAULT_TEMPERATURE:g})"
        )
    # A refused count is replaced by a valid one, so the spec still reports its own problems.
    runs_ok = runs if not problems else MIN_RUNS
    arms = [
        {"label": SEED_A, "seed": seed_a, "temperature": temperature, "runs": runs_ok},
        {"label": SEED_A_AGAIN, "seed": seed_a, "temperature": temperature, "runs": runs_ok},
        {"label": SEED_B, "seed": seed_b, "temperature": temperature, "runs": runs_ok},
    ]
    parameters = {(0, "seed"): "seed_a", (1, "seed"): "seed_a", (2, "seed"): "seed_b"}
    for index in range(3):
        parameters[(index, "temperature")] = "temperature"
        parameters[(index, "runs")] = "runs"
    return check_spec(base, arms, parameters, limits, problems)


def is_seed_check_spec(spec: Any) -> bool:
    return has_arms(spec, SEED_ARMS)


def usable_pairs_needed(runs: int) -> int:
    """Usable pairs of each kind a conclusive verdict needs: max(2, ceil(N / 2))."""
    return max(MIN_USABLE_PAIRS, math.ceil(runs / 2))


def _pairs(left: dict[int, Completion], right: dict[int, Completion], runs: int) -> dict[str, Any]:
    usable = matching = 0
    differing = []
    for index in range(runs):
        a, b = left.get(index), right.get(index)
        if a is None or b is None or not (a.ok and b.ok):
            continue
        usable += 1
        if a.text == b.text:
            matching += 1
        else:
            differing.append(
                {"run_index": index, "first_divergence_char": first_divergence_char(a.text, b.text)}
            )
    return {
        "pairs": runs,
        "usable": usable,
        "matching": matching,
        "share": matching / usable if usable else None,
        "differing_runs": differing,
    }


def evaluate_seed_check(spec: ExperimentSpec, completions: Sequence[Completion]) -> Verdict:
    """The verdict of a seed check from its spec and stored runs (see the module docstring)."""
    if not is_seed_check_spec(spec):
        raise ValueError(f"not a seed check: its arms must be {', '.join(SEED_ARMS)}")
    arms = {arm.label: arm for arm in spec.arms}
    runs = arms[SEED_A].runs
    by_arm = runs_by_arm(completions)
    a, again, b = (by_arm.get(label, {}) for label in SEED_ARMS)
    same, cross = _pairs(a, again, runs), _pairs(a, b, runs)
    needed = usable_pairs_needed(runs)
    texts = {c.text for c in completions if c.ok and c.arm_label in SEED_ARMS}
    s, c = same["share"], cross["share"]
    margin = None if s is None or c is None else round(s - c, 12)

    if same["usable"] < needed or cross["usable"] < needed:
        verdict = INCONCLUSIVE
        explanation = (
            f"too many runs failed: {same['usable']} usable same-seed and {cross['usable']} "
            f"usable cross-seed pairs of {runs}; {needed} of each are needed (a pair with a "
            "failed run says nothing about the seed)"
        )
    elif len(texts) == 1:
        verdict = DETERMINISTIC
        explanation = (
            "every run gave the same text, whatever the seed: the output is deterministic "
            "and the seed changes nothing"
        )
    elif c > MAX_CROSS_SEED_SHARE:
        verdict = INCONCLUSIVE
        explanation = (
            f"seed B gave seed A's text in {cross['matching']} of {cross['usable']} pairs "
            "but not every run is the same: the outputs vary too little to tell whether the "
            "seed is honoured; raise max_tokens or the temperature"
        )
    elif margin < MARGIN_THRESHOLD:
        verdict = SEED_IGNORED
        explanation = (
            f"the same seed repeated its text in {same['matching']} of {same['usable']} "
            f"pairs, a different seed in {cross['matching']} of {cross['usable']}: about as "
            "often, so the seed is ignored (a gateway may drop it)"
        )
    elif s == 1:
        verdict = SEED_HONOURED
        explanation = (
            f"seed A repeated its text run by run ({same['matching']} of {same['usable']} "
            f"pairs) and seed B differed from it in {cross['usable'] - cross['matching']} of "
            f"{cross['usable']}: the seed is honoured"
        )
    else:
        verdict = HONOURED_NOT_DETERMINISTIC
        explanation = (
            f"seed B differed from seed A in {cross['usable'] - cross['matching']} of "
            f"{cross['usable']} pairs, so the seed matters, but seed A repeated its text in "
            f"only {same['matching']} of {same['usable']}: honoured, not deterministic"
        )
    evidence: dict[str, Any] = {
        "explanation": explanation,
        "runs_per_arm": runs,
        "seed_a": arms[SEED_A].seed,
        "seed_b": arms[SEED_B].seed,
        "temperature": arms[SEED_A].temperature,
        "max_tokens": spec.max_tokens,
        "same_seed": same,
        "different_seeds": cross,
        "margin": margin,
        "thresholds": {
            "margin": MARGIN_THRESHOLD,
            "max_cross_seed_share": MAX_CROSS_SEED_SHARE,
            "usable_pairs_needed": needed,
        },
        "arms": {
            label: arm_summary(arms[label].runs, by_arm.get(label, {})) for label in SEED_ARMS
        },
        "distinct_outputs": len(texts),
        "fingerprints": fingerprints_seen(completions),
    }
    return Verdict(verdict, evidence)


def run_seed_check(
    store: Store,
    spec: ExperimentSpec,
    provider: Provider,
    *,
    label: str = SEED_CHECK_LABEL,
    started_by: str | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    experiment_id: str | None = None,
) -> CheckResult:
    """Store and run the seed check (`spec` from seed_check_spec) through the experiment
    lifecycle, one call at a time, and judge it from the runs as stored. `experiment_id`: its
    experiment, if created already (a background job's)."""
    if not is_seed_check_spec(spec):
        raise ValueError("run_seed_check needs the spec seed_check_spec builds")
    return run_one_at_a_time(
        "seed",
        store,
        spec,
        provider,
        evaluate_seed_check,
        label=label,
        started_by=started_by,
        cancel=cancel,
        on_progress=on_progress,
        experiment_id=experiment_id,
    )

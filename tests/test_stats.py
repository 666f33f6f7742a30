"""seedscope.stats: Wilson against worked values and statsmodels; bootstrap against scipy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from seedscope.stats import (
    Interval,
    bootstrap_mean_interval,
    paired_bootstrap_difference,
    wilson_interval,
)
from statsmodels.stats.proportion import proportion_confint


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Worked values (Newcombe 1998, Table I; Wilson 1927 formula, z = 1.959964).
        (8, 10, 0.4902, 0.9433),
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0),
        (5, 5, 0.5655, 1.0),  # a case with 5/5 identical runs: still not [1, 1]
    ],
)
def test_wilson_worked_values(successes, trials, low, high):
    interval = wilson_interval(successes, trials)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_wilson_equals_statsmodels(confidence):
    for trials in (1, 2, 3, 5, 10, 37, 1000):
        for successes in range(trials + 1):
            interval = wilson_interval(successes, trials, confidence)
            low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
            assert interval.low == pytest.approx(low, abs=1e-12), (successes, trials)
            assert interval.high == pytest.approx(high, abs=1e-12), (successes, trials)


def test_wilson_edges_are_exact_and_no_trials_is_undefined():
    assert wilson_interval(0, 7).low == 0.0
    assert wilson_interval(7, 7).high == 1.0
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(3, 2)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


def test_bootstrap_is_identical_on_two_runs_and_seed_matters():
    values = [0.11, 0.5, 0.93, 0.2, 0.05, 0.71, 0.33, 0.62, 0.48, 0.9, 0.01, 0.27]
    first = bootstrap_mean_interval(values)
    assert first == bootstrap_mean_interval(list(values))
    assert first != bootstrap_mean_interval(values, seed=7)
    # A fresh interpreter (another run of the tool) gives the same bits.
    code = f"from seedscope.stats import bootstrap_mean_interval as b; print(b({values!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other.stdout.strip() == repr(first)
    assert paired_bootstrap_difference(values, values[::-1]) == paired_bootstrap_difference(
        values, values[::-1]
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=2, max_size=60))
def test_bootstrap_interval_contains_the_point_estimate(values):
    interval = bootstrap_mean_interval(values, resamples=500)
    assert float(np.mean(values)) in interval
    assert 0.0 <= interval.low <= interval.high <= 1.0


def test_bootstrap_matches_scipy_percentile_bootstrap():
    # Different random streams, so equal only up to Monte Carlo error (~0.005 at 20k draws).
    values = np.random.default_rng(3).normal(10.0, 2.0, size=120)
    ours = bootstrap_mean_interval(values, resamples=20_000)
    reference = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", random_state=5
    ).confidence_interval
    assert ours.low == pytest.approx(reference.low, abs=0.03)
    assert ours.high == pytest.approx(reference.high, abs=0.03)
    # ...and both near the normal-theory interval mean ± 1.96·sd/√n for this sample size.
    half = 1.959964 * values.std(ddof=1) / np.sqrt(values.size)
    assert ours.low == pytest.approx(values.mean() - half, abs=0.05)
    assert ours.high == pytest.approx(values.mean() + half, abs=0.05)


def test_bootstrap_of_a_share_is_close_to_wilson():
    # 60 of 100 cases reproducible: the bootstrap and the Wilson interval agree to ~0.01.
    values = [1] * 60 + [0] * 40
    boot = bootstrap_mean_interval(values, resamples=20_000)
    wilson = wilson_interval(60, 100)
    assert boot.low == pytest.approx(wilson.low, abs=0.015)
    assert boot.high == pytest.approx(wilson.high, abs=0.015)


def test_bootstrap_edge_cases():
    assert bootstrap_mean_interval([]) is None
    assert bootstrap_mean_interval([0.25]) == Interval(0.25, 0.25)
    assert bootstrap_mean_interval([0.1] * 9) == Interval(0.1, 0.1)  # exact, not 0.1000...02
    assert bootstrap_mean_interval([1, 1, 1, 1]) == Interval(1.0, 1.0)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_mean_interval([0, 1], resamples=0)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean_interval([0, float("nan")])


def test_bootstrap_resamples_in_blocks_give_the_same_answer_as_one_block(monkeypatch):
    import seedscope.stats as stats_module

    values = np.arange(50, dtype=float) % 7
    whole = bootstrap_mean_interval(values, resamples=300)
    monkeypatch.setattr(stats_module, "_BLOCK_CELLS", 50 * 7)  # 7 resamples per block
    assert bootstrap_mean_interval(values, resamples=300) == whole


def test_paired_difference_of_identical_arms_is_exactly_zero():
    arm = [1, 0, 1, 1, 0, 1, 0, 0]
    assert paired_bootstrap_difference(arm, arm) == Interval(0.0, 0.0)


def test_paired_difference_sign_and_pairing():
    a = [1] * 8 + [0] * 2
    b = [1] * 3 + [0] * 7
    interval = paired_bootstrap_difference(a, b)
    assert 0.5 in interval  # mean(a) - mean(b) = 0.8 - 0.3
    assert interval.low > 0
    flipped = paired_bootstrap_difference(b, a)
    assert flipped.low == pytest.approx(-interval.high)
    assert flipped.high == pytest.approx(-interval.low)
    # Pairing: a constant per-case shift has no sampling variation at all.
    shifted = paired_bootstrap_difference(np.array(a) + 0.5, a)
    assert shifted == Interval(0.5, 0.5)
    assert paired_bootstrap_difference([], []) is None
    with pytest.raises(ValueError, match="one value per case"):
        paired_bootstrap_difference([1, 0], [1])

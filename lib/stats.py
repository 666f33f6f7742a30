"""Intervals for suite figures: Wilson for a share, percentile bootstrap over cases for a mean.

Every bootstrap draws from its own `numpy.random.Generator(PCG64(seed))` with a fixed default
seed, so the same values always give the same interval (the figure is itself reproducible) and
one interval never depends on how many others were computed before it.

Edge cases: no observations give None (undefined); one observation, or all values equal, give
the degenerate interval (value, value), since resampling can produce nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import norm

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240917  # any fixed value; changing it changes every published interval
# Resampled means are computed in blocks so memory stays ~16 MB whatever the number of cases.
_BLOCK_CELLS = 2_000_000


@dataclass(frozen=True)
class Interval:
    """A closed interval [low, high]; `as_list()` is its JSON form."""

    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")


@lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    """The two-sided standard normal quantile (1.959964 for 95%)."""
    return float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def wilson_interval(
    successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE
) -> Interval | None:
    """Wilson score interval for the share successes / trials (Wilson 1927).

    centre = (p + z²/2n) / (1 + z²/n), half width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n),
    with p = successes / trials and z the two-sided normal quantile. Equals statsmodels'
    `proportion_confint(method="wilson")`. None for no trials; the bounds are exactly 0 when
    there are no successes and exactly 1 when every trial succeeds (where rounding would
    otherwise leave ~1e-17).
    """
    _check_confidence(confidence)
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return None
    z = _z(confidence)
    p = successes / trials
    z2n = z * z / trials
    denominator = 1.0 + z2n
    centre = (p + z2n / 2.0) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z2n / (4.0 * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high)


def _resampled_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of `resamples` bootstrap samples (n draws with replacement each), vectorised."""
    rng = np.random.Generator(np.random.PCG64(seed))
    count = values.size
    block = max(1, _BLOCK_CELLS // count)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        indices = rng.integers(0, count, size=(stop - start, count))
        means[start:stop] = values[indices].mean(axis=1)
    return means


def bootstrap_mean_interval(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval | None:
    """Percentile bootstrap interval for the mean of `values` (one value per case).

    Draws `resamples` samples of the cases with replacement, takes each sample's mean, and
    returns the (1-c)/2 and (1+c)/2 quantiles of those means (numpy's default linear
    interpolation; Efron & Tibshirani's percentile method, scipy.stats.bootstrap's
    method="percentile"). None for no values; (v, v) when all values equal v (n=1 included).
    """
    _check_confidence(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        return None
    if not np.all(np.isfinite(array)):
        raise ValueError("bootstrap values must be finite numbers")
    smallest, largest = float(array.min()), float(array.max())
    if smallest == largest:
        return Interval(smallest, largest)
    means = _resampled_means(array, resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    # A mean of resampled values lies within their range; clip the last-bit rounding of mean().
    return Interval(float(np.clip(low, smallest, largest)), float(np.clip(high, smallest, largest)))


def paired_bootstrap_difference(
    values_a: Sequence[float] | np.ndarray,
    values_b: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval | None:
    """Paired bootstrap interval for mean(a) - mean(b), where a[i] and b[i] are the same case.

    Each bootstrap sample draws cases (not a and b separately), so the case-to-case variation
    both arms share cancels out. Resampling cases and differencing the two means is the same
    as resampling the per-case differences a[i] - b[i], which is how it is computed.
    None for no cases; identical arms give exactly (0, 0).
    """
    a = np.asarray(values_a, dtype=np.float64).ravel()
    b = np.asarray(values_b, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"paired values need one value per case in each arm: {a.size} vs {b.size}")
    return bootstrap_mean_interval(a - b, confidence=confidence, resamples=resamples, seed=seed)

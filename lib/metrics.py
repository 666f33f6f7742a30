"""Reproducibility measures: pure functions over texts, vectors and distance matrices.

Every function here is deterministic and side-effect free; inputs are the successful runs of
one arm in run order ("run 0" is the first of them). Edge cases have defined results, listed in
each docstring: no runs and a single run make pairwise measures undefined (None), identical
texts give distance 0 and no divergence (None), empty strings are ordinary texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

SAME_DIRECTION_TOLERANCE = 1e-12


def _as_matrix(vectors: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {matrix.shape}")
    return matrix


def _unit_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to length 1, and a mask of rows that were all zeros (left as zeros)."""
    norms = np.linalg.norm(matrix, axis=1)
    zero = norms == 0
    return matrix / np.where(zero, 1.0, norms)[:, None], zero


def cosine_distance_cross(
    a: np.ndarray | Sequence[Sequence[float]], b: np.ndarray | Sequence[Sequence[float]]
) -> np.ndarray:
    """Cosine distances (1 - cosine similarity) between every row of `a` and every row of `b`.

    Shape (len(a), len(b)), float64, clipped to [0, 2]; distances below 1e-12 (rounding noise
    of identical vectors) are exactly 0. Equals
    `scipy.spatial.distance.cdist(a, b, "cosine")` within 1e-6 for non-zero vectors; computed
    as one matrix product of unit vectors (BLAS) instead of a loop over pairs.
    A zero vector (the convention for an empty output, see lib/analysis.py) has distance 0 to
    another zero vector and 1 (orthogonal) to any other vector, where scipy gives NaN.
    """
    unit_a, zero_a = _unit_rows(_as_matrix(a))
    unit_b, zero_b = _unit_rows(_as_matrix(b))
    if unit_a.shape[1] != unit_b.shape[1]:
        raise ValueError(f"vector sizes differ: {unit_a.shape[1]} and {unit_b.shape[1]}")
    distances = 1.0 - unit_a @ unit_b.T
    distances[np.logical_and.outer(zero_a, zero_b)] = 0.0
    # Identical directions leave ~1e-16 of rounding; report them as exactly 0 (same output).
    distances[distances < SAME_DIRECTION_TOLERANCE] = 0.0
    return np.clip(distances, 0.0, 2.0, out=distances)


def cosine_distance_matrix(vectors: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Pairwise cosine distance matrix of n vectors: (n, n), symmetric, zero diagonal, in [0, 2].

    Matches `scipy.spatial.distance.cdist(v, v, "cosine")` within 1e-6 (zero vectors: see
    `cosine_distance_cross`). No vectors give a (0, 0) matrix.
    """
    matrix = _as_matrix(vectors)
    distances = cosine_distance_cross(matrix, matrix)
    # Rounding can leave the product a few ulps asymmetric; average so d[i, j] == d[j, i] exactly.
    distances = (distances + distances.T) / 2.0
    np.fill_diagonal(distances, 0.0)
    return distances


def upper_triangle(matrix: np.ndarray) -> np.ndarray:
    """The values above the diagonal (pairs i < j, row-major), as a flat array."""
    rows, cols = np.triu_indices(matrix.shape[0], k=1)
    return matrix[rows, cols]


def mean_distance_first_vs_rest(distances: np.ndarray) -> float | None:
    """The cookbook notebook's measure: mean distance from run 0 to each of the other runs.

    OpenAI's "reproducible outputs with the seed parameter" notebook computes
    `distances_from_embeddings(embeddings[0], embeddings[1:])` and averages them; this is that
    number, read from the first row of a distance matrix. None with fewer than two runs.
    """
    if distances.shape[0] < 2:
        return None
    return float(np.mean(distances[0, 1:]))


@dataclass(frozen=True)
class PairwiseStats:
    """Mean, median and max over all pairs i < j; all None with fewer than two runs."""

    mean: float | None
    median: float | None
    max: float | None


def pairwise_stats(distances: np.ndarray) -> PairwiseStats:
    """Summary of a distance matrix over its pairs i < j (the diagonal and duplicates excluded)."""
    values = upper_triangle(distances)
    if values.size == 0:
        return PairwiseStats(None, None, None)
    return PairwiseStats(
        mean=float(np.mean(values)), median=float(np.median(values)), max=float(np.max(values))
    )


def mean_pairwise(distances: np.ndarray) -> float | None:
    """Mean over pairs i < j; None with fewer than two runs."""
    return pairwise_stats(distances).mean


def distinct_outputs(texts: Sequence[str]) -> int:
    """Number of distinct texts (exact string equality). 0 for no texts, 1 for one run."""
    return len(set(texts))


def modal_share(texts: Sequence[str]) -> float | None:
    """Share of runs that produced the most common text (1.0 when all agree). None for no texts."""
    if not texts:
        return None
    return Counter(texts).most_common(1)[0][1] / len(texts)


def exact_match_rate(texts: Sequence[str]) -> float | None:
    """Share of runs 1..N-1 whose text equals run 0's exactly. None with fewer than two runs."""
    if len(texts) < 2:
        return None
    reference = texts[0]
    return sum(text == reference for text in texts[1:]) / (len(texts) - 1)


def tarr(texts: Sequence[str]) -> int | None:
    """TARr@N (Atil et al. 2024): 1 when all N raw output strings are identical, else 0.

    N is the number of texts given (the successful runs). One run is trivially 1; no runs give
    None. Empty strings count as outputs like any other.
    """
    if not texts:
        return None
    return int(distinct_outputs(texts) == 1)


def tarr_over_prompts(texts_per_prompt: Sequence[Sequence[str]]) -> float | None:
    """Mean TARr@N over several prompts (prompts with no runs are skipped); None if none count."""
    values = [value for value in (tarr(texts) for texts in texts_per_prompt) if value is not None]
    if not values:
        return None
    return sum(values) / len(values)


def _code_points(text: str) -> np.ndarray:
    # UTF-32 gives one fixed-width unit per code point, so numpy can compare whole strings at once.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def first_divergence_char(a: str, b: str) -> int | None:
    """Index of the first character (code point) where `a` and `b` differ; None when identical.

    When one text is a prefix of the other, the divergence is at the end of the shorter one
    (its length). Vectorised, so texts of any length cost one array comparison.
    """
    if a == b:
        return None
    shortest = min(len(a), len(b))
    mismatches = np.flatnonzero(_code_points(a[:shortest]) != _code_points(b[:shortest]))
    return int(mismatches[0]) if mismatches.size else shortest


def first_divergence_word(a: str, b: str) -> int | None:
    """Index of the first whitespace-separated word where `a` and `b` differ; None when identical.

    When one word list is a prefix of the other, the result is the shorter list's length. Texts
    that differ only in whitespace have equal word lists; their result is the number of words
    before the first differing character (so it is never None for texts that differ).
    """
    char_index = first_divergence_char(a, b)
    if char_index is None:
        return None
    words_a, words_b = a.split(), b.split()
    shortest = min(len(words_a), len(words_b))
    mismatches = np.flatnonzero(
        np.asarray(words_a[:shortest], dtype=object) != np.asarray(words_b[:shortest], dtype=object)
    )
    if mismatches.size:
        return int(mismatches[0])
    if len(words_a) != len(words_b):
        return shortest
    return len(a[:char_index].split())


def earliest(indices: Sequence[int | None]) -> int | None:
    """The smallest index that is not None (the earliest divergence in an arm); None if none."""
    present = [index for index in indices if index is not None]
    return min(present) if present else None


def divergences_from_first(texts: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """(first divergence char, first divergence word) of runs 1..N-1 against run 0."""
    return [
        (first_divergence_char(texts[0], t), first_divergence_word(texts[0], t)) for t in texts[1:]
    ]


def earliest_divergence(texts: Sequence[str]) -> tuple[int | None, int | None]:
    """Earliest (char, word) divergence from run 0 over an arm; (None, None) if all identical.

    Also (None, None) for fewer than two runs. The char and word minima may come from
    different runs.
    """
    pairs = divergences_from_first(texts) if texts else []
    return earliest([p[0] for p in pairs]), earliest([p[1] for p in pairs])


def edit_distance_matrix(texts: Sequence[str], workers: int = 1) -> np.ndarray:
    """Normalized Levenshtein distances between all texts: (n, n) float64 in [0, 1].

    rapidfuzz's `Levenshtein.normalized_distance` (edits / length of the longer text), computed
    by `rapidfuzz.process.cdist` in C++. Two empty strings are at distance 0; an empty and a
    non-empty string at 1. No texts give a (0, 0) matrix.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float64)
    items = list(texts)
    # Passing the same list object twice lets rapidfuzz compute one triangle and mirror it
    # (the scorer is symmetric): half the work of two equal copies.
    return process.cdist(
        items, items, scorer=Levenshtein.normalized_distance, dtype=np.float64, workers=workers
    )


def mean_cross_arm_distance(
    vectors_a: np.ndarray | Sequence[Sequence[float]],
    vectors_b: np.ndarray | Sequence[Sequence[float]],
) -> float | None:
    """Mean cosine distance over all (run of arm A, run of arm B) pairs; None if an arm is empty."""
    a, b = np.asarray(vectors_a, dtype=np.float64), np.asarray(vectors_b, dtype=np.float64)
    if a.size == 0 or b.size == 0 or len(a) == 0 or len(b) == 0:
        return None
    return float(np.mean(cosine_distance_cross(a, b)))

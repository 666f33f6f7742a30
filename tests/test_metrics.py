"""seedscope.metrics against references (scipy, rapidfuzz single-pair calls) and by properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rapidfuzz.distance import Levenshtein
from scipy.spatial.distance import cdist, cosine, pdist
from seedscope import metrics

RNG = np.random.default_rng(20240611)


def _nonzero_rows(n_max: int = 8, d_max: int = 12) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(st.integers(1, n_max), st.integers(1, d_max))
    elements = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
    return shapes.flatmap(lambda shape: arrays(np.float64, shape, elements=elements)).filter(
        lambda m: bool(np.all(np.linalg.norm(m, axis=1) > 1e-3))
    )


# --- cosine distances -----------------------------------------------------------------------


def test_cosine_matrix_matches_scipy_cdist_on_embedding_sized_vectors():
    vectors = RNG.normal(size=(60, 384)).astype(np.float32)
    ours = metrics.cosine_distance_matrix(vectors)
    reference = cdist(vectors.astype(np.float64), vectors.astype(np.float64), "cosine")
    np.fill_diagonal(reference, 0.0)
    assert ours.shape == (60, 60)
    assert np.max(np.abs(ours - reference)) < 1e-6


def test_cosine_matrix_matches_scipy_for_near_duplicates_and_opposites():
    base = RNG.normal(size=(1, 64))
    vectors = np.vstack([base, base + 1e-7, base * 3.0, -base, RNG.normal(size=(3, 64))])
    ours = metrics.cosine_distance_matrix(vectors)
    reference = np.clip(cdist(vectors, vectors, "cosine"), 0, 2)
    np.fill_diagonal(reference, 0.0)
    assert np.max(np.abs(ours - reference)) < 1e-6
    assert ours[0, 2] == pytest.approx(0.0, abs=1e-12)  # scaling does not change direction
    assert ours[0, 3] == pytest.approx(2.0, abs=1e-12)  # opposite vectors


def test_cross_distances_match_scipy_cdist():
    a, b = RNG.normal(size=(7, 32)), RNG.normal(size=(5, 32))
    ours = metrics.cosine_distance_cross(a, b)
    assert ours.shape == (7, 5)
    assert np.max(np.abs(ours - cdist(a, b, "cosine"))) < 1e-6


@settings(max_examples=200, deadline=None)
@given(_nonzero_rows())
def test_cosine_matrix_properties(vectors):
    distances = metrics.cosine_distance_matrix(vectors)
    n = len(vectors)
    assert distances.shape == (n, n)
    assert np.array_equal(distances, distances.T)
    assert np.all(np.diag(distances) == 0.0)
    assert np.all((distances >= 0.0) & (distances <= 2.0))
    reference = np.clip(cdist(vectors, vectors, "cosine"), 0, 2)
    np.fill_diagonal(reference, 0.0)
    assert np.max(np.abs(distances - reference)) < 1e-6


@settings(max_examples=100, deadline=None)
@given(_nonzero_rows(), st.randoms(use_true_random=False))
def test_cosine_matrix_reordering_runs_permutes_the_matrix(vectors, rnd):
    order = list(range(len(vectors)))
    rnd.shuffle(order)
    permuted = metrics.cosine_distance_matrix(vectors[order])
    original = metrics.cosine_distance_matrix(vectors)
    np.testing.assert_allclose(permuted, original[np.ix_(order, order)], atol=1e-12)


def test_zero_vectors_have_a_defined_distance():
    vectors = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    distances = metrics.cosine_distance_matrix(vectors)
    assert distances[0, 1] == 0.0
    assert distances[0, 2] == 1.0
    assert not np.isnan(distances).any()


def test_no_vectors_give_an_empty_matrix():
    assert metrics.cosine_distance_matrix(np.zeros((0, 384))).shape == (0, 0)
    with pytest.raises(ValueError, match="2-D"):
        metrics.cosine_distance_matrix(np.zeros(3))


def test_cross_distances_reject_different_vector_sizes():
    with pytest.raises(ValueError, match="sizes differ"):
        metrics.cosine_distance_cross(np.ones((2, 3)), np.ones((2, 4)))


# --- notebook measure and pairwise stats ----------------------------------------------------


def test_mean_distance_first_vs_rest_is_the_cookbook_computation():
    vectors = RNG.normal(size=(5, 384))
    # The cookbook: distances_from_embeddings(emb[0], emb[1:]) then sum / len.
    cookbook = [cosine(vectors[0], other) for other in vectors[1:]]
    expected = sum(cookbook) / len(cookbook)
    ours = metrics.mean_distance_first_vs_rest(metrics.cosine_distance_matrix(vectors))
    assert ours == pytest.approx(expected, abs=1e-9)


def test_mean_distance_first_vs_rest_exact_values_and_one_run():
    distances = metrics.cosine_distance_matrix([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert metrics.mean_distance_first_vs_rest(distances) == 1.5  # (1 + 2) / 2
    assert metrics.mean_distance_first_vs_rest(metrics.cosine_distance_matrix([[1.0, 2.0]])) is None
    assert metrics.mean_distance_first_vs_rest(np.zeros((0, 0))) is None


def test_pairwise_stats_match_scipy_pdist():
    vectors = RNG.normal(size=(9, 50))
    reference = pdist(vectors, "cosine")
    stats = metrics.pairwise_stats(metrics.cosine_distance_matrix(vectors))
    assert stats.mean == pytest.approx(np.mean(reference), abs=1e-9)
    assert stats.median == pytest.approx(np.median(reference), abs=1e-9)
    assert stats.max == pytest.approx(np.max(reference), abs=1e-9)


def test_pairwise_stats_exact_values_and_undefined_cases():
    distances = metrics.cosine_distance_matrix([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # pairs: (0,1)=1, (0,2)=2, (1,2)=1
    assert metrics.pairwise_stats(distances) == metrics.PairwiseStats(4 / 3, 1.0, 2.0)
    assert metrics.pairwise_stats(np.zeros((1, 1))) == metrics.PairwiseStats(None, None, None)
    assert metrics.pairwise_stats(np.zeros((0, 0))) == metrics.PairwiseStats(None, None, None)
    identical = metrics.cosine_distance_matrix(np.ones((4, 3)))
    assert metrics.pairwise_stats(identical) == metrics.PairwiseStats(0.0, 0.0, 0.0)


def test_upper_triangle_is_pairs_i_less_than_j_in_row_order():
    matrix = np.arange(16).reshape(4, 4)
    expected = [matrix[i, j] for i, j in itertools.combinations(range(4), 2)]
    assert metrics.upper_triangle(matrix).tolist() == expected


# --- exact-string measures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "distinct", "modal", "exact", "tarr"),
    [
        (["a", "a", "a"], 1, 1.0, 1.0, 1),
        (["a", "b", "a", "a"], 2, 0.75, 2 / 3, 0),
        (["b", "a", "a", "a"], 2, 0.75, 0.0, 0),
        (["x", "y", "z"], 3, 1 / 3, 0.0, 0),
        (["only"], 1, 1.0, None, 1),
        (["", ""], 1, 1.0, 1.0, 1),
        (["", "a"], 2, 0.5, 0.0, 0),
        ([], 0, None, None, None),
    ],
)
def test_exact_string_measures(texts, distinct, modal, exact, tarr):
    assert metrics.distinct_outputs(texts) == distinct
    assert metrics.modal_share(texts) == (pytest.approx(modal) if modal is not None else None)
    assert metrics.exact_match_rate(texts) == (pytest.approx(exact) if exact is not None else None)
    assert metrics.tarr(texts) == tarr


def test_exact_match_is_strict_about_whitespace_and_case():
    assert metrics.exact_match_rate(["Mars", "Mars ", "mars", "Mars"]) == pytest.approx(1 / 3)
    assert metrics.tarr(["Mars", "Mars "]) == 0


def test_tarr_over_prompts_averages_and_skips_empty_prompts():
    assert metrics.tarr_over_prompts([["a", "a"], ["a", "b"], [], ["c"]]) == pytest.approx(2 / 3)
    assert metrics.tarr_over_prompts([]) is None
    assert metrics.tarr_over_prompts([[], []]) is None


# --- first divergence -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "char", "word"),
    [
        ("The rover landed.", "The rover landed.", None, None),
        ("The rover landed.", "The rover crashed.", 10, 2),
        ("The cat sat", "The cat sat down", 11, 3),
        ("The cat", "The cats", 7, 1),
        ("", "", None, None),
        ("", "a", 0, 0),
        ("a  b", "a b", 2, 1),  # whitespace-only difference: word lists equal
        ("héllo wörld", "héllo world", 7, 1),
        ("🚀 launch", "🚀 lunch", 3, 1),
    ],
)
def test_first_divergence(a, b, char, word):
    assert metrics.first_divergence_char(a, b) == char
    assert metrics.first_divergence_char(b, a) == char
    assert metrics.first_divergence_word(a, b) == word
    assert metrics.first_divergence_word(b, a) == word


def test_first_divergence_in_very_long_texts():
    long_text = "word " * 200_000  # 1,000,000 characters
    changed = long_text[:-3] + "X  "
    assert metrics.first_divergence_char(long_text, changed) == 999_997
    assert metrics.first_divergence_word(long_text, changed) == 199_999
    assert metrics.first_divergence_char(long_text, long_text) is None


def test_first_divergence_survives_lone_surrogates():
    assert metrics.first_divergence_char("ab\ud800c", "ab\ud800d") == 3


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_first_divergence_char_definition(a, b):
    index = metrics.first_divergence_char(a, b)
    if a == b:
        assert index is None
        return
    assert index is not None
    assert a[:index] == b[:index]
    assert index == min(len(a), len(b)) or a[index] != b[index]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["red", "green", "blue", "re"]), max_size=8), st.data())
def test_first_divergence_word_definition(words_a, data):
    words_b = data.draw(st.lists(st.sampled_from(["red", "green", "blue", "re"]), max_size=8))
    index = metrics.first_divergence_word(" ".join(words_a), " ".join(words_b))
    if words_a == words_b:
        assert index is None
        return
    assert words_a[:index] == words_b[:index]
    assert index == min(len(words_a), len(words_b)) or words_a[index] != words_b[index]


def test_divergences_over_an_arm():
    texts = ["The rover landed.", "The rover landed.", "The rover crashed.", "The probe landed."]
    assert metrics.divergences_from_first(texts) == [(None, None), (10, 2), (4, 1)]
    assert metrics.earliest_divergence(texts) == (4, 1)
    assert metrics.earliest_divergence(texts[:2]) == (None, None)
    assert metrics.earliest_divergence(texts[:1]) == (None, None)
    assert metrics.earliest_divergence([]) == (None, None)


def test_earliest_ignores_none():
    assert metrics.earliest([None, 7, 3, None]) == 3
    assert metrics.earliest([None, None]) is None
    assert metrics.earliest([]) is None


# --- edit distance and cross-arm distance ---------------------------------------------------


def test_edit_distance_matrix_matches_single_pair_calls():
    texts = ["kitten", "sitting", "", "kitten", "a much longer sentence about Mars"]
    matrix = metrics.edit_distance_matrix(texts)
    assert matrix.shape == (5, 5)
    for i, j in itertools.product(range(5), repeat=2):
        assert matrix[i, j] == pytest.approx(Levenshtein.normalized_distance(texts[i], texts[j]))
    assert matrix[0, 1] == pytest.approx(3 / 7)
    assert matrix[0, 3] == 0.0
    assert matrix[0, 2] == 1.0


def test_edit_distance_edge_cases():
    assert metrics.edit_distance_matrix([]).shape == (0, 0)
    assert metrics.edit_distance_matrix(["solo"]).tolist() == [[0.0]]
    assert metrics.edit_distance_matrix(["", ""]).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    long_a = "abcdefghij" * 500
    long_b = long_a[:2500] + "Z" * 10 + long_a[2510:]
    matrix = metrics.edit_distance_matrix([long_a, long_b], workers=2)
    assert matrix[0, 1] == pytest.approx(10 / 5000)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=6))
def test_edit_distance_matrix_properties(texts):
    matrix = metrics.edit_distance_matrix(texts)
    assert np.allclose(matrix, matrix.T)
    assert np.all(np.diag(matrix) == 0.0)
    assert np.all((matrix >= 0.0) & (matrix <= 1.0))


def test_mean_cross_arm_distance():
    a, b = RNG.normal(size=(4, 16)), RNG.normal(size=(6, 16))
    assert metrics.mean_cross_arm_distance(a, b) == pytest.approx(np.mean(cdist(a, b, "cosine")))
    assert metrics.mean_cross_arm_distance(a, a[:1]) == pytest.approx(
        np.mean(cdist(a, a[:1], "cosine"))
    )
    assert metrics.mean_cross_arm_distance(a, np.zeros((0, 16))) is None
    assert metrics.mean_cross_arm_distance([], b) is None


def test_identical_vectors_are_exactly_zero_apart():
    row = RNG.normal(size=384).astype(np.float32)
    distances = metrics.cosine_distance_matrix(np.vstack([row, row, row * 2.5]))
    assert np.all(distances == 0.0)

"""seedscope.suite_analysis on a hand-built suite whose every figure was counted by hand."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from seedscope import metrics
from seedscope.answers import AnswerExtractor
from seedscope.embeddings import make_embedder
from seedscope.providers.base import Completion
from seedscope.settings import Settings as AppSettings
from seedscope.stats import Interval
from seedscope.suite_analysis import analyze_suite, case_metrics_dict
from seedscope.suites import Case
from statsmodels.stats.proportion import proportion_confint

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXTRACTOR = AnswerExtractor(kind="regex", pattern=r"Answer: (\w+)")
FAILED = None  # marks a failed run in the tables below

CASES = [
    Case(id="c1", prompt="2+2?", expected="4"),
    Case(id="c2", prompt="Two plus two?", expected=" 4 "),
    Case(id="c3", prompt="4?", expected="4"),
    Case(id="c4", prompt="IV in digits?", expected="4"),
    Case(id="c5", prompt="Lucky number?"),  # no expected answer: not in accuracy
]
# Outputs by arm and case, in run index order; N = 3 for both arms.
OUTPUTS: dict[str, dict[str, list[str | None]]] = {
    "unseeded": {
        "c1": ["Answer: 4", "Answer: 5", "Answer: 4"],  # flaky; correct T F T
        "c2": ["Answer: 4", "I think 4", "Answer: 4"],  # unparseable; correct T F T
        "c3": ["Answer: 5", "Answer: 4", "Answer: 5"],  # flaky; correct F T F
        "c4": ["Answer: 4", "Answer: 4", "Answer: 4", "Answer: 9"],  # stable; run 3 is beyond N
        "c5": ["Answer: 7", "Answer: 8", "Answer: 7"],  # flaky
    },
    "seeded": {
        "c1": ["Answer: 4", "Answer: 4", "Answer: 4"],  # stable; correct T T T
        "c2": ["So. Answer: 4", "Answer: 4", "Thus Answer: 4"],  # answer-stable; T T T
        "c3": ["Answer: 5", "Answer: 5", "Answer: 5"],  # stable; F F F
        "c4": ["Answer: 4", FAILED, "Answer: 4"],  # excluded: 2 successful runs of 3
        "c5": ["Answer: 7", "Answer: 7", "Answer: 7"],  # stable
    },
}
ARMS = ["unseeded", "seeded"]


def completion(arm: str, case_id: str | None, run: int, text: str | None) -> Completion:
    return Completion(
        arm_label=arm,
        run_index=run,
        text=text or "",
        system_fingerprint=None,
        requested_seed=123 if arm == "seeded" else None,
        effective_seed=123 if arm == "seeded" else 1000 + run,
        temperature=0.0 if arm == "seeded" else 0.7,
        top_p=1.0,
        max_tokens=32,
        provider="import",
        model="m",
        prompt_tokens=None,
        completion_tokens=None,
        latency_s=0.0,
        finish_reason=None if text is None else "stop",
        started_at=START + timedelta(seconds=run),
        error_type="APITimeoutError" if text is None else None,
        error_message="timed out" if text is None else None,
        case_id=case_id,
    )


def build(outputs: dict[str, dict[str, list[str | None]]]) -> list[Completion]:
    runs = [
        completion(arm, case_id, run, text)
        for arm, by_case in outputs.items()
        for case_id, texts in by_case.items()
        for run, text in enumerate(texts)
    ]
    return runs[::-1]  # the analysis must not depend on the order runs arrive in


COMPLETIONS = build(OUTPUTS)


class CountingEmbedder:
    """Axis vectors from a fixed table, recording every call (so the call count is checked)."""

    id = "test:axes"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        axes = {"4": [1, 0], "5": [0, 1], "7": [1, 0], "8": [-1, 0], "9": [0, -1]}
        return np.array([axes.get(text[-1], [1, 1]) for text in texts], dtype=np.float32)


@pytest.fixture(scope="module")
def analysis():
    return analyze_suite(COMPLETIONS, CASES, ARMS, 3, extractor=EXTRACTOR)


def test_arm_figures_equal_the_hand_counts(analysis):
    unseeded, seeded = analysis.arm("unseeded"), analysis.arm("seeded")
    # unseeded: all 5 cases counted; only c4 has identical (and agreeing) answers.
    assert (unseeded.n, unseeded.cases, unseeded.cases_excluded) == (3, 5, 0)
    assert unseeded.tarr_at_n == 0.2
    assert unseeded.tara_at_n == 0.2
    # accuracy over c1..c4: run 0 T T F T, run 1 F F T T, run 2 T T F T
    assert unseeded.accuracy_cases == 4
    assert unseeded.accuracy_per_run == (0.75, 0.5, 0.75)
    assert (unseeded.accuracy_best, unseeded.accuracy_worst) == (1.0, 0.25)
    assert unseeded.accuracy_spread == 0.75
    # seeded: c4 excluded (a failed run); c1, c3, c5 identical; c2 agrees on the answer only.
    assert (seeded.n, seeded.cases, seeded.cases_excluded, seeded.failed_runs) == (3, 4, 1, 1)
    assert seeded.tarr_at_n == 0.75
    assert seeded.tara_at_n == 1.0
    assert seeded.tara_at_n_ci == Interval(1.0, 1.0)
    assert seeded.accuracy_cases == 3  # c1, c2, c3 (c4 excluded, c5 has no expected answer)
    assert seeded.accuracy_per_run == pytest.approx((2 / 3, 2 / 3, 2 / 3), abs=0)
    assert (seeded.accuracy_best, seeded.accuracy_worst, seeded.accuracy_spread) == (
        2 / 3,
        2 / 3,
        0.0,
    )


def test_intervals_contain_the_figures_and_are_shares(analysis):
    for arm in analysis.arms:
        for value, interval in (
            (arm.tarr_at_n, arm.tarr_at_n_ci),
            (arm.tara_at_n, arm.tara_at_n_ci),
        ):
            assert value in interval
            assert 0.0 <= interval.low <= interval.high <= 1.0
    assert (
        analysis.arm("unseeded").tarr_at_n_ci.low < 0.2 < analysis.arm("unseeded").tarr_at_n_ci.high
    )


def test_difference_is_paired_over_cases_counted_in_both_arms(analysis):
    (difference,) = analysis.differences
    assert (difference.a, difference.b, difference.cases) == ("unseeded", "seeded", 4)
    # c1, c2, c3, c5: unseeded TARr 0 0 0 0, seeded 1 0 1 1 -> mean difference -3/4
    assert difference.tarr_at_n_diff == -0.75
    assert -0.75 in difference.ci
    assert -1.0 <= difference.ci.low <= difference.ci.high <= 0.0


def test_case_rows_equal_the_hand_counts(analysis):
    c1 = analysis.case("c1", "unseeded")
    assert (c1.runs, c1.failed_runs, c1.excluded) == (3, 0, False)
    assert (c1.distinct_outputs, c1.modal_share, c1.tarr, c1.tara) == (2, 2 / 3, 0, 0)
    assert (c1.distinct_answers, c1.unparseable_answers, c1.correct_runs) == (2, 0, 2)
    assert c1.label == "flaky"
    assert c1.first_divergence_char == 8  # "Answer: 4" vs "Answer: 5"
    assert c1.mean_edit_distance == pytest.approx((1 / 9 + 0 + 1 / 9) / 3)  # one edit in 9 chars
    assert c1.mean_pairwise_distance is None  # no embedder
    low, high = proportion_confint(2, 3, method="wilson")
    assert c1.modal_share_ci.low == pytest.approx(low) and c1.modal_share_ci.high == pytest.approx(
        high
    )

    labels = {(row.case_id, row.arm): row.label for row in analysis.cases}
    assert labels == {
        ("c1", "unseeded"): "flaky",
        ("c2", "unseeded"): "unparseable",
        ("c3", "unseeded"): "flaky",
        ("c4", "unseeded"): "stable",
        ("c5", "unseeded"): "flaky",
        ("c1", "seeded"): "stable",
        ("c2", "seeded"): "answer-stable",
        ("c3", "seeded"): "stable",
        ("c4", "seeded"): None,  # excluded: no @N label
        ("c5", "seeded"): "stable",
    }
    assert [(row.case_id, row.arm) for row in analysis.cases[:3]] == [
        ("c1", "unseeded"),
        ("c1", "seeded"),
        ("c2", "unseeded"),
    ]


def test_only_the_first_n_successful_runs_are_measured(analysis):
    c4 = analysis.case("c4", "unseeded")
    assert (c4.runs, c4.distinct_outputs, c4.tarr, c4.correct_runs) == (3, 1, 1, 3)
    assert analysis.answers[("c4", "unseeded")] == ("4", "4", "4")


def test_excluded_case_is_counted_and_keeps_its_descriptive_measures(analysis):
    c4 = analysis.case("c4", "seeded")
    assert (c4.excluded, c4.runs, c4.failed_runs) == (True, 2, 1)
    assert (c4.tarr, c4.tara, c4.label) == (None, None, None)
    assert (c4.distinct_outputs, c4.modal_share, c4.correct_runs) == (1, 1.0, 2)
    assert analysis.answers[("c4", "seeded")] == ("4", "4")


def test_without_an_extractor_answer_measures_are_none():
    plain = analyze_suite(COMPLETIONS, CASES, ARMS, 3)
    for arm in plain.arms:
        assert (arm.tara_at_n, arm.tara_at_n_ci, arm.accuracy_per_run) == (None, None, None)
        assert (arm.accuracy_best, arm.accuracy_worst, arm.accuracy_spread) == (None, None, None)
        assert arm.accuracy_cases == 0
    assert plain.arm("seeded").tarr_at_n == 0.75  # raw agreement needs no extractor
    assert plain.answers == {}
    for row in plain.cases:
        assert row.tara is None and row.correct_runs is None and row.distinct_answers is None
    assert plain.case("c2", "unseeded").label == "flaky"
    assert plain.case("c2", "seeded").label == "flaky"  # answers cannot be compared
    assert plain.case("c1", "seeded").label == "stable"


def test_runs_per_arm_may_differ_and_a_case_with_no_runs_is_excluded():
    outputs = {"a": {"c1": ["x", "x"], "c2": ["y", "z"]}, "b": {"c1": ["x", "x", "x"]}}
    result = analyze_suite(build(outputs), CASES[:2], ["a", "b"], {"a": 2, "b": 3})
    assert (result.arm("a").n, result.arm("a").cases, result.arm("a").tarr_at_n) == (2, 2, 0.5)
    b = result.arm("b")
    assert (b.n, b.cases, b.cases_excluded, b.tarr_at_n) == (3, 1, 1, 1.0)
    empty = result.case("c2", "b")
    assert (empty.runs, empty.excluded, empty.distinct_outputs) == (0, True, 0)
    assert (empty.modal_share, empty.modal_share_ci, empty.first_divergence_char) == (None,) * 3
    (difference,) = result.differences
    assert (difference.cases, difference.tarr_at_n_diff, difference.ci) == (1, 0.0, Interval(0, 0))


def test_an_arm_with_every_case_excluded_has_undefined_figures():
    outputs = {"a": {"c1": ["x", None]}, "b": {"c1": ["x", "x"]}}
    result = analyze_suite(build(outputs), CASES[:1], ["a", "b"], 2, extractor=EXTRACTOR)
    a = result.arm("a")
    assert (a.cases, a.cases_excluded, a.tarr_at_n, a.tarr_at_n_ci) == (0, 1, None, None)
    assert (a.tara_at_n, a.tara_at_n_ci, a.accuracy_best) == (None, None, None)
    assert result.differences[0].tarr_at_n_diff is None and result.differences[0].ci is None


def test_three_arms_give_every_pair_in_arm_order():
    outputs = {arm: {"c1": ["x", "x"]} for arm in ("p", "q", "r")}
    result = analyze_suite(build(outputs), CASES[:1], ["r", "p", "q"], 2)
    assert [(d.a, d.b) for d in result.differences] == [("r", "p"), ("r", "q"), ("p", "q")]
    assert [arm.label for arm in result.arms] == ["r", "p", "q"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"case_id": None}, "has no case id"),
        ({"case_id": "c9"}, "unknown case 'c9'"),
        ({"arm_label": "other"}, "unknown arm 'other'"),
    ],
)
def test_runs_that_do_not_belong_to_the_suite_are_refused(change, message):
    bad = [*COMPLETIONS, COMPLETIONS[0].with_changes(**change)]
    with pytest.raises(ValueError, match=message):
        analyze_suite(bad, CASES, ARMS, 3)


def test_runs_per_arm_must_name_every_arm_and_be_positive():
    with pytest.raises(ValueError, match="runs per arm not given for 'seeded'"):
        analyze_suite(COMPLETIONS, CASES, ARMS, {"unseeded": 3})
    with pytest.raises(ValueError, match="at least one run"):
        analyze_suite(COMPLETIONS, CASES, ARMS, 0)
    with pytest.raises(ValueError, match="duplicate case ids: 'c1'"):
        analyze_suite(COMPLETIONS, [*CASES, CASES[0]], ARMS, 3)


def test_embedder_is_called_once_for_the_whole_suite():
    embedder = CountingEmbedder()
    result = analyze_suite(COMPLETIONS, CASES, ARMS, 3, extractor=EXTRACTOR, embedder=embedder)
    assert len(embedder.calls) == 1
    (texts,) = embedder.calls
    assert len(texts) == len(set(texts))
    assert "Answer: 9" not in texts  # beyond N: not measured, so not embedded
    assert result.embedder_id == "test:axes"
    # c1 unseeded: axes 4, 5, 4 -> distances 1, 0, 1 over its three pairs
    assert result.case("c1", "unseeded").mean_pairwise_distance == pytest.approx(2 / 3)
    assert result.case("c1", "seeded").mean_pairwise_distance == 0.0
    # c5 unseeded: 7, 8, 7 are opposite axes -> distances 2, 0, 2
    assert result.case("c5", "unseeded").mean_pairwise_distance == pytest.approx(4 / 3)
    assert result.case("c4", "seeded").mean_pairwise_distance == 0.0


def test_with_the_real_local_minilm_embedder():
    outputs = {
        "unseeded": {
            "c1": [
                "The rover landed in Jezero crater.",
                "Mission control lost the signal.",
                "The rover landed in Jezero crater.",
            ],
            "c2": ["Mars is red.", "Mars is red.", "Mars is red."],
        }
    }
    embedder = make_embedder(AppSettings(), "local")
    result = analyze_suite(build(outputs), CASES[:2], ["unseeded"], 3, embedder=embedder)
    texts = outputs["unseeded"]["c1"]
    vectors = embedder.embed(texts)
    reference = cdist(vectors, vectors, "cosine")[np.triu_indices(3, k=1)].mean()
    measured = result.case("c1", "unseeded").mean_pairwise_distance
    assert measured == pytest.approx(reference, abs=1e-6)
    assert 0.1 < measured < 1.0  # different sentences are clearly apart
    assert result.case("c2", "unseeded").mean_pairwise_distance == 0.0
    assert result.embedder_id == embedder.id


ARM_KEYS = [
    "label",
    "n",
    "cases",
    "cases_excluded",
    "tarr_at_n",
    "tarr_at_n_ci",
    "tara_at_n",
    "tara_at_n_ci",
    "accuracy_per_run",
    "accuracy_best",
    "accuracy_worst",
    "accuracy_spread",
]
CASE_KEYS = [
    "case_id",
    "arm",
    "runs",
    "distinct_outputs",
    "modal_share",
    "modal_share_ci",
    "tarr",
    "tara",
    "label",
    "first_divergence_char",
    "first_divergence_token",  # not in the suites issue's shape: the token-level issue adds it
    "mean_pairwise_distance",
]


def test_json_has_exactly_the_issue_shape(analysis):
    data = analysis.to_json("exp-3", "import")
    assert list(data) == ["experiment_id", "kind", "arms", "differences", "cases"]
    assert (data["experiment_id"], data["kind"]) == ("exp-3", "import")
    assert [list(arm) for arm in data["arms"]] == [ARM_KEYS, ARM_KEYS]
    assert [list(diff) for diff in data["differences"]] == [["a", "b", "tarr_at_n_diff", "ci"]]
    assert all(list(row) == CASE_KEYS for row in data["cases"])
    assert len(data["cases"]) == len(CASES) * len(ARMS)
    # A JSON round trip changes nothing: only plain numbers, strings, lists and null.
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    seeded = data["arms"][1]
    assert seeded["tarr_at_n"] == 0.75 and seeded["tara_at_n_ci"] == [1.0, 1.0]
    assert seeded["accuracy_per_run"] == [2 / 3, 2 / 3, 2 / 3]
    excluded = next(r for r in data["cases"] if (r["case_id"], r["arm"]) == ("c4", "seeded"))
    assert (excluded["runs"], excluded["tarr"], excluded["label"]) == (2, None, None)
    assert excluded["mean_pairwise_distance"] is None
    plain = analyze_suite(COMPLETIONS, CASES, ARMS, 3).to_json(1, "suite")
    assert plain["arms"][0]["tara_at_n"] is None and plain["arms"][0]["tara_at_n_ci"] is None
    assert plain["arms"][0]["accuracy_per_run"] is None
    with pytest.raises(ValueError, match="kind"):
        analysis.to_json(1, "compare")


def test_case_metrics_dict_splits_the_interval(analysis):
    row = analysis.case("c1", "unseeded")
    flat = case_metrics_dict(row)
    keys = list(flat)
    assert keys[keys.index("modal_share") + 1 : keys.index("modal_share") + 3] == [
        "modal_share_ci_low",
        "modal_share_ci_high",
    ]
    assert (flat["modal_share_ci_low"], flat["modal_share_ci_high"]) == (
        row.modal_share_ci.low,
        row.modal_share_ci.high,
    )
    assert "modal_share_ci" not in flat


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["", "a", "ab", "ba", "abc", "xyz", "Жук"]), max_size=7))
def test_mean_edit_distance_equals_the_mean_over_all_run_pairs(texts):
    # The analysis computes each distinct pair once; the reference computes every run pair.
    reference = metrics.mean_pairwise(metrics.edit_distance_matrix(texts))
    outputs = {"a": {"c1": texts}} if texts else {"a": {}}
    result = analyze_suite(build(outputs), CASES[:1], ["a"], max(len(texts), 1))
    measured = result.case("c1", "a").mean_edit_distance
    assert measured == (None if reference is None else pytest.approx(reference, abs=1e-12))


def test_empty_outputs_are_outputs_and_get_the_zero_vector():
    embedder = CountingEmbedder()
    outputs = {"a": {"c1": ["", "", ""], "c2": ["", "Answer: 4", ""]}}
    result = analyze_suite(build(outputs), CASES[:2], ["a"], 3, embedder=embedder)
    assert embedder.calls == [["Answer: 4"]]  # empty texts are never sent
    assert (result.case("c1", "a").tarr, result.case("c1", "a").label) == (1, "stable")
    assert result.case("c1", "a").mean_pairwise_distance == 0.0
    assert result.case("c2", "a").mean_pairwise_distance == pytest.approx(2 / 3)  # 1, 0, 1


def test_a_cases_first_divergence_in_tokens_counts_from_1_where_tokens_are_known():
    """c1's runs part at their third token (run 2 against run 0); c2's runs agree; c3 recorded
    no tokens (imported text): unknown, not 'identical'."""
    from dataclasses import replace

    from seedscope.tokens.trace import TokenTrace

    tokens = {
        ("c1", 0): ("The", " answer", " is", " 4"),
        ("c1", 1): ("The", " answer", " is", " 4"),
        ("c1", 2): ("The", " answer", " was", " 4"),
        ("c2", 0): ("Answer", ":", " 4"),
        ("c2", 1): ("Answer", ":", " 4"),
        ("c2", 2): ("Answer", ":", " 4"),
    }
    runs = []
    for case_id in ("c1", "c2", "c3"):
        for run in range(3):
            trace = tokens.get((case_id, run))
            text = "".join(trace) if trace else f"text {run}"
            traced = None if trace is None else TokenTrace(tokens=trace)
            runs.append(replace(completion("a", case_id, run, text), tokens=traced))
    result = analyze_suite(runs, CASES[:3], ["a"], 3)
    assert result.case("c1", "a").first_divergence_token == 3
    assert result.case("c1", "a").first_divergence_char == len("The answer ")
    assert result.case("c2", "a").first_divergence_token is None
    assert result.case("c3", "a").first_divergence_token is None
    row = next(r for r in result.to_json("s1", "suite")["cases"] if r["case_id"] == "c1")
    assert row["first_divergence_token"] == 3

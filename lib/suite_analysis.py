"""A suite experiment (cases × arms × N runs) -> measures per case × arm, per arm, between arms.

Definitions (where the issue was silent, the choice is written here):
- Only successful runs are outputs. A case × arm is measured on its successful runs in run
  index order, at most the first N of them (N = the arm's runs). A case with fewer than N
  successful runs for an arm is *excluded* from that arm's @N figures; its row still shows
  the descriptive measures of the runs it has (`runs`, distinct outputs, modal share,
  divergence, distances, correct runs), while its @N measures (`tarr`, `tara`, `label`) are
  None.
- Suite figures per arm are means over the counted cases: TARr@N and TARa@N (Atil et al.
  2024) with percentile-bootstrap 95% intervals over cases (seedscope.stats, fixed seed).
  Accuracy (llm-stability's evaluate.py, see seedscope.answers.accuracy_range) needs an
  extractor and is taken over the counted cases that have an expected answer (a blank
  expected answer counts as none); None when there are none. `accuracy_per_run[k]` is over
  the k-th measured run of each case, which is run index k when runs 0..N-1 all succeeded.
- Differences: for every pair of arms (A before B in arm order), TARr@N(A) - TARr@N(B) over
  the cases counted in *both* arms, with a paired bootstrap interval; so it can differ from
  the difference of the two arms' own TARr@N when they exclude different cases.
- Embeddings: every distinct measured text of the whole suite is embedded in one call (the
  CachingEmbedder embeds each once); `embedder=None` (the CLI's --no-embed) leaves the
  cosine measures None. Empty outputs get the zero vector (as in seedscope.analysis).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from seedscope import metrics
from seedscope.analysis import embed_texts
from seedscope.answers import AnswerExtractor, CaseLabel, accuracy_range, case_label, is_correct
from seedscope.answers import distinct_answers as count_distinct_answers
from seedscope.answers import tara as tara_of
from seedscope.embeddings import Embedder
from seedscope.providers.base import Completion
from seedscope.stats import (
    DEFAULT_RESAMPLES,
    Interval,
    bootstrap_mean_interval,
    paired_bootstrap_difference,
    wilson_interval,
)
from seedscope.suites import Case, SuiteSpec
from seedscope.tokens import forks

SuiteKind = Literal["suite", "import"]


@dataclass(frozen=True)
class CaseMetrics:
    """One case under one arm; None where a measure is undefined (see the module docstring)."""

    case_id: str
    arm: str
    runs: int  # successful runs measured (at most N)
    failed_runs: int
    excluded: bool  # fewer than N successful runs: not counted in the arm's @N figures
    distinct_outputs: int
    modal_share: float | None
    modal_share_ci: Interval | None  # Wilson 95%
    tarr: int | None
    tara: int | None  # None without an extractor
    distinct_answers: int | None  # parseable answers only; None without an extractor
    unparseable_answers: int | None
    correct_runs: int | None  # None without an extractor or an expected answer
    label: CaseLabel | None
    first_divergence_char: int | None  # earliest, against run 0
    # Earliest, against run 0, 1-based (seedscope.tokens.forks); None: same or tokens unknown.
    first_divergence_token: int | None
    mean_pairwise_distance: float | None  # cosine; None without an embedder
    mean_edit_distance: float | None  # normalized Levenshtein, mean over pairs


@dataclass(frozen=True)
class SuiteArmMetrics:
    """The suite-level figures of one arm."""

    label: str
    n: int
    cases: int  # counted at @N
    cases_excluded: int
    failed_runs: int
    tarr_at_n: float | None
    tarr_at_n_ci: Interval | None
    tara_at_n: float | None
    tara_at_n_ci: Interval | None
    accuracy_cases: int  # counted cases with an expected answer (0 without an extractor)
    accuracy_per_run: tuple[float, ...] | None
    accuracy_best: float | None
    accuracy_worst: float | None
    accuracy_spread: float | None


@dataclass(frozen=True)
class ArmDifference:
    """TARr@N(a) - TARr@N(b) over the `cases` counted in both arms, paired bootstrap interval."""

    a: str
    b: str
    cases: int
    tarr_at_n_diff: float | None
    ci: Interval | None


@dataclass
class SuiteAnalysis:
    arms: list[SuiteArmMetrics]
    differences: list[ArmDifference]
    cases: list[CaseMetrics]  # case order of the suite, then arm order
    # The extracted answer of each measured run, by (case id, arm); empty without an extractor.
    answers: dict[tuple[str, str], tuple[str | None, ...]] = field(default_factory=dict)
    embedder_id: str | None = None
    extractor: AnswerExtractor | None = None

    def arm(self, label: str) -> SuiteArmMetrics:
        for arm in self.arms:
            if arm.label == label:
                return arm
        raise KeyError(f"no arm labelled {label!r}; arms: {', '.join(a.label for a in self.arms)}")

    def case(self, case_id: str, arm: str) -> CaseMetrics:
        for row in self.cases:
            if row.case_id == case_id and row.arm == arm:
                return row
        raise KeyError(f"no case {case_id!r} in arm {arm!r}")

    def to_json(self, experiment_id: str | int, kind: SuiteKind) -> dict[str, Any]:
        """The issue's JSON shape: shares as fractions 0..1, intervals as [lo, hi], null if
        undefined."""
        if kind not in ("suite", "import"):
            raise ValueError(f"kind must be 'suite' or 'import', got {kind!r}")
        return {
            "experiment_id": experiment_id,
            "kind": kind,
            "arms": [
                {
                    "label": arm.label,
                    "n": arm.n,
                    "cases": arm.cases,
                    "cases_excluded": arm.cases_excluded,
                    "tarr_at_n": arm.tarr_at_n,
                    "tarr_at_n_ci": _interval_json(arm.tarr_at_n_ci),
                    "tara_at_n": arm.tara_at_n,
                    "tara_at_n_ci": _interval_json(arm.tara_at_n_ci),
                    "accuracy_per_run": (
                        None if arm.accuracy_per_run is None else list(arm.accuracy_per_run)
                    ),
                    "accuracy_best": arm.accuracy_best,
                    "accuracy_worst": arm.accuracy_worst,
                    "accuracy_spread": arm.accuracy_spread,
                }
                for arm in self.arms
            ],
            "differences": [
                {
                    "a": diff.a,
                    "b": diff.b,
                    "tarr_at_n_diff": diff.tarr_at_n_diff,
                    "ci": _interval_json(diff.ci),
                }
                for diff in self.differences
            ],
            "cases": [
                {
                    "case_id": row.case_id,
                    "arm": row.arm,
                    "runs": row.runs,
                    "distinct_outputs": row.distinct_outputs,
                    "modal_share": row.modal_share,
                    "modal_share_ci": _interval_json(row.modal_share_ci),
                    "tarr": row.tarr,
                    "tara": row.tara,
                    "label": row.label,
                    "first_divergence_char": row.first_divergence_char,
                    "first_divergence_token": row.first_divergence_token,
                    "mean_pairwise_distance": row.mean_pairwise_distance,
                }
                for row in self.cases
            ],
        }


def worst_first(rows: Sequence[CaseMetrics]) -> list[CaseMetrics]:
    """Least reproducible first: lowest modal share, then most distinct outputs; cases with no
    successful run last (the order of the Suites page and the report)."""
    return sorted(
        rows,
        key=lambda row: (
            row.modal_share is None,
            row.modal_share or 0.0,
            -row.distinct_outputs,
            row.case_id,
            row.arm,
        ),
    )


def shown_label(row: CaseMetrics) -> str:
    """The label a table shows: `excluded` for a case with fewer than N successful runs."""
    return "excluded" if row.excluded else (row.label or "–")


def interval_text(interval: Interval | None) -> str:
    """A 95% interval as tables show it, e.g. `[0.42, 0.91]`."""
    return "–" if interval is None else f"[{interval.low:.2f}, {interval.high:.2f}]"


def _case_table_columns() -> tuple[str, ...]:
    names = list(CaseMetrics.__dataclass_fields__)
    split = names.index("modal_share_ci")
    return (*names[:split], "modal_share_ci_low", "modal_share_ci_high", *names[split + 1 :])


# The columns of a flat case row (`case_metrics_dict`): CaseMetrics with its interval split.
CASE_TABLE_COLUMNS = _case_table_columns()


def case_metrics_dict(row: CaseMetrics) -> dict[str, Any]:
    """A flat dict of a case row in CASE_TABLE_COLUMNS order, e.g. for a table or a CSV."""
    values = {name: getattr(row, name) for name in CaseMetrics.__dataclass_fields__}
    interval = values.pop("modal_share_ci")
    values["modal_share_ci_low"] = None if interval is None else interval.low
    values["modal_share_ci_high"] = None if interval is None else interval.high
    return {name: values[name] for name in CASE_TABLE_COLUMNS}


def _interval_json(interval: Interval | None) -> list[float] | None:
    return None if interval is None else interval.as_list()


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class _Measured:
    """Working record of one case × arm, kept until the arm's figures are computed."""

    row: CaseMetrics
    correct: list[bool] | None  # per measured run; None without extractor or expected answer


def _runs_by_case_and_arm(
    completions: Sequence[Completion], case_ids: set[str], arms: set[str]
) -> dict[tuple[str, str], list[Completion]]:
    grouped: dict[tuple[str, str], list[Completion]] = defaultdict(list)
    for completion in completions:
        if completion.case_id is None:
            raise ValueError(
                f"run {completion.run_index} of arm {completion.arm_label!r} has no case id; "
                "only suite experiments can be analysed as a suite"
            )
        if completion.case_id not in case_ids:
            raise ValueError(f"run of unknown case {completion.case_id!r}: not in the suite")
        if completion.arm_label not in arms:
            raise ValueError(
                f"run of unknown arm {completion.arm_label!r}; arms: {', '.join(sorted(arms))}"
            )
        grouped[(completion.case_id, completion.arm_label)].append(completion)
    for runs in grouped.values():
        runs.sort(key=lambda c: c.run_index)
    return grouped


def _runs_per_arm(runs_per_arm: Mapping[str, int] | int, arms: Sequence[str]) -> dict[str, int]:
    if isinstance(runs_per_arm, int):
        counts = dict.fromkeys(arms, runs_per_arm)
    else:
        missing = [arm for arm in arms if arm not in runs_per_arm]
        if missing:
            raise ValueError(f"runs per arm not given for {', '.join(map(repr, missing))}")
        counts = {arm: int(runs_per_arm[arm]) for arm in arms}
    for arm, count in counts.items():
        if count < 1:
            raise ValueError(f"arm {arm!r} needs at least one run, got {count}")
    return counts


def _mean_cosine(texts: list[str], vectors: dict[str, np.ndarray] | None) -> float | None:
    if vectors is None or len(texts) < 2:
        return None
    if len(set(texts)) == 1:
        return 0.0  # identical outputs: no need to multiply vectors
    matrix = np.stack([vectors[text] for text in texts])
    return metrics.mean_pairwise(metrics.cosine_distance_matrix(matrix))


def _mean_edit_distance(texts: list[str]) -> float | None:
    """Mean normalized Levenshtein distance over run pairs, computing each distinct pair once."""
    if len(texts) < 2:
        return None
    distinct = list(dict.fromkeys(texts))
    if len(distinct) == 1:
        return 0.0
    position = {text: i for i, text in enumerate(distinct)}
    index = np.array([position[text] for text in texts])
    return metrics.mean_pairwise(metrics.edit_distance_matrix(distinct)[np.ix_(index, index)])


def _earliest_divergence_char(texts: list[str]) -> int | None:
    return metrics.earliest([metrics.first_divergence_char(texts[0], t) for t in texts[1:]])


def _earliest_divergence_token(measured: list[Completion]) -> int | None:
    """The case's fork in tokens over the measured runs that recorded their tokens."""
    fork = forks.arm_fork([(c.run_index, c.tokens) for c in measured if c.tokens is not None])
    return None if fork is None else fork.position


def _measure_case(
    case: Case,
    arm: str,
    n: int,
    runs: list[Completion],
    extractor: AnswerExtractor | None,
    vectors: dict[str, np.ndarray] | None,
) -> tuple[_Measured, tuple[str | None, ...] | None]:
    ok = [c for c in runs if c.ok]
    measured = ok[:n]
    texts = [c.text for c in measured]
    excluded = len(measured) < n
    answers = [extractor.extract(text) for text in texts] if extractor else None
    expected = case.expected if case.expected and case.expected.strip() else None
    correct = None
    if answers is not None and expected is not None:
        correct = [is_correct(answer, expected) for answer in answers]
    modal_count = Counter(texts).most_common(1)[0][1] if texts else 0
    row = CaseMetrics(
        case_id=case.id,
        arm=arm,
        runs=len(texts),
        failed_runs=len(runs) - len(ok),
        excluded=excluded,
        distinct_outputs=metrics.distinct_outputs(texts),
        modal_share=metrics.modal_share(texts),
        modal_share_ci=wilson_interval(modal_count, len(texts)),
        tarr=None if excluded else metrics.tarr(texts),
        tara=None if excluded or answers is None else tara_of(answers),
        distinct_answers=None if answers is None else count_distinct_answers(answers),
        unparseable_answers=None if answers is None else sum(a is None for a in answers),
        correct_runs=None if correct is None else sum(correct),
        label=None if excluded else case_label(texts, answers),
        first_divergence_char=_earliest_divergence_char(texts),
        first_divergence_token=_earliest_divergence_token(measured),
        mean_pairwise_distance=_mean_cosine(texts, vectors),
        mean_edit_distance=_mean_edit_distance(texts),
    )
    return _Measured(row, correct), None if answers is None else tuple(answers)


def _arm_figures(
    label: str,
    n: int,
    measured: list[_Measured],
    has_extractor: bool,
    resamples: int,
) -> SuiteArmMetrics:
    counted = [m for m in measured if not m.row.excluded]
    tarr_values = [m.row.tarr for m in counted if m.row.tarr is not None]
    tara_values = [m.row.tara for m in counted if m.row.tara is not None] if has_extractor else []
    accuracy = accuracy_range([m.correct for m in counted if m.correct is not None])
    return SuiteArmMetrics(
        label=label,
        n=n,
        cases=len(counted),
        cases_excluded=len(measured) - len(counted),
        failed_runs=sum(m.row.failed_runs for m in measured),
        tarr_at_n=_mean(tarr_values),
        tarr_at_n_ci=bootstrap_mean_interval(tarr_values, resamples=resamples),
        tara_at_n=_mean(tara_values) if has_extractor else None,
        tara_at_n_ci=(
            bootstrap_mean_interval(tara_values, resamples=resamples) if has_extractor else None
        ),
        accuracy_cases=0 if accuracy is None else accuracy.cases,
        accuracy_per_run=None if accuracy is None else accuracy.per_run,
        accuracy_best=None if accuracy is None else accuracy.best,
        accuracy_worst=None if accuracy is None else accuracy.worst,
        accuracy_spread=None if accuracy is None else accuracy.spread,
    )


def _difference(
    a: str, b: str, rows: dict[str, list[CaseMetrics]], resamples: int
) -> ArmDifference:
    # tarr is None exactly for excluded cases, so these are the cases counted in both arms.
    tarr_b = {row.case_id: row.tarr for row in rows[b] if row.tarr is not None}
    pairs = [
        (row.tarr, tarr_b[row.case_id])
        for row in rows[a]
        if row.tarr is not None and row.case_id in tarr_b
    ]
    diff = sum(x - y for x, y in pairs) / len(pairs) if pairs else None
    ci = paired_bootstrap_difference(
        [x for x, _ in pairs], [y for _, y in pairs], resamples=resamples
    )
    return ArmDifference(a=a, b=b, cases=len(pairs), tarr_at_n_diff=diff, ci=ci)


def analyze_suite(
    completions: Sequence[Completion],
    cases: Sequence[Case],
    arm_labels: Sequence[str],
    runs_per_arm: Mapping[str, int] | int,
    *,
    extractor: AnswerExtractor | None = None,
    embedder: Embedder | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> SuiteAnalysis:
    """Measure every case under every arm, every arm over the suite, and every pair of arms.

    `runs_per_arm` is N (one int for all arms, or one per arm label). Every completion must
    carry the id of one of `cases` and one of `arm_labels`; anything else is a ValueError.
    """
    arms = list(dict.fromkeys(arm_labels))
    counts = _runs_per_arm(runs_per_arm, arms)
    id_counts = Counter(case.id for case in cases)
    duplicates = sorted(case_id for case_id, count in id_counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate case ids: {', '.join(map(repr, duplicates))}")
    grouped = _runs_by_case_and_arm(completions, set(id_counts), set(arms))

    vectors = None
    if embedder is not None:
        # One call for the whole suite: the texts each case × arm will measure.
        texts = [
            c.text
            for (_, arm), runs in grouped.items()
            for c in [c for c in runs if c.ok][: counts[arm]]
        ]
        vectors = embed_texts(texts, embedder) if texts else {}

    measured: dict[str, list[_Measured]] = {arm: [] for arm in arms}
    rows: list[CaseMetrics] = []
    answers: dict[tuple[str, str], tuple[str | None, ...]] = {}
    for case in cases:
        for arm in arms:
            record, case_answers = _measure_case(
                case, arm, counts[arm], grouped.get((case.id, arm), []), extractor, vectors
            )
            measured[arm].append(record)
            rows.append(record.row)
            if case_answers is not None:
                answers[(case.id, arm)] = case_answers

    arm_metrics = [
        _arm_figures(arm, counts[arm], measured[arm], extractor is not None, resamples)
        for arm in arms
    ]
    rows_by_arm = {arm: [m.row for m in measured[arm]] for arm in arms}
    differences = [
        _difference(a, b, rows_by_arm, resamples) for i, a in enumerate(arms) for b in arms[i + 1 :]
    ]
    return SuiteAnalysis(
        arms=arm_metrics,
        differences=differences,
        cases=rows,
        answers=answers,
        embedder_id=None if embedder is None else embedder.id,
        extractor=extractor,
    )


def analyze_suite_spec(
    spec: SuiteSpec, completions: Sequence[Completion], embedder: Embedder | None = None
) -> SuiteAnalysis:
    """`analyze_suite` for the runs of a suite (or import) spec: its cases, arms, N per arm and
    answer extractor."""
    return analyze_suite(
        completions,
        spec.cases,
        [arm.label for arm in spec.arms],
        {arm.label: arm.runs for arm in spec.arms},
        extractor=spec.extractor,
        embedder=embedder,
    )

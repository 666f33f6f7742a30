"""Two stored experiments side by side (History's "Compare with…"), e.g. before and after a
backend's fingerprint changed: each arm's measures in both, how far apart their outputs are,
and the fingerprints each saw.

Arms are matched by label. The distance between the experiments for an arm is the mean cosine
distance over every (output of the arm in the first, output of the arm in the second) pair:
`seedscope.metrics.mean_cross_arm_distance`, the measure between two arms of one experiment,
applied across experiments. All outputs of both are embedded by one embedder, so the distances
compare. Plain experiments only: a suite is compared case by case on the Suites page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from seedscope import metrics
from seedscope.analysis import ArmAnalysis, ArmMetrics, ExperimentAnalysis, analyze
from seedscope.embeddings import Embedder
from seedscope.providers.base import Completion
from seedscope.store import StoredExperiment
from seedscope.suites import SuiteSpec


@dataclass(frozen=True)
class ArmSideBySide:
    label: str
    first: ArmMetrics | None  # None: the first experiment has no arm with this label
    second: ArmMetrics | None
    distance: float | None  # first's outputs vs second's; None unless both have outputs


@dataclass(frozen=True)
class ExperimentComparison:
    arms: list[ArmSideBySide]  # the first experiment's arm order, then arms only the second has
    distance: float | None  # every output of the first vs every output of the second
    fingerprints: tuple[tuple[str | None, ...], tuple[str | None, ...]]  # each, first seen first
    embedder_id: str


def fingerprints_seen(completions: list[Completion]) -> tuple[str | None, ...]:
    """Distinct fingerprints of the successful runs, in order of first appearance (None: the
    server reported none)."""
    ok = sorted((c for c in completions if c.ok), key=lambda c: c.started_at)
    return tuple(dict.fromkeys(c.system_fingerprint for c in ok))


def compare_experiments(
    first: StoredExperiment, second: StoredExperiment, embedder: Embedder
) -> ExperimentComparison:
    """Raises ValueError for a suite. Give a caching embedder (the app's and the CLI's are) so
    texts the two share are embedded once."""
    for experiment in (first, second):
        if isinstance(experiment.spec, SuiteSpec):
            raise ValueError(
                f"experiment {experiment.id[:8]} is a suite; compare single experiments here"
            )
    analyses = [
        analyze(e.completions, embedder, arm_order=[arm.label for arm in e.spec.arms])
        for e in (first, second)
    ]
    labels = dict.fromkeys(arm.label for analysis in analyses for arm in analysis.arms)
    rows = []
    for label in labels:
        sides = [_arm(analysis, label) for analysis in analyses]
        rows.append(
            ArmSideBySide(
                label,
                None if sides[0] is None else sides[0].metrics,
                None if sides[1] is None else sides[1].metrics,
                _distance(*(side.vectors if side else None for side in sides)),
            )
        )
    everything = [_all_vectors(analysis) for analysis in analyses]
    return ExperimentComparison(
        arms=rows,
        distance=_distance(*everything),
        fingerprints=(fingerprints_seen(first.completions), fingerprints_seen(second.completions)),
        embedder_id=embedder.id,
    )


def _arm(analysis: ExperimentAnalysis, label: str) -> ArmAnalysis | None:
    return next((arm for arm in analysis.arms if arm.label == label), None)


def _all_vectors(analysis: ExperimentAnalysis) -> np.ndarray | None:
    parts = [arm.vectors for arm in analysis.arms if arm.vectors is not None and len(arm.vectors)]
    return np.vstack(parts) if parts else None


def _distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    return metrics.mean_cross_arm_distance(a, b)

"""CSV exports: runs, per-arm metrics and pairwise distances, safe to open in a spreadsheet.

Suites add `cases.csv` (a row per case × arm), `suite_metrics.csv` (a row per arm),
`arm_differences.csv` (a row per pair of arms) and a `runs.csv` with a `case_id` column
(`write_suite_exports`). Intervals are two columns, `*_ci_low` and `*_ci_high`; an arm's
accuracy per run index is one field holding a JSON list (`[0.75, 0.5]`), since N differs
between arms.

Format: UTF-8 text (no byte-order mark), RFC 4180 (comma separated, CRLF line ends, fields
quoted only when they contain a comma, a quote, CR or LF, quotes doubled), a header row, and a
fixed column order (the `*_COLUMNS` tuples below). Numbers are written as plain numbers, None
as an empty field.

Formula-injection escape (OWASP "CSV Injection"): model output and every other text field are
untrusted. A text field whose first character is `=`, `+`, `-`, `@`, tab, carriage return or
line feed, or one of the full-width forms `＝` `＋` `－` `＠` (which some spreadsheets also
read as formula starts), is written with a single quote `'` in front of it. Nothing else about
the text changes, so the original is the field minus that leading `'`. Numeric fields (seeds,
token counts, distances...) are never escaped: they stay numbers, even when negative.

No API key ever reaches an export: runs carry only the base URL's host.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from seedscope.analysis import ArmMetrics, ExperimentAnalysis
from seedscope.metrics import upper_triangle
from seedscope.providers.base import Completion
from seedscope.suite_analysis import CASE_TABLE_COLUMNS, SuiteAnalysis, case_metrics_dict

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")

RUNS_COLUMNS = (
    "experiment_id",
    "experiment_created_at",
    "started_at",
    "provider",
    "model",
    "base_url_host",
    "arm",
    "run_index",
    "requested_seed",
    "effective_seed",
    "temperature",
    "top_p",
    "max_tokens",
    "system_fingerprint",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "finish_reason",
    "error_type",
    "error_message",
    "text",
)
# `embedder` names the embedding model: cosine distances only compare within one embedder.
METRICS_COLUMNS = ("experiment_id", "embedder") + tuple(
    "arm" if name == "label" else name for name in ArmMetrics.__dataclass_fields__
)
# A suite's runs.csv: the columns of RUNS_COLUMNS with the case id before the arm.
SUITE_RUNS_COLUMNS = (*RUNS_COLUMNS[:6], "case_id", *RUNS_COLUMNS[6:])
CASES_COLUMNS = ("experiment_id", "embedder", *CASE_TABLE_COLUMNS)
SUITE_METRICS_COLUMNS = (
    "experiment_id",
    "embedder",
    "extractor",
    "arm",
    "n",
    "cases",
    "cases_excluded",
    "failed_runs",
    "tarr_at_n",
    "tarr_at_n_ci_low",
    "tarr_at_n_ci_high",
    "tara_at_n",
    "tara_at_n_ci_low",
    "tara_at_n_ci_high",
    "accuracy_cases",
    "accuracy_per_run",
    "accuracy_best",
    "accuracy_worst",
    "accuracy_spread",
)
ARM_DIFFERENCES_COLUMNS = (
    "experiment_id",
    "arm_a",
    "arm_b",
    "cases",
    "tarr_at_n_diff",
    "ci_low",
    "ci_high",
)
DISTANCES_COLUMNS = (
    "experiment_id",
    "embedder",
    "arm",
    "run_i",
    "run_j",
    "cosine_distance",
    "edit_distance",
)


def escape_formula(text: str) -> str:
    """The text with a leading `'` if a spreadsheet could read it as a formula (see above)."""
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if hasattr(value, "item"):  # numpy scalars: write as the plain Python number
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    return escape_formula(str(value))


def _to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _run_values(
    c: Completion,
    experiment_id: str | int,
    created_at: datetime | None,
    base_url_host: str | None,
) -> tuple[Any, ...]:
    """The fields of one run in RUNS_COLUMNS order."""
    return (
        experiment_id,
        created_at,
        c.started_at,
        c.provider,
        c.model,
        base_url_host,
        c.arm_label,
        c.run_index,
        c.requested_seed,
        c.effective_seed,
        c.temperature,
        c.top_p,
        c.max_tokens,
        c.system_fingerprint,
        c.prompt_tokens,
        c.completion_tokens,
        c.latency_s,
        c.finish_reason,
        c.error_type,
        c.error_message,
        c.text,
    )


def runs_csv(
    completions: Sequence[Completion],
    *,
    experiment_id: str | int,
    created_at: datetime | None = None,
    base_url_host: str | None = None,
) -> str:
    """One row per run, in the order given, with the columns of RUNS_COLUMNS."""
    rows = (_run_values(c, experiment_id, created_at, base_url_host) for c in completions)
    return _to_csv(RUNS_COLUMNS, rows)


def metrics_csv(analysis: ExperimentAnalysis, *, experiment_id: str | int) -> str:
    """One row per arm: every measure of ArmMetrics, in its field order."""
    embedder = analysis.embedder_id
    rows = ((experiment_id, embedder, *arm.metrics.to_dict().values()) for arm in analysis.arms)
    return _to_csv(METRICS_COLUMNS, rows)


def distances_csv(analysis: ExperimentAnalysis, *, experiment_id: str | int) -> str:
    """Long format: one row per pair of successful runs (i < j) in each arm."""

    def rows() -> Iterable[tuple[Any, ...]]:
        for arm in analysis.arms:
            count = len(arm.run_indices)
            pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
            cosine = upper_triangle(arm.distances)
            edit = upper_triangle(arm.edit_distances)
            for (i, j), cos_value, edit_value in zip(pairs, cosine, edit, strict=True):
                yield (
                    experiment_id,
                    analysis.embedder_id,
                    arm.label,
                    arm.run_indices[i],
                    arm.run_indices[j],
                    float(cos_value),
                    float(edit_value),
                )

    return _to_csv(DISTANCES_COLUMNS, rows())


def write_exports(
    directory: str | Path,
    completions: Sequence[Completion],
    analysis: ExperimentAnalysis,
    *,
    experiment_id: str | int,
    created_at: datetime | None = None,
    base_url_host: str | None = None,
) -> dict[str, Path]:
    """Write runs.csv, metrics.csv and distances.csv into `directory` (created if missing)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "runs.csv": runs_csv(
            completions,
            experiment_id=experiment_id,
            created_at=created_at,
            base_url_host=base_url_host,
        ),
        "metrics.csv": metrics_csv(analysis, experiment_id=experiment_id),
        "distances.csv": distances_csv(analysis, experiment_id=experiment_id),
    }
    return _write_files(folder, contents)


def suite_runs_csv(
    completions: Sequence[Completion],
    *,
    experiment_id: str | int,
    created_at: datetime | None = None,
    base_url_host: str | None = None,
) -> str:
    """One row per run of a suite, in the order given, with the columns of SUITE_RUNS_COLUMNS."""

    def rows() -> Iterable[tuple[Any, ...]]:
        for c in completions:
            values = _run_values(c, experiment_id, created_at, base_url_host)
            yield (*values[:6], c.case_id, *values[6:])

    return _to_csv(SUITE_RUNS_COLUMNS, rows())


def cases_csv(analysis: SuiteAnalysis, *, experiment_id: str | int) -> str:
    """One row per case × arm (suite case order, then arm order): every measure of CaseMetrics."""
    rows = (
        (experiment_id, analysis.embedder_id, *case_metrics_dict(row).values())
        for row in analysis.cases
    )
    return _to_csv(CASES_COLUMNS, rows)


def _bounds(interval: Any) -> tuple[float | None, float | None]:
    return (None, None) if interval is None else (interval.low, interval.high)


def suite_metrics_csv(analysis: SuiteAnalysis, *, experiment_id: str | int) -> str:
    """One row per arm: the suite figures with their interval bounds (SUITE_METRICS_COLUMNS)."""
    extractor = None if analysis.extractor is None else analysis.extractor.describe()
    rows = (
        (
            experiment_id,
            analysis.embedder_id,
            extractor,
            arm.label,
            arm.n,
            arm.cases,
            arm.cases_excluded,
            arm.failed_runs,
            arm.tarr_at_n,
            *_bounds(arm.tarr_at_n_ci),
            arm.tara_at_n,
            *_bounds(arm.tara_at_n_ci),
            arm.accuracy_cases,
            None if arm.accuracy_per_run is None else json.dumps(list(arm.accuracy_per_run)),
            arm.accuracy_best,
            arm.accuracy_worst,
            arm.accuracy_spread,
        )
        for arm in analysis.arms
    )
    return _to_csv(SUITE_METRICS_COLUMNS, rows)


def arm_differences_csv(analysis: SuiteAnalysis, *, experiment_id: str | int) -> str:
    """One row per pair of arms: TARr@N(a) - TARr@N(b) over the cases counted in both."""
    rows = (
        (experiment_id, d.a, d.b, d.cases, d.tarr_at_n_diff, *_bounds(d.ci))
        for d in analysis.differences
    )
    return _to_csv(ARM_DIFFERENCES_COLUMNS, rows)


def suite_export_files(
    completions: Sequence[Completion],
    analysis: SuiteAnalysis,
    *,
    experiment_id: str | int,
    created_at: datetime | None = None,
    base_url_host: str | None = None,
) -> dict[str, str]:
    """File name -> contents: runs.csv (with case_id), cases.csv, suite_metrics.csv and
    arm_differences.csv (what the CLI writes with --csv and the Suites page offers)."""
    return {
        "runs.csv": suite_runs_csv(
            completions,
            experiment_id=experiment_id,
            created_at=created_at,
            base_url_host=base_url_host,
        ),
        "cases.csv": cases_csv(analysis, experiment_id=experiment_id),
        "suite_metrics.csv": suite_metrics_csv(analysis, experiment_id=experiment_id),
        "arm_differences.csv": arm_differences_csv(analysis, experiment_id=experiment_id),
    }


def write_suite_exports(
    directory: str | Path,
    completions: Sequence[Completion],
    analysis: SuiteAnalysis,
    *,
    experiment_id: str | int,
    created_at: datetime | None = None,
    base_url_host: str | None = None,
) -> dict[str, Path]:
    """Write the files of `suite_export_files` into `directory`."""
    contents = suite_export_files(
        completions,
        analysis,
        experiment_id=experiment_id,
        created_at=created_at,
        base_url_host=base_url_host,
    )
    return _write_files(directory, contents)


def _write_files(directory: str | Path, contents: dict[str, str]) -> dict[str, Path]:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in contents.items():
        path = folder / name
        path.write_bytes(text.encode("utf-8"))
        paths[name] = path
    return paths

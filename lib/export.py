"""CSV exports: runs, per-arm metrics and pairwise distances, safe to open in a spreadsheet.

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
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from seedscope.analysis import ArmMetrics, ExperimentAnalysis
from seedscope.metrics import upper_triangle
from seedscope.providers.base import Completion

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


def runs_csv(
    completions: Sequence[Completion],
    *,
    experiment_id: str | int,
    created_at: datetime | None = None,
    base_url_host: str | None = None,
) -> str:
    """One row per run, in the order given, with the columns of RUNS_COLUMNS."""
    rows = (
        (
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
        for c in completions
    )
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
    paths = {}
    for name, text in contents.items():
        path = folder / name
        path.write_bytes(text.encode("utf-8"))
        paths[name] = path
    return paths

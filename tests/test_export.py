"""seedscope.export: exact bytes against golden files, formula escaping, pandas round trip."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from seedscope.analysis import ArmMetrics, ExperimentAnalysis, analyze
from seedscope.export import (
    DISTANCES_COLUMNS,
    METRICS_COLUMNS,
    RUNS_COLUMNS,
    distances_csv,
    escape_formula,
    metrics_csv,
    runs_csv,
    write_exports,
)
from seedscope.providers.base import Completion
from seedscope.settings import Settings

GOLDEN = Path(__file__).with_name("golden")
START = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
CREATED = datetime(2026, 3, 1, 11, 59, 58, tzinfo=UTC)

# Texts chosen to exercise every rule: formula starts (ASCII and full-width), quotes, commas,
# line breaks, non-ASCII, HTML, and texts that look like numbers.
TEXTS = {
    ("unseeded", 0): "The rover landed.",
    ("unseeded", 1): '=HYPERLINK("http://evil.example","click")',
    ("unseeded", 2): '+1, said the crew; "quoted" and\nmulti-line',
    ("unseeded", 3): "",  # failed run
    ("seeded", 0): "-42",
    ("seeded", 1): "@SUM(A1:A9)",
    ("seeded", 2): "\tTabbed start",
    ("seeded", 3): "＝１＋１ full-width",
    ("seeded", 4): "\r\nline feed start <b>bold</b> 🚀 Жук",
}
FAILED = {("unseeded", 3)}


def _completion(arm: str, run: int) -> Completion:
    failed = (arm, run) in FAILED
    seeded = arm == "seeded"
    return Completion(
        arm_label=arm,
        run_index=run,
        text=TEXTS[(arm, run)],
        system_fingerprint=None if failed else ("fp_abc123" if seeded else None),
        requested_seed=123 if seeded else None,
        effective_seed=123 if seeded else 987654321 + run,
        temperature=0.0 if seeded else 0.7,
        top_p=1.0,
        max_tokens=64,
        provider="openai",
        model="gpt-4o-mini",
        prompt_tokens=None if failed else 21,
        completion_tokens=None if failed else 10 + run,
        latency_s=0.125 * (run + 1),
        finish_reason=None if failed else "stop",
        started_at=START + timedelta(seconds=run),
        error_type="RateLimitError" if failed else None,
        error_message="-rate limited (HTTP 429), try later" if failed else None,
    )


COMPLETIONS = [_completion(arm, run) for (arm, run) in TEXTS]


class AxisEmbedder:
    """Maps each text to a fixed axis-aligned vector, so distances are exactly 0, 1 or 2.

    Golden files need numbers that are identical on every machine; real model vectors would
    differ in the last bits between BLAS builds. The export, not the embedder, is under test.
    """

    id = "test:axis"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        axes = {
            "The rover landed.": [1, 0, 0],
            '=HYPERLINK("http://evil.example","click")': [0, 1, 0],
            '+1, said the crew; "quoted" and\nmulti-line': [-1, 0, 0],
            "-42": [0, 0, 1],
            "@SUM(A1:A9)": [0, 0, 1],
            "\tTabbed start": [0, 1, 0],
            "＝１＋１ full-width": [0, 0, -1],
            "\r\nline feed start <b>bold</b> 🚀 Жук": [1, 0, 0],
        }
        return np.array([axes[text] for text in texts], dtype=np.float32)


@pytest.fixture
def analysis() -> ExperimentAnalysis:
    return analyze(COMPLETIONS, AxisEmbedder(), arm_order=["unseeded", "seeded"])


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    data = text.encode("utf-8")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{name} differs from {path} (UPDATE_GOLDEN=1 rewrites it)"


def test_runs_csv_golden_bytes():
    text = runs_csv(
        COMPLETIONS, experiment_id="exp-7", created_at=CREATED, base_url_host="api.openai.com"
    )
    _check_golden("runs.csv", text)


def test_metrics_csv_golden_bytes(analysis):
    _check_golden("metrics.csv", metrics_csv(analysis, experiment_id="exp-7"))


def test_distances_csv_golden_bytes(analysis):
    _check_golden("distances.csv", distances_csv(analysis, experiment_id="exp-7"))


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("＝1", "'＝1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠x", "'＠x"),
        ("", ""),
        ("plain", "plain"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("'already", "'already"),
    ],
)
def test_escape_formula(text, escaped):
    assert escape_formula(text) == escaped


def test_rfc4180_structure_and_stable_columns(analysis):
    text = runs_csv(COMPLETIONS, experiment_id="exp-7")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == RUNS_COLUMNS
    assert len(rows) == 1 + len(COMPLETIONS)
    assert all(len(row) == len(RUNS_COLUMNS) for row in rows)
    first_line = text.split("\r\n", 1)[0]
    assert first_line == ",".join(RUNS_COLUMNS)
    assert metrics_csv(analysis, experiment_id=1).split("\r\n", 1)[0] == ",".join(METRICS_COLUMNS)
    assert distances_csv(analysis, experiment_id=1).split("\r\n", 1)[0] == ",".join(
        DISTANCES_COLUMNS
    )
    assert METRICS_COLUMNS[2:] == ("arm", *list(ArmMetrics.__dataclass_fields__)[1:])


def test_numbers_stay_numbers_even_when_negative():
    negative = COMPLETIONS[0].with_changes(requested_seed=-5, effective_seed=-5)
    row = list(csv.reader(io.StringIO(runs_csv([negative], experiment_id=3), newline="")))[1]
    record = dict(zip(RUNS_COLUMNS, row, strict=True))
    assert record["experiment_id"] == "3"
    assert record["requested_seed"] == "-5"
    assert record["effective_seed"] == "-5"
    assert record["latency_s"] == "0.125"
    assert record["temperature"] == "0.7"


def test_every_text_column_is_escaped_and_numbers_are_not():
    hostile = COMPLETIONS[0].with_changes(
        arm_label="＠arm",
        provider="+provider",
        model="=model",
        system_fingerprint="－fp",
        finish_reason="@stop",
        error_type="\tType",
        error_message="\rmessage",
        text=TEXTS[("seeded", 4)],  # starts with a line break
    )
    row = list(csv.reader(io.StringIO(runs_csv([hostile], experiment_id="=id"), newline="")))[1]
    record = dict(zip(RUNS_COLUMNS, row, strict=True))
    text_columns = ["experiment_id", "provider", "model", "arm", "system_fingerprint"]
    text_columns += ["finish_reason", "error_type", "error_message", "text"]
    for column in text_columns:
        assert record[column].startswith("'"), column
    for column in ("run_index", "effective_seed", "temperature", "top_p", "max_tokens"):
        assert not record[column].startswith("'"), column
    ok = hostile.with_changes(error_type=None, error_message=None)
    analysis = analyze([ok, ok.with_changes(run_index=1)], AxisEmbedder(), None)
    analysis.embedder_id = "=embedder@host"  # an id partly from configuration
    metrics_row = list(csv.reader(io.StringIO(metrics_csv(analysis, experiment_id=1))))[1]
    distances_row = list(csv.reader(io.StringIO(distances_csv(analysis, experiment_id=1))))[1]
    assert metrics_row[1] == distances_row[1] == "'=embedder@host"
    assert metrics_row[2] == distances_row[2] == "'＠arm"


def test_runs_round_trip_through_pandas():
    text = runs_csv(COMPLETIONS, experiment_id="exp-7", created_at=CREATED)
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype={"text": str})
    assert list(frame.columns) == list(RUNS_COLUMNS)
    assert len(frame) == len(COMPLETIONS)
    for completion, read in zip(COMPLETIONS, frame["text"], strict=True):
        if completion.text and completion.text[0] in "=+-@\t\r\n＝＋－＠":
            assert read == "'" + completion.text  # the documented escape, nothing else
        else:
            assert read == completion.text
    numeric = ["run_index", "temperature", "top_p", "max_tokens", "latency_s", "effective_seed"]
    for column in numeric:
        assert pd.api.types.is_numeric_dtype(frame[column]), column
    assert frame["effective_seed"].tolist() == [c.effective_seed for c in COMPLETIONS]
    assert frame["arm"].tolist() == [c.arm_label for c in COMPLETIONS]
    assert frame["error_message"].tolist()[3] == "'-rate limited (HTTP 429), try later"


def test_metrics_and_distances_round_trip_through_pandas(analysis):
    metrics = pd.read_csv(io.StringIO(metrics_csv(analysis, experiment_id="exp-7")))
    assert metrics["arm"].tolist() == ["unseeded", "seeded"]
    assert metrics["runs"].tolist() == [4, 5]
    assert metrics["failed_runs"].tolist() == [1, 0]
    assert pd.api.types.is_numeric_dtype(metrics["mean_pairwise_distance"])
    assert metrics["mean_pairwise_distance"].tolist() == [
        analysis.arm("unseeded").metrics.mean_pairwise_distance,
        analysis.arm("seeded").metrics.mean_pairwise_distance,
    ]
    assert metrics["embedder"].tolist() == ["test:axis", "test:axis"]
    distances = pd.read_csv(io.StringIO(distances_csv(analysis, experiment_id="exp-7")))
    assert set(distances["embedder"]) == {"test:axis"}
    assert len(distances) == 3 + 10  # 3 successful unseeded runs, 5 seeded runs: n(n-1)/2 pairs
    unseeded = distances[distances["arm"] == "unseeded"]
    assert unseeded[["run_i", "run_j"]].values.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert unseeded["cosine_distance"].tolist() == [1.0, 2.0, 1.0]


def test_no_key_reaches_an_export(tmp_path, analysis):
    key = "sk-export-secret-000111222333"
    settings = Settings(openai_api_key=key, openai_base_url="https://user:pw@llm.example:8443/v1")
    paths = write_exports(
        tmp_path / "out",
        COMPLETIONS,
        analysis,
        experiment_id="exp-7",
        base_url_host=settings.base_url_host,
    )
    assert sorted(paths) == ["distances.csv", "metrics.csv", "runs.csv"]
    for path in paths.values():
        content = path.read_bytes()
        assert key.encode() not in content and b"pw@" not in content
    runs = pd.read_csv(paths["runs.csv"])
    assert set(runs["base_url_host"]) == {"llm.example:8443"}


def test_write_exports_writes_the_same_bytes_as_the_functions(tmp_path, analysis):
    paths = write_exports(tmp_path, COMPLETIONS, analysis, experiment_id="exp-7")
    assert paths["runs.csv"].read_bytes() == runs_csv(COMPLETIONS, experiment_id="exp-7").encode()
    assert (
        paths["metrics.csv"].read_bytes() == metrics_csv(analysis, experiment_id="exp-7").encode()
    )
    assert (
        paths["distances.csv"].read_bytes()
        == distances_csv(analysis, experiment_id="exp-7").encode()
    )


def test_empty_inputs_give_a_header_only():
    empty = ExperimentAnalysis(arms=[], between_arms=[])
    assert runs_csv([], experiment_id="x") == ",".join(RUNS_COLUMNS) + "\r\n"
    assert metrics_csv(empty, experiment_id="x") == ",".join(METRICS_COLUMNS) + "\r\n"
    assert distances_csv(empty, experiment_id="x") == ",".join(DISTANCES_COLUMNS) + "\r\n"

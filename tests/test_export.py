"""seedscope.export: exact bytes against golden files, formula escaping, pandas round trip."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from seedscope.analysis import ArmMetrics, ExperimentAnalysis, analyze
from seedscope.answers import AnswerExtractor
from seedscope.export import (
    CASES_COLUMNS,
    DISTANCES_COLUMNS,
    METRICS_COLUMNS,
    RUNS_COLUMNS,
    SUITE_METRICS_COLUMNS,
    arm_differences_csv,
    cases_csv,
    distances_csv,
    escape_formula,
    metrics_csv,
    runs_csv,
    suite_metrics_csv,
    suite_runs_csv,
    write_exports,
    write_suite_exports,
)
from seedscope.providers.base import Completion
from seedscope.settings import Settings
from seedscope.stats import wilson_interval
from seedscope.suite_analysis import SuiteAnalysis, analyze_suite
from seedscope.suites import Case

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


# --- Suite exports -------------------------------------------------------------------------

SUITE_CASES = [
    Case(id="q1", prompt="What is six times seven?", expected="42"),
    Case(id="=q2", prompt="Minus forty-two?", expected="-42"),  # a hostile case id
]
# (case, arm) -> outputs in run order; None is a failed run. N = 3.
SUITE_TEXTS: dict[tuple[str, str], list[str | None]] = {
    ("q1", "unseeded"): ["Answer: 42", '=HYPERLINK("http://evil.example","click")', "Answer: 41"],
    ("q1", "seeded"): ["Answer: 42", "Answer: 42", "Answer: 42"],
    ("=q2", "unseeded"): ["-42", '+42, "quoted" and\nmulti-line', None],
    ("=q2", "seeded"): ["-42", "-42", "-42"],
}
SUITE_AXES = {
    "Answer: 42": [1, 0, 0],
    '=HYPERLINK("http://evil.example","click")': [0, 1, 0],
    "Answer: 41": [1, 0, 0],
    "-42": [0, 0, 1],
    '+42, "quoted" and\nmulti-line': [0, 0, -1],
}


class SuiteAxisEmbedder:
    id = "test:axis"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([SUITE_AXES[text] for text in texts], dtype=np.float32)


def _suite_completions() -> list[Completion]:
    runs = []
    for (case_id, arm), texts in SUITE_TEXTS.items():
        for run, text in enumerate(texts):
            base = _completion(arm, min(run, 2))
            failed = text is None
            runs.append(
                base.with_changes(
                    run_index=run,
                    text=text or "",
                    case_id=case_id,
                    error_type="APITimeoutError" if failed else None,
                    error_message="-timed out" if failed else None,
                    finish_reason=None if failed else "stop",
                )
            )
    return runs


SUITE_COMPLETIONS = _suite_completions()


@pytest.fixture
def suite_analysis() -> SuiteAnalysis:
    return analyze_suite(
        SUITE_COMPLETIONS,
        SUITE_CASES,
        ["unseeded", "seeded"],
        3,
        extractor=AnswerExtractor(kind="last_number"),
        embedder=SuiteAxisEmbedder(),
        resamples=200,
    )


def _records(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_suite_runs_csv_golden_bytes():
    text = suite_runs_csv(
        SUITE_COMPLETIONS, experiment_id="suite-9", created_at=CREATED, base_url_host="h:8080"
    )
    _check_golden("suite_runs.csv", text)


def test_cases_csv_golden_bytes(suite_analysis):
    _check_golden("cases.csv", cases_csv(suite_analysis, experiment_id="suite-9"))


def test_suite_metrics_csv_golden_bytes(suite_analysis):
    _check_golden("suite_metrics.csv", suite_metrics_csv(suite_analysis, experiment_id="suite-9"))


def test_arm_differences_csv_golden_bytes(suite_analysis):
    text = arm_differences_csv(suite_analysis, experiment_id="suite-9")
    _check_golden("arm_differences.csv", text)


def test_suite_runs_csv_is_runs_csv_with_a_case_id_before_the_arm():
    suite_rows = _records(suite_runs_csv(SUITE_COMPLETIONS, experiment_id="s"))
    plain_rows = _records(runs_csv(SUITE_COMPLETIONS, experiment_id="s"))
    assert tuple(suite_rows[0]) == (*RUNS_COLUMNS[:6], "case_id", *RUNS_COLUMNS[6:])
    assert [row.pop("case_id") for row in suite_rows] == ["q1"] * 6 + ["'=q2"] * 6
    assert suite_rows == plain_rows


def test_cases_csv_holds_every_measure_of_every_case_and_arm(suite_analysis):
    rows = _records(cases_csv(suite_analysis, experiment_id="suite-9"))
    assert tuple(rows[0]) == CASES_COLUMNS
    assert [(r["case_id"], r["arm"]) for r in rows] == [
        ("q1", "unseeded"),
        ("q1", "seeded"),
        ("'=q2", "unseeded"),
        ("'=q2", "seeded"),
    ]
    q1_unseeded, q1_seeded, q2_unseeded, q2_seeded = rows
    # last_number: 42, none (no digits), 41 -> one unparseable answer; one run correct
    assert (q1_unseeded["label"], q1_unseeded["tarr"], q1_unseeded["tara"]) == (
        "unparseable",
        "0",
        "0",
    )
    assert (q1_unseeded["unparseable_answers"], q1_unseeded["correct_runs"]) == ("1", "1")
    assert (q1_seeded["label"], q1_seeded["tarr"], q1_seeded["correct_runs"]) == (
        "stable",
        "1",
        "3",
    )
    assert q1_seeded["modal_share_ci_low"] == str(wilson_interval(3, 3).low)
    # =q2 unseeded: a failed run leaves 2 of 3 -> excluded, @N measures empty
    assert (q2_unseeded["excluded"], q2_unseeded["runs"], q2_unseeded["failed_runs"]) == (
        "1",
        "2",
        "1",
    )
    assert (q2_unseeded["tarr"], q2_unseeded["tara"], q2_unseeded["label"]) == ("", "", "")
    assert q2_unseeded["mean_pairwise_distance"] == "2.0"  # opposite axes
    assert (q2_seeded["label"], q2_seeded["correct_runs"]) == ("stable", "3")


def test_suite_metrics_and_differences_csv(suite_analysis):
    unseeded, seeded = _records(suite_metrics_csv(suite_analysis, experiment_id="suite-9"))
    assert unseeded["extractor"] == seeded["extractor"] == "last number"
    assert (unseeded["cases"], unseeded["cases_excluded"], unseeded["failed_runs"]) == (
        "1",
        "1",
        "1",
    )
    assert (unseeded["tarr_at_n"], unseeded["tarr_at_n_ci_low"], unseeded["tarr_at_n_ci_high"]) == (
        "0.0",
        "0.0",
        "0.0",
    )
    assert unseeded["accuracy_per_run"] == "[1.0, 0.0, 0.0]"  # q1 only: runs 0, 1, 2
    assert (unseeded["accuracy_best"], unseeded["accuracy_worst"]) == ("1.0", "0.0")
    assert json.loads(seeded["accuracy_per_run"]) == [1.0, 1.0, 1.0]
    assert (seeded["tarr_at_n"], seeded["tara_at_n_ci_high"], seeded["accuracy_spread"]) == (
        "1.0",
        "1.0",
        "0.0",
    )
    (difference,) = _records(arm_differences_csv(suite_analysis, experiment_id="suite-9"))
    # Counted in both: q1 only; TARr 0 - 1, a negative number that stays a number.
    assert difference == {
        "experiment_id": "suite-9",
        "arm_a": "unseeded",
        "arm_b": "seeded",
        "cases": "1",
        "tarr_at_n_diff": "-1.0",
        "ci_low": "-1.0",
        "ci_high": "-1.0",
    }


def test_suite_exports_escape_every_text_column(suite_analysis):
    hostile = SUITE_COMPLETIONS[1].with_changes(arm_label="＠arm", model="=model", case_id="+case")
    (run,) = _records(suite_runs_csv([hostile], experiment_id="-1"))
    for column in ("experiment_id", "arm", "model", "case_id", "text"):
        assert run[column].startswith("'"), column
    assert run["case_id"] == "'+case"
    assert run["run_index"] == "1"
    suite_analysis.embedder_id = "=embedder@host"  # an id partly from configuration
    cases = _records(cases_csv(suite_analysis, experiment_id="@id"))
    assert {row["experiment_id"] for row in cases} == {"'@id"}
    assert {row["embedder"] for row in cases} == {"'=embedder@host"}
    assert cases[2]["case_id"] == "'=q2"
    labelled = analyze_suite(
        [c.with_changes(arm_label="=arm") for c in SUITE_COMPLETIONS],
        SUITE_CASES,
        ["=arm"],
        6,
        extractor=AnswerExtractor(kind="regex", pattern="(=.*)"),
    )
    (metrics_row,) = _records(suite_metrics_csv(labelled, experiment_id=1))
    assert metrics_row["arm"] == "'=arm"
    assert metrics_row["extractor"] == "regex '(=.*)'"  # starts with a letter: no formula
    assert {row["arm"] for row in _records(cases_csv(labelled, experiment_id=1))} == {"'=arm"}
    differences = analyze_suite(
        [
            c.with_changes(arm_label="=a" if c.arm_label == "seeded" else "-b")
            for c in SUITE_COMPLETIONS
        ],
        SUITE_CASES,
        ["=a", "-b"],
        3,
    )
    (row,) = _records(arm_differences_csv(differences, experiment_id=1))
    assert (row["arm_a"], row["arm_b"], row["tarr_at_n_diff"]) == ("'=a", "'-b", "1.0")


def test_write_suite_exports_writes_the_same_bytes_and_no_key(tmp_path, suite_analysis):
    key = "sk-suite-secret-000111222333"
    settings = Settings(openai_api_key=key, openai_base_url="https://user:pw@llm.example:8443/v1")
    paths = write_suite_exports(
        tmp_path / "suite",
        SUITE_COMPLETIONS,
        suite_analysis,
        experiment_id="suite-9",
        created_at=CREATED,
        base_url_host=settings.base_url_host,
    )
    assert sorted(paths) == ["arm_differences.csv", "cases.csv", "runs.csv", "suite_metrics.csv"]
    expected = {
        "runs.csv": suite_runs_csv(
            SUITE_COMPLETIONS,
            experiment_id="suite-9",
            created_at=CREATED,
            base_url_host="llm.example:8443",
        ),
        "cases.csv": cases_csv(suite_analysis, experiment_id="suite-9"),
        "suite_metrics.csv": suite_metrics_csv(suite_analysis, experiment_id="suite-9"),
        "arm_differences.csv": arm_differences_csv(suite_analysis, experiment_id="suite-9"),
    }
    for name, path in paths.items():
        content = path.read_bytes()
        assert content == expected[name].encode("utf-8"), name
        assert key.encode() not in content and b"pw@" not in content


def test_suite_csvs_round_trip_through_pandas(suite_analysis):
    cases = pd.read_csv(io.StringIO(cases_csv(suite_analysis, experiment_id="suite-9")))
    assert list(cases.columns) == list(CASES_COLUMNS)
    for column in ("runs", "modal_share", "modal_share_ci_low", "mean_edit_distance"):
        assert pd.api.types.is_numeric_dtype(cases[column]), column
    assert cases["mean_edit_distance"].tolist() == [
        row.mean_edit_distance for row in suite_analysis.cases
    ]
    metrics = pd.read_csv(io.StringIO(suite_metrics_csv(suite_analysis, experiment_id="s")))
    assert list(metrics.columns) == list(SUITE_METRICS_COLUMNS)
    assert metrics["tarr_at_n"].tolist() == [0.0, 1.0]

"""lib/imports.py: outputs generated elsewhere, stored as a complete experiment of kind 'import'
and analysed like any suite. Every bad row is refused with its row number and field, and then
nothing at all is stored."""

from __future__ import annotations

import csv
import io
import json
import random
import time

import pytest
from seedscope.answers import AnswerExtractor
from seedscope.imports import import_outputs, load_import_file, parse_import
from seedscope.spec import Limits, SpecError
from seedscope.store import Store, StoreError
from seedscope.suites import Case


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'history.db'}") as opened:
        yield opened


def csv_text(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def refused(data: str | bytes, filename: str = "outputs.csv", **limits: int) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_import(data, filename=filename, limits=Limits(**limits))
    return caught.value.messages


KNOWN = """case_id,arm,run,text,prompt,expected,model,system_fingerprint,seed,temperature
q1,seeded,0,The answer is 4,2+2?,4,gpt-x,fp_1,7,0
q1,seeded,1,The answer is 4,2+2?,4,gpt-x,fp_1,7,0
q1,free,0,"It is 4,
surely",2+2?,,gpt-x,,,0.7
q1,free,1,I think 5,,,gpt-x,,,0.7
q2,seeded,0,Paris,Capital of France?,paris,gpt-x,fp_1,7,0
q2,seeded,1,Paris,,,gpt-x,fp_2,7,
q2,free,0,Lyon,,,gpt-x,,,0.7
q2,free,1,,,,gpt-x,,,0.7
"""


def test_csv_import_rebuilds_the_suite_and_stores_every_row_as_a_run(store):
    imported = parse_import(
        KNOWN, filename="exam.csv", extractor=AnswerExtractor(kind="last_number")
    )
    spec = imported.spec
    assert spec.suite.name == "exam" and spec.provider == "import" and spec.model == "gpt-x"
    assert spec.cases == [
        Case(id="q1", prompt="2+2?", expected="4"),
        Case(id="q2", prompt="Capital of France?", expected="paris"),
    ]
    assert [(a.label, a.seed, a.temperature, a.runs) for a in spec.arms] == [
        ("seeded", 7, 0.0, 2),
        ("free", None, 0.7, 2),
    ]
    assert spec.extractor == AnswerExtractor(kind="last_number")

    experiment_id = import_outputs(store, imported)

    stored = store.load_experiment(experiment_id)
    assert (stored.kind, stored.status, stored.spec) == ("import", "complete", spec)
    assert stored.summary.kind == "import" and stored.summary.runs == 8
    assert [(c.case_id, c.arm_label, c.run_index) for c in stored.completions] == [
        (case, arm, run) for case in ("q1", "q2") for arm in ("seeded", "free") for run in (0, 1)
    ]
    by_key = {(c.case_id, c.arm_label, c.run_index): c for c in stored.completions}
    assert by_key[("q1", "free", 0)].text == "It is 4,\nsurely"  # quoted multi-line cell
    assert by_key[("q2", "free", 1)].text == ""  # an empty output is an output
    assert by_key[("q2", "seeded", 1)].system_fingerprint == "fp_2"
    assert by_key[("q1", "free", 0)].system_fingerprint is None
    assert by_key[("q1", "seeded", 0)].requested_seed == 7
    assert all(c.ok and c.provider == "import" for c in stored.completions)
    assert store.drift_series() == []  # not requests Seedscope sent: no drift series


def test_jsonl_import_takes_numbers_for_ids_and_runs_numbered_from_one(tmp_path):
    path = tmp_path / "runs.jsonl"
    lines = [
        {"case_id": 1, "arm": "a", "run": 1, "text": "x", "expected": 3},
        {"case_id": 1, "arm": "a", "run": 2, "text": "y"},
        {"case_id": "two", "arm": "a", "run": 1, "text": "z", "model": "m1"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    imported = load_import_file(path)
    assert [case.id for case in imported.spec.cases] == ["1", "two"]
    assert imported.spec.cases[0].expected == "3"
    assert [(c.case_id, c.run_index, c.model) for c in imported.completions] == [
        ("1", 1, "m1"),
        ("1", 2, "m1"),
        ("two", 1, "m1"),
    ]
    assert imported.spec.arms[0].runs == 2


def test_bad_rows_are_refused_with_row_number_and_field():
    data = (
        "case_id,arm,run,text,seed,temperature\n"
        "q1,a,0,ok,,\n"
        ",a,1,no case,,\n"
        "q1,,1,no arm,,\n"
        "q1,a,one,not a number,,\n"
        "q1,a,1.5,not an integer,,\n"
        "q1,a,-1,negative,,\n"
        "q1,a,0,duplicate,,\n"
        "q1,a,2\n"  # short row: no text cell
        "q1,a,3,bad seed,x,\n"
        "q1,a,4,bad temperature,,hot\n"
        "q1,a,5,too hot,,3\n"
    )
    assert refused(data) == [
        "outputs.csv: data row 2 (line 3): case_id: missing or empty; every row needs one",
        "outputs.csv: data row 3 (line 4): arm: missing or empty; every row needs one",
        "outputs.csv: data row 4 (line 5): run: 'one' is not an integer",
        "outputs.csv: data row 5 (line 6): run: '1.5' is not an integer",
        "outputs.csv: data row 6 (line 7): run: -1 is negative; runs are numbered from 0 or 1",
        "outputs.csv: data row 8 (line 9): text: missing; every row needs the output text",
        "outputs.csv: data row 9 (line 10): seed: 'x' is not an integer",
        "outputs.csv: data row 10 (line 11): temperature: 'hot' is not a number",
        "outputs.csv: data row 11 (line 12): temperature: 3 is out of range; allowed 0 to 2",
        # Duplicates are found once every row is readable.
    ]
    duplicate = "case_id,arm,run,text\nq1,a,0,x\nq2,a,0,y\nq1,a,0,z\n"
    assert refused(duplicate) == [
        "outputs.csv: data row 3 (line 4): run: case 'q1', arm 'a', run 0 is already given by "
        "data row 1 (line 2)"
    ]


def test_rows_of_one_case_or_arm_that_disagree_are_refused():
    data = "case_id,arm,run,text,prompt,temperature\nq1,a,0,x,Hello?,0\nq1,a,1,y,Goodbye?,0.5\n"
    assert refused(data) == [
        "outputs.csv: data row 2 (line 3): prompt: 'Goodbye?' differs from 'Hello?' given for "
        "case 'q1' by data row 1 (line 2)",
        "outputs.csv: data row 2 (line 3): temperature: 0.5 differs from 0.0 given for arm 'a' "
        "by data row 1 (line 2)",
    ]


def test_header_problems_encoding_json_and_formats():
    assert refused("case_id,arm,text,score\n") == [
        "outputs.csv: header (line 1): column 4: 'score' is not a known column; allowed "
        "case_id, arm, run, text, and optionally prompt, expected, model, "
        "system_fingerprint, seed, temperature",
        "outputs.csv: header (line 1): run: missing column; case_id, arm, run, text, and "
        "optionally prompt, expected, model, system_fingerprint, seed, temperature",
    ]
    assert refused("case_id,arm,run,text\nq1,a,0,caf\u00e9\n".encode("cp1252")) == [
        "outputs.csv: line 2: not UTF-8 text (byte 0xe9 at position 31); save the file as UTF-8"
    ]
    jsonl = '{"case_id": "q", "arm": "a", "run": 0, "text": "t"}\n{"case_id": \n[]\n'
    assert refused(jsonl, "o.jsonl") == [
        "o.jsonl: line 2: not valid JSON (Expecting value at column 13)",
        "o.jsonl: line 3: must be a JSON object with keys case_id, arm, run, text, and "
        "optionally prompt, expected, model, system_fingerprint, seed, temperature",
    ]
    assert refused(
        '{"case_id": "q", "arm": "a", "run": true, "text": 5, "note": 1}', "o.jsonl"
    ) == [
        "o.jsonl: line 1: 'note': not a known key; allowed case_id, arm, run, text, and "
        "optionally prompt, expected, model, system_fingerprint, seed, temperature",
        "o.jsonl: line 1: run: True is not an integer",
        "o.jsonl: line 1: text: 5 is not text",
    ]
    assert refused("case_id,arm,run,text\n") == [
        "outputs.csv: no outputs; the file has no data rows"
    ]
    assert refused("x", "o.txt") == [
        "o.txt: an outputs file name must end in .csv, .jsonl, .ndjson"
    ]


def test_more_cases_than_the_limit_is_refused():
    data = "case_id,arm,run,text\n" + "".join(f"q{n},a,0,t\n" for n in range(4))
    assert refused(data, max_cases=3) == [
        "outputs.csv: suite: the suite has 4 cases; allowed at most 3 (SEEDSCOPE_MAX_CASES)"
    ]


def test_a_refused_file_stores_nothing_and_a_failing_insert_rolls_everything_back(store):
    with pytest.raises(SpecError):
        parse_import("case_id,arm,run,text\nq1,a,0,x\nq1,a,0,y\n", filename="o.csv")
    assert store.count_experiments() == 0
    imported = parse_import("case_id,arm,run,text\nq1,a,0,x\nq1,a,1,y\n", filename="o.csv")
    # A run the database refuses (here: a duplicate slipped past validation) rolls back the
    # experiment row too: one transaction.
    broken = imported.completions + [imported.completions[0]]
    with pytest.raises(StoreError, match="importing outputs"):
        store.create_imported_experiment(imported.spec, broken)
    assert store.count_experiments() == 0


def test_thousands_of_kilobyte_rows_import_quickly(store, capsys):
    rng = random.Random(5)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    rows = []
    for case in range(250):
        for arm in ("seeded", "unseeded"):
            for run in range(5):
                text = " ".join(rng.choice(words) for _ in range(200))[:1000]
                rows.append({"case_id": f"c{case}", "arm": arm, "run": run, "text": text})
    data = csv_text(rows, ["case_id", "arm", "run", "text"]).encode()
    assert len(rows) == 2500 and len(data) > 2_400_000  # ~1 KB of text per row

    start = time.perf_counter()
    imported = parse_import(data, filename="big.csv")
    parsed = time.perf_counter()
    experiment_id = import_outputs(store, imported)
    stored_at = time.perf_counter()
    loaded = store.load_experiment(experiment_id)
    loaded_at = time.perf_counter()

    with capsys.disabled():
        print(
            f"\nimport of 2,500 rows ({len(data) / 1e6:.1f} MB): parse+validate "
            f"{parsed - start:.3f} s, store {stored_at - parsed:.3f} s, "
            f"load {loaded_at - stored_at:.3f} s"
        )
    assert loaded.summary.runs == 2500
    assert [c.text for c in loaded.completions] == [row["text"] for row in rows]
    assert len(loaded.spec.cases) == 250 and [a.runs for a in loaded.spec.arms] == [5, 5]

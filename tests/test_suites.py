"""lib/suites.py: loading suites from CSV, JSONL and typed text, and suite specs.

Every invalid input gives one message per problem naming the row or line (as a user counts
them) and the field; nothing is returned for a file with any problem.
"""

from __future__ import annotations

import json

import pytest
from seedscope.answers import AnswerExtractor
from seedscope.spec import Limits, SpecError, preset_arms
from seedscope.suites import (
    Case,
    SuiteSpec,
    load_suite_file,
    parse_suite,
    suite_from_lines,
    validate_suite_spec,
)


def problems(data: bytes | str, filename: str = "cases.csv", **limits: int) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_suite(data, filename=filename, limits=Limits(**limits))
    return caught.value.messages


# -- valid files ------------------------------------------------------------------------------


def test_csv_with_every_column_quoted_multiline_cells_and_a_bom():
    data = (
        "\ufeffid,prompt,system,expected\n"
        'q1,"Add 2 and 2.\nAnswer with a number.",You are terse.,4\n'
        "\n"  # blank lines are not cases
        "q2,Capital of France?,,Paris\n"
        "q3,Say hi.\n"  # a short row: the optional cells are unset
    ).encode()
    suite = parse_suite(data, filename="maths.csv")
    assert suite.name == "maths"
    assert suite.cases == [
        Case(
            id="q1",
            prompt="Add 2 and 2.\nAnswer with a number.",
            system="You are terse.",
            expected="4",
        ),
        Case(id="q2", prompt="Capital of France?", system=None, expected="Paris"),
        Case(id="q3", prompt="Say hi."),
    ]


def test_csv_columns_in_any_order_and_case(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Prompt, ID\nHello?,h1\n", encoding="utf-8")
    assert load_suite_file(path).cases == [Case(id="h1", prompt="Hello?")]


def test_jsonl_accepts_numbers_for_ids_and_expected_answers_and_null_system():
    lines = [
        {"id": 1, "prompt": "1+1?", "expected": 2},
        {"id": "b", "prompt": "Colour of the sky?", "system": None},
    ]
    data = "\n".join(json.dumps(line) for line in lines) + "\n\n"  # blank lines skipped
    suite = parse_suite(data, filename="qa.jsonl")
    assert suite.cases == [
        Case(id="1", prompt="1+1?", expected="2"),
        Case(id="b", prompt="Colour of the sky?"),
    ]


def test_typed_text_is_one_prompt_per_line_with_generated_ids():
    suite = suite_from_lines("First?\n\n   \nSecond?\r\nThird?")
    assert [(case.id, case.prompt) for case in suite.cases] == [
        ("case-1", "First?"),
        ("case-2", "Second?"),
        ("case-3", "Third?"),
    ]
    assert parse_suite(b"A\nB\n", filename="p.txt").cases[1] == Case(id="case-2", prompt="B")


# -- invalid files: row and field named --------------------------------------------------------


def test_csv_duplicate_id_and_empty_prompt_name_the_data_row_and_line():
    data = "id,prompt\nq1,Hi\nq2,  \n\nq1,Again\n"
    assert problems(data) == [
        "cases.csv: data row 2 (line 3): prompt: empty; type the request to send",
        "cases.csv: data row 3 (line 5): id: 'q1' is already the id of data row 1 (line 2)",
    ]


def test_csv_unknown_repeated_and_missing_columns_are_header_problems():
    assert problems("id,question,id\nq1,Hi,q1\n") == [
        "cases.csv: header (line 1): column 2: 'question' is not a known column; "
        "allowed id, prompt, and optionally system, expected",
        "cases.csv: header (line 1): column 3: 'id' appears twice",
        "cases.csv: header (line 1): prompt: missing column; "
        "id, prompt, and optionally system, expected",
    ]


def test_csv_row_with_too_many_fields_and_missing_id():
    assert problems("id,prompt\nq1,Hi,extra\n,Hello\n") == [
        "cases.csv: data row 1 (line 2): has 3 fields; the header has 2",
        "cases.csv: data row 2 (line 3): id: missing or empty; give every case an id",
    ]


def test_prompt_over_the_limit_names_the_setting():
    data = "id,prompt\nshort,ok\nlong," + "x" * 41 + "\n"
    assert problems(data, max_prompt_chars=40) == [
        "cases.csv: data row 2 (line 3): prompt: 41 characters; allowed at most 40 "
        "(SEEDSCOPE_MAX_PROMPT_CHARS)"
    ]


def test_file_that_is_not_utf8_names_the_line_and_byte():
    data = "id,prompt\nq1,caf\u00e9\n".encode("latin-1")
    assert problems(data) == [
        "cases.csv: line 2: not UTF-8 text (byte 0xe9 at position 16); save the file as UTF-8"
    ]


def test_jsonl_bad_json_non_objects_unknown_keys_and_wrong_types_name_the_line():
    data = "\n".join(
        [
            '{"id": "a", "prompt": "ok"}',
            '{"id": "b", "prompt": ',
            "[1, 2]",
            '{"id": "c", "prompt": "hi", "answer": "x"}',
            '{"id": "d", "prompt": 5}',
            '{"id": true, "prompt": "yes"}',
            '{"prompt": "no id"}',
        ]
    )
    assert problems(data, filename="s.jsonl") == [
        "s.jsonl: line 2: not valid JSON (Expecting value at column 23)",
        "s.jsonl: line 3: must be a JSON object with keys id, prompt, and optionally system, "
        "expected",
        "s.jsonl: line 4: 'answer': not a known key; allowed id, prompt, and optionally "
        "system, expected",
        "s.jsonl: line 5: prompt: 5 is not text",
        "s.jsonl: line 6: id: True is not text",
        "s.jsonl: line 6: id: missing or empty; give every case an id",
        "s.jsonl: line 7: id: missing or empty; give every case an id",
    ]


def test_more_cases_than_the_limit_is_refused_naming_the_setting():
    data = "\n".join(f"prompt {n}" for n in range(4))
    assert problems(data, filename="p.txt", max_cases=3) == [
        "p.txt: the suite: has 4 cases; allowed at most 3 (SEEDSCOPE_MAX_CASES)"
    ]


def test_empty_files_and_unknown_extensions():
    assert problems(b"", filename="s.csv") == [
        "s.csv: the file is empty; the first row must be the header id, prompt, and "
        "optionally system, expected"
    ]
    assert problems(b"id,prompt\n\n", filename="s.csv") == [
        "s.csv: no cases; give at least one prompt"
    ]
    assert problems(b"{}", filename="s.json") == [
        "s.json: a suite file name must end in .csv, .jsonl, .ndjson, .txt"
    ]


def test_many_bad_rows_report_the_first_twenty_and_a_count():
    data = "id,prompt\n" + "".join(f"q{n},\n" for n in range(30))
    messages = problems(data)
    assert len(messages) == 21
    assert messages[0].startswith("cases.csv: data row 1 (line 2): prompt: empty")
    assert messages[-1] == "cases.csv: ... and 10 more problems"


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_suite_file(tmp_path / "absent.csv")


# -- suite specs -------------------------------------------------------------------------------


def suite_data(cases: int = 2, runs: int = 3, **fields) -> dict:
    return {
        "suite": {
            "name": "s",
            "cases": [{"id": f"c{n}", "prompt": f"p{n}"} for n in range(cases)],
        },
        "arms": preset_arms("cookbook", runs=runs),
        **fields,
    }


def test_suite_spec_round_trips_through_json_with_its_extractor():
    spec = validate_suite_spec(
        suite_data(extractor={"kind": "regex", "pattern": r"answer: (\w+)"}, provider="openai")
    )
    assert spec.total_runs == 2 * 6 and spec.runs_per_case == 6
    assert spec.extractor == AnswerExtractor(kind="regex", pattern=r"answer: (\w+)")
    assert SuiteSpec.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(Exception, match="frozen"):
        spec.model = "other"  # type: ignore[misc]


def test_suite_spec_total_runs_limit_counts_cases_times_runs_of_all_arms():
    limits = Limits(max_suite_runs=11)
    with pytest.raises(SpecError) as caught:
        validate_suite_spec(suite_data(cases=2, runs=3), limits)
    assert caught.value.messages == [
        "runs: 2 cases x 6 runs of all arms = 12 runs; allowed at most 11 "
        "(SEEDSCOPE_MAX_SUITE_RUNS): use fewer cases, arms or runs"
    ]
    assert validate_suite_spec(suite_data(cases=2, runs=3), Limits(max_suite_runs=12))


def test_suite_spec_refuses_too_many_cases_bad_fields_and_seeds():
    data = suite_data(cases=3, max_tokens=0, top_p=0)
    data["arms"][1]["seed"] = 0  # llama.cpp's "default seed": not a fixed seed locally
    with pytest.raises(SpecError) as caught:
        validate_suite_spec(data, Limits(max_cases=2))
    messages = caught.value.messages
    assert messages[0] == "suite: the suite has 3 cases; allowed at most 2 (SEEDSCOPE_MAX_CASES)"
    assert messages[1].startswith("max_tokens: max_tokens 0 is out of range")
    assert messages[2].startswith("top_p: top_p 0.0 is out of range")
    assert len(messages) == 3  # field errors first; seeds are checked on a valid spec


def test_case_system_falls_back_to_the_suite_default():
    data = suite_data(cases=1)
    data["suite"]["cases"].append({"id": "own", "prompt": "x", "system": ""})
    spec = validate_suite_spec(data | {"system": "Default."})
    assert spec.case_requests() == {"c0": ("p0", "Default."), "own": ("x", "")}

"""seedscope.answers: each extractor on tricky outputs, TARa, labels, the accuracy range."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from seedscope.answers import (
    AnswerExtractor,
    accuracy_range,
    case_label,
    distinct_answers,
    first_json_object,
    is_correct,
    last_number,
    modal_answer,
    normalise_answer,
    tara,
)

REGEX = AnswerExtractor(kind="regex", pattern=r"[Aa]nswer:\s*(\w+)")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Reasoning...\nAnswer: Paris", "Paris"),
        ("answer: B. Answer: C", "B"),  # re.search: the first match wins
        ("No final line here", None),
        ("", None),
        ("Answer:\n\n  42 apples", "42"),  # \s matches line breaks
    ],
)
def test_regex_first_capture_group(text, answer):
    assert REGEX.extract(text) == answer


def test_regex_without_a_group_gives_the_whole_match_and_flags_go_inline():
    assert AnswerExtractor(kind="regex", pattern=r"\b[A-D]\b").extract("I pick C, not D") == "C"
    assert AnswerExtractor(kind="regex", pattern=r"(?i)final: (yes|no)").extract("FINAL: No") == (
        "No"
    )


def test_regex_first_group_that_did_not_take_part_is_no_answer():
    extractor = AnswerExtractor(kind="regex", pattern=r"(yes)|no")
    assert extractor.extract("yes") == "yes"
    assert extractor.extract("no") is None


def test_regex_empty_capture_is_an_answer_not_none():
    assert AnswerExtractor(kind="regex", pattern=r"<(.*?)>").extract("<>") == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "regex", "pattern": "(unclosed"}, "answer pattern '(unclosed' is not a valid"),
        ({"kind": "regex", "pattern": "[z-a]"}, "answer pattern '[z-a]' is not a valid"),
        ({"kind": "regex"}, "needs a pattern"),
        ({"kind": "regex", "pattern": ""}, "needs a pattern"),
        ({"kind": "json"}, "needs a field path"),
        ({"kind": "json", "path": "result..choice"}, "dot-separated field names"),
        ({"kind": "json", "path": "a", "pattern": "x"}, "pattern is only used by the regex"),
        ({"kind": "last_number", "path": "a"}, "path is only used by the json"),
        ({"kind": "xpath", "path": "a"}, "kind"),
    ],
)
def test_invalid_extractors_are_refused_at_construction(fields, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        AnswerExtractor(**fields)


def test_extractor_round_trips_through_its_stored_form():
    # The suite engine stores the model in suite specs; a reloaded extractor must still work.
    for extractor in (
        REGEX,
        AnswerExtractor(kind="json", path="result.choice"),
        AnswerExtractor(kind="last_number"),
    ):
        reloaded = AnswerExtractor.model_validate_json(extractor.model_dump_json())
        assert reloaded == extractor
        assert reloaded.extract('Answer: x {"result": {"choice": "B"}} 7') == extractor.extract(
            'Answer: x {"result": {"choice": "B"}} 7'
        )


JSON_ANSWER = AnswerExtractor(kind="json", path="answer")
JSON_NESTED = AnswerExtractor(kind="json", path="result.choice")


@pytest.mark.parametrize(
    ("extractor", "text", "answer"),
    [
        (JSON_ANSWER, '{"answer": "B"}', "B"),
        (JSON_ANSWER, 'Sure! Here it is:\n```json\n{"answer": "B", "why": "x"}\n```\nDone.', "B"),
        (JSON_ANSWER, 'Use the {placeholder} syntax. {"answer": "C"}', "C"),  # skip non-JSON {
        (JSON_ANSWER, '{"answer": "first"} and then {"answer": "second"}', "first"),
        (JSON_ANSWER, '[{"answer": "in array"}]', "in array"),
        (JSON_ANSWER, '{"answer": 4.0}', "4.0"),  # digits as written
        (JSON_ANSWER, '{"answer": 12}', "12"),
        (JSON_ANSWER, '{"answer": -3e2}', "-3e2"),
        (JSON_ANSWER, '{"answer": true}', "true"),
        (JSON_ANSWER, '{"answer": false}', "false"),
        (JSON_ANSWER, '{"answer": null}', None),
        (JSON_ANSWER, '{"answer": ["A", "B"]}', None),
        (JSON_ANSWER, '{"answer": {"value": 1}}', None),
        (JSON_ANSWER, '{"other": "B"}', None),
        (JSON_ANSWER, '{"answer": "B"', None),  # truncated by max_tokens
        (JSON_ANSWER, "no json at all", None),
        (JSON_ANSWER, '{"answer": "\\u00e9t\\u00e9"}', "été"),
        (JSON_NESTED, '{"result": {"choice": "D", "score": 1}}', "D"),
        (JSON_NESTED, '{"result": "D"}', None),  # a string has no fields
        (JSON_NESTED, '{"result": {"other": 1}}', None),
        (AnswerExtractor(kind="json", path="choices.1"), '{"choices": ["a", "b"]}', "b"),
        (AnswerExtractor(kind="json", path="choices.2"), '{"choices": ["a", "b"]}', None),
    ],
)
def test_json_path(extractor, text, answer):
    assert extractor.extract(text) == answer


def test_first_json_object_skips_braces_that_do_not_decode():
    assert first_json_object('f(x) { return 1; } {"a": {"b": 2}}') == {"a": {"b": "2"}}
    assert first_json_object("{{{{") is None


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("The answer is 42.", "42"),
        ("It costs $1,234,567.89 in total", "1234567.89"),
        ("from 3 to 7, so 12", "12"),
        ("-5", "-5"),
        ("The result is −7", "-7"),  # U+2212 minus sign
        ("(-3.25)", "-3.25"),
        ("+5 points", "5"),
        ("pages 3-5", "5"),  # a range, not minus five
        ("x-1", "1"),
        ("1,2,3", "3"),  # a list, not one thousands-separated number
        ("12,34", "34"),  # not a valid thousands group
        ("1,2345", "2345"),
        ("0.5 or .25", ".25"),
        ("18.0", "18.0"),  # written as is: no rewriting to "18"
        ("version 1.2.3", "1.2"),  # no number starts inside another
        ("1e5", "5"),  # no exponents
        ("H2O and CO2", "2"),
        ("no digits here", None),
        ("", None),
        ("٤٢ Arabic-Indic digits", None),  # ASCII digits only
    ],
)
def test_last_number(text, number):
    assert last_number(text) == number
    assert AnswerExtractor(kind="last_number").extract(text) == number


def test_normalise_and_correct_compare_after_strip_and_casefold():
    assert normalise_answer("  Straße \n") == "strasse"
    assert is_correct(" paris", "Paris ")
    assert is_correct("STRASSE", "straße")
    assert not is_correct(None, "x")
    assert not is_correct("x", None)
    assert not is_correct("18.0", "18")


def test_tara():
    assert tara(["B", " b", "B\n"]) == 1
    assert tara(["B", "C", "B"]) == 0
    assert tara(["B", None, "B"]) == 0  # an unparseable answer counts as disagreement
    assert tara([None, None]) == 0  # two failures to parse do not agree
    assert tara(["B"]) == 1
    assert tara([None]) == 0
    assert tara([]) is None


def test_tara_with_each_extractor():
    runs = {
        REGEX: ["Answer: Paris.", "Thinking... Answer: paris", "Answer: PARIS!"],
        JSON_ANSWER: [
            '{"answer": "Paris"}',
            '```json\n{"answer": "paris"}\n```',
            'x {"answer":"PARIS "}',
        ],
        AnswerExtractor(kind="last_number"): ["So 1,200.", "1200", "total: 1,200 units"],
    }
    for extractor, texts in runs.items():
        answers = [extractor.extract(text) for text in texts]
        assert tara(answers) == 1, extractor.describe()
        assert tara([*answers, extractor.extract("I do not know")]) == 0, extractor.describe()


def test_distinct_and_modal_answers():
    assert distinct_answers(["A", "a ", None, "B"]) == 2
    assert distinct_answers([None]) == 0
    assert modal_answer(["B", "a", "A", None]) == "a"
    assert modal_answer([None]) is None


@pytest.mark.parametrize(
    ("texts", "answers", "label"),
    [
        (["x", "x", "x"], ["x", "x", "x"], "stable"),
        (["x", "x"], [None, None], "stable"),  # identical outputs, whatever the extractor says
        (["x", "x"], None, "stable"),
        (["Answer: 4", "The answer: 4"], ["4", "4"], "answer-stable"),
        (["Answer: 4", "answer: 5"], ["4", "5"], "flaky"),
        (["Answer: 4", "no idea"], ["4", None], "unparseable"),  # before flaky
        (["a", "b"], [None, None], "unparseable"),
        (["a", "b"], None, "flaky"),  # no extractor: only stable or flaky
        ([], [], None),
    ],
)
def test_case_label_precedence(texts, answers, label):
    assert case_label(texts, answers) == label


def test_accuracy_range_on_a_hand_built_table():
    # 5 cases × 3 runs; expected answer "4" for all. Counted by hand:
    #   run 0 correct on cases 1, 2, 4 -> 3/5; run 1 on 1, 4 -> 2/5; run 2 on 1, 3, 4 -> 3/5
    #   any run correct: cases 1, 2, 3, 4 -> best 4/5; all runs correct: cases 1, 4 -> worst 2/5
    answers = [
        ["4", "4", "4"],  # case 1: always right
        ["4", "5", None],  # case 2: right once
        ["5", "5", " 4 "],  # case 3: right once, after normalising
        ["4", "4", "4"],  # case 4: always right
        [None, "3", "5"],  # case 5: never right
    ]
    table = [[is_correct(answer, "4") for answer in row] for row in answers]
    result = accuracy_range(table)
    assert result.cases == 5
    assert result.per_run == (0.6, 0.4, 0.6)
    assert result.best == 0.8
    assert result.worst == 0.4
    assert result.spread == 0.4  # exactly, computed from the counts


def test_accuracy_range_edges():
    assert accuracy_range([]) is None
    single = accuracy_range([[True], [False]])
    assert (single.per_run, single.best, single.worst, single.spread) == ((0.5,), 0.5, 0.5, 0.0)
    with pytest.raises(ValueError, match="same number of runs"):
        accuracy_range([[True, False], [True]])

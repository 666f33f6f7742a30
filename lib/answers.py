"""Answer extractors: turn an output into an answer (or None when it has none); TARa, accuracy.

Kinds (`AnswerExtractor.extract`):
- `regex`: `re.search(pattern, text)`; the answer is the first capture group, or the whole
  match when the pattern has no group. No match, or a first group that took no part in the
  match (`(a)|b` on "b"), gives None. Flags go inline (`(?i)`, `(?s)`). An invalid pattern is
  refused when the extractor is built.
- `json`: a dotted path (`answer`, `result.choice`; an all-digit segment indexes a list,
  `choices.0`) into the first JSON object of the output. Models wrap JSON in prose or
  ```json fences, so the text is scanned left to right and the first `{` at which a JSON
  object can be decoded wins (fences and surrounding prose are simply skipped; an object
  nested in a top-level array is found as well). Strings are the answer as-is, numbers keep
  the digits the model wrote (`4.0` stays "4.0"), booleans are "true"/"false". A missing key,
  `null`, an object or an array at the path gives None.
- `last_number`: the last number in the text. ASCII digits, an optional decimal part
  (`3.14`, `.5`), comma thousands separators in groups of three (`1,234,567` -> "1234567";
  `1,2,3` is three numbers), and a sign when `-`, `−` (U+2212) or `+` stands before the digits
  and not right after a letter or digit (`-5` -> "-5", `3-5` -> "5", `x-1` -> "1"). A `+` is
  dropped. No exponents (`1e5` gives "5"), no other separators, and no rewriting of the number
  (`18.0` stays "18.0", so it does not equal an expected "18").

Answers and expected answers are compared after `strip()` and `casefold()` (`normalise_answer`).
An unparseable answer (None) equals nothing, not even another None.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

_NUMBER = re.compile(
    r"""
    (?:(?<![0-9A-Za-z])(?P<sign>[-+\u2212]))?      # a sign, unless glued to a word or number
    (?<![0-9.])                                    # never start inside another number
    (?P<body>
        (?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?   # 1,234.5  1234.5  12
        | \.[0-9]+                                                 # .5
    )
    """,
    re.VERBOSE,
)
# Keeps every JSON number as the text the model wrote, so "4.0" is not turned into "4".
_JSON_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


class AnswerExtractor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["regex", "json", "last_number"]
    pattern: str | None = None  # kind == "regex"
    path: str | None = None  # kind == "json"

    _compiled: re.Pattern[str] | None = PrivateAttr(default=None)
    _segments: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(
                    f"answer pattern {pattern!r} is not a valid regular expression: {error}"
                ) from None
        return pattern

    @model_validator(mode="after")
    def _check_fields(self) -> Self:
        if self.kind == "regex":
            if not self.pattern:
                raise ValueError("a regex answer extractor needs a pattern")
        elif self.pattern is not None:
            raise ValueError(f"pattern is only used by the regex extractor, not {self.kind}")
        if self.kind == "json":
            if not self.path:
                raise ValueError("a json answer extractor needs a field path, e.g. 'answer'")
            if not all(segment.strip() for segment in self.path.split(".")):
                raise ValueError(
                    f"answer JSON path {self.path!r} must be dot-separated field names, "
                    "e.g. 'answer' or 'result.choice'"
                )
        elif self.path is not None:
            raise ValueError(f"path is only used by the json extractor, not {self.kind}")
        return self

    def model_post_init(self, context: Any) -> None:
        # Runs after the field validators (the pattern compiles) and before _check_fields.
        if self.kind == "regex" and self.pattern:
            self._compiled = re.compile(self.pattern)
        if self.kind == "json" and self.path:
            self._segments = tuple(self.path.split("."))

    def extract(self, text: str) -> str | None:
        """The answer in `text` (see the module docstring), or None when it has none."""
        if self.kind == "regex":
            return _regex_answer(self._compiled, text)
        if self.kind == "json":
            return _json_answer(self._segments, text)
        return last_number(text)

    def describe(self) -> str:
        """A short human-readable form, e.g. `regex 'Answer: (\\w+)'`."""
        if self.kind == "regex":
            return f"regex {self.pattern!r}"
        if self.kind == "json":
            return f"json field {self.path!r}"
        return "last number"


def normalise_answer(answer: str) -> str:
    return answer.strip().casefold()


def _regex_answer(compiled: re.Pattern[str] | None, text: str) -> str | None:
    assert compiled is not None  # set by the validator for kind == "regex"
    match = compiled.search(text)
    if match is None:
        return None
    return match.group(1) if compiled.groups else match.group(0)


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object that decodes, scanning `{` positions left to right; else None."""
    start = text.find("{")
    while start != -1:
        try:
            value, _ = _JSON_DECODER.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _json_answer(segments: tuple[str, ...], text: str) -> str | None:
    value: Any = first_json_object(text)
    if value is None:
        return None
    for segment in segments:
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None  # numbers arrive as text (_JSON_DECODER)


def last_number(text: str) -> str | None:
    """The last number in `text` as a string without thousands separators (see module doc)."""
    match = None
    for match in _NUMBER.finditer(text):  # noqa: B007 - only the last one is wanted
        pass
    if match is None:
        return None
    sign = "-" if match.group("sign") in ("-", "\u2212") else ""
    return sign + match.group("body").replace(",", "")


# --- Answer-level measures over the runs of one case --------------------------------------


def answers_equal(a: str | None, b: str | None) -> bool:
    """True when both are answers and equal after normalising; None equals nothing."""
    return a is not None and b is not None and normalise_answer(a) == normalise_answer(b)


def is_correct(answer: str | None, expected: str | None) -> bool:
    """Whether `answer` matches the expected answer (False when either is missing)."""
    return answers_equal(answer, expected)


def tara(answers: Sequence[str | None]) -> int | None:
    """TARa@N (Atil et al. 2024): 1 when all N answers are parseable and equal, else 0.

    An unparseable answer (None) counts as disagreement. One parseable answer is trivially 1;
    no answers give None.
    """
    if not answers:
        return None
    if any(answer is None for answer in answers):
        return 0
    return int(len({normalise_answer(a) for a in answers if a is not None}) == 1)


def distinct_answers(answers: Sequence[str | None]) -> int:
    """Number of distinct parseable answers after normalising (None is not counted)."""
    return len({normalise_answer(a) for a in answers if a is not None})


def modal_answer(answers: Sequence[str | None]) -> str | None:
    """The most common normalised parseable answer (first seen wins a tie); None if none."""
    counts = Counter(normalise_answer(a) for a in answers if a is not None)
    return counts.most_common(1)[0][0] if counts else None


CaseLabel = Literal["stable", "answer-stable", "flaky", "unparseable"]


def case_label(texts: Sequence[str], answers: Sequence[str | None] | None) -> CaseLabel | None:
    """Label of one case's runs; `answers` is None when no extractor is set.

    Precedence, first that applies:
    1. `stable`: every output text is identical (whatever the extractor makes of it: the
       outputs are reproducible, which is what the label is about);
    2. `unparseable`: texts differ and at least one answer could not be extracted, so answer
       agreement cannot be judged (the extractor, not the model, may be at fault);
    3. `answer-stable`: texts differ, every answer parses and all are equal;
    4. `flaky`: anything else (texts differ and answers, if extracted, disagree).
    None for no runs.
    """
    if not texts:
        return None
    if len(set(texts)) == 1:
        return "stable"
    if answers is None:
        return "flaky"
    if any(answer is None for answer in answers):
        return "unparseable"
    return "answer-stable" if tara(answers) == 1 else "flaky"


# --- Accuracy range over a suite (llm-stability's evaluate.py) -----------------------------


@dataclass(frozen=True)
class AccuracyRange:
    """Accuracy over cases: of each run index, best possible, worst possible and their spread.

    With a table correct[case][run] (cases × N runs): `per_run[k]` = share of cases whose run k
    is correct; `best` = share of cases where any run is correct; `worst` = share where all N
    runs are correct; `spread` = best - worst. Definitions of llm-stability's evaluate.py
    (best_possible_accuracy, worst_possible_accuracy, spread; Atil et al. 2024).
    """

    cases: int
    per_run: tuple[float, ...]
    best: float
    worst: float
    spread: float


def accuracy_range(correct: Sequence[Sequence[bool]]) -> AccuracyRange | None:
    """The accuracy range of a correct[case][run] table; None for no cases.

    Every case must have the same number of runs N (at least one).
    """
    if not correct:
        return None
    sizes = {len(row) for row in correct}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"every case needs the same number of runs (>= 1), got {sorted(sizes)}")
    table = [[bool(value) for value in row] for row in correct]
    cases, runs = len(table), sizes.pop()
    per_run = tuple(sum(row[k] for row in table) / cases for k in range(runs))
    any_correct = sum(any(row) for row in table)
    all_correct = sum(all(row) for row in table)
    # spread from the counts, so 7/10 - 3/10 is exactly 0.4 and not 0.39999999999999997
    return AccuracyRange(
        cases=cases,
        per_run=per_run,
        best=any_correct / cases,
        worst=all_correct / cases,
        spread=(any_correct - all_correct) / cases,
    )

"""Answer extractors: turn an output into an answer (or None when it has none).

Kinds: `regex` (re.search, the first capture group, else the whole match), `json` (a dotted
field path such as `answer` or `result.choice` into the first JSON object of the output), and
`last_number` (the last number in the text). Answers and expected answers are compared after
`strip()` and `casefold()` (see `normalise_answer`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class AnswerExtractor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["regex", "json", "last_number"]
    pattern: str | None = None  # kind == "regex"
    path: str | None = None  # kind == "json"


def normalise_answer(answer: str) -> str:
    return answer.strip().casefold()

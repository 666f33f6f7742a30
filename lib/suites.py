"""A suite: a named list of cases (id, prompt, optional system and expected answer).

Loading from CSV, JSONL or typed text, with row-numbered validation, lives here too.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Case(BaseModel):
    """One prompt of a suite. `expected` is the answer a correct output gives (optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    prompt: str
    system: str | None = None  # None: the suite's (or spec's) system message
    expected: str | None = None


class Suite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    cases: list[Case] = Field(default_factory=list)

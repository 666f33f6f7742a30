"""Reading CSV and JSONL files of records, with messages that name the row (or line) and field.

Suites (`suites.py`) and imported outputs (`imports.py`) are both such files; they differ only
in their columns. Every problem is collected in `Problems` so a user sees them all at once,
and nothing runs or is stored until the file is clean.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from seedscope.spec import SpecError

_MAX_MESSAGES = 20  # a file of 10,000 bad rows gets the first problems, then a count

# A record as read: where it is (for messages), and its raw fields.
Record = tuple[str, dict[str, Any]]


class Problems:
    """Collects one message per problem, each naming where (row or line) and the field."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, where: str, field: str | None, problem: str) -> None:
        self.messages.append(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")

    def raise_any(self) -> None:
        if not self.messages:
            return
        shown = self.messages[:_MAX_MESSAGES]
        if len(self.messages) > _MAX_MESSAGES:
            shown.append(f"... and {len(self.messages) - _MAX_MESSAGES} more problems")
        raise SpecError(shown)


def csv_records(
    text: str,
    problems: Problems,
    *,
    columns: Sequence[str],
    required: Sequence[str],
    optional: Sequence[str],
    hint: str,
) -> Iterator[Record]:
    """The data rows of a CSV file with a header row naming `columns` (any order and case).

    A bad header raises SpecError at once; a bad row is added to `problems` and skipped.
    Blank rows are skipped, a short row leaves its last columns unset, and an empty cell of an
    `optional` column means "none".
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise SpecError([f"header (line 1): not valid CSV ({error})"]) from None
    if header is None or not any(cell.strip() for cell in header):
        raise SpecError([f"the file is empty; the first row must be the header {hint}"])
    names = [cell.strip().lower() for cell in header]
    for position, name in enumerate(names, start=1):
        if name not in columns:
            problems.add(
                "header (line 1)",
                f"column {position}",
                f"{header[position - 1]!r} is not a known column; allowed {hint}",
            )
        elif names.index(name) != position - 1:
            problems.add("header (line 1)", f"column {position}", f"{name!r} appears twice")
    for name in required:
        if name not in names:
            problems.add("header (line 1)", name, f"missing column; {hint}")
    problems.raise_any()
    number = 0
    while True:
        first_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.add(
                f"data row {number + 1} (line {first_line})", None, f"not valid CSV ({error})"
            )
            return
        if not any(cell.strip() for cell in cells):
            continue
        number += 1
        where = f"data row {number} (line {first_line})"
        if len(cells) > len(names):
            problems.add(where, None, f"has {len(cells)} fields; the header has {len(names)}")
            continue
        yield (
            where,
            {
                name: (None if cell == "" and name in optional else cell)
                for name, cell in zip(names, cells, strict=False)
            },
        )


def jsonl_records(
    text: str, problems: Problems, *, columns: Sequence[str], hint: str
) -> Iterator[Record]:
    """One JSON object per non-blank line; bad lines and unknown keys are added to `problems`."""
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.add(where, None, f"not valid JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(record, dict):
            problems.add(where, None, f"must be a JSON object with keys {hint}")
            continue
        for key in record:
            if key not in columns:
                problems.add(where, repr(key), f"not a known key; allowed {hint}")
        yield where, record


def text_value(
    record: dict[str, Any], field: str, where: str, problems: Problems, *, numbers: bool
) -> str | None:
    """A field as text: strings as they are; with `numbers`, a JSON number becomes its text."""
    value = record.get(field)
    if value is None or isinstance(value, str):
        return value
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    problems.add(where, field, f"{value!r} is not text")
    return None

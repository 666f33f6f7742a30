"""Import outputs generated elsewhere (no generation): CSV or JSONL, analysed like any suite.

Columns (CSV header / JSONL keys): `case_id`, `arm`, `run` (an integer, 0 or more) and `text`
are required; `prompt`, `expected`, `model`, `system_fingerprint`, `seed` and `temperature`
are optional. A CSV `text` cell may be empty (an empty output); the cell itself must be there.
Validation collects every problem, each naming the row (CSV data rows from 1 after the header,
JSONL lines from 1) and the field, and nothing is stored if there is any: a missing required
field, a duplicate (case, arm, run), a run that is not an integer, a seed or temperature that
is not a number, a case whose rows give different prompts or expected answers, an arm whose
rows give different temperatures.

The stored experiment has kind 'import', status complete, and a SuiteSpec rebuilt from the
file: cases in order of first appearance (with their prompt and expected answer when given),
arms in order of first appearance, each with N = its largest number of runs of one case, its
seed when every row of the arm gives the same one, and its temperature (0 when the file gives
none: the spec needs one; the provider 'import' marks every such figure as not Seedscope's).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedscope.answers import AnswerExtractor
from seedscope.providers.base import Completion, utc_now
from seedscope.record_files import Problems, Record, csv_records, jsonl_records, text_value
from seedscope.spec import REMOTE_SEED_MAX, Limits, SpecError
from seedscope.store import Store
from seedscope.suites import (
    IMPORT_PROVIDER,
    MAX_CASE_ID_CHARS,
    Case,
    Suite,
    SuiteSpec,
    decode_utf8,
    validate_suite_spec,
)

REQUIRED_COLUMNS = ("case_id", "arm", "run", "text")
OPTIONAL_COLUMNS = ("prompt", "expected", "model", "system_fingerprint", "seed", "temperature")
IMPORT_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
IMPORT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
UNKNOWN_MODEL = "unknown"
_COLUMNS_HINT = "case_id, arm, run, text, and optionally " + ", ".join(OPTIONAL_COLUMNS)


@dataclass(frozen=True)
class ImportedOutputs:
    """A validated outputs file: the suite spec rebuilt from it and one completion per row."""

    spec: SuiteSpec
    completions: list[Completion]


@dataclass
class _Row:
    where: str  # "data row 3 (line 4)" or "line 3"
    case_id: str
    arm: str
    run: int
    text: str
    prompt: str | None
    expected: str | None
    model: str | None
    fingerprint: str | None
    seed: int | None
    temperature: float | None


def load_import_file(
    path: Path, *, extractor: AnswerExtractor | None = None, limits: Limits | None = None
) -> ImportedOutputs:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([f"{path}: no such file"]) from None
    except OSError as error:
        raise SpecError([f"{path}: cannot be read ({error.strerror})"]) from None
    return parse_import(data, filename=path.name, extractor=extractor, limits=limits)


def parse_import(
    data: bytes | str,
    *,
    filename: str,
    extractor: AnswerExtractor | None = None,
    limits: Limits | None = None,
) -> ImportedOutputs:
    """Validate an outputs file (format by extension); SpecError lists every problem, each
    prefixed with the file name."""
    try:
        suffix = Path(filename).suffix.lower()
        if suffix not in IMPORT_FORMATS:
            raise SpecError([f"an outputs file name must end in {', '.join(IMPORT_FORMATS)}"])
        text = decode_utf8(data) if isinstance(data, bytes) else data
        problems = Problems()
        raw = _records(text, suffix, problems)
        rows = [row for where, record in raw if (row := _row(where, record, problems))]
        problems.raise_any()
        if not rows:
            raise SpecError(["no outputs; the file has no data rows"])
        spec = _rebuild_spec(rows, Path(filename).stem, extractor, limits or Limits(), problems)
        problems.raise_any()
        return ImportedOutputs(spec, _completions(rows, spec))
    except SpecError as error:
        raise SpecError([f"{filename}: {message}" for message in error.messages]) from None


def import_outputs(store: Store, imported: ImportedOutputs, *, label: str | None = None) -> str:
    """Store validated outputs as a complete experiment of kind 'import' (one transaction)."""
    return store.create_imported_experiment(imported.spec, imported.completions, label=label)


# -- reading records -----------------------------------------------------------------------------


def _records(text: str, suffix: str, problems: Problems) -> Iterator[Record]:
    if suffix == ".csv":
        return csv_records(
            text,
            problems,
            columns=IMPORT_COLUMNS,
            required=REQUIRED_COLUMNS,
            optional=OPTIONAL_COLUMNS,
            hint=_COLUMNS_HINT,
        )
    return jsonl_records(text, problems, columns=IMPORT_COLUMNS, hint=_COLUMNS_HINT)


# -- checking fields -----------------------------------------------------------------------------


_NUMBERS_AS_TEXT = ("case_id", "arm", "expected")  # JSONL may give these as numbers


def _text(record: dict[str, Any], field: str, where: str, problems: Problems) -> str | None:
    return text_value(record, field, where, problems, numbers=field in _NUMBERS_AS_TEXT)


def _identifier(record: dict[str, Any], field: str, where: str, problems: Problems) -> str | None:
    value = (_text(record, field, where, problems) or "").strip()
    if not value:
        if record.get(field) is None or isinstance(record.get(field), str):
            problems.add(where, field, "missing or empty; every row needs one")
        return None
    if len(value) > MAX_CASE_ID_CHARS:
        problems.add(where, field, f"{len(value)} characters; allowed at most {MAX_CASE_ID_CHARS}")
        return None
    return value


def _integer(record: dict[str, Any], field: str, where: str, problems: Problems) -> int | None:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.add(where, field, f"{value!r} is not an integer")
        return None
    try:
        return int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        problems.add(where, field, f"{value!r} is not an integer")
        return None


def _number(record: dict[str, Any], field: str, where: str, problems: Problems) -> float | None:
    value = record.get(field)
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        problems.add(where, field, f"{value!r} is not a number")
        return None
    return number


def _row(where: str, record: dict[str, Any], problems: Problems) -> _Row | None:
    before = len(problems.messages)
    case_id = _identifier(record, "case_id", where, problems)
    arm = _identifier(record, "arm", where, problems)
    run = _integer(record, "run", where, problems)
    if run is None and record.get("run") is None:
        problems.add(where, "run", "missing; every row needs its run number")
    elif run is not None and run < 0:
        problems.add(where, "run", f"{run} is negative; runs are numbered from 0 or 1")
    text = _text(record, "text", where, problems)
    if "text" not in record or (record["text"] is None):
        problems.add(where, "text", "missing; every row needs the output text")
    seed = _integer(record, "seed", where, problems)
    if seed is not None and not 0 <= seed <= REMOTE_SEED_MAX:
        problems.add(where, "seed", f"{seed} is out of range; allowed 0 to {REMOTE_SEED_MAX}")
    temperature = _number(record, "temperature", where, problems)
    if temperature is not None and not 0 <= temperature <= 2:
        problems.add(where, "temperature", f"{temperature:g} is out of range; allowed 0 to 2")
    fields = {
        name: _text(record, name, where, problems)
        for name in ("prompt", "expected", "model", "system_fingerprint")
    }
    if len(problems.messages) > before:
        return None
    assert case_id is not None and arm is not None and run is not None and text is not None
    return _Row(
        where,
        case_id,
        arm,
        run,
        text,
        fields["prompt"],
        fields["expected"],
        (fields["model"] or "").strip() or None,
        fields["system_fingerprint"],
        seed,
        temperature,
    )


# -- rebuilding the suite ------------------------------------------------------------------------


def _agreed(
    rows: list[_Row], key: str, attribute: str, field: str, problems: Problems
) -> dict[str, Any]:
    """The one value of `attribute` each group (case or arm) gives; a disagreement is refused
    naming the row that differs and the row that said otherwise first."""
    values: dict[str, tuple[Any, str]] = {}
    for row in rows:
        group, value = getattr(row, key), getattr(row, attribute)
        if value is None:
            continue
        if group not in values:
            values[group] = (value, row.where)
        elif values[group][0] != value:
            what = "case" if key == "case_id" else "arm"
            problems.add(
                row.where,
                field,
                f"{value!r} differs from {values[group][0]!r} given for {what} {group!r} "
                f"by {values[group][1]}",
            )
    return {group: value for group, (value, _) in values.items()}


def _rebuild_spec(
    rows: list[_Row],
    name: str,
    extractor: AnswerExtractor | None,
    limits: Limits,
    problems: Problems,
) -> SuiteSpec:
    seen: dict[tuple[str, str, int], str] = {}
    for row in rows:
        triple = (row.case_id, row.arm, row.run)
        if triple in seen:
            problems.add(
                row.where,
                "run",
                f"case {row.case_id!r}, arm {row.arm!r}, run {row.run} is already given by "
                f"{seen[triple]}",
            )
        else:
            seen[triple] = row.where
    prompts = _agreed(rows, "case_id", "prompt", "prompt", problems)
    expected = _agreed(rows, "case_id", "expected", "expected", problems)
    temperatures = _agreed(rows, "arm", "temperature", "temperature", problems)
    problems.raise_any()

    case_ids = list(dict.fromkeys(row.case_id for row in rows))
    runs_per_case_arm: dict[tuple[str, str], int] = {}
    seeds: dict[str, set[int | None]] = {}
    for row in rows:
        runs_per_case_arm[(row.case_id, row.arm)] = (
            runs_per_case_arm.get((row.case_id, row.arm), 0) + 1
        )
        seeds.setdefault(row.arm, set()).add(row.seed)
    arm_labels = list(dict.fromkeys(row.arm for row in rows))
    arms = [
        {
            "label": label,
            "seed": next(iter(seeds[label])) if len(seeds[label]) == 1 else None,
            "temperature": temperatures.get(label, 0.0),
            "runs": max(n for (_, arm), n in runs_per_case_arm.items() if arm == label),
        }
        for label in arm_labels
    ]
    models = {row.model for row in rows if row.model}
    cases = [
        Case(id=case_id, prompt=prompts.get(case_id, ""), expected=expected.get(case_id))
        for case_id in case_ids
    ]
    # Nothing is generated: only the suite size limit applies, not the generation limits.
    import_limits = Limits(
        max_runs_per_arm=10**9,
        max_tokens=10**9,
        max_prompt_chars=10**9,
        max_cases=limits.max_cases,
        max_suite_runs=10**12,
    )
    data = {
        "suite": Suite(name=name, cases=cases).model_dump(),
        "arms": arms,
        "system": "",
        "provider": IMPORT_PROVIDER,
        "model": models.pop() if len(models) == 1 else ("mixed" if models else UNKNOWN_MODEL),
        "extractor": None if extractor is None else extractor.model_dump(),
    }
    return validate_suite_spec(data, import_limits)


def _completions(rows: list[_Row], spec: SuiteSpec) -> list[Completion]:
    arms = {arm.label: arm for arm in spec.arms}
    imported_at = utc_now()
    return [
        Completion(
            arm_label=row.arm,
            run_index=row.run,
            text=row.text,
            system_fingerprint=row.fingerprint,
            requested_seed=row.seed,
            effective_seed=row.seed,
            temperature=arms[row.arm].temperature,
            top_p=spec.top_p,
            max_tokens=spec.max_tokens,
            provider=IMPORT_PROVIDER,
            model=row.model or spec.model,
            prompt_tokens=None,
            completion_tokens=None,
            latency_s=0.0,
            finish_reason=None,
            started_at=imported_at,
            case_id=row.case_id,
        )
        for row in rows
    ]

"""What it takes to run the experiment again: the spec as JSON, Seedscope's version, and the
exact command (for a suite, with the cases as a file to save next to it).

A plain experiment re-runs with `seedscope compare --spec spec.json` on the spec JSON exactly
as `export --spec` writes it. A suite re-runs with `seedscope suite run cases.csv --arm ...`:
its arms and request settings become flags, its cases a CSV file. An empty `system` or
`expected` cannot be told from a missing one in CSV, so such a suite gets a JSONL file instead.
Imported outputs were made elsewhere: nothing re-runs them, but the same cases can be sent to a
backend with `suite run`.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import shlex
from dataclasses import dataclass

from seedscope.spec import DEFAULT_SYSTEM, LOCAL_CHAT_MODEL, Arm, ExperimentSpec
from seedscope.spec_files import spec_file_text
from seedscope.suites import IMPORT_PROVIDER, SuiteSpec


def seedscope_version() -> str:
    try:
        return importlib.metadata.version("seedscope")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


@dataclass(frozen=True)
class Manifest:
    spec_json: str
    command: str | None  # None: nothing can re-run it (imported outputs of a single case)
    notes: tuple[str, ...]  # what to know before running the command
    cases_file: str | None = None  # the file name the suite command reads
    cases_text: str | None = None  # its contents


def spec_json(spec: ExperimentSpec | SuiteSpec) -> str:
    if isinstance(spec, ExperimentSpec):
        return spec_file_text(spec, ".json")  # the very text `export --spec x.json` writes
    return json.dumps(spec.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def build_manifest(spec: ExperimentSpec | SuiteSpec, host: str | None) -> Manifest:
    if isinstance(spec, SuiteSpec):
        return _suite_manifest(spec, host)
    notes = _host_notes(spec.provider, host)
    command = "seedscope compare --spec spec.json"
    if spec.provider == IMPORT_PROVIDER:  # one case of imported outputs
        command = None
        notes = ("These outputs were imported: Seedscope did not generate them.",)
    return Manifest(spec_json(spec), command, notes)


def _host_notes(provider: str, host: str | None) -> tuple[str, ...]:
    if provider != "openai":
        return ()
    where = f" ({host})" if host else ""
    return (
        f"Only the server's host{where} was stored, not its URL: add --base-url URL, or set "
        "OPENAI_BASE_URL, to send the runs there.",
    )


def arm_flag(arm: Arm) -> str:
    seed = "none" if arm.seed is None else str(arm.seed)
    return f"{arm.label},seed={seed},temperature={arm.temperature!r},runs={arm.runs}"


def _suite_manifest(spec: SuiteSpec, host: str | None) -> Manifest:
    lossy = any(case.system == "" or case.expected == "" for case in spec.cases)
    cases_file = "cases.jsonl" if lossy else "cases.csv"
    words = ["seedscope", "suite", "run", cases_file]
    for arm in spec.arms:
        words += ["--arm", arm_flag(arm)]
    imported = spec.provider == IMPORT_PROVIDER
    if not imported and (spec.provider != "local" or spec.model != LOCAL_CHAT_MODEL):
        words += ["--provider", spec.provider, "--model", spec.model]
    words += ["--max-tokens", str(spec.max_tokens)]
    if spec.top_p != 1.0:
        words += ["--top-p", repr(spec.top_p)]
    if spec.system != DEFAULT_SYSTEM:
        words += ["--system", spec.system]
    words += _answer_flags(spec)
    notes = list(_host_notes(spec.provider, host))
    if imported:
        notes.append(
            "These outputs were imported: Seedscope did not generate them. The command sends "
            "the same cases under the same arms to the embedded model (add --provider openai "
            "--model M for another backend)."
        )
    for arm in spec.arms:
        if "," in arm.label or "=" in arm.label:
            notes.append(
                f"Arm label {arm.label!r} holds ',' or '=', which --arm cannot carry: "
                "rename it in the command."
            )
    text = _cases_jsonl(spec) if lossy else _cases_csv(spec)
    return Manifest(spec_json(spec), shlex.join(words), tuple(notes), cases_file, text)


def _answer_flags(spec: SuiteSpec) -> list[str]:
    extractor = spec.extractor
    if extractor is None:
        return []
    if extractor.kind == "regex":
        return ["--answer-regex", extractor.pattern or ""]
    if extractor.kind == "json":
        return ["--answer-json", extractor.path or ""]
    return ["--answer-last-number"]


def _cases_csv(spec: SuiteSpec) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "prompt", "system", "expected"])
    for case in spec.cases:
        writer.writerow([case.id, case.prompt, case.system or "", case.expected or ""])
    return buffer.getvalue()


def _cases_jsonl(spec: SuiteSpec) -> str:
    return "".join(
        json.dumps(case.model_dump(exclude_none=True), ensure_ascii=False) + "\n"
        for case in spec.cases
    )

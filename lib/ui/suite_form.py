"""The Suites page's form: where the cases come from (an uploaded file, prompts typed one per
line, or a suite run before), the backend, preset and arms, the request settings and the answer
extractor, checked as you type like Compare's form (whose sections it reuses, keyed `ste`).

A problem in the file names its row and field; Generate stays disabled until there is none,
so nothing is stored and nothing is sent for bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError
from seedscope.answers import AnswerExtractor
from seedscope.settings import Settings
from seedscope.spec import DEFAULT_SYSTEM, Limits, SpecError
from seedscope.store import Store, StoreError
from seedscope.suites import Suite, SuiteSpec, parse_suite, suite_from_lines, validate_suite_spec
from seedscope.ui.compare_form import (
    CompareForm,
    backend_section,
    base_url_problems,
    preset_section,
    with_check_panel,
)
from seedscope.ui.text import shorten

KEY = "ste"
SOURCES = {"upload": "Upload a file", "type": "Type prompts", "stored": "A suite run before"}
SUITE_FILE_TYPES = ["csv", "jsonl", "ndjson", "txt"]
EXTRACTORS = {
    "none": "None: compare texts only",
    "regex": "Regular expression (its first group)",
    "json": "JSON field",
    "last_number": "Last number in the output",
}
STORED_SUITES_LISTED = 50
PREVIEW_CASES = 200
DEFAULT_RUNS = 3  # per arm: a suite multiplies every run by its cases


def extractor_problems(kind: str, parameter: str) -> tuple[AnswerExtractor | None, list[str]]:
    """The chosen extractor, or why it cannot be used (messages say what to change)."""
    if kind == "none":
        return None, []
    fields: dict[str, Any] = {"kind": kind}
    if kind == "regex":
        fields["pattern"] = parameter or None
    elif kind == "json":
        fields["path"] = parameter.strip() or None
    try:
        return AnswerExtractor(**fields), []
    except ValidationError as error:
        reasons = [e["msg"].removeprefix("Value error, ") for e in error.errors()]
        return None, [f"answer extractor: {reason}" for reason in reasons]


def _stored_suites(store: Store, chosen: str | None) -> dict[str, str]:
    """Recent suite experiments (id -> label), newest first, and the one already chosen (it
    may be older, loaded by History's Run again)."""
    try:
        summaries = store.list_experiments(kind="suite", limit=STORED_SUITES_LISTED)
        if chosen and chosen not in {s.id for s in summaries}:
            found = store.load_experiment(chosen)
            if found is not None and found.kind == "suite":
                summaries.append(found.summary)
    except StoreError:
        return {}
    return {
        s.id: f"{s.id[:8]} · {s.created_at:%Y-%m-%d %H:%M} · {shorten(s.prompt, 60)}"
        for s in summaries
    }


def _suite_from_store(store: Store, experiment_id: str) -> Suite | None:
    try:
        stored = store.load_experiment(experiment_id)
    except StoreError:
        return None
    if stored is None or not isinstance(stored.spec, SuiteSpec):
        return None
    return stored.spec.suite


def suite_source(settings: Settings, store: Store) -> tuple[Suite | None, list[str]]:
    """The cases the form will run, or the problems that keep it from running any."""
    limits = Limits.from_settings(settings)
    source = st.radio(
        "Cases", list(SOURCES), format_func=SOURCES.get, horizontal=True, key=f"{KEY}_source"
    )
    try:
        if source == "upload":
            upload = st.file_uploader(
                "Suite file",
                type=SUITE_FILE_TYPES,
                key=f"{KEY}_file",
                help="CSV with a header row id,prompt (optional: system, expected); JSONL with "
                "one object per line with those keys; or text, one prompt per line. UTF-8.",
            )
            if upload is None:
                return None, ["cases: upload a suite file (.csv, .jsonl or .txt)"]
            return parse_suite(upload.getvalue(), filename=upload.name, limits=limits), []
        if source == "type":
            typed = st.text_area(
                "Prompts, one per line", key=f"{KEY}_typed", height=140, placeholder="2 + 2 ="
            )
            if not typed.strip():
                return None, ["cases: type at least one prompt (one per line)"]
            return suite_from_lines(typed, name="typed", limits=limits), []
        choices = _stored_suites(store, st.session_state.get(f"{KEY}_stored"))
        chosen = st.selectbox(
            "Suite",
            list(choices),
            index=None,
            format_func=choices.get,
            placeholder="Choose a suite run before" if choices else "No suite has run yet",
            key=f"{KEY}_stored",
        )
        suite = _suite_from_store(store, chosen) if chosen else None
        if suite is None:
            return None, ["cases: choose a suite run before"]
        return suite, []
    except SpecError as error:
        return None, error.messages


def _preview(suite: Suite) -> None:
    with st.expander(f"{len(suite.cases)} cases in {shorten(suite.name, 40)}"):
        rows = [
            {"id": c.id, "prompt": c.prompt, "system": c.system, "expected": c.expected}
            for c in suite.cases[:PREVIEW_CASES]
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")  # text stays text
        if len(suite.cases) > PREVIEW_CASES:
            st.caption(f"The first {PREVIEW_CASES} cases are shown.")


def extractor_section(key: str = KEY) -> tuple[AnswerExtractor | None, list[str]]:
    """The answer extractor chosen, or what to fix in it."""
    kind_col, parameter_col = st.columns(2)
    kind = kind_col.selectbox(
        "Answer extractor",
        list(EXTRACTORS),
        format_func=EXTRACTORS.get,
        key=f"{key}_extractor",
        help="Turns each output into an answer for answer-level agreement (TARa) and, with "
        "expected answers, accuracy. Answers compare after strip() and casefold().",
    )
    parameter = ""
    if kind == "regex":
        parameter = parameter_col.text_input(
            "Pattern", value=r"answer:\s*(\S+)", key=f"{key}_regex", help="re.search; group 1."
        )
    elif kind == "json":
        parameter = parameter_col.text_input(
            "Field path", value="answer", key=f"{key}_json_path", help="e.g. result.choice"
        )
    return extractor_problems(kind, parameter)


def render_suite_form(
    settings: Settings,
    store: Store,
    *,
    on_generate: Callable[[CompareForm], None],
    busy: bool = False,
) -> CompareForm:
    """Draw the form and its check panel; return what it holds (spec: a SuiteSpec)."""
    left, right = st.columns([2, 1], gap="medium")
    with left:
        suite, problems = suite_source(settings, store)
        if suite is not None:
            _preview(suite)
        system = st.text_area(
            "System message (for cases without their own)",
            value=DEFAULT_SYSTEM,
            key=f"{KEY}_system",
            height=68,
        )
        provider, base_url, model, model_list_problem, refused = backend_section(settings, key=KEY)
        tokens_col, top_p_col = st.columns(2)
        max_tokens = int(
            tokens_col.number_input("max_tokens", value=64, step=1, key=f"{KEY}_max_tokens")
        )
        top_p = top_p_col.number_input(
            "top_p", value=1.0, step=0.05, format="%.2f", key=f"{KEY}_top_p"
        )
        extractor, extractor_messages = extractor_section()
        problems.extend(extractor_messages)
        _, arms = preset_section(settings, key=KEY, default_runs=DEFAULT_RUNS)

    spec: SuiteSpec | None = None
    if suite is not None:
        data = {
            "suite": suite.model_dump(),
            "arms": arms,
            "system": system,
            "provider": provider,
            "model": model,
            "max_tokens": max_tokens,
            "top_p": top_p,
            "extractor": None if extractor is None else extractor.model_dump(),
        }
        try:
            spec = validate_suite_spec(data, Limits.from_settings(settings))
        except SpecError as error:
            problems.extend(error.messages)
    problems.extend(base_url_problems(base_url, refused))
    form = CompareForm(provider, base_url, spec, problems, model_list_problem=model_list_problem)
    return with_check_panel(settings, form, right, on_generate, busy, key=KEY)

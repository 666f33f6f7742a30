"""History's "Run again": load a stored experiment's spec into the Compare form, or a suite's
into the Suites form, and go there. Nothing is generated until the user presses Generate.

The forms' widgets read their values from the session state under their keys, so loading is
writing those keys before the form page draws. What the store does not keep cannot be loaded:
a base URL typed in the page (only its host is stored), so the page says to type it again.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from seedscope.providers.arm_backends import names_backends
from seedscope.spec import ExperimentSpec
from seedscope.store import StoredExperiment
from seedscope.suites import SuiteSpec
from seedscope.ui.check_results import check_kind
from seedscope.ui.compare_form import loaded_arms_key
from seedscope.ui.text import escape_markdown

LOADED_NOTICE = "{key}_loaded_from"
EXTRACTOR_FIELDS = {"regex": "regex", "json": "json_path"}


def _arms(spec: ExperimentSpec | SuiteSpec) -> list[dict[str, Any]]:
    return [
        {
            "label": arm.label,
            "seed": arm.seed,
            "temperature": arm.temperature,
            "runs": arm.runs,
            "top_logprobs": arm.top_logprobs,
            "provider": arm.provider,
            "base_url": arm.base_url,
            "model": arm.model,
        }
        for arm in spec.arms
    ]


def _request_fields(key: str, spec: ExperimentSpec | SuiteSpec, providers: list[str]) -> None:
    state = st.session_state
    state[f"{key}_system"] = spec.system
    if spec.provider in providers:  # else the form keeps a backend this deployment offers
        state[f"{key}_provider"] = spec.provider
    state[f"{key}_max_tokens"] = spec.max_tokens
    state[f"{key}_top_p"] = float(spec.top_p)
    if spec.provider == "openai":
        state[f"{key}_model_typed"] = spec.model  # offered when the server lists no models
    state[f"{key}_preset"] = "custom"
    state[loaded_arms_key(key)] = _arms(spec)


def load_into_compare(experiment: StoredExperiment, providers: list[str]) -> str:
    """Fill the Compare form with this experiment's request; returns the page to go to.
    `providers`: the backends this deployment offers."""
    spec = experiment.spec
    assert isinstance(spec, ExperimentSpec)
    st.session_state["cmp_prompt"] = spec.prompt
    _request_fields("cmp", spec, providers)
    # Arms that named backends of their own come back with their backend columns.
    st.session_state["cmp_arm_backends"] = names_backends(spec)
    kind = check_kind(experiment)
    if kind is not None:  # a check comes back as its preset, with its parameters
        _check_fields(kind.kind, kind.evaluate(spec, experiment.completions).evidence)
    st.session_state[LOADED_NOTICE.format(key="cmp")] = _notice(experiment)
    return "pages/compare.py"


# A check's parameters: the evidence field -> the Compare form's widget key, and whether the
# widget is a text field (seeds: text, so int64 seeds survive the browser).
CHECK_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "seed": {
        "seed_a": ("cmp_seed_a", True),
        "seed_b": ("cmp_seed_b", True),
        "runs_per_arm": ("cmp_runs", False),
        "temperature": ("cmp_seed_check_temperature", False),
    },
    "load": {
        "seed": ("cmp_seed", True),
        "runs": ("cmp_runs", False),
        "copies": ("cmp_load_copies", False),
        "background": ("cmp_load_background", False),
        "temperature": ("cmp_load_temperature", False),
    },
    "logprobs": {
        "seed": ("cmp_seed", True),
        "runs_per_arm": ("cmp_runs", False),
        "temperature": ("cmp_logprobs_temperature", False),
        "top_logprobs": ("cmp_logprobs_top_k", False),
    },
}


def _check_fields(kind: str, evidence: dict[str, Any]) -> None:
    state = st.session_state
    state["cmp_preset"] = f"check-{kind}"
    for name, (key, text) in CHECK_FIELDS[kind].items():
        value = evidence.get(name)
        if value is not None:
            state[key] = str(value) if text else value


def load_into_suites(experiment: StoredExperiment, providers: list[str]) -> str:
    """Fill the Suites form with this suite (as "a suite run before") and its settings."""
    spec = experiment.spec
    assert isinstance(spec, SuiteSpec) and experiment.kind == "suite"
    state = st.session_state
    state["ste_source"] = "stored"
    state["ste_stored"] = experiment.id
    _request_fields("ste", spec, providers)
    extractor = spec.extractor
    state["ste_extractor"] = "none" if extractor is None else extractor.kind
    if extractor is not None and extractor.kind in EXTRACTOR_FIELDS:
        value = extractor.pattern if extractor.kind == "regex" else extractor.path
        state[f"ste_{EXTRACTOR_FIELDS[extractor.kind]}"] = value
    state[LOADED_NOTICE.format(key="ste")] = _notice(experiment)
    return "pages/suites.py"


def _notice(experiment: StoredExperiment) -> str:
    notice = f"Loaded from experiment `{experiment.id[:8]}` (History, Run again)."
    host = experiment.summary.base_url_host
    if experiment.spec.provider == "openai" and host:
        notice += (
            f" It ran at {escape_markdown(host)}: check the base URL (only the host is stored) "
            "and the model"
        )
    if names_backends(experiment.spec) and isinstance(experiment.spec, SuiteSpec):
        notice += (
            ". Its arms named backends of their own, which the Suites form does not offer: "
            "here every arm runs on the form's backend (`seedscope suite run` with the suite's "
            "spec runs it as it was)"
        )
    return notice + ". Nothing runs until you press **Generate**."


def show_loaded_notice(key: str) -> None:
    """On the form's page, once: where the form's values came from."""
    notice = st.session_state.pop(LOADED_NOTICE.format(key=key), None)
    if notice:
        st.info(notice, icon=":material/replay:")

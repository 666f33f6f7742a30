"""The Compare page's form: request, backend, preset and arms table, checked as you type.

The form is plain widgets (no `st.form`) so choosing a preset refills the arms table at once.
Every rerun builds the raw spec data from the widgets and validates it with `seedscope.spec`; the
messages sit next to the form and Generate stays disabled until the input is valid.

The Compare form's presets include the checks (seedscope.checks): a check brings its own arms,
so instead of the arms table the form shows the check's parameters, with the command line's
defaults, and builds the spec with the check's spec function; Generate then runs the check
(`CompareForm.check` names it).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st
from seedscope.checks import load as load_probe
from seedscope.checks import load_probe_spec, logprobs_check_spec, seed_check_spec
from seedscope.checks import logprobs as logprobs_check
from seedscope.checks import seed as seed_check
from seedscope.net_guard import RefusedURL, check_typed_base_url
from seedscope.providers.factory import settings_for_endpoint, typed_url_guard
from seedscope.settings import Settings, base_url_host
from seedscope.spec import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM,
    LOCAL_CHAT_MODEL,
    ExperimentSpec,
    Limits,
    SpecError,
    preset_arms,
    validate_spec,
)
from seedscope.suites import AnySpec, SuiteSpec
from seedscope.ui.text import count, escape_markdown
from streamlit.delta_generator import DeltaGenerator

PRESET_LABELS = {
    "cookbook": "Cookbook: unseeded at 0.7 vs seed at 0",
    "seed-only": "Seed only: seed vs no seed, one temperature",
    "grid": "Grid 2×2: {no seed, seed} × {two temperatures}",
    "custom": "Custom: edit the arms table freely",
}
# The checks, offered as presets on the Compare page: preset -> the check's kind.
CHECK_PRESETS = {"check-seed": "seed", "check-load": "load", "check-logprobs": "logprobs"}
CHECK_PRESET_LABELS = {
    "check-seed": "Seed check: is the seed honoured? (seed A, seed A again, seed B)",
    "check-load": "Load probe: does load change a seeded output?",
    "check-logprobs": "Logprobs check: does asking for logprobs change outputs?",
}
CHECK_DESCRIPTIONS = {
    "seed": (
        "Three arms, one call at a time: seed A, seed A again, seed B, each N runs at one "
        "temperature. Verdict: seed_honoured, seed_ignored, deterministic_regardless_of_seed, "
        "seed_honoured_not_deterministic or inconclusive."
    ),
    "load": (
        "The same seeded request N times alone, one call after another; K copies at once; N "
        "times alone while B background requests are in flight. Verdict: load_invariant or "
        "load_dependent. The embedded model serves one call at a time, so there the copies "
        "and the background requests queue behind each other."
    ),
    "logprobs": (
        "The same seeded request N times without and N times with token logprobs (top k), one "
        "call at a time. Verdict: logprobs_do_not_change_outputs, logprobs_change_outputs or "
        "inconclusive."
    ),
}
PROVIDER_LABELS = {"local": f"Embedded model ({LOCAL_CHAT_MODEL})", "openai": "OpenAI-compatible"}
ARM_COLUMNS = ["label", "seed", "temperature", "runs"]
LOGPROBS_COLUMN = "top_logprobs"  # the Compare form's arm option: capture token logprobs
# The Compare form's "Arms on different backends": each arm's own provider, base URL, model.
BACKEND_COLUMNS = ["provider", "base_url", "model"]
# The checks' parameters default as on the command line (`seedscope check <kind> --help`).
SEED_CHECK_DEFAULTS = {
    "seed_a": seed_check.DEFAULT_SEED_A,
    "seed_b": seed_check.DEFAULT_SEED_B,
    "temperature": seed_check.DEFAULT_TEMPERATURE,
}
LOAD_PROBE_DEFAULTS = {
    "temperature": load_probe.DEFAULT_TEMPERATURE,
    "copies": load_probe.DEFAULT_COPIES,
    "background": load_probe.DEFAULT_BACKGROUND,
}
LOGPROBS_CHECK_DEFAULTS = {
    "temperature": logprobs_check.DEFAULT_TEMPERATURE,
    "top_logprobs": logprobs_check.DEFAULT_TOP_LOGPROBS,
}
# The preset's two temperature fields: (first, second); the grid crosses both with both arms.
TEMPERATURE_LABELS = {
    "cookbook": ("Seeded temperature", "Unseeded temperature"),
    "seed-only": ("Temperature", None),
    "grid": ("Temperature A", "Temperature B"),
}
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass
class CompareForm:
    """What the form (Compare's, or the Suites page's) holds after this rerun."""

    provider: str
    base_url: str | None
    spec: AnySpec | None  # a SuiteSpec on the Suites page
    problems: list[str] = field(default_factory=list)
    worst_case_tokens: int = 0
    needs_confirmation: bool = False
    confirmed: bool = True
    model_list_problem: str | None = None  # listing models at a typed base URL failed
    progress: DeltaGenerator | None = None  # right under Generate: where a job's progress goes
    check: str | None = None  # a check preset: "seed" | "load" | "logprobs"; Generate runs it

    @property
    def ready(self) -> bool:
        return self.spec is not None and not self.problems and self.confirmed


def available_providers(settings: Settings) -> list[str]:
    """Backends a visitor may choose: allowed by configuration, and usable."""
    return [
        name
        for name in settings.allowed_providers
        if name == "local" or (name == "openai" and settings.openai_configured)
    ]


def parse_seed(raw: Any) -> Any:
    """'' / 'none' / missing -> None (unseeded); an integer string -> int; anything else is
    passed through so validation names it ("'abc' is not a valid number")."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if isinstance(raw, int | float):
        return int(raw) if float(raw).is_integer() else raw
    text = str(raw).strip()
    if text.lower() in {"", "none", "-"}:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _missing(value: Any) -> bool:
    """An empty cell: None, NaN, or pandas' NA (an empty cell of an integer column)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number_or_raw(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return value  # pydantic turns 5.0 into 5 for int fields, and keeps floats as floats
    return value


def parse_top_logprobs(raw: Any) -> Any:
    """An empty cell -> None (capture nothing); a whole number -> int; anything else is passed
    through so validation names it."""
    if _missing(raw) or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, int | float) and float(raw).is_integer():
        return int(raw)
    return raw


def _text_or_none(value: Any) -> str | None:
    """A text cell: None when empty, else the text stripped."""
    if _missing(value) or not str(value).strip():
        return None
    return str(value).strip()


def arms_from_table(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Arm dicts from the edited table; rows left completely empty are ignored. A
    `top_logprobs` column (the Compare form's) gives each arm its logprob capture; the
    backend columns, its own backend (empty cells: the form's)."""
    optional = [LOGPROBS_COLUMN, *BACKEND_COLUMNS]
    columns = ARM_COLUMNS + [column for column in optional if column in table.columns]
    arms = []
    for row in table.to_dict("records"):
        values = {column: row.get(column) for column in columns}
        blank = all(
            _missing(value) or (isinstance(value, str) and not value.strip())
            for value in values.values()
        )
        if blank:
            continue
        label = values["label"]
        arm = {
            "label": "" if _missing(label) or isinstance(label, float) else str(label),
            "seed": parse_seed(values["seed"]),
            "temperature": _number_or_raw(values["temperature"]),
            "runs": _number_or_raw(values["runs"]),
        }
        if LOGPROBS_COLUMN in values:
            arm[LOGPROBS_COLUMN] = parse_top_logprobs(values[LOGPROBS_COLUMN])
        for column in BACKEND_COLUMNS:
            if column in values:
                arm[column] = _text_or_none(values[column])
        arms.append(arm)
    return arms


def arms_table(
    arms: list[dict[str, Any]], *, logprobs_column: bool = False, backend_columns: bool = False
) -> pd.DataFrame:
    """The editor's starting table; seeds as text so int64 seeds survive the browser (JS
    numbers lose precision above 2^53). `logprobs_column`: with each arm's top_logprobs;
    `backend_columns`: with each arm's own provider, base URL and model."""
    rows = [
        {
            "label": arm["label"],
            "seed": "" if arm["seed"] is None else str(arm["seed"]),
            "temperature": float(arm["temperature"]),
            "runs": int(arm["runs"]),
            LOGPROBS_COLUMN: arm.get(LOGPROBS_COLUMN),
            **{column: arm.get(column) or "" for column in BACKEND_COLUMNS},
        }
        for arm in arms
    ]
    types = {"label": "string", "seed": "string", "temperature": "float64", "runs": "Int64"}
    columns = list(ARM_COLUMNS)
    if logprobs_column:
        columns.append(LOGPROBS_COLUMN)
        types[LOGPROBS_COLUMN] = "Int64"
    if backend_columns:
        columns.extend(BACKEND_COLUMNS)
        types.update(dict.fromkeys(BACKEND_COLUMNS, "string"))
    return pd.DataFrame(rows, columns=columns).astype(types)


@st.cache_data(ttl=120, show_spinner="Asking the server for its models…")
def _remote_models(
    base_url: str | None,
    configured_url: str | None,
    has_key: bool,
    policy: tuple[bool, tuple[str, ...]],
    _settings: Settings,
) -> list[str]:
    from seedscope.providers.openai_compat import OpenAICompatProvider

    # A typed URL is guarded here too: listing models is a request the server sends.
    guard = typed_url_guard(_settings, base_url)
    settings = settings_for_endpoint(_settings, base_url)
    # Short timeout and no retries: the form waits for this answer.
    provider = OpenAICompatProvider(
        api_key=settings.openai_api_key,
        base_url=base_url or settings.openai_base_url,
        timeout=5.0,
        max_retries=0,
        guard=guard,
        echo_error_body=not (guard is not None and _settings.shared_mode),
    )
    return provider.list_models()


def remote_models(settings: Settings, base_url: str | None) -> tuple[list[str], str | None]:
    """Model ids from the server's /v1/models, or an empty list and why."""
    policy = (settings.shared_mode, settings.allowed_base_urls)
    try:
        models = _remote_models(
            base_url, settings.openai_base_url, bool(settings.openai_api_key), policy, settings
        )
    except Exception as exc:  # the server may not offer /v1/models: fall back to typing a name
        return [], str(exc)
    return models, None


class Backend(NamedTuple):
    provider: str
    base_url: str | None
    model: str
    model_list_problem: str | None  # why the models at a typed base URL could not be listed
    refused: str | None  # why a typed base URL may not be used (seedscope.net_guard)


def _typed_url_verdict(settings: Settings, base_url: str | None) -> str | None:
    """Refusal of a typed base URL (shown, and Generate stays disabled), or None; in local mode
    what the guard found is a warning next to the field."""
    if base_url is None or base_url == settings.openai_base_url:
        return None
    if not base_url.startswith(("http://", "https://")):
        return None  # the form's own check names that
    try:
        warning = check_typed_base_url(base_url, settings)
    except RefusedURL as exc:
        return str(exc)
    if warning:
        st.warning(escape_markdown(warning), icon=":material/shield:")
    return None


def backend_section(settings: Settings, key: str = "cmp") -> Backend:
    """Backend, base URL and model fields."""
    providers = available_providers(settings)
    if not providers:
        st.error(
            "No backend is available: this deployment allows only the OpenAI-compatible backend "
            "and it is not configured. Set OPENAI_API_KEY or OPENAI_BASE_URL (see About)."
        )
        st.stop()
    provider = st.selectbox(
        "Backend",
        providers,
        format_func=PROVIDER_LABELS.get,
        key=f"{key}_provider",
        help=(
            "The OpenAI-compatible backend appears when OPENAI_API_KEY or OPENAI_BASE_URL is set."
            if "openai" in settings.allowed_providers
            else "This deployment offers only the backends listed here."
        ),
    )
    if "openai" in settings.allowed_providers and "openai" not in providers:
        st.caption("OpenAI-compatible backend: set OPENAI_API_KEY or OPENAI_BASE_URL (see About).")
    if provider == "local":
        st.text_input("Model", value=LOCAL_CHAT_MODEL, disabled=True, key=f"{key}_local_model")
        return Backend(provider, None, LOCAL_CHAT_MODEL, None, None)

    configured = settings.openai_base_url or ""
    if settings.lock_base_url:
        st.text_input(
            "Base URL",
            value=configured or OPENAI_DEFAULT_BASE_URL,
            disabled=True,
            key=f"{key}_base_url_locked",
            help="Locked by SEEDSCOPE_LOCK_BASE_URL.",
        )
        base_url = settings.openai_base_url
    else:
        typed = st.text_input(
            "Base URL",
            value=configured,
            placeholder=OPENAI_DEFAULT_BASE_URL,
            key=f"{key}_base_url",
            help="Any OpenAI-compatible server: vLLM, Ollama, llama.cpp server, LM Studio.",
        ).strip()
        base_url = typed or None
    refused = _typed_url_verdict(settings, base_url)
    if refused:
        st.error(escape_markdown(refused), icon=":material/block:")
    models, problem = ([], None) if refused else remote_models(settings, base_url)
    if models:
        default = settings.openai_model if settings.openai_model in models else models[0]
        model = st.selectbox(
            "Model", models, index=models.index(default), key=f"{key}_model_{base_url}"
        )
    else:
        model = st.text_input("Model", value=settings.openai_model, key=f"{key}_model_typed")
        if problem:
            st.caption(f"Type a model name ({escape_markdown(problem)}).")
    typed = base_url is not None and base_url != settings.openai_base_url
    return Backend(provider, base_url, model, problem if typed else None, refused)


def base_url_problems(base_url: str | None, refused: str | None) -> list[str]:
    """What keeps a typed base URL from being used, for the form's problem list."""
    if base_url and not base_url.startswith(("http://", "https://")):
        return [f"base_url: {base_url!r} is not an http(s) URL; e.g. {OPENAI_DEFAULT_BASE_URL}"]
    return [f"base_url: {refused}"] if refused else []


def backend_column_config(choices: list[str]) -> dict[str, Any]:
    """The arms table's backend columns."""
    return {
        "provider": st.column_config.SelectboxColumn(
            "provider",
            options=choices,
            help="The arm's backend: "
            + ", ".join(f"{p} = {PROVIDER_LABELS[p]}" for p in choices)
            + ". Empty: the form's backend.",
            width=80,
        ),
        "base_url": st.column_config.TextColumn(
            "base_url",
            help="An openai arm's server, e.g. http://127.0.0.1:8000/v1 (no credentials: the "
            "spec is stored). Empty: the form's base URL, or the configured one.",
            width=170,
        ),
        "model": st.column_config.TextColumn(
            "model", help="The arm's model. Empty: the form's, or the backend's default.", width=120
        ),
    }


def arm_backend_problems(
    settings: Settings, spec: AnySpec, base_url: str | None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the backends the arms name, each naming the arm; a base URL an
    arm names is judged like one typed in the page (seedscope.net_guard)."""
    from seedscope.providers.arm_backends import arm_backends

    problems: list[str] = []
    warnings: list[str] = []
    named = {arm.label for arm in spec.arms if arm.provider or arm.base_url or arm.model}
    for label, backend in arm_backends(spec, base_url, settings).items():
        if label not in named:
            continue
        prefix = f"arm {label!r}"
        if backend.provider not in settings.allowed_providers:
            problems.append(f"{prefix}: provider {backend.provider!r} is not offered here")
            continue
        if backend.provider == "local":
            if backend.model != LOCAL_CHAT_MODEL:
                problems.append(
                    f"{prefix}: the embedded backend runs {LOCAL_CHAT_MODEL}; leave the "
                    "arm's model empty"
                )
            continue
        url = backend.base_url
        if url is None and not settings.openai_configured:
            problems.append(
                f"{prefix}: no base URL, and no OpenAI-compatible backend is configured; "
                "give the arm a base_url"
            )
        elif url is not None and url not in (base_url, settings.openai_base_url):
            if settings.lock_base_url:
                problems.append(
                    f"{prefix}: base_url is locked to the configured one "
                    "(SEEDSCOPE_LOCK_BASE_URL); leave the arm's base_url empty"
                )
                continue
            try:
                warning = check_typed_base_url(url, settings)
            except RefusedURL as exc:
                problems.append(f"{prefix}: base_url: {exc}")
                continue
            if warning:
                warnings.append(f"{prefix}: {warning}")
    return problems, warnings


def loaded_arms_key(key: str) -> str:
    """Where "Run again" leaves an experiment's arms for the custom preset's table."""
    return f"{key}_loaded_arms"


def preset_choice(key: str = "cmp", *, checks: bool = False) -> str:
    """The preset selectbox; `checks`: the checks are offered too (the Compare form)."""
    labels = PRESET_LABELS | (CHECK_PRESET_LABELS if checks else {})
    return st.selectbox("Preset", list(labels), format_func=labels.get, key=f"{key}_preset")


def preset_section(
    settings: Settings,
    key: str = "cmp",
    default_runs: int = 5,
    *,
    preset: str | None = None,
    logprobs_column: bool = False,
    backend_choices: list[str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The preset's parameters and the arms table (`preset`: already chosen with
    preset_choice, else chosen here). `logprobs_column`: arms may capture token logprobs;
    `backend_choices`: arms may name their own backend, one of these providers."""
    if preset is None:
        preset = preset_choice(key)
    params: dict[str, Any] = {}
    if preset != "custom":
        # Two per row: four in a row squeeze their labels into broken words on a laptop.
        seed_col, runs_col = st.columns(2)
        seed_text = seed_col.text_input("Seed", value="123", key=f"{key}_seed")
        params["seed"] = parse_seed(seed_text)
        params["runs"] = int(
            runs_col.number_input("Runs per arm", value=default_runs, step=1, key=f"{key}_runs")
        )
        first_col, second_col = st.columns(2)
        first_label, second_label = TEMPERATURE_LABELS[preset]
        params["temperature"] = first_col.number_input(
            first_label, value=0.0, step=0.1, format="%.2f", key=f"{key}_temperature"
        )
        if second_label:
            params["unseeded_temperature"] = second_col.number_input(
                second_label, value=0.7, step=0.1, format="%.2f", key=f"{key}_unseeded_temperature"
            )
    base = "cookbook" if preset == "custom" else preset
    seed_for_preset = params.get("seed", 123)
    arms = preset_arms(
        base,
        seed=seed_for_preset if isinstance(seed_for_preset, int) else 0,
        temperature=params.get("temperature", 0.0),
        unseeded_temperature=params.get("unseeded_temperature"),
        runs=params.get("runs", 5),
    )
    if preset != "custom" and not isinstance(seed_for_preset, int):
        for arm in arms:  # let validation report the seed exactly as typed
            if arm["seed"] is not None:
                arm["seed"] = seed_for_preset
    loaded = st.session_state.get(loaded_arms_key(key))
    if preset == "custom" and loaded:  # "Run again" in History: the experiment's own arms
        arms = [dict(arm) for arm in loaded]
        params["loaded"] = repr(loaded)
    # The editor is keyed by the preset and its parameters: changing them starts a fresh table,
    # while edits to the table survive unrelated reruns.
    params["backends"] = backend_choices is not None
    signature = hashlib.sha256(repr((preset, sorted(params.items()))).encode()).hexdigest()[:12]
    caption = (
        "Arms: one row per arm. An empty seed means unseeded (the embedded model then draws "
        "and records a fresh seed per run). Add or delete rows to change the arms."
    )
    if logprobs_column:
        caption += (
            " top_logprobs: capture each token's logprob and its top k alternatives (1–20); "
            "empty captures none."
        )
    st.caption(caption)
    # Fixed widths keep all the columns in view in a laptop-width form.
    column_config: dict[str, Any] = {
        "label": st.column_config.TextColumn("label", required=True, width=90),
        "seed": st.column_config.TextColumn(
            "seed", help="An integer, or empty for no seed", width=75
        ),
        "temperature": st.column_config.NumberColumn("temperature", format="%.2f", width=100),
        "runs": st.column_config.NumberColumn("runs", step=1, width=50),
    }
    if logprobs_column:
        column_config[LOGPROBS_COLUMN] = st.column_config.NumberColumn(
            LOGPROBS_COLUMN,
            help=(
                "Capture token logprobs: each generated token's logprob and its top k "
                "alternatives, k from 1 to 20. Empty: no capture. On the embedded model such "
                "an arm runs on a load of its own (its own fingerprint); asking for logprobs "
                "can change a server's outputs (see the Logprobs check preset)."
            ),
            step=1,
            width=95,
        )
    if backend_choices is not None:
        st.caption(
            "provider, base_url, model: the arm's own backend; empty cells take the form's. "
            "A server's API key goes only to the configured OPENAI_BASE_URL."
        )
        column_config.update(backend_column_config(backend_choices))
    edited = st.data_editor(
        arms_table(
            arms, logprobs_column=logprobs_column, backend_columns=backend_choices is not None
        ),
        key=f"{key}_arms_{preset}_{signature}",
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config=column_config,
    )
    return preset, arms_from_table(edited)


@dataclass
class CheckParameters:
    """A check preset's parameters as typed: the keyword arguments of the check's spec
    function, and the problems it cannot name itself (a seed left empty)."""

    kind: str  # "seed" | "load" | "logprobs"
    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def named(self) -> set[str]:
        """Parameters that already have a problem here."""
        return {problem.split(":", 1)[0] for problem in self.problems}


def _check_seed(
    column: DeltaGenerator, label: str, default: int, *, key: str, help: str | None = None
) -> Any:
    """A seed field (text, so int64 seeds survive the browser): an int, None when empty, or
    the text as typed for validation to name."""
    return parse_seed(column.text_input(label, value=str(default), key=key, help=help))


def _temperature(column: DeltaGenerator, default: float, *, key: str, help: str) -> float:
    return column.number_input(
        "Temperature", value=default, step=0.1, format="%.2f", key=key, help=help
    )


def check_section(kind: str, key: str = "cmp", default_runs: int = 5) -> CheckParameters:
    """A check preset's own parameters (instead of the arms table), with the defaults of
    `seedscope check <kind>`."""
    st.caption(CHECK_DESCRIPTIONS[kind])
    values: dict[str, Any] = {}
    first, second = st.columns(2)
    if kind == "seed":
        values["seed_a"] = _check_seed(
            first,
            "Seed A",
            SEED_CHECK_DEFAULTS["seed_a"],
            key=f"{key}_seed_a",
            help="The seed of the arms seed A and seed A again (--seed-a).",
        )
        values["seed_b"] = _check_seed(
            second,
            "Seed B",
            SEED_CHECK_DEFAULTS["seed_b"],
            key=f"{key}_seed_b",
            help="Another seed, for the arm seed B (--seed-b).",
        )
        runs_col, temperature_col = st.columns(2)
    else:  # the other presets' seed field (the load probe and logprobs check default to 123 too)
        values["seed"] = parse_seed(first.text_input("Seed", value="123", key=f"{key}_seed"))
        runs_col, temperature_col = second, None
    values["runs"] = int(
        runs_col.number_input("Runs per arm", value=default_runs, step=1, key=f"{key}_runs")
    )
    if kind == "seed":
        assert temperature_col is not None
        values["temperature"] = _temperature(
            temperature_col,
            SEED_CHECK_DEFAULTS["temperature"],
            key=f"{key}_seed_check_temperature",
            help="Above 0: at 0 every seed gives the same text (--temperature).",
        )
    elif kind == "load":
        copies_col, background_col = st.columns(2)
        values["copies"] = int(
            copies_col.number_input(
                "Copies at once (K)",
                value=LOAD_PROBE_DEFAULTS["copies"],
                step=1,
                key=f"{key}_load_copies",
                help="Copies of the seeded request sent at once (--copies).",
            )
        )
        values["background"] = int(
            background_col.number_input(
                "Background requests (B)",
                value=LOAD_PROBE_DEFAULTS["background"],
                step=1,
                key=f"{key}_load_background",
                help=(
                    "Requests with other continuations in flight with each measured run "
                    "(--background): runs × B background requests in all."
                ),
            )
        )
        values["temperature"] = _temperature(
            st.columns(2)[0],
            LOAD_PROBE_DEFAULTS["temperature"],
            key=f"{key}_load_temperature",
            help="0 by default (greedy), so that only load can change the output (--temperature).",
        )
    else:
        temperature_col, top_col = st.columns(2)
        values["temperature"] = _temperature(
            temperature_col,
            LOGPROBS_CHECK_DEFAULTS["temperature"],
            key=f"{key}_logprobs_temperature",
            help="The temperature of both arms (--temperature).",
        )
        values["top_logprobs"] = parse_top_logprobs(
            top_col.number_input(
                "Top k logprobs",
                value=LOGPROBS_CHECK_DEFAULTS["top_logprobs"],
                step=1,
                key=f"{key}_logprobs_top_k",
                help="Alternatives captured per token by the arm with logprobs, 1 to 20 "
                "(--top-logprobs).",
            )
        )
    return _required_seeds(CheckParameters(kind, values))


def _required_seeds(parameters: CheckParameters) -> CheckParameters:
    """A check needs fixed seeds: an empty seed is a problem, and a stand-in (one that is
    not the other seed) lets the check's spec function judge the other parameters."""
    values = parameters.values
    names = ("seed_a", "seed_b") if parameters.kind == "seed" else ("seed",)
    for name in names:
        if values[name] is not None:
            continue
        parameters.problems.append(f"{name}: no seed given; the check needs a fixed seed")
        others = [values[other] for other in names if other != name]
        stand_ins = (SEED_CHECK_DEFAULTS["seed_a"], SEED_CHECK_DEFAULTS["seed_b"])
        values[name] = next(value for value in stand_ins if value not in others)
    return parameters


CHECK_SPECS: dict[str, Callable[..., ExperimentSpec]] = {
    "seed": seed_check_spec,
    "load": load_probe_spec,
    "logprobs": logprobs_check_spec,
}
# Only the request counts in the base spec of a check: the check brings its own arms.
_REQUEST_ARM = {"label": "request", "seed": None, "temperature": 0.0, "runs": 1}


def check_spec_for(
    parameters: CheckParameters, request: dict[str, Any], limits: Limits
) -> ExperimentSpec:
    """The check's spec on the form's request (prompt, system, backend, model, max_tokens,
    top_p), built by its spec function; SpecError lists the request's problems, then the
    check's, each naming its parameter."""
    try:
        base = validate_spec({**request, "arms": [_REQUEST_ARM]}, limits)
        problems: list[str] = []
    except SpecError as error:
        # Go on with the default request, so that the check's parameters are judged too.
        problems = list(error.messages)
        base = ExperimentSpec(provider=request["provider"])
    problems.extend(parameters.problems)
    try:
        spec = CHECK_SPECS[parameters.kind](base, **parameters.values, limits=limits)
    except SpecError as error:
        named = parameters.named
        problems.extend(m for m in error.messages if m.split(":", 1)[0] not in named)
    if problems:
        raise SpecError(problems)
    return spec


def render_compare_form(
    settings: Settings, *, on_generate: Callable[[CompareForm], None], busy: bool = False
) -> CompareForm:
    """Draw the form and the check panel next to it; return what it holds.

    Generate calls `on_generate(form)` as its callback (before the next script run), with the
    form as validated when it was clicked. `busy`: this session's job is still running, so
    Generate is disabled until it ends.
    """
    left, right = st.columns([2, 1], gap="medium")
    with left:
        prompt = st.text_area("Prompt", value=DEFAULT_PROMPT, key="cmp_prompt", height=100)
        system = st.text_area("System message", value=DEFAULT_SYSTEM, key="cmp_system", height=68)
        # Full-width rows: the backend and model names are long and must stay readable.
        provider, base_url, model, model_list_problem, refused = backend_section(settings)
        tokens_col, top_p_col = st.columns(2)
        max_tokens = int(
            tokens_col.number_input("max_tokens", value=200, step=1, key="cmp_max_tokens")
        )
        top_p = top_p_col.number_input(
            "top_p", value=1.0, step=0.05, format="%.2f", key="cmp_top_p"
        )
        preset = preset_choice(checks=True)
        check = CHECK_PRESETS.get(preset)
        parameters: CheckParameters | None = None
        arms: list[dict[str, Any]] = []
        if check is not None:
            parameters = check_section(check)
        else:
            per_arm = st.toggle(
                "Arms on different backends",
                key="cmp_arm_backends",
                help=(
                    "Give each arm its own provider, base URL and model, e.g. the embedded "
                    "model next to a server, each seeded and unseeded. Each backend keeps its "
                    "own concurrency limit; fingerprints and measures are per arm."
                ),
            )
            _, arms = preset_section(
                settings,
                preset=preset,
                logprobs_column=True,
                backend_choices=list(settings.allowed_providers) if per_arm else None,
            )

    request = {
        "prompt": prompt,
        "system": system,
        "provider": provider,
        "model": model,
        "max_tokens": max_tokens,
        "top_p": top_p,
    }
    limits = Limits.from_settings(settings)
    problems: list[str] = []
    spec: ExperimentSpec | None = None
    try:
        if parameters is not None:
            spec = check_spec_for(parameters, request, limits)
        else:
            spec = validate_spec({**request, "arms": arms}, limits)
    except SpecError as exc:
        problems.extend(exc.messages)
    problems.extend(base_url_problems(base_url, refused))
    if spec is not None:
        arm_problems, warnings = arm_backend_problems(settings, spec, base_url)
        problems.extend(arm_problems)
        for warning in warnings:
            with left:
                st.warning(escape_markdown(warning), icon=":material/shield:")
    form = CompareForm(
        provider, base_url, spec, problems, model_list_problem=model_list_problem, check=check
    )
    if check is not None and spec is not None:
        with left:
            check_arms_preview(spec)
    return with_check_panel(settings, form, right, on_generate, busy)


def check_arms_preview(spec: ExperimentSpec) -> None:
    """The arms the check will run, read-only (they are the check's, not editable)."""
    rows = [
        {
            "arm": arm.label,
            "seed": "" if arm.seed is None else str(arm.seed),
            "temperature": arm.temperature,
            "runs": arm.runs,
            LOGPROBS_COLUMN: arm.top_logprobs,
        }
        for arm in spec.arms
    ]
    st.caption("The check's arms")
    st.dataframe(pd.DataFrame(rows).astype({LOGPROBS_COLUMN: "Int64"}), hide_index=True)


def with_check_panel(
    settings: Settings,
    form: CompareForm,
    column: DeltaGenerator,
    on_generate: Callable[[CompareForm], None],
    busy: bool,
    *,
    key: str = "cmp",
) -> CompareForm:
    """Draw the check panel in `column` and the place for a job's progress under Generate."""
    with column:
        render_check_panel(settings, form, on_generate, busy, key=key)
        form.progress = st.container()
    return form


def server_runs(settings: Settings, spec: AnySpec, base_url: str | None) -> dict[str | None, int]:
    """Runs per OpenAI-compatible server the spec sends to (its base URL; None: OpenAI's own
    API), in arm order; the embedded model's runs cost nothing and are left out."""
    from seedscope.providers.arm_backends import arm_backends

    cases = len(spec.cases) if isinstance(spec, SuiteSpec) else 1
    runs: dict[str | None, int] = {}
    backends = arm_backends(spec, base_url, settings)
    for arm in spec.arms:
        backend = backends[arm.label]
        if backend.provider == "openai":
            url = backend.base_url or settings.openai_base_url
            runs[url] = runs.get(url, 0) + arm.runs * cases
    return runs


def backend_cost_label(base_url: str | None) -> str:
    """How the cost line names the backend: OpenAI's API is paid; another server may or may
    not charge (a loopback llama.cpp server does not), so it is named by its host."""
    host = base_url_host(base_url)
    if host is None or host == "api.openai.com":
        return "Paid backend (OpenAI)"
    return f"Server at {escape_markdown(host)} (paid only if it charges)"


def render_check_panel(
    settings: Settings,
    form: CompareForm,
    on_generate: Callable[[CompareForm], None],
    busy: bool,
    *,
    key: str = "cmp",
) -> None:
    """What the form will send (or what to fix first), the cost of a paid backend, Generate."""
    st.subheader("Check")
    if form.problems:
        st.error("Fix these before generating:")
        for problem in form.problems:
            # Messages quote user input; st.text keeps them literal.
            st.text(f"• {problem}")
    elif form.spec is not None:
        spec = form.spec
        cases = f"{count(len(spec.cases), 'case')} × " if isinstance(spec, SuiteSpec) else ""
        st.success(
            f"{cases}{count(len(spec.arms), 'arm')}, {count(spec.total_runs, 'run')} in total, "
            f"up to {count(spec.max_tokens, 'token')} each."
        )
    servers = server_runs(settings, form.spec, form.base_url) if form.spec is not None else {}
    if form.spec is not None and servers:
        spec = form.spec
        form.worst_case_tokens = sum(servers.values()) * spec.max_tokens
        for url, runs in servers.items():
            st.info(
                f"{backend_cost_label(url or settings.openai_base_url)}: worst case "
                f"{count(runs * spec.max_tokens, 'completion token')} "
                f"({count(runs, 'run')} × max_tokens {spec.max_tokens}), plus the prompt "
                "tokens."
            )
        if form.worst_case_tokens > settings.cost_confirm_tokens:
            form.needs_confirmation = True
            form.confirmed = st.checkbox(
                f"I accept up to {form.worst_case_tokens:,} completion tokens "
                f"(above this deployment's {settings.cost_confirm_tokens:,}-token threshold)",
                key=f"{key}_confirm_cost",
            )
    if form.model_list_problem:
        st.warning(
            "The models at the base URL typed in the page could not be listed "
            f"({escape_markdown(form.model_list_problem)}). Check the base URL before you "
            "generate: if it is wrong, every run will fail.",
            icon=":material/warning:",
        )
    st.button(
        "Generate",
        type="primary",
        disabled=busy or not form.ready,
        key=f"{key}_generate",
        width="stretch",
        on_click=on_generate,
        args=(form,),
        help="Your generation is running: it must end (or be cancelled) first." if busy else None,
    )

"""The Compare page: form, generation, and the results of the latest comparison."""

from __future__ import annotations

import streamlit as st
from seedscope.providers.base import Provider
from seedscope.settings import Settings
from seedscope.store import StoreError
from seedscope.ui import resources
from seedscope.ui.compare_form import CompareForm, render_compare_form
from seedscope.ui.generation import Generation, run_generation, wait_until_settled
from seedscope.ui.results import render_results
from seedscope.ui.text import escape_markdown

EXPERIMENT_KEY = "cmp_experiment_id"
GENERATION_KEY = "cmp_generation"


def make_remote_provider(settings: Settings, form: CompareForm) -> Provider:
    from seedscope.providers.factory import make_provider

    assert form.spec is not None
    # make_provider sends the configured key only to the configured base URL.
    return make_provider(settings, "openai", model=form.spec.model, base_url=form.base_url)


def _provider_for(settings: Settings, form: CompareForm) -> Provider | None:
    try:
        if form.provider == "local":
            return resources.local_provider(settings)
        return make_remote_provider(settings, form)
    except Exception as exc:  # configuration problems: a short message with the fix
        st.error(f"The backend cannot be used: {exc}")
        return None


def _remember(generation: Generation) -> None:
    st.session_state[EXPERIMENT_KEY] = generation.experiment_id
    st.session_state[GENERATION_KEY] = generation


def _generate(settings: Settings, form: CompareForm) -> None:
    if not form.ready or form.spec is None:  # the button is disabled then; never generate
        return
    provider = _provider_for(settings, form)
    if provider is None:
        return
    store = resources.store_or_stop(settings)
    concurrency = settings.remote_concurrency if form.provider == "openai" else None
    try:
        result = run_generation(
            form.spec, provider, store, concurrency=concurrency, on_started=_remember
        )
    except StoreError as exc:
        st.error(f"The experiment could not be saved: {exc}")
        return
    if result.problem:
        st.error(escape_markdown(result.problem))


def _latest_results(settings: Settings) -> None:
    experiment_id = st.session_state.get(EXPERIMENT_KEY)
    if not experiment_id:
        st.info(
            "Choose a preset and press **Generate**. The cookbook preset sends the prompt five "
            "times without a seed at temperature 0.7 and five times with seed 123 at "
            "temperature 0, then measures how far the answers drift."
        )
        return
    store = resources.store_or_stop(settings)
    generation = st.session_state.get(GENERATION_KEY)
    try:
        if generation is not None and generation.experiment_id == experiment_id:
            # An earlier script run of this session may still be finishing its generation.
            wait_until_settled(store, generation)
        experiment = store.load_experiment(experiment_id)
    except StoreError as exc:
        st.error(f"The latest comparison could not be loaded: {exc}")
        return
    if experiment is None:
        st.session_state.pop(EXPERIMENT_KEY, None)
        st.info("The latest comparison was deleted in History. Generate a new one.")
        return
    if experiment.summary.status == "cancelled":
        st.warning(
            f"Generation was cancelled: {len(experiment.completions)} completed runs were "
            "kept and are shown below (also in History)."
        )
    st.page_link(
        "pages/history.py",
        label="Open in History",
        icon=":material/history:",
        query_params={"experiment": experiment.summary.id},
    )
    render_results(settings, experiment, key="cmp")


def render_compare_page() -> None:
    settings = resources.settings_or_stop()
    st.title("Compare")
    st.caption(
        "Send the same chat request many times, with and without a fixed seed, and see how far "
        "the answers drift."
    )
    form = render_compare_form(settings)
    if form.generate:
        _generate(settings, form)
    st.divider()
    _latest_results(settings)

"""What an experiment's status means for its results, said at the top of them, and Resume.

`failed` (every run failed) gets a red banner with the most common reason; `cancelled` and
`interrupted` say how many runs are kept and offer Resume (a background job that sends only
the missing runs); `running` without a job in this process means another process runs it.
"""

from __future__ import annotations

import streamlit as st
from seedscope.checks.common import check_label_kind
from seedscope.experiments import failure_summary, missing_runs
from seedscope.settings import Settings
from seedscope.store import StoredExperiment
from seedscope.ui.launch import LaunchError, resume_generation
from seedscope.ui.text import count, escape_markdown

STATUS_BADGES = {
    "complete": ("complete", "green"),
    "failed": ("failed", "red"),
    "running": ("running", "blue"),
    "cancelled": ("cancelled", "orange"),
    "interrupted": ("interrupted", "red"),
}
STOPPED_EARLY = {
    "cancelled": "Generation was cancelled",
    "interrupted": "Generation was interrupted (saving a run failed, or the app stopped)",
}


def status_badge(status: str) -> str:
    """The status as a coloured Markdown badge."""
    text, color = STATUS_BADGES.get(status, (status, "gray"))
    return f":{color}-badge[{escape_markdown(text)}]"


def render_status_banner(settings: Settings, experiment: StoredExperiment, *, key: str) -> None:
    status = experiment.summary.status
    if status == "failed":
        summary = failure_summary(experiment.completions) or "every run failed"
        st.error(
            escape_markdown(
                f"This experiment failed: {summary}. Fix the cause (the backend, its base URL "
                "or the model name) and generate again."
            ),
            icon=":material/error:",
        )
    elif status in STOPPED_EARLY:
        _stopped_early(settings, experiment, key)
    elif status == "running":
        st.info(
            "This experiment is still running elsewhere (another app process or the command "
            "line): the runs below are those stored so far. Reload to see more."
        )


def _stopped_early(settings: Settings, experiment: StoredExperiment, key: str) -> None:
    kept = len(experiment.completions)
    missing = missing_runs(experiment.spec, experiment.completions)
    if check_label_kind(experiment.summary.label) is not None:
        # A check's runs count only together, in their order and load: it is run again.
        st.warning(
            f"{STOPPED_EARLY[experiment.summary.status]}: {count(kept, 'completed run')} kept "
            f"and shown below, {count(missing, 'run')} missing. A check is not resumed (runs "
            "sent later would be another measurement): run it again (History, **Run again**).",
            icon=":material/pause_circle:",
        )
        return
    st.warning(
        f"{STOPPED_EARLY[experiment.summary.status]}: {count(kept, 'completed run')} kept "
        f"and shown below (also in History), {count(missing, 'run')} missing: **Resume** "
        "sends only those.",
        icon=":material/pause_circle:",
    )
    notice_key = f"{key}_resume_problem_{experiment.id}"
    st.button(
        "Resume",
        key=f"{key}_resume_{experiment.id}",
        icon=":material/play_arrow:",
        on_click=_resume,
        args=(settings, experiment, notice_key),
        disabled=missing == 0,
        help="Generate the missing runs in the background; the stored runs are kept as they are.",
    )
    problem = st.session_state.pop(notice_key, None)
    if problem:
        st.error(escape_markdown(problem))


def _resume(settings: Settings, experiment: StoredExperiment, notice_key: str) -> None:
    """Resume's callback: the page that draws next finds the running job by experiment id."""
    try:
        resume_generation(settings, experiment)
    except LaunchError as exc:
        st.session_state[notice_key] = str(exc)

"""Helpers for the AppTest tests: reading a page's text, and stored sample experiments."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from seedscope.providers.base import Completion
from seedscope.spec import ExperimentSpec
from seedscope.store import Store
from seedscope.ui import resources
from streamlit.testing.v1 import AppTest

from tests.store_support import make_completion, make_spec

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def page_text(at: AppTest) -> str:
    """Every text the page shows, joined: for checks that something appears (or never does)."""
    parts: list[str] = []

    def walk(node: object) -> None:
        for child in getattr(node, "children", {}).values():
            for attribute in ("value", "label", "body", "help", "placeholder"):
                try:
                    value = getattr(child, attribute, None)
                except Exception:  # noqa: BLE001 - some elements have no readable value
                    value = None
                if isinstance(value, str):
                    parts.append(value)
            proto = getattr(child, "proto", None)
            if proto is not None:
                parts.append(str(proto))
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def problems(at: AppTest) -> list[str]:
    """The validation messages shown next to the Compare form."""
    return [t.value.removeprefix("• ") for t in at.text if t.value.startswith("• ")]


JOB_TIMEOUT = 300.0  # seconds for a background job on 2 shared cores


def generate(at: AppTest, *, runs: int, max_tokens: int, wait: bool = True) -> AppTest:
    """Set runs per arm and max_tokens and press Generate. The click starts a background job
    and the page returns at once; with `wait` the job is awaited and the page run again, as
    the progress fragment's final full rerun would (AppTest does not run fragment timers)."""
    at.number_input(key="cmp_runs").set_value(runs)
    at.number_input(key="cmp_max_tokens").set_value(max_tokens).run()
    at.button(key="cmp_generate").click().run()
    if wait:
        finish_jobs(at)
    return at


def finish_jobs(at: AppTest) -> AppTest:
    """Wait until every background job of the process has ended, then run the page again."""
    for job in resources.job_manager().active_jobs():
        assert job.wait(JOB_TIMEOUT), f"job {job.experiment_id} did not finish"
    return at.run()


def spec_for(
    *,
    prompt: str = "Write one sentence about Mars.",
    provider: str = "local",
    model: str = "SmolLM2-135M-Instruct",
    arms: list[dict] | None = None,
    max_tokens: int = 8,
) -> ExperimentSpec:
    """A valid spec; by default two arms of two runs, as the pages' tests expect."""
    return make_spec(
        prompt=prompt,
        provider=provider,
        model=model,
        max_tokens=max_tokens,
        arms=arms
        or [
            {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 2},
            {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 2},
        ],
    )


def completion(
    spec: ExperimentSpec,
    arm_label: str,
    run_index: int,
    text: str,
    *,
    fingerprint: str | None = "fp_test",
    started_at: datetime | None = None,
    error: str | None = None,
) -> Completion:
    """A run of `spec`'s arm (the store tests' sample run); `error` names the failure's class."""
    run = make_completion(
        spec,
        arm_label,
        run_index,
        text=text,
        fingerprint=fingerprint,
        started_at=started_at,
        error=error is not None,
    )
    if error is None:
        return run
    return run.with_changes(error_type=error, error_message=f"{error}: the server said no")


def store_experiment(
    store: Store, spec: ExperimentSpec, texts: dict[str, list[str]], **kwargs
) -> str:
    """Store a finished experiment whose runs carry the given texts per arm."""
    experiment_id = store.create_experiment(spec, base_url_host=kwargs.pop("host", None))
    runs = [
        completion(spec, label, index, text, **kwargs)
        for label, arm_texts in texts.items()
        for index, text in enumerate(arm_texts)
    ]
    store.add_runs(experiment_id, runs)
    store.finish_experiment(experiment_id, "complete")
    return experiment_id

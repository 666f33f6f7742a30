"""Start background jobs from the page: build the backend, hand the run to the job manager.

Nothing here waits for a model call: a job runs on its own thread (seedscope.jobs), so the
page that started it may be edited, left or reloaded while it runs.
"""

from __future__ import annotations

from collections.abc import Callable

from seedscope.budgets import BudgetExceeded, Budgets, Request
from seedscope.checks import (
    LOAD_PROBE_LABEL,
    LOGPROBS_CHECK_LABEL,
    SEED_CHECK_LABEL,
    run_load_probe,
    run_logprobs_check,
    run_seed_check,
)
from seedscope.experiments import ResumeError, check_resumable
from seedscope.jobs import CheckRun, Job
from seedscope.providers.base import CompletionRequest, Provider
from seedscope.providers.factory import TYPED_IN_THE_PAGE
from seedscope.runner import plan_requests
from seedscope.settings import Settings
from seedscope.spec import ExperimentSpec
from seedscope.store import Store, StoredExperiment, StoreError
from seedscope.suites import AnySpec
from seedscope.ui import resources
from seedscope.ui.visitor import Visitor, current_visitor

# Each check's run function and the label its experiment is stored under.
CHECKS: dict[str, tuple[CheckRun, str]] = {
    "seed": (run_seed_check, SEED_CHECK_LABEL),
    "load": (run_load_probe, LOAD_PROBE_LABEL),
    "logprobs": (run_logprobs_check, LOGPROBS_CHECK_LABEL),
}


class LaunchError(RuntimeError):
    """The job could not be started; the message says why and what to do (plain text)."""


def concurrency_for(settings: Settings, spec: AnySpec, provider: Provider) -> int | None:
    """Calls in flight per job: the deployment's setting for remote backends; the embedded
    model takes one call at a time anyway; arms on several backends are held to each
    backend's own limit by the router (seedscope.providers.arm_backends)."""
    from seedscope.providers.arm_backends import ArmRouter

    if isinstance(provider, ArmRouter):
        return provider.max_concurrency
    return settings.remote_concurrency if spec.provider == "openai" else None


def _provider(
    settings: Settings,
    spec: AnySpec,
    base_url: str | None = None,
    base_url_origin: str | None = None,
) -> Provider:
    from seedscope.providers.arm_backends import build_arm_router, names_backends
    from seedscope.providers.factory import TYPED_IN_THE_PAGE, make_provider

    try:
        if names_backends(spec):  # e.g. an experiment from the command line, run again

            def make(backend, label: str) -> Provider:
                if backend.provider == "local":
                    return resources.local_provider(settings)
                # A URL an arm names is treated like one typed here: guarded, no key.
                return make_provider(
                    settings,
                    "openai",
                    model=backend.model,
                    base_url=backend.base_url,
                    base_url_origin=base_url_origin
                    if backend.base_url == base_url
                    else TYPED_IN_THE_PAGE,
                )

            return build_arm_router(spec, base_url, settings, make)
        if spec.provider == "local":
            return resources.local_provider(settings)
        # make_provider sends the configured key only to the configured base URL.
        return make_provider(
            settings,
            "openai",
            model=spec.model,
            base_url=base_url,
            base_url_origin=base_url_origin,
        )
    except Exception as exc:  # configuration problems: a short message with the fix
        raise LaunchError(f"The backend cannot be used: {exc}") from exc


def _store(settings: Settings) -> Store:
    try:
        return resources.store(settings)
    except resources.ResourceError as exc:
        raise LaunchError(str(exc)) from exc


def _budgets(settings: Settings, store: Store) -> Budgets:
    jobs = resources.job_manager()
    return Budgets(settings, store, active_jobs=lambda owner: len(jobs.active_jobs(owner)))


def _record_or_cancel(record: Callable[[str | None], None], job: Job, experiment_id: str) -> None:
    """Count a started job for the budgets; a job that cannot be counted must not run."""
    try:
        record(experiment_id)
    except StoreError:
        job.cancel()
        raise


def _request(
    settings: Settings,
    visitor: Visitor,
    spec: AnySpec,
    requests: list[CompletionRequest],
    base_url: str | None,
) -> Request:
    """What sending `requests` would spend: every run counts for the session's runs; the
    runs of arms on the configured OpenAI-compatible backend (the one that gets the
    operator's key) count as paid tokens."""
    from seedscope.providers.arm_backends import paid_arm_labels

    paid = paid_arm_labels(spec, base_url, settings)
    paid_runs = sum(1 for request in requests if request.arm_label in paid)
    tokens = (paid_runs or len(requests)) * spec.max_tokens
    return Request(visitor.owner, len(requests), tokens, paid_runs > 0)


def start_generation(
    settings: Settings, spec: AnySpec, base_url: str | None, visitor: Visitor | None = None
) -> Job:
    """A new experiment for `spec`, generating in the background. `base_url` is the one the
    form holds (the configured one unless a visitor typed another). Refused (LaunchError,
    nothing stored or sent) when it would pass a budget (seedscope.budgets)."""
    return _start(settings, spec, base_url, visitor)


def start_check(
    settings: Settings,
    kind: str,
    spec: ExperimentSpec,
    base_url: str | None,
    visitor: Visitor | None = None,
) -> Job:
    """A check (`kind`: "seed" | "load" | "logprobs", `spec` from that check's spec function)
    as a background job: its own run function on its own concurrency, its experiment labelled
    `check:<kind>`. Refused like start_generation."""
    if kind not in CHECKS:
        raise LaunchError(f"No check named {kind!r}; choose one of {', '.join(CHECKS)}.")
    return _start(settings, spec, base_url, visitor, check=kind)


def _start(
    settings: Settings,
    spec: AnySpec,
    base_url: str | None,
    visitor: Visitor | None,
    check: str | None = None,
) -> Job:
    visitor = visitor or current_visitor()
    typed = base_url is not None and base_url != settings.openai_base_url
    provider = _provider(settings, spec, base_url, TYPED_IN_THE_PAGE if typed else None)
    store = _store(settings)
    request = _request(settings, visitor, spec, plan_requests(spec, []), base_url)
    run, label = CHECKS[check] if check else (None, None)
    try:
        with _budgets(settings, store).spend(request) as record:
            job = resources.job_manager().start(
                store,
                spec,
                provider,
                concurrency=concurrency_for(settings, spec, provider),
                label=label,
                owner=visitor.owner,
                started_by=visitor.user,
                check=run,
            )
            _record_or_cancel(record, job, job.experiment_id)
            return job
    except BudgetExceeded as exc:
        raise LaunchError(str(exc)) from exc
    except StoreError as exc:
        raise LaunchError(f"The experiment could not be saved: {exc}") from exc


def resume_generation(
    settings: Settings, experiment: StoredExperiment, visitor: Visitor | None = None
) -> Job:
    """Send the runs a cancelled or interrupted experiment is missing, in the background.

    A remote experiment resumes on the configured backend only if that is where it ran: the
    store keeps the host, not a URL a visitor typed. The missing runs count for the budgets.
    """
    visitor = visitor or current_visitor()
    try:
        check_resumable(experiment, experiment.id)
    except ResumeError as exc:
        raise LaunchError(f"{exc}.") from exc
    spec = experiment.spec
    provider = _provider(settings, spec)
    ran_at = experiment.summary.base_url_host
    if spec.provider == "openai" and provider.base_url_host != ran_at:
        raise LaunchError(
            f"This experiment ran at {ran_at}, but this deployment's OpenAI-compatible backend "
            f"is {provider.base_url_host}. Set OPENAI_BASE_URL to the server it ran on, or "
            f"resume it from the command line: seedscope resume {experiment.id[:12]}"
        )
    store = _store(settings)
    missing = plan_requests(spec, experiment.completions)
    request = _request(settings, visitor, spec, missing, None)
    try:
        with _budgets(settings, store).spend(request) as record:
            job = resources.job_manager().resume(
                store,
                experiment.id,
                provider,
                concurrency=concurrency_for(settings, spec, provider),
                owner=visitor.owner,
            )
            _record_or_cancel(record, job, experiment.id)
            return job
    except BudgetExceeded as exc:
        raise LaunchError(str(exc)) from exc
    except ResumeError as exc:
        raise LaunchError(f"{exc}.") from exc
    except StoreError as exc:
        raise LaunchError(f"The experiment could not be resumed: {exc}") from exc

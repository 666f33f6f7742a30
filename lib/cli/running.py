"""What `compare` and `resume` share: the backend, the one lifecycle, the report.

Both run through seedscope.experiments and print the whole experiment; they differ only in how
the experiment and its backend are found. Everything that can be refused is refused before the
experiment is stored or reopened and before any call.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from seedscope.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError
from seedscope.cli.output import comparison_json, print_comparison_table, progress_printer
from seedscope.settings import Settings, base_url_host
from seedscope.suites import SuiteSpec
from seedscope.terminal import safe_for_terminal

if TYPE_CHECKING:  # the heavy modules load only when a command runs
    from seedscope.embeddings.base import Embedder
    from seedscope.providers.base import Completion, Provider
    from seedscope.spec import ExperimentSpec
    from seedscope.store import Store, StoredExperiment

# How error messages name a URL from the command line (see make_provider's base_url_origin).
BASE_URL_FLAG_ORIGIN = "given with --base-url"


def with_base_url(settings: Settings, base_url: str | None) -> Settings:
    """Settings whose endpoint is `base_url` (provider and embedder both talk to it). The
    configured key stays with the configured endpoint: for another URL it is dropped."""
    if not base_url:
        return settings
    from seedscope.providers.factory import settings_for_endpoint

    endpoint = settings_for_endpoint(settings, base_url)
    return endpoint.model_copy(update={"openai_base_url": base_url})


def check_concurrency(args: argparse.Namespace) -> None:
    if args.concurrency is not None and args.concurrency < 1:
        raise CliError(f"--concurrency {args.concurrency} is out of range; allowed 1 or more")


def build_provider(settings: Settings, provider: str, model: str, base_url: str | None) -> Provider:
    from seedscope.providers.factory import make_provider

    try:
        return make_provider(
            settings,
            provider,
            model=model,
            base_url=base_url,
            base_url_origin=BASE_URL_FLAG_ORIGIN if base_url else None,
        )
    except ValueError as exc:  # e.g. a GGUF path that does not exist, a remote not configured
        raise CliError(str(exc)) from None


def build_spec_provider(
    settings: Settings, spec: ExperimentSpec | SuiteSpec, base_url: str | None
) -> Provider:
    """The backend of `spec`: one provider, or when arms name their own backends, a router
    over them (seedscope.providers.arm_backends); CliError names the arm that cannot run."""
    from seedscope.providers.arm_backends import build_arm_router, names_backends
    from seedscope.providers.factory import make_provider

    if not names_backends(spec):
        return build_provider(settings, spec.provider, spec.model, base_url)

    def make(backend, label: str) -> Provider:
        given_here = backend.base_url is not None and backend.base_url == base_url
        return make_provider(
            settings,
            backend.provider,
            model=backend.model,
            base_url=backend.base_url,
            base_url_origin=BASE_URL_FLAG_ORIGIN if given_here else f"named by arm {label!r}",
        )

    try:
        return build_arm_router(spec, base_url, settings, make)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def resume_base_url(
    args: argparse.Namespace, settings: Settings, stored: StoredExperiment
) -> str | None:
    """The base URL to resume a remote experiment against (None: the configured endpoint).

    The history keeps only the host of the base URL (a full URL can carry credentials), so
    the URL comes from --base-url or OPENAI_BASE_URL, and must point at the stored host: runs
    of one experiment never mix two backends.
    """
    from seedscope.providers.openai_errors import DEFAULT_HOST, url_for_messages

    short = stored.id[:12]
    if stored.spec.provider != "openai":
        if args.base_url:
            raise CliError(
                f"--base-url: experiment {short} ran on the {stored.spec.provider} backend, "
                "which has no base URL; leave it out"
            )
        return None
    stored_host = stored.summary.base_url_host or DEFAULT_HOST
    if args.base_url:
        host = base_url_host(args.base_url)
        if host != stored_host:
            raise CliError(
                f"--base-url {url_for_messages(args.base_url)} points at {host or 'no host'}, "
                f"but experiment {short} ran against {stored_host}; give the base URL of "
                f"{stored_host}"
            )
        return args.base_url
    configured_host = base_url_host(settings.openai_base_url) or DEFAULT_HOST
    if configured_host != stored_host:
        configured = (
            f"OPENAI_BASE_URL points at {configured_host}"
            if settings.openai_base_url
            else "OPENAI_BASE_URL is not set"
        )
        raise CliError(
            f"experiment {short} ran against {stored_host}, and only that host was stored "
            f"({configured}); pass --base-url with the server's base URL, "
            f"e.g. --base-url http://{stored_host}/v1"
        )
    return None


def run_and_report(
    args: argparse.Namespace,
    settings: Settings,
    store: Store,
    experiment_id: str,
    spec: ExperimentSpec | SuiteSpec,
    provider: Provider,
    embedder: Embedder | None,
    out: TextIO,
    err: TextIO,
    *,
    previous: Sequence[Completion] = (),
    stored: bool = True,
) -> int:
    """Run (or resume) the experiment through the lifecycle and print all of its runs (for a
    suite: its suite report; `embedder=None` leaves the embedding measures null).

    Exit status: 0 done, 1 every run failed or saving failed, 130 Ctrl-C (runs kept).
    `stored=False`: the store is a throwaway (compare --no-store); no id is shown.
    """
    from seedscope.experiments import run_experiment

    short = experiment_id[:12]
    resume_hint = f"; continue with `seedscope resume {short}`" if stored else ""
    try:
        result = run_experiment(
            store,
            experiment_id,
            spec,
            provider,
            previous=previous,
            concurrency=args.concurrency or settings.remote_concurrency,
            on_progress=progress_printer(err),
        )
    except KeyboardInterrupt:
        err.write(f"\ninterrupted: completed runs are kept{resume_hint}\n")
        return EXIT_INTERRUPTED
    if result.status == "interrupted":
        # Saving failed: the experiment is finished `interrupted` (or, with the database
        # gone, marked so at the next start); what was saved is kept.
        problem = safe_for_terminal(result.problem or "saving a run failed")
        err.write(f"\nerror: {problem}{resume_hint}\n")
        return EXIT_FAILED
    shown_id = experiment_id if stored else None
    if isinstance(spec, SuiteSpec):
        from seedscope.cli.suite import report_suite

        report_suite(
            args,
            store,
            experiment_id,
            spec,
            "suite",
            result.completions,
            embedder,
            out,
            base_url_host=provider.base_url_host,
        )
    else:
        _report(
            args, store, experiment_id, shown_id, spec, provider, embedder, result.completions, out
        )
    summary = result.failure_summary()
    if summary is not None:
        err.write(safe_for_terminal(summary) + "\n")
        return EXIT_FAILED
    return EXIT_OK


def _report(
    args: argparse.Namespace,
    store: Store,
    experiment_id: str,
    shown_id: str | None,
    spec: ExperimentSpec,
    provider: Provider,
    embedder: Embedder,
    completions: list[Completion],
    out: TextIO,
) -> None:
    from seedscope.analysis import analyze

    analysis = analyze(completions, embedder, [arm.label for arm in spec.arms])
    if args.csv:
        from seedscope.export import write_exports

        stored = store.load_experiment(experiment_id)
        write_exports(
            Path(args.csv),
            completions,
            analysis,
            experiment_id=shown_id or "unsaved",
            created_at=stored.summary.created_at,
            base_url_host=provider.base_url_host,
        )
    if args.format == "json":
        json.dump(comparison_json(spec, completions, analysis, shown_id), out, indent=2)
        out.write("\n")
    else:
        print_comparison_table(spec, completions, analysis, shown_id, out)

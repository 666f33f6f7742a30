"""One function per subcommand: (args, settings, out, err) -> exit status."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from seedscope.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError
from seedscope.cli.output import (
    comparison_json,
    print_comparison_table,
    print_table,
    progress_printer,
)
from seedscope.cli.specs import spec_from_args
from seedscope.settings import Settings
from seedscope.spec import Limits
from seedscope.store import StoreError
from seedscope.terminal import one_line, safe_for_terminal


def _open_store(settings: Settings):
    from seedscope.store import Store

    try:
        return Store.from_settings(settings)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _embedder(settings: Settings, kind: str, store):
    from seedscope.embeddings import make_embedder

    if kind == "openai" and not settings.openai_configured:
        raise CliError("--embedder openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
    return make_embedder(settings, kind, cache=store)


def cmd_compare(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from seedscope.providers.factory import make_provider, settings_for_endpoint
    from seedscope.runner import run_spec_sync

    if args.base_url:
        # The configured key stays with the configured endpoint; the rest of this command
        # (provider and embedder) then talks to --base-url.
        endpoint = settings_for_endpoint(settings, args.base_url)
        settings = replace(endpoint, openai_base_url=args.base_url)
    spec = spec_from_args(args, settings)
    if args.concurrency is not None and args.concurrency < 1:
        raise CliError(f"--concurrency {args.concurrency} is out of range; allowed 1 or more")
    if args.provider == "openai" and not settings.openai_configured:
        raise CliError("--provider openai needs OPENAI_API_KEY or --base-url / OPENAI_BASE_URL")
    try:
        provider = make_provider(settings, spec.provider, model=spec.model, base_url=args.base_url)
    except ValueError as exc:  # e.g. a GGUF path that does not exist, a remote not configured
        raise CliError(str(exc)) from None
    store = None if args.no_store else _open_store(settings)
    # Everything that can be refused is refused before anything is stored or called.
    embedder = _embedder(settings, args.embedder, store)
    experiment_id = None
    sink = None
    if store is not None:
        experiment_id = store.create_experiment(spec, base_url_host=provider.base_url_host)
        sink = store.sink(experiment_id)
    try:
        outcome = run_spec_sync(
            spec,
            provider,
            sink=sink,
            on_progress=progress_printer(err),
            concurrency=args.concurrency or settings.remote_concurrency,
        )
    except KeyboardInterrupt:
        if store is not None:
            store.finish_experiment(experiment_id, "cancelled")
        err.write("\ninterrupted: completed runs are kept\n")
        return EXIT_INTERRUPTED
    if store is not None:
        store.finish_experiment(experiment_id, "cancelled" if outcome.cancelled else "complete")

    from seedscope.analysis import analyze

    completions = outcome.completions
    analysis = analyze(completions, embedder, [arm.label for arm in spec.arms])
    if args.csv:
        from seedscope.export import write_exports

        stored = store.load_experiment(experiment_id) if store is not None else None
        write_exports(
            Path(args.csv),
            completions,
            analysis,
            experiment_id=experiment_id or "unsaved",
            created_at=stored.summary.created_at if stored else datetime.now(UTC),
            base_url_host=provider.base_url_host,
        )
    if args.format == "json":
        json.dump(comparison_json(spec, completions, analysis, experiment_id), out, indent=2)
        out.write("\n")
    else:
        print_comparison_table(spec, completions, analysis, experiment_id, out)
    return EXIT_FAILED if completions and not any(c.ok for c in completions) else EXIT_OK


def cmd_history(args: argparse.Namespace, settings: Settings, out, err) -> int:
    if args.limit < 1:
        raise CliError(f"--limit {args.limit} is out of range; allowed 1 or more")
    store = _open_store(settings)
    summaries = store.list_experiments(
        provider=args.provider, model=args.model, prompt_contains=args.prompt, limit=args.limit
    )
    rows = [
        {
            "id": s.id,
            "created_at": s.created_at.isoformat(),
            "status": s.status,
            "provider": s.provider,
            "model": s.model,
            "prompt": s.prompt,
            "runs": s.runs,
            "failed_runs": s.failed_runs,
        }
        for s in summaries
    ]
    if args.format == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif not rows:
        out.write("no experiments stored yet: run `python -m seedscope compare`\n")
    else:
        for row in rows:
            row["prompt"] = one_line(row["prompt"], 50)
        print_table(rows, out)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from seedscope.analysis import analyze
    from seedscope.export import write_exports

    store = _open_store(settings)
    experiment_id = store.resolve_id(args.experiment_id) or args.experiment_id  # short ids too
    stored = store.load_experiment(experiment_id)
    if stored is None:
        raise CliError(f"no experiment {args.experiment_id!r}: see `python -m seedscope history`")
    arm_order = [arm.label for arm in stored.spec.arms]
    analysis = analyze(stored.completions, _embedder(settings, args.embedder, store), arm_order)
    paths = write_exports(
        Path(args.dir),
        stored.completions,
        analysis,
        experiment_id=stored.summary.id,
        created_at=stored.summary.created_at,
        base_url_host=stored.summary.base_url_host,
    )
    for path in paths.values():
        out.write(f"{path}\n")
    return EXIT_OK


def cmd_probe(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from seedscope.probe import ProbeConfigError, load_probe_config, run_probes
    from seedscope.providers.factory import make_provider

    try:
        config = load_probe_config(Path(args.config), Limits.from_settings(settings))
    except ProbeConfigError as exc:
        raise CliError(str(exc)) from None
    store = _open_store(settings)
    results = run_probes(config, settings, store, make_provider)
    if args.format == "json":
        json.dump([result.to_dict() for result in results], out, indent=2, default=str)
        out.write("\n")
    else:
        for result in results:
            out.write(safe_for_terminal(result.summary_line()) + "\n")
    drifted = any(result.drifted for result in results)
    return EXIT_FAILED if args.fail_on_drift and drifted else EXIT_OK

"""One function per subcommand: (args, settings, out, err) -> exit status."""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path

from seedscope.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError
from seedscope.cli.output import print_table, progress_printer
from seedscope.cli.running import (
    BASE_URL_FLAG_ORIGIN,
    build_provider,
    build_spec_provider,
    check_concurrency,
    resume_base_url,
    run_and_report,
    with_base_url,
)
from seedscope.cli.specs import export_spec_file, spec_from_args
from seedscope.settings import Settings
from seedscope.spec import ExperimentSpec, Limits, SpecError
from seedscope.spec_files import spec_format
from seedscope.store import Store, StoreError
from seedscope.terminal import one_line, safe_for_terminal


def _open_store(settings: Settings):
    from seedscope.store import Store

    try:
        return Store.from_settings(settings)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _memory_store() -> Store:
    return Store("sqlite://")  # in memory: gone when the command ends


def _embedder(settings: Settings, kind: str, store, base_url: str | None = None):
    """`base_url`: the --base-url the settings were pointed at (named in error messages)."""
    from seedscope.embeddings import make_embedder

    if kind == "openai" and not settings.openai_configured:
        raise CliError("--embedder openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
    origin = BASE_URL_FLAG_ORIGIN if base_url else None
    return make_embedder(settings, kind, cache=store, base_url_origin=origin)


def cmd_compare(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from seedscope.experiments import create_experiment

    settings = with_base_url(settings, args.base_url)
    spec = spec_from_args(args, settings)
    check_concurrency(args)
    if spec.provider == "openai" and not settings.openai_configured:
        raise CliError("--provider openai needs OPENAI_API_KEY or --base-url / OPENAI_BASE_URL")
    provider = build_spec_provider(settings, spec, args.base_url)
    spec = _answering_model(spec, provider, args.model is not None or args.spec is not None)
    # --no-store: the same lifecycle on a throwaway in-memory database.
    store = _memory_store() if args.no_store else _open_store(settings)
    # Everything that can be refused is refused before anything is stored or called.
    embedder = _embedder(settings, args.embedder, store, args.base_url)
    experiment_id = create_experiment(store, spec, provider)
    return run_and_report(
        args,
        settings,
        store,
        experiment_id,
        spec,
        provider,
        embedder,
        out,
        err,
        stored=not args.no_store,
    )


def _answering_model(spec: ExperimentSpec, provider, model_given: bool) -> ExperimentSpec:
    """`spec` naming the model that really answers on the embedded backend; CliError when
    the user named another one."""
    if spec.provider == "local" and spec.model != provider.model:
        if model_given:
            raise CliError(
                f"model {spec.model!r}: the embedded backend here runs {provider.model!r}; "
                "leave --model out, or set SEEDSCOPE_MODEL_PATH to that model's GGUF file"
            )
        # The default name: the stored spec names the model that really answers.
        spec = spec.model_copy(update={"model": provider.model})
    return spec


def cmd_resume(args: argparse.Namespace, settings: Settings, out, err) -> int:
    """Send only the runs a cancelled or interrupted experiment is missing; print all of it."""
    from seedscope.experiments import ResumeError, check_resumable, missing_runs, start_resume

    check_concurrency(args)
    store = _open_store(settings)
    try:
        experiment_id = store.resolve_id(args.experiment_id) or args.experiment_id
        stored = check_resumable(store.load_experiment(experiment_id), args.experiment_id)
    except (ResumeError, StoreError) as exc:  # unknown, ambiguous, complete, failed, running
        raise CliError(str(exc)) from None
    spec = stored.spec
    base_url = resume_base_url(args, settings, stored)
    settings = with_base_url(settings, base_url)
    provider = build_spec_provider(settings, spec, base_url)
    if provider.model != spec.model:
        raise CliError(
            f"experiment {stored.id[:12]} ran on the embedded model {spec.model!r}, but the "
            f"embedded model here is {provider.model!r}; set SEEDSCOPE_MODEL_PATH to its file"
        )
    embedder = _embedder(settings, args.embedder, store, base_url)
    try:
        spec, previous = start_resume(store, stored.id)  # checked again, atomically
    except ResumeError as exc:
        raise CliError(str(exc)) from None
    err.write(
        f"resuming experiment {stored.id[:12]}: {missing_runs(spec, previous)} of "
        f"{spec.total_runs} runs missing\n"
    )
    return run_and_report(
        args, settings, store, stored.id, spec, provider, embedder, out, err, previous=previous
    )


def cmd_history(args: argparse.Namespace, settings: Settings, out, err) -> int:
    if args.limit < 1:
        raise CliError(f"--limit {args.limit} is out of range; allowed 1 or more")
    store = _open_store(settings)
    summaries = store.list_experiments(
        provider=args.provider,
        model=args.model,
        prompt_contains=args.prompt,
        kind=args.kind,
        limit=args.limit,
    )
    rows = [
        {
            "id": s.id,
            "created_at": s.created_at.isoformat(),
            "kind": s.kind,
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
    elif not rows and args.kind is not None:
        out.write(f"no experiments of kind {args.kind} stored\n")
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

    if args.dir is None and args.spec is None:
        raise CliError("export needs --dir DIR (the CSV files), --spec FILE (the spec), or both")
    if args.spec is not None:
        spec_format(Path(args.spec))  # a bad file name is refused before the store is opened
    store = _open_store(settings)
    experiment_id = store.resolve_id(args.experiment_id) or args.experiment_id  # short ids too
    stored = store.load_experiment(experiment_id)
    if stored is None:
        raise CliError(f"no experiment {args.experiment_id!r}: see `python -m seedscope history`")
    if args.spec is not None:
        if stored.kind != "experiment":
            raise CliError(
                f"--spec: experiment {stored.id[:12]} is a {stored.kind}; its spec holds the "
                "whole suite, which `compare --spec` cannot run: export --dir instead"
            )
        out.write(f"{export_spec_file(stored, Path(args.spec))}\n")
    if args.dir is None:
        return EXIT_OK
    if stored.kind != "experiment":
        return _export_suite(args, settings, store, stored, out)
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


def _export_suite(args: argparse.Namespace, settings: Settings, store, stored, out) -> int:
    from seedscope.export import write_suite_exports
    from seedscope.suite_analysis import analyze_suite_spec

    embedder = _embedder(settings, args.embedder, store)
    analysis = analyze_suite_spec(stored.spec, stored.completions, embedder)
    paths = write_suite_exports(
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


def cmd_report(args: argparse.Namespace, settings: Settings, out, err) -> int:
    """Write one stored experiment (or one suite case) as a self-contained HTML report."""
    from seedscope.report import render_report

    path = Path(args.html)
    _check_writable(path)  # refused before minutes of embedding, not after
    store = _open_store(settings)
    try:
        experiment_id = store.resolve_id(args.experiment_id) or args.experiment_id
    except StoreError as exc:  # an ambiguous short id is bad input
        raise CliError(str(exc)) from None
    stored = store.load_experiment(experiment_id)
    if stored is None:
        raise CliError(f"no experiment {args.experiment_id!r}: see `python -m seedscope history`")
    if args.case is not None:
        try:
            stored = stored.case_view(args.case)
        except (KeyError, ValueError) as exc:
            raise CliError(f"--case: {exc.args[0]}") from None
    if args.no_embed and (stored.kind == "experiment" or stored.case_id is not None):
        raise CliError(
            "--no-embed: the measures of a plain experiment or one case need the embedding "
            "distances; leave it out (or choose --embedder)"
        )
    embedder = None if args.no_embed else _embedder(settings, args.embedder, store)
    text = render_report(stored, embedder=embedder)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CliError(f"--html {path}: cannot be written ({error.strerror})") from None
    out.write(f"{path}\n")
    return EXIT_OK


def _check_writable(path: Path) -> None:
    folder = path.parent
    if path.is_dir():
        raise CliError(f"--html {path}: is a directory; give a file name such as report.html")
    if not folder.is_dir():
        raise CliError(f"--html {path}: no folder {folder}; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CliError(f"--html {path}: cannot be written (permission denied)")


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
            _print_case_changes(result.case_rows(), out)
    drifted = any(result.drifted for result in results)
    return EXIT_FAILED if args.fail_on_drift and drifted else EXIT_OK


PROBE_CASES_SHOWN = 20


def _print_case_changes(rows: list[dict[str, str]], out) -> None:
    """The changed cases of a suite probe under its summary line (cells already escaped)."""
    if not rows:
        return
    print_table(rows[:PROBE_CASES_SHOWN], out)
    if len(rows) > PROBE_CASES_SHOWN:
        out.write(f"... and {len(rows) - PROBE_CASES_SHOWN} more changed cases (--format json)\n")


# The check parameters that SpecError messages name; the user typed them as flags.
CHECK_PARAMETERS = (
    "seed_a",
    "seed_b",
    "seed",
    "temperature",
    "runs",
    "copies",
    "background",
    "top_logprobs",
)
# compare's arm flags: the checks bring their own arms, so these take compare's defaults.
_COMPARE_ARM_FLAGS = ("spec", "arm", "preset", "seed", "temperature", "unseeded_temperature")


def _as_flags(error: SpecError) -> SpecError:
    """ "seed_b: ..." -> "--seed-b: ..." """
    messages = []
    for message in error.messages:
        name, sep, rest = message.partition(": ")
        if sep and name in CHECK_PARAMETERS:
            message = f"--{name.replace('_', '-')}: {rest}"
        messages.append(message)
    return SpecError(messages)


def _check_spec(args: argparse.Namespace, settings: Settings) -> ExperimentSpec:
    """The validated spec of `check seed|load|logprobs`: compare's request flags (parsed and
    defaulted by spec_from_args) with the check's own arms; SpecError names the flag, before
    any call. Problems with the request and with the check's flags are reported together."""
    request = argparse.Namespace(**{**vars(args), **dict.fromkeys(_COMPARE_ARM_FLAGS)})
    request.runs = None
    try:
        base, request_problems = spec_from_args(request, settings), []
    except SpecError as error:
        # Go on with the default request, so that the check's own flags are judged too.
        request_problems = error.messages
        base = ExperimentSpec(provider=args.provider or "local")
    limits = Limits.from_settings(settings)
    try:
        spec = _check_arms(args, base, limits)
    except SpecError as error:
        raise SpecError(request_problems + _as_flags(error).messages) from None
    if request_problems:
        raise SpecError(request_problems)
    return spec


def _check_arms(args: argparse.Namespace, base: ExperimentSpec, limits: Limits) -> ExperimentSpec:
    from seedscope.checks import load_probe_spec, logprobs_check_spec, seed_check_spec

    if args.check_command == "logprobs":
        return logprobs_check_spec(
            base,
            seed=args.seed,
            temperature=args.temperature,
            top_logprobs=args.top_logprobs,
            runs=args.runs,
            limits=limits,
        )
    if args.check_command == "seed":
        return seed_check_spec(
            base,
            seed_a=args.seed_a,
            seed_b=args.seed_b,
            temperature=args.temperature,
            runs=args.runs,
            limits=limits,
        )
    return load_probe_spec(
        base,
        seed=args.seed,
        temperature=args.temperature,
        runs=args.runs,
        copies=args.copies,
        background=args.background,
        limits=limits,
    )


def cmd_check(args: argparse.Namespace, settings: Settings, out, err) -> int:
    """`check seed|load|logprobs`: run the check as a stored experiment, print its verdict."""
    from seedscope.checks import run_load_probe, run_logprobs_check, run_seed_check

    settings = with_base_url(settings, args.base_url)
    spec = _check_spec(args, settings)
    if spec.provider == "openai" and not settings.openai_configured:
        raise CliError("--provider openai needs OPENAI_API_KEY or --base-url / OPENAI_BASE_URL")
    provider = build_provider(settings, spec.provider, spec.model, args.base_url)
    spec = _answering_model(spec, provider, args.model is not None)
    store = _open_store(settings)
    run = {"seed": run_seed_check, "load": run_load_probe, "logprobs": run_logprobs_check}[
        args.check_command
    ]
    try:
        result = run(store, spec, provider, on_progress=progress_printer(err))
    except KeyboardInterrupt:
        err.write("\ninterrupted: the runs made so far are stored\n")
        return EXIT_INTERRUPTED
    if args.format == "json":
        json.dump(result.to_dict(), out, indent=2)
        out.write("\n")
    else:
        _print_check(result, out)
    if result.status == "interrupted":
        problem = safe_for_terminal(result.problem or "saving a run failed")
        err.write(f"error: {problem}\n")
        return EXIT_FAILED
    if result.failure_summary is not None:
        err.write(safe_for_terminal(result.failure_summary) + "\n")
        return EXIT_FAILED
    return EXIT_OK


CHECK_RUNS_SHOWN = 20


def _print_check(result, out) -> None:
    """The verdict, why, and the evidence as short tables."""
    evidence = result.evidence
    name = {"seed": "seed check", "load": "load probe", "logprobs": "logprobs check"}[result.kind]
    out.write(f"{name}: {result.verdict}\n")
    out.write(f"experiment {result.experiment_id}\n")
    out.write(safe_for_terminal(evidence["explanation"]) + "\n\n")
    columns = ("runs", "succeeded", "failed", "distinct_outputs")
    if result.kind == "load":
        columns += ("matching_reference", "peak_in_flight")
    rows = [
        {"arm": arm, **{column: values.get(column) for column in columns}}
        for arm, values in evidence["arms"].items()
    ]
    print_table(rows, out)
    if result.kind == "seed":
        out.write("\n")
        pairs = [
            {
                "pairs": title,
                "usable": evidence[key]["usable"],
                "matching": evidence[key]["matching"],
                "share": evidence[key]["share"],
            }
            for title, key in (
                ("seed A vs seed A again", "same_seed"),
                ("seed A vs seed B", "different_seeds"),
            )
        ]
        print_table(pairs, out)
    elif result.kind == "logprobs":
        returned = evidence["logprobs_returned"]
        out.write(f"\nlogprobs returned in {returned['runs']} of {returned['of']} runs\n")
        if evidence["differing_runs"]:
            out.write("runs with logprobs whose text differs from the runs without\n")
            print_table(evidence["differing_runs"][:CHECK_RUNS_SHOWN], out)
    elif evidence["differing_runs"]:
        out.write("\nruns that differ from the first sequential run\n")
        differing = evidence["differing_runs"]
        print_table(differing[:CHECK_RUNS_SHOWN], out)
        if len(differing) > CHECK_RUNS_SHOWN:
            out.write(f"... and {len(differing) - CHECK_RUNS_SHOWN} more (--format json)\n")
    seen = evidence["fingerprints"]
    groups = seen if isinstance(seen, dict) else {"": seen}  # logprobs: per arm
    for arm, fingerprints in groups.items():
        listed = ", ".join(fp or "not reported" for fp in fingerprints) or "-"
        title = f"fingerprints ({arm})" if arm else "fingerprints"
        out.write(f"\n{title}: {safe_for_terminal(listed)}\n")


def _cell(value):
    """A capability table cell for the terminal: text on one line with control characters
    escaped (model names and hosts are untrusted), times to the minute (UTC)."""
    if isinstance(value, str):
        return one_line(value, 60)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def cmd_backends(args: argparse.Namespace, settings: Settings, out, err) -> int:
    """`backends`: the capability table of the Fingerprints page (seedscope.capabilities)."""
    from seedscope.capabilities import capability_table, table_row

    rows = capability_table(_open_store(settings))
    if args.format == "json":
        json.dump([row.to_dict() for row in rows], out, indent=2)
        out.write("\n")
    elif not rows:
        out.write(
            "no backends in the history yet: run `python -m seedscope compare` or "
            "`python -m seedscope check seed|load|logprobs`\n"
        )
    else:
        print_table([{k: _cell(v) for k, v in table_row(row).items()} for row in rows], out)
        out.write(
            "\nnever checked: run `python -m seedscope check seed|load|logprobs` against that "
            "backend; times are when the newest check started (UTC)\n"
        )
    return EXIT_OK

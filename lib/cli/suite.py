"""`seedscope suite run FILE` and `seedscope suite import FILE`, and the suite report that
`resume` and `export` also use for suite experiments.

Everything that can be refused (the file, the flags, the limits, the backend) is refused
before the experiment is stored and before any call; exit statuses are as for `compare`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from seedscope.cli.errors import EXIT_OK, CliError
from seedscope.cli.output import print_table
from seedscope.cli.specs import _name_the_arms, _value, arms_from_args
from seedscope.settings import Settings
from seedscope.spec import DEFAULT_SYSTEM, LOCAL_CHAT_MODEL, Limits, SpecError
from seedscope.terminal import one_line

if TYPE_CHECKING:
    from seedscope.answers import AnswerExtractor
    from seedscope.embeddings.base import Embedder
    from seedscope.providers.base import Completion
    from seedscope.store import Store
    from seedscope.suites import SuiteSpec

WORST_CASES_SHOWN = 20


def extractor_from_args(args: argparse.Namespace) -> AnswerExtractor | None:
    from pydantic import ValidationError
    from seedscope.answers import AnswerExtractor

    try:
        if args.answer_regex is not None:
            return AnswerExtractor(kind="regex", pattern=args.answer_regex)
        if args.answer_json is not None:
            return AnswerExtractor(kind="json", path=args.answer_json)
    except ValidationError as error:
        flag = "--answer-regex" if args.answer_regex is not None else "--answer-json"
        reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        raise SpecError([f"{flag}: {reasons}"]) from None
    if args.answer_last_number:
        return AnswerExtractor(kind="last_number")
    return None


def suite_spec_from_args(args: argparse.Namespace, settings: Settings) -> SuiteSpec:
    """The validated suite spec of `suite run`: the file's cases, the flags' arms and request
    settings; SpecError lists every problem (file rows and flags) before anything runs."""
    from seedscope.suites import load_suite_file, validate_suite_spec

    limits = Limits.from_settings(settings)
    suite = load_suite_file(Path(args.file), limits)
    arms = arms_from_args(args)
    provider = _value(args, "provider")
    default_model = LOCAL_CHAT_MODEL if provider == "local" else settings.openai_model
    data: dict[str, Any] = {
        "suite": suite.model_dump(),
        "arms": arms,
        "system": DEFAULT_SYSTEM if args.system is None else args.system,
        "provider": provider,
        "model": default_model if args.model is None else args.model,
        "max_tokens": _value(args, "max_tokens"),
        "top_p": _value(args, "top_p"),
        "extractor": extractor_from_args(args),
    }
    try:
        return validate_suite_spec(data, limits)
    except SpecError as error:
        raise (_name_the_arms(error, arms) if args.arm else error) from None


def report_suite(
    args: argparse.Namespace,
    store: Store,
    experiment_id: str,
    spec: SuiteSpec,
    kind: str,
    completions: Sequence[Completion],
    embedder: Embedder | None,
    out: TextIO,
    *,
    base_url_host: str | None = None,
) -> None:
    """Analyse a suite (or import) and print it as a table or the issue's JSON; --csv writes
    runs.csv, cases.csv, suite_metrics.csv and arm_differences.csv too."""
    from seedscope.suite_analysis import analyze_suite_spec

    analysis = analyze_suite_spec(spec, completions, embedder)
    if getattr(args, "csv", None):
        from seedscope.export import write_suite_exports

        stored = store.load_experiment(experiment_id)
        write_suite_exports(
            Path(args.csv),
            completions,
            analysis,
            experiment_id=experiment_id,
            created_at=None if stored is None else stored.summary.created_at,
            base_url_host=base_url_host,
        )
    document = analysis.to_json(experiment_id=experiment_id, kind=kind)
    if getattr(args, "format", "table") == "json":
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        print_suite_tables(document, spec, out)


def _share(value: float | None, interval: list[float] | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}"
    return text if interval is None else f"{text} [{interval[0]:.2f}, {interval[1]:.2f}]"


def print_suite_tables(document: dict[str, Any], spec: SuiteSpec, out: TextIO) -> None:
    out.write(f"{document['kind']} {document['experiment_id']}: {one_line(spec.suite.name, 60)}, ")
    out.write(f"{len(spec.cases)} cases\n\n")
    print_table(
        [
            {
                "arm": one_line(arm["label"], 30),
                "N": arm["n"],
                "cases": arm["cases"],
                "excluded": arm["cases_excluded"],
                "TARr@N [95% CI]": _share(arm["tarr_at_n"], arm["tarr_at_n_ci"]),
                "TARa@N [95% CI]": _share(arm["tara_at_n"], arm["tara_at_n_ci"]),
                "accuracy best": _share(arm["accuracy_best"]),
                "worst": _share(arm["accuracy_worst"]),
                "spread": _share(arm["accuracy_spread"]),
            }
            for arm in document["arms"]
        ],
        out,
    )
    for diff in document["differences"]:
        out.write(
            f"TARr@N {one_line(diff['a'], 30)} - {one_line(diff['b'], 30)}: "
            f"{_share(diff['tarr_at_n_diff'], diff['ci'])}\n"
        )
    # Worst first: the lowest modal share (least reproducible), unmeasured cases last.
    cases = sorted(
        document["cases"],
        key=lambda row: (row["modal_share"] is None, row["modal_share"] or 0.0, row["case_id"]),
    )
    out.write(f"\ncases, worst first (at most {WORST_CASES_SHOWN}):\n")
    print_table(
        [
            {
                "case": one_line(row["case_id"], 30),
                "arm": one_line(row["arm"], 20),
                "runs": row["runs"],
                "distinct": row["distinct_outputs"],
                "modal share": _share(row["modal_share"]),
                "label": row["label"] or "-",
                "first divergence (char)": row["first_divergence_char"],
                "(token)": row["first_divergence_token"],
            }
            for row in cases[:WORST_CASES_SHOWN]
        ],
        out,
    )


def cmd_suite(args: argparse.Namespace, settings: Settings, out, err) -> int:
    if args.suite_command == "import":
        return _cmd_suite_import(args, settings, out, err)
    return _cmd_suite_run(args, settings, out, err)


def _cmd_suite_run(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from seedscope.cli.commands import _embedder, _open_store
    from seedscope.cli.running import (
        build_spec_provider,
        check_concurrency,
        run_and_report,
        with_base_url,
    )
    from seedscope.experiments import create_experiment

    settings = with_base_url(settings, args.base_url)
    spec = suite_spec_from_args(args, settings)
    check_concurrency(args)
    if spec.provider == "openai" and not settings.openai_configured:
        raise CliError("--provider openai needs OPENAI_API_KEY or --base-url / OPENAI_BASE_URL")
    provider = build_spec_provider(settings, spec, args.base_url)
    if spec.provider == "local" and spec.model != provider.model:
        if args.model is not None:
            raise CliError(
                f"model {spec.model!r}: the embedded backend here runs {provider.model!r}; "
                "leave --model out, or set SEEDSCOPE_MODEL_PATH to that model's GGUF file"
            )
        spec = spec.model_copy(update={"model": provider.model})
    store = _open_store(settings)
    embedder = None if args.no_embed else _embedder(settings, args.embedder, store, args.base_url)
    err.write(
        f"suite {one_line(spec.suite.name, 40)}: {len(spec.cases)} cases x "
        f"{spec.runs_per_case} runs = {spec.total_runs} runs\n"
    )
    experiment_id = create_experiment(store, spec, provider)
    return run_and_report(args, settings, store, experiment_id, spec, provider, embedder, out, err)


def _cmd_suite_import(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from seedscope.cli.commands import _embedder, _open_store
    from seedscope.imports import import_outputs, load_import_file

    imported = load_import_file(
        Path(args.file), extractor=extractor_from_args(args), limits=Limits.from_settings(settings)
    )
    store = _open_store(settings)
    embedder = None if args.no_embed else _embedder(settings, args.embedder, store)
    experiment_id = import_outputs(store, imported)
    err.write(
        f"imported {len(imported.completions)} runs of {len(imported.spec.cases)} cases as "
        f"experiment {experiment_id[:12]}\n"
    )
    report_suite(
        args, store, experiment_id, imported.spec, "import", imported.completions, embedder, out
    )
    return EXIT_OK

"""Command line: the same experiments as the dashboard, headless (CI, cron, scripts).

    python -m lib compare [--preset cookbook|seed-only|grid] [--provider local|openai] ...
    python -m lib history [--format table|json]
    python -m lib export ID --dir DIR
    python -m lib probe --config probes.toml [--fail-on-drift]

Exit status: 0 done (failed runs are recorded, not fatal), 1 drift found (probe --fail-on-drift)
or every run failed, 2 invalid input or configuration (nothing was called or stored),
130 interrupted (completed runs are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from lib.embeddings import EmbeddingError
from lib.runner import RunnerCallbackError
from lib.settings import Settings, SettingsError, load_settings
from lib.spec import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM,
    LOCAL_MODEL_NAME,
    PRESETS,
    ExperimentSpec,
    Limits,
    SpecError,
    preset_arms,
    validate_spec,
)
from lib.store import StoreError
from lib.terminal import one_line, safe_for_terminal

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """Bad input or configuration: printed as one line, exit status 2."""


class UsageError(Exception):
    """A flag argparse refuses; reported as one line like every other invalid input."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage block and exits; the CLI promises one line and status 2.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _number(kind: type):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser("compare", help="run seeded vs unseeded arms and compare them")
    compare.add_argument("--preset", choices=PRESETS, help="arms preset (default: two arms)")
    compare.add_argument("--provider", choices=("local", "openai"), default="local")
    compare.add_argument(
        "--base-url", help="OpenAI-compatible base URL; the API key is sent only to OPENAI_BASE_URL"
    )
    compare.add_argument("--model", help="model name (default: the embedded model / OPENAI_MODEL)")
    compare.add_argument("--prompt", default=DEFAULT_PROMPT)
    compare.add_argument("--system", default=DEFAULT_SYSTEM)
    compare.add_argument("--runs", type=_number(int), default=5, help="runs per arm")
    compare.add_argument("--seed", type=_number(int), default=123)
    compare.add_argument("--temperature", type=_number(float), help="temperature of the seeded arm")
    compare.add_argument(
        "--unseeded-temperature",
        type=_number(float),
        help="temperature of the unseeded arm (default: --temperature)",
    )
    compare.add_argument("--max-tokens", type=_number(int), default=200)
    compare.add_argument("--top-p", type=_number(float), default=1.0)
    compare.add_argument("--concurrency", type=_number(int), help="parallel calls (remote only)")
    compare.add_argument("--embedder", choices=("local", "openai"), default="local")
    compare.add_argument("--format", choices=("table", "json"), default="table")
    compare.add_argument(
        "--csv", metavar="DIR", help="also write runs.csv, metrics.csv, distances.csv"
    )
    compare.add_argument("--no-store", action="store_true", help="do not keep this experiment")

    history = commands.add_parser("history", help="list stored experiments, newest first")
    history.add_argument("--provider")
    history.add_argument("--model")
    history.add_argument("--prompt", help="only experiments whose prompt contains this text")
    history.add_argument("--limit", type=_number(int), default=50)
    history.add_argument("--format", choices=("table", "json"), default="table")

    export = commands.add_parser("export", help="write the CSV files of a stored experiment")
    export.add_argument("experiment_id")
    export.add_argument("--dir", required=True)
    export.add_argument("--embedder", choices=("local", "openai"), default="local")

    probe = commands.add_parser("probe", help="run fixed probe requests and report drift")
    probe.add_argument("--config", required=True, help="probes TOML file")
    probe.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 if a seeded probe changed"
    )
    probe.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def spec_from_args(args: argparse.Namespace, settings: Settings) -> ExperimentSpec:
    """The validated spec the flags describe; raises SpecError before anything is called."""
    if args.preset == "cookbook":
        seeded_t = 0.0 if args.temperature is None else args.temperature
        arms = preset_arms(
            "cookbook",
            seed=args.seed,
            temperature=seeded_t,
            unseeded_temperature=args.unseeded_temperature,
            runs=args.runs,
        )
    elif args.preset == "grid":
        arms = preset_arms(
            "grid",
            seed=args.seed,
            temperature=0.0 if args.temperature is None else args.temperature,
            unseeded_temperature=args.unseeded_temperature,
            runs=args.runs,
        )
    else:
        # seed-only, and the default: two arms, `unseeded` and `seeded`.
        seeded_t = 0.7 if args.temperature is None else args.temperature
        unseeded_t = seeded_t if args.unseeded_temperature is None else args.unseeded_temperature
        if args.preset == "seed-only" and args.unseeded_temperature is not None:
            raise SpecError(
                [
                    "--unseeded-temperature: the seed-only preset uses one temperature for both "
                    "arms; set it with --temperature, or use --preset grid"
                ]
            )
        arms = [
            {"label": "unseeded", "seed": None, "temperature": unseeded_t, "runs": args.runs},
            {"label": "seeded", "seed": args.seed, "temperature": seeded_t, "runs": args.runs},
        ]
    default_model = LOCAL_MODEL_NAME if args.provider == "local" else settings.openai_model
    model = default_model if args.model is None else args.model
    data = {
        "prompt": args.prompt,
        "system": args.system,
        "provider": args.provider,
        "model": model,
        "max_tokens": args.max_tokens,
        "top_p": args.top_p,
        "arms": arms,
    }
    return validate_spec(data, Limits.from_settings(settings))


def _progress_printer(stream):
    def report(event) -> None:
        arm = event.arms[event.completion.arm_label]
        status = "ok" if event.completion.ok else f"FAILED ({event.completion.error_type})"
        stream.write(
            f"\r[{event.done}/{event.total}] {arm.label}: {arm.done}/{arm.total} {status}   "
        )
        if event.done == event.total:
            stream.write("\n")
        stream.flush()

    return report


def _arm_runs_json(completions) -> list[dict[str, Any]]:
    return [
        {
            "index": c.run_index,
            "text": c.text,
            "system_fingerprint": c.system_fingerprint,
            "effective_seed": c.effective_seed,
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "latency_s": round(c.latency_s, 4),
            "finish_reason": c.finish_reason,
            "error": None if c.ok else f"{c.error_type}: {c.error_message}",
        }
        for c in completions
    ]


_JSON_METRICS = (
    "distinct_outputs",
    "modal_share",
    "exact_match_rate",
    "tarr",
    "mean_distance_first_vs_rest",
    "mean_pairwise_distance",
    "max_pairwise_distance",
    "first_divergence_char",
    "mean_edit_distance",
)


def comparison_json(spec: ExperimentSpec, completions, analysis, experiment_id) -> dict[str, Any]:
    by_arm = {arm.label: [c for c in completions if c.arm_label == arm.label] for arm in spec.arms}
    arms = []
    for arm in spec.arms:
        entry: dict[str, Any] = {
            "label": arm.label,
            "seed": arm.seed,
            "temperature": arm.temperature,
            "runs": _arm_runs_json(by_arm[arm.label]),
        }
        if analysis is not None:
            metrics = analysis.arm(arm.label).metrics.to_dict()
            entry["metrics"] = {key: metrics.get(key) for key in _JSON_METRICS}
        arms.append(entry)
    result: dict[str, Any] = {
        "experiment_id": experiment_id,
        "spec": spec.model_dump(),
        "arms": arms,
    }
    if analysis is not None:
        result["between_arms"] = [
            {"arm_a": a, "arm_b": b, "mean_distance": distance}
            for a, b, distance in analysis.between_arms
        ]
    return result


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _print_table(rows: list[dict[str, Any]], out) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_fmt(row[col]) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    out.write("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)) + "\n")
    for row in cells:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + "\n")


def print_comparison_table(spec, completions, analysis, experiment_id, out) -> None:
    if experiment_id:
        out.write(f"experiment {experiment_id}\n")
    for arm in spec.arms:
        seed = "none" if arm.seed is None else arm.seed
        out.write(f"\n== {arm.label} (seed {seed}, temperature {arm.temperature:g})\n")
        rows = []
        for c in (c for c in completions if c.arm_label == arm.label):
            response = (
                one_line(c.text, 60) if c.ok else f"[failed] {c.error_type}: {c.error_message}"
            )
            rows.append(
                {
                    "run": c.run_index,
                    "response": one_line(response, 70),
                    "system_fingerprint": c.system_fingerprint or "not reported",
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "effective_seed": c.effective_seed,
                    "latency_s": round(c.latency_s, 3),
                }
            )
        _print_table(rows, out)
        if analysis is not None:
            m = analysis.arm(arm.label).metrics
            out.write(
                f"distinct outputs {m.distinct_outputs}/{m.runs - m.failed_runs}"
                f"  mean distance run 0 vs rest (cookbook) {_fmt(m.mean_distance_first_vs_rest)}"
                f"  mean pairwise {_fmt(m.mean_pairwise_distance)}"
                f"  exact match {_fmt(m.exact_match_rate, 2)}"
                f"  first divergence (char) {_fmt(m.first_divergence_char)}\n"
            )
    if analysis is not None and analysis.between_arms:
        out.write("\nbetween arms (mean cosine distance)\n")
        for a, b, distance in analysis.between_arms:
            out.write(f"  {a} vs {b}: {_fmt(distance)}\n")


def _open_store(settings: Settings):
    from lib.store import Store

    try:
        return Store.from_settings(settings)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _embedder(settings: Settings, kind: str, store):
    from lib.embeddings import make_embedder

    if kind == "openai" and not settings.openai_configured:
        raise CliError("--embedder openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
    return make_embedder(settings, kind, cache=store)


def cmd_compare(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from lib.providers.factory import make_provider, settings_for_endpoint
    from lib.runner import run_spec_sync

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
            on_progress=_progress_printer(err),
            concurrency=args.concurrency or settings.remote_concurrency,
        )
    except KeyboardInterrupt:
        if store is not None:
            store.finish_experiment(experiment_id, "cancelled")
        err.write("\ninterrupted: completed runs are kept\n")
        return EXIT_INTERRUPTED
    if store is not None:
        store.finish_experiment(experiment_id, "cancelled" if outcome.cancelled else "complete")

    from lib.analysis import analyze

    completions = outcome.completions
    analysis = analyze(completions, embedder, [arm.label for arm in spec.arms])
    if args.csv:
        from lib.export import write_exports

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
        out.write("no experiments stored yet: run `python -m lib compare`\n")
    else:
        for row in rows:
            row["prompt"] = one_line(row["prompt"], 50)
        _print_table(rows, out)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, settings: Settings, out, err) -> int:
    from lib.analysis import analyze
    from lib.export import write_exports

    store = _open_store(settings)
    experiment_id = store.resolve_id(args.experiment_id) or args.experiment_id  # short ids too
    stored = store.load_experiment(experiment_id)
    if stored is None:
        raise CliError(f"no experiment {args.experiment_id!r}: see `python -m lib history`")
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
    from lib.probe import ProbeConfigError, load_probe_config, run_probes
    from lib.providers.factory import make_provider

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


COMMANDS = {
    "compare": cmd_compare,
    "history": cmd_history,
    "export": cmd_export,
    "probe": cmd_probe,
}


def main(argv: Sequence[str] | None = None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        err.write(f"invalid input: {exc}\n")
        return EXIT_USAGE
    try:
        settings = load_settings()
        return COMMANDS[args.command](args, settings, out, err)
    except SpecError as exc:
        err.write(f"invalid input: {exc}\n")
    except (CliError, SettingsError) as exc:
        err.write(f"error: {exc}\n")
    except (StoreError, EmbeddingError, RunnerCallbackError) as exc:
        # Calls were made: what completed is stored; say what failed and stop.
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    return EXIT_USAGE

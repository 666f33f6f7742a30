"""The command line's flags (argparse); a refused flag is one line, like every invalid input."""

from __future__ import annotations

import argparse
from typing import NoReturn

from seedscope.spec import DEFAULT_PROMPT, DEFAULT_SYSTEM, PRESETS


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
    parser = _Parser(prog="seedscope", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser("compare", help="run seeded vs unseeded arms and compare them")
    # Request and arm flags default to None so that --arm / --spec can tell which were given;
    # seedscope.cli.specs applies the defaults named in the help.
    compare.add_argument("--preset", choices=PRESETS, help="arms preset (default: two arms)")
    compare.add_argument(
        "--arm",
        action="append",
        metavar="SPEC",
        help='an arm "LABEL,seed=S|none,temperature=T,runs=N" (repeatable); replaces the '
        "preset's arms, so not with --preset/--seed/--temperature/--unseeded-temperature/--runs",
    )
    compare.add_argument(
        "--spec",
        metavar="FILE",
        help="the whole request and its arms from a JSON or TOML file (as `export --spec` "
        "writes it); not with the request or arm flags",
    )
    compare.add_argument("--provider", choices=("local", "openai"), help="default: local")
    compare.add_argument(
        "--base-url", help="OpenAI-compatible base URL; the API key is sent only to OPENAI_BASE_URL"
    )
    compare.add_argument("--model", help="model name (default: the embedded model / OPENAI_MODEL)")
    compare.add_argument("--prompt", help=f"default: {DEFAULT_PROMPT!r}")
    compare.add_argument("--system", help=f"default: {DEFAULT_SYSTEM!r}")
    compare.add_argument("--runs", type=_number(int), help="runs per arm (default: 5)")
    compare.add_argument("--seed", type=_number(int), help="seed of the seeded arm (default: 123)")
    compare.add_argument("--temperature", type=_number(float), help="temperature of the seeded arm")
    compare.add_argument(
        "--unseeded-temperature",
        type=_number(float),
        help="temperature of the unseeded arm (default: --temperature)",
    )
    compare.add_argument("--max-tokens", type=_number(int), help="default: 200")
    compare.add_argument("--top-p", type=_number(float), help="default: 1.0")
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
    history.add_argument(
        "--kind",
        choices=("experiment", "suite", "import"),
        help="only single experiments, suite runs or imported outputs",
    )
    history.add_argument("--limit", type=_number(int), default=50)
    history.add_argument("--format", choices=("table", "json"), default="table")

    export = commands.add_parser(
        "export", help="write the CSV files or the spec file of a stored experiment"
    )
    export.add_argument("experiment_id")
    export.add_argument("--dir", help="write runs.csv, metrics.csv, distances.csv here")
    export.add_argument(
        "--spec",
        metavar="FILE",
        help="write the experiment's spec (JSON or TOML by extension) to re-run it with "
        "`compare --spec FILE`",
    )
    export.add_argument("--embedder", choices=("local", "openai"), default="local")

    report = commands.add_parser(
        "report", help="write a stored experiment as one self-contained HTML file"
    )
    report.add_argument("experiment_id", help="its id, or the first characters (see history)")
    report.add_argument("--html", metavar="FILE", required=True, help="the report file to write")
    report.add_argument("--case", metavar="CASE_ID", help="only this case of a suite or import")
    report.add_argument("--embedder", choices=("local", "openai"), default="local")
    report.add_argument(
        "--no-embed",
        action="store_true",
        help="suites and imports: skip the embedding distances (shown as -)",
    )

    resume = commands.add_parser(
        "resume", help="send only the missing runs of a cancelled or interrupted experiment"
    )
    resume.add_argument("experiment_id", help="its id, or the first characters (see history)")
    resume.add_argument(
        "--base-url",
        help="base URL of the experiment's server (only its host is stored); default "
        "OPENAI_BASE_URL when it points at that host",
    )
    resume.add_argument("--concurrency", type=_number(int), help="parallel calls (remote only)")
    resume.add_argument("--embedder", choices=("local", "openai"), default="local")
    resume.add_argument("--format", choices=("table", "json"), default="table")
    resume.add_argument(
        "--csv", metavar="DIR", help="also write runs.csv, metrics.csv, distances.csv"
    )

    add_suite_commands(commands)
    add_check_commands(commands)

    backends = commands.add_parser(
        "backends",
        help="the backend capability table: seed honoured, fingerprint reported, logprobs "
        "supported and load-invariant per provider/model/host, as last checked",
    )
    backends.add_argument("--format", choices=("table", "json"), default="table")

    probe = commands.add_parser("probe", help="run fixed probe requests and report drift")
    probe.add_argument("--config", required=True, help="probes TOML file")
    probe.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 if a seeded probe changed"
    )
    probe.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def _add_analysis_flags(command: argparse.ArgumentParser) -> None:
    """Answer extractor and output flags, shared by `suite run` and `suite import`."""
    answer = command.add_mutually_exclusive_group()
    answer.add_argument(
        "--answer-regex", metavar="R", help="the answer is the first capture group of R"
    )
    answer.add_argument(
        "--answer-json", metavar="PATH", help="the answer is this JSON field, e.g. result.choice"
    )
    answer.add_argument(
        "--answer-last-number", action="store_true", help="the answer is the last number"
    )
    command.add_argument("--format", choices=("table", "json"), default="table")
    command.add_argument(
        "--csv", metavar="DIR", help="also write runs.csv, cases.csv, suite_metrics.csv"
    )
    command.add_argument(
        "--no-embed", action="store_true", help="skip the embedding measures (reported as null)"
    )
    command.add_argument("--embedder", choices=("local", "openai"), default="local")


def add_suite_commands(commands) -> None:
    suite = commands.add_parser("suite", help="run a suite of prompts, or import outputs")
    actions = suite.add_subparsers(dest="suite_command", required=True)

    run = actions.add_parser("run", help="run every case of a suite under every arm, N times")
    run.add_argument("file", help="cases: .csv (id,prompt[,system][,expected]), .jsonl or .txt")
    # As compare: None defaults so that --arm can tell which flags were given.
    run.add_argument("--preset", choices=PRESETS, help="arms preset (default: two arms)")
    run.add_argument(
        "--arm",
        action="append",
        metavar="SPEC",
        help='an arm "LABEL,seed=S|none,temperature=T,runs=N" (repeatable); replaces the preset',
    )
    run.add_argument("--runs", type=_number(int), help="runs per arm and case (default: 5)")
    run.add_argument("--seed", type=_number(int), help="seed of the seeded arm (default: 123)")
    run.add_argument("--temperature", type=_number(float), help="temperature of the seeded arm")
    run.add_argument("--unseeded-temperature", type=_number(float))
    run.add_argument("--provider", choices=("local", "openai"), help="default: local")
    run.add_argument("--base-url", help="OpenAI-compatible base URL")
    run.add_argument("--model", help="model name (default: the embedded model / OPENAI_MODEL)")
    run.add_argument(
        "--system", help=f"system message of cases without one (default: {DEFAULT_SYSTEM!r})"
    )
    run.add_argument("--max-tokens", type=_number(int), help="default: 200")
    run.add_argument("--top-p", type=_number(float), help="default: 1.0")
    run.add_argument("--concurrency", type=_number(int), help="parallel calls (remote only)")
    _add_analysis_flags(run)

    imported = actions.add_parser(
        "import", help="store and analyse outputs generated elsewhere (nothing is generated)"
    )
    imported.add_argument(
        "file", help="outputs: .csv or .jsonl with case_id, arm, run, text[, prompt, expected, ...]"
    )
    _add_analysis_flags(imported)


def _add_check_request_flags(command: argparse.ArgumentParser) -> None:
    """compare's backend and request flags, for `check seed|load|logprobs`."""
    command.add_argument("--provider", choices=("local", "openai"), help="default: local")
    command.add_argument(
        "--base-url", help="OpenAI-compatible base URL; the API key is sent only to OPENAI_BASE_URL"
    )
    command.add_argument("--model", help="model name (default: the embedded model / OPENAI_MODEL)")
    command.add_argument("--prompt", help=f"default: {DEFAULT_PROMPT!r}")
    command.add_argument("--system", help=f"default: {DEFAULT_SYSTEM!r}")
    command.add_argument("--runs", type=_number(int), default=5, help="runs per arm (default: 5)")
    command.add_argument("--max-tokens", type=_number(int), help="default: 200")
    command.add_argument("--top-p", type=_number(float), help="default: 1.0")
    command.add_argument("--format", choices=("table", "json"), default="table")


def add_check_commands(commands) -> None:
    check = commands.add_parser(
        "check",
        help="does the backend keep its promises: the seed check, the load probe and the "
        "logprobs check",
    )
    kinds = check.add_subparsers(dest="check_command", required=True)

    seed = kinds.add_parser(
        "seed",
        help="seed A, seed A again and seed B, N runs each: is the seed honoured?",
    )
    _add_check_request_flags(seed)
    seed.add_argument("--seed-a", type=_number(int), default=123, help="default: 123")
    seed.add_argument("--seed-b", type=_number(int), default=456, help="default: 456")
    seed.add_argument(
        "--temperature", type=_number(float), default=1.0, help="above 0 (default: 1.0)"
    )

    logprobs = kinds.add_parser(
        "logprobs",
        help="the same seeded request without and with logprobs, N runs each: does asking "
        "for logprobs change the output?",
    )
    _add_check_request_flags(logprobs)
    logprobs.add_argument("--seed", type=_number(int), default=123, help="default: 123")
    logprobs.add_argument("--temperature", type=_number(float), default=1.0, help="default: 1.0")
    logprobs.add_argument(
        "--top-logprobs",
        type=_number(int),
        default=5,
        help="alternatives captured per token, 1 to 20 (default: 5)",
    )

    load = kinds.add_parser(
        "load",
        help="one seeded request alone, K copies at once, and next to B background requests: "
        "does load change its output?",
    )
    _add_check_request_flags(load)
    load.add_argument("--seed", type=_number(int), default=123, help="default: 123")
    load.add_argument("--temperature", type=_number(float), default=0.0, help="default: 0")
    load.add_argument(
        "--copies", type=_number(int), default=4, help="copies sent at once (default: 4)"
    )
    load.add_argument(
        "--background",
        type=_number(int),
        default=4,
        help="background requests in flight with each measured run (default: 4)",
    )

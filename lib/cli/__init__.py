"""Command line: the same experiments as the dashboard, headless (CI, cron, scripts).

    python -m seedscope compare [--preset cookbook|seed-only|grid] [--provider local|openai] ...
    python -m seedscope compare --arm "LABEL,seed=S|none,temperature=T,runs=N" [--arm ...] ...
    python -m seedscope compare --spec FILE.toml|FILE.json
    python -m seedscope history [--kind experiment|suite|import] [--format table|json]
    python -m seedscope export ID [--dir DIR] [--spec FILE.toml|FILE.json]
    python -m seedscope report ID --html FILE [--case CASE_ID] [--no-embed]
    python -m seedscope resume ID [--base-url URL] [--format table|json] [--csv DIR]
    python -m seedscope probe --config probes.toml [--fail-on-drift]
    python -m seedscope suite run FILE [--preset ...|--arm ...] --runs N [--answer-regex R |
        --answer-json PATH | --answer-last-number] [--format table|json] [--csv DIR] [--no-embed]
    python -m seedscope suite import FILE [the same answer and output flags]
    python -m seedscope check seed [compare's backend and request flags] [--seed-a A --seed-b B]
        [--temperature T] [--format table|json]
    python -m seedscope check load [compare's backend and request flags] [--seed S]
        [--temperature T] [--copies K] [--background B] [--format table|json]
    python -m seedscope check logprobs [compare's backend and request flags] [--seed S]
        [--temperature T] [--top-logprobs K] [--format table|json]
    python -m seedscope backends [--format table|json]

Exit status: 0 done (failed runs are recorded, not fatal), 1 drift found (probe --fail-on-drift)
or every run failed (stderr names the most common reason) or saving failed, 2 invalid input or
configuration (nothing was called or stored), 130 interrupted (completed runs are kept; `resume`
sends the rest).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from seedscope.cli.commands import (
    cmd_backends,
    cmd_check,
    cmd_compare,
    cmd_export,
    cmd_history,
    cmd_probe,
    cmd_report,
    cmd_resume,
)
from seedscope.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from seedscope.cli.parser import UsageError, build_parser
from seedscope.cli.specs import spec_from_args
from seedscope.cli.suite import cmd_suite
from seedscope.embeddings import EmbeddingError
from seedscope.runner import RunnerCallbackError
from seedscope.settings import SettingsError, load_settings
from seedscope.spec import SpecError
from seedscope.store import StoreError

__all__ = ["build_parser", "main", "spec_from_args"]

COMMANDS = {
    "compare": cmd_compare,
    "history": cmd_history,
    "export": cmd_export,
    "report": cmd_report,
    "resume": cmd_resume,
    "probe": cmd_probe,
    "suite": cmd_suite,
    "check": cmd_check,
    "backends": cmd_backends,
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
    except KeyboardInterrupt:  # after the runs (say while measuring): they are stored
        err.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
    return EXIT_USAGE

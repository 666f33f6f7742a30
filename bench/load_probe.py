"""The load probe against the project's test server: wall time vs its ideal, side by side.

    .venv/bin/python bench/load_probe.py [--runs 5] [--copies 4] [--background 4] [--latency 0.2]

The probe (seedscope.checks.run_load_probe, stored in a SQLite file like any check) runs three
phases against tests/fake_openai_server.py answering every call after --latency seconds:
N sequential calls, K copies at once, and N rounds of one measured call with B background
calls at once. Its ideal wall time is (N + 1 + N) x latency: every phase waits for its calls
and nothing else. Timed --repeats times, best kept (other processes share the cores); also
printed: the verdict, and the most calls the server saw in flight at once (it should be
max(K, B + 1)). Target: at most 1.2x the ideal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from seedscope.checks import load_probe_spec, run_load_probe  # noqa: E402
from seedscope.providers.openai_compat import OpenAICompatProvider  # noqa: E402
from seedscope.spec import ExperimentSpec  # noqa: E402
from seedscope.store import Store  # noqa: E402

from tests.helpers import start_fake_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--background", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = ExperimentSpec(provider="openai", model="fake-model", max_tokens=16)
    spec = load_probe_spec(base, runs=args.runs, copies=args.copies, background=args.background)
    ideal = (2 * args.runs + 1) * args.latency
    server = start_fake_server("--latency", str(args.latency))
    times, verdicts, peaks = [], set(), set()
    try:
        provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
        with (
            tempfile.TemporaryDirectory() as folder,
            Store.open(f"sqlite:///{Path(folder) / 'bench.db'}") as store,
        ):
            for _ in range(args.repeats):
                server.reset()
                start = time.perf_counter()
                result = run_load_probe(store, spec, provider)
                times.append(time.perf_counter() - start)
                verdicts.add(result.verdict)
                peaks.add(server.stats()["max_in_flight"])
    finally:
        server.stop()
    best = min(times)
    print(
        f"load probe: N={args.runs} sequential, K={args.copies} at once, N rounds of 1 + "
        f"B={args.background}; server latency {args.latency:g} s; {spec.total_runs} calls"
    )
    print(f"  ideal (2N + 1) x latency: {ideal:.2f} s")
    print(f"  probe, best of {args.repeats}: {best:.2f} s = {best / ideal:.2f}x ideal")
    print(f"  all runs: {', '.join(f'{t:.2f}' for t in times)} s")
    print(f"  verdict {', '.join(sorted(verdicts))}; most in flight at the server {sorted(peaks)}")


if __name__ == "__main__":
    main()

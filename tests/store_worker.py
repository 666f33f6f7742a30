"""A separate process that writes runs into a store, for the reliability tests.

    python -m tests.store_worker URL --runs 100 [--ready FILE --go FILE] [--delay S]

Opens the store like the app does at start-up (migrations + recovery), creates one
experiment, stores `--runs` runs one at a time through the runner's sink, printing
"stored N" after each commit (so a parent knows what must survive a SIGKILL), then
marks the experiment complete. With --ready/--go it touches READY and waits for GO first,
so several workers start writing (and migrating a fresh database) at the same moment.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from seedscope.providers.base import utc_now
from seedscope.store import Store

from tests.store_support import make_completion, make_spec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()

    if args.ready and args.go:
        args.ready.touch()
        deadline = time.monotonic() + 60
        while not args.go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("no go signal within 60 s")
            time.sleep(0.005)

    spec = make_spec(arms=[{"label": "seeded", "seed": 5, "temperature": 0.0, "runs": 100}])
    store = Store.open(args.url)
    experiment_id = store.create_experiment(spec, base_url_host=None)
    print(f"experiment {experiment_id}", flush=True)
    sink = store.sink(experiment_id)
    for index in range(args.runs):
        sink(make_completion(spec, "seeded", index, text=f"run {index}", started_at=utc_now()))
        print(f"stored {index + 1}", flush=True)
        if args.delay:
            time.sleep(args.delay)
    store.finish_experiment(experiment_id, "complete")
    store.close()


if __name__ == "__main__":
    main()

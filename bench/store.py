"""Benchmark the run history store, side by side in one run.

    .venv/bin/python bench/store.py [--sink-runs N] [--history-runs N] [--repeats N]

1. Runs stored per second through the runner's sink (`Store.sink`: one committed transaction
   per run, so a crash loses nothing already reported) vs bare `sqlite3` on the same rows in
   an identical schema: `executemany` in one transaction (the ceiling), and one commit per row
   (the same durability as the sink, without SQLAlchemy). Also `Store.add_runs` (batched).
2. The history list and the timeline query over a history of --history-runs runs
   (default 100,000): times with the schema's indexes vs the same database with the indexes
   dropped, and SQLite's EXPLAIN QUERY PLAN of exactly the SQL the store ran, to confirm an
   index is used.

Sides are timed alternately, best of N repeats, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from seedscope.providers.base import Completion  # noqa: E402
from seedscope.spec import validate_spec  # noqa: E402
from seedscope.store import Store  # noqa: E402
from seedscope.store.schema import experiments, runs  # noqa: E402

WORDS = ["mars", "rover", "crew", "orbit", "launch", "dust", "crater", "signal", "red"]
WORDS += ["planet", "journey", "module", "solar"]
BACKENDS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("local", "SmolLM2-135M-Instruct")]
START = datetime(2026, 1, 1, tzinfo=UTC)


def spec_for(provider: str, model: str, runs_per_arm: int):
    return validate_spec(
        {
            "prompt": "Generate a short excerpt of news about a journey to Mars.",
            "provider": provider,
            "model": model,
            "arms": [
                {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": runs_per_arm},
                {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": runs_per_arm},
            ],
        }
    )


def completions(spec, count: int, start: datetime, rng: random.Random, fingerprint: str):
    result = []
    for index in range(count):
        arm = spec.arms[index % 2]
        result.append(
            Completion(
                arm_label=arm.label,
                run_index=index // 2,
                text=" ".join(rng.choice(WORDS) for _ in range(40)),
                system_fingerprint=fingerprint,
                requested_seed=arm.seed,
                effective_seed=arm.seed or rng.randint(1, 2**32 - 1),
                temperature=arm.temperature,
                top_p=1.0,
                max_tokens=200,
                provider=spec.provider,
                model=spec.model,
                prompt_tokens=20,
                completion_tokens=40,
                latency_s=rng.random(),
                finish_reason="stop",
                started_at=start + timedelta(seconds=index),
            )
        )
    return result


def best_of(repeats: int, sides: dict[str, Callable[[], Any]]) -> dict[str, float]:
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(repeats):
        for name, work in sides.items():
            began = time.perf_counter()
            work()
            best[name] = min(best[name], time.perf_counter() - began)
    return best


# -- 1. write throughput --------------------------------------------------------------------


def bare_rows(store: Store, experiment_id: str, items: list[Completion]) -> list[tuple]:
    # The very rows the store writes (request keys included), as plain tuples.
    columns = [c.name for c in runs.c if c.name != "id"]
    rows = [store._run_values(experiment_id, item) for item in items]  # noqa: SLF001
    return [
        tuple(
            row[name].strftime("%Y-%m-%d %H:%M:%S.%f") if name == "started_at" else row[name]
            for name in columns
        )
        for row in rows
    ]


def bench_writes(workdir: Path, count: int, repeats: int) -> None:
    rng = random.Random(1)
    spec = spec_for("openai", "gpt-4o-mini", 100)
    store = Store(f"sqlite:///{workdir / 'sink.db'}")
    Store(f"sqlite:///{workdir / 'bare.db'}").close()  # identical, empty schema
    bare = sqlite3.connect(workdir / "bare.db", isolation_level=None)
    bare.execute("PRAGMA journal_mode = WAL")
    bare.execute("PRAGMA synchronous = NORMAL")
    columns = [c.name for c in runs.c if c.name != "id"]
    insert_sql = f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    bare_experiment = store.create_experiment(spec, base_url_host=None)  # same id in both
    bare.execute(
        "INSERT INTO experiments (id, created_at, status, prompt, system_prompt, provider, model,"
        " spec_json) VALUES (?, ?, 'running', 'p', 's', 'openai', 'gpt-4o-mini', '{}')",
        (bare_experiment, START.strftime("%Y-%m-%d %H:%M:%S.%f")),
    )
    batch = completions(spec, count, START, rng, "fp_a")
    rows = bare_rows(store, bare_experiment, batch)

    def fresh_experiment() -> str:
        return store.create_experiment(spec, base_url_host=None)

    def through_sink() -> None:
        sink = store.sink(fresh_experiment())
        for item in batch:
            sink(item)

    def through_add_runs() -> None:
        store.add_runs(fresh_experiment(), batch)

    def bare_executemany() -> None:
        bare.execute("DELETE FROM runs")
        bare.execute("BEGIN IMMEDIATE")
        bare.executemany(insert_sql, rows)
        bare.execute("COMMIT")

    def bare_commit_per_row() -> None:
        bare.execute("DELETE FROM runs")
        for row in rows:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute(insert_sql, row)
            bare.execute("COMMIT")

    best = best_of(
        repeats,
        {
            "Store.sink (1 commit/run)": through_sink,
            "sqlite3 execute+commit per row": bare_commit_per_row,
            "Store.add_runs (1 commit)": through_add_runs,
            "sqlite3 executemany (1 commit)": bare_executemany,
        },
    )
    print(f"\n1. writing {count} runs (best of {repeats}), SQLite WAL, synchronous=NORMAL")
    for name, seconds in best.items():
        print(f"   {name:34s} {count / seconds:10.0f} runs/s   {seconds * 1000:8.1f} ms")
    sink_rate = count / best["Store.sink (1 commit/run)"]
    print(
        "   ratios: sink / executemany = "
        f"{sink_rate / (count / best['sqlite3 executemany (1 commit)']):.3f};  "
        "sink / sqlite3 commit-per-row = "
        f"{sink_rate / (count / best['sqlite3 execute+commit per row']):.3f};  "
        "add_runs / executemany = "
        f"{best['sqlite3 executemany (1 commit)'] / best['Store.add_runs (1 commit)']:.3f}"
    )
    store.close()
    bare.close()


# -- 2. queries over a large history --------------------------------------------------------


def populate(path: Path, total_runs: int) -> None:
    rng = random.Random(2)
    store = Store(f"sqlite:///{path}")
    per_experiment = 50
    experiment_count = total_runs // per_experiment
    spacing = timedelta(days=120) / experiment_count
    created = []
    for number in range(experiment_count):
        provider, model = BACKENDS[number % len(BACKENDS)]
        spec = spec_for(provider, model, per_experiment // 2)
        at = START + number * spacing
        fingerprint = f"fp_{model}_{number * 6 // experiment_count}"  # 6 builds over time
        experiment_id = store.create_experiment(spec, base_url_host=None)
        store.add_runs(experiment_id, completions(spec, per_experiment, at, rng, fingerprint))
        created.append({"eid": experiment_id, "at": at})
    with store._engine.begin() as connection:  # noqa: SLF001 - spread creation times
        connection.execute(
            update(experiments)
            .where(experiments.c.id == bindparam("eid"))
            .values(created_at=bindparam("at"), status="complete"),
            created,
        )
    store.close()


def capture_sql(store: Store, work: Callable[[], Any]) -> tuple[str, Any]:
    """The last SELECT the store ran for `work`, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = store._engine  # noqa: SLF001 - the benchmark explains what the store runs
    event.listen(engine, "before_cursor_execute", remember)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return seen[-1]


def bench_queries(workdir: Path, total_runs: int, repeats: int) -> None:
    indexed = workdir / "history.db"
    began = time.perf_counter()
    populate(indexed, total_runs)
    print(
        f"\n2. queries over {total_runs} stored runs (built in {time.perf_counter() - began:.1f}s)"
    )
    plain = workdir / "history-no-indexes.db"
    shutil.copy(indexed, plain)  # the store was closed: everything is checkpointed
    raw = sqlite3.connect(plain)
    names = raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'"
    ).fetchall()
    for (name,) in names:
        raw.execute(f'DROP INDEX "{name}"')
    raw.execute("ANALYZE")
    raw.close()

    stores = {"indexed": Store(f"sqlite:///{indexed}"), "no indexes": Store(f"sqlite:///{plain}")}
    week = (START + timedelta(days=100), START + timedelta(days=107))
    queries: dict[str, Callable[[Store], Any]] = {
        "history page 1 (50 newest)": lambda s: s.list_experiments(),
        "history page 1, provider+model": lambda s: s.list_experiments(
            provider="openai", model="gpt-4.1"
        ),
        "history, one week": lambda s: s.list_experiments(since=week[0], until=week[1]),
        "timeline, one model, one week": lambda s: s.timeline_rows(
            provider="openai", model="gpt-4.1", since=week[0], until=week[1]
        ),
        "timeline, one week (all models)": lambda s: s.timeline_rows(since=week[0], until=week[1]),
        "timeline, everything": lambda s: s.timeline_rows(),
        "fingerprint changes, one model": lambda s: s.fingerprint_changes(
            provider="openai", model="gpt-4.1"
        ),
        "drift series, one model": lambda s: s.drift_series(provider="openai", model="gpt-4.1"),
    }
    print(f"   {'query':34s} {'rows':>7s} {'indexed':>10s} {'no index':>10s} {'speed-up':>9s}")
    plans: dict[str, list[str]] = {}
    for label, query in queries.items():
        rows = len(query(stores["indexed"]))
        best = best_of(repeats, {kind: (lambda s=s, q=query: q(s)) for kind, s in stores.items()})
        print(
            f"   {label:34s} {rows:7d} {best['indexed'] * 1000:8.1f}ms "
            f"{best['no indexes'] * 1000:8.1f}ms {best['no indexes'] / best['indexed']:8.1f}x"
        )
        statement, parameters = capture_sql(stores["indexed"], lambda q=query: q(stores["indexed"]))
        connection = sqlite3.connect(indexed)
        plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        connection.close()
        plans[label] = [row[-1] for row in plan]
    print("\n   EXPLAIN QUERY PLAN (indexed database; the SQL the store ran):")
    for label in (
        "history page 1 (50 newest)",
        "history page 1, provider+model",
        "timeline, one model, one week",
        "timeline, one week (all models)",
    ):
        uses_index = any("INDEX" in line for line in plans[label])
        print(f"   - {label}: {'uses an index' if uses_index else 'NO INDEX USED'}")
        for line in plans[label]:
            print(f"       {line}")
    for store in stores.values():
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sink-runs", type=int, default=2000)
    parser.add_argument("--history-runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="seedscope-bench-store-"))
    try:
        print(f"SQLite {sqlite3.sqlite_version}, database files in {workdir}")
        bench_writes(workdir, args.sink_runs, args.repeats)
        bench_queries(workdir, args.history_runs, args.repeats)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

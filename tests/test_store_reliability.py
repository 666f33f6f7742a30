"""The store under stress: concurrent writers (threads and processes), a writer killed with
SIGKILL, and unusable database URLs. SQLite always; PostgreSQL too (marker `postgres`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from seedscope.providers.base import utc_now
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import plan_requests, run_spec_sync
from seedscope.settings import Settings
from seedscope.store import Store, StoreError
from seedscope.store.engine import BUSY_TIMEOUT_MS, SETTING, create_store_engine, resolve_url

from tests.helpers import free_port
from tests.store_support import BACKENDS, ROOT, database_url, make_completion, make_spec

WRITERS = 4
RUNS_EACH = 100


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    return database_url(request.param, tmp_path, request)


def assert_complete_experiments(url: str, ids: list[str]) -> None:
    with Store(url) as store:
        assert store.count_experiments() == len(ids)
        for experiment_id in ids:
            loaded = store.load_experiment(experiment_id)
            assert loaded.status == "complete"
            assert [c.run_index for c in loaded.completions] == list(range(RUNS_EACH))
            assert [c.text for c in loaded.completions] == [f"run {i}" for i in range(RUNS_EACH)]


def write_experiment(store: Store, barrier: threading.Barrier) -> str:
    spec = make_spec(arms=[{"label": "seeded", "seed": 5, "temperature": 0.0, "runs": 100}])
    barrier.wait()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    sink = store.sink(experiment_id)
    for index in range(RUNS_EACH):
        sink(make_completion(spec, "seeded", index, text=f"run {index}", started_at=utc_now()))
    store.finish_experiment(experiment_id, "complete")
    return experiment_id


def test_thirty_percent_faults_are_stored_as_failed_runs_none_missing_or_doubled(
    url, fake_server_factory
):
    server = fake_server_factory(
        "--fault-rate", "0.3", "--fault-seed", "3", "--faults", "429,500,drop,malformed",
        "--retry-after", "0.01",
    )  # fmt: skip
    spec = make_spec(
        provider="openai",
        model="fake-model",
        max_tokens=8,
        arms=[
            {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 15},
            {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 15},
        ],
    )
    provider = OpenAICompatProvider(None, server.base_url, model="fake-model", max_retries=0)
    with Store.open(url) as store:
        experiment_id = store.create_experiment(spec, base_url_host=provider.base_url_host)
        outcome = run_spec_sync(spec, provider, sink=store.sink(experiment_id), concurrency=8)
        store.finish_experiment(experiment_id, "complete")
        loaded = store.load_experiment(experiment_id)

    planned = Counter((r.arm_label, r.run_index) for r in plan_requests(spec))
    assert Counter((c.arm_label, c.run_index) for c in loaded.completions) == planned
    assert loaded.completions == outcome.completions  # stored exactly as the runner returned
    failed = [c for c in loaded.completions if not c.ok]
    assert len(failed) == sum(server.stats()["faults"].values()) > 0
    assert loaded.summary.failed_runs == len(failed) and loaded.summary.runs == 30
    for completion in failed:
        assert completion.text == "" and completion.error_type and completion.error_message


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_four_threads_write_at_once_without_lock_errors(url, shared):
    Store(url).close()  # create the schema; the process test covers racing migrations
    stores = [Store(url)] * WRITERS if shared else [Store(url) for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS + 1)
    results: list[str] = []
    errors: list[BaseException] = []
    stop_reading = threading.Event()

    def writer(store: Store) -> None:
        try:
            results.append(write_experiment(store, barrier))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    def reader() -> None:  # a dashboard session reading while the runs arrive
        barrier.wait()
        try:
            while not stop_reading.is_set():
                stores[0].list_experiments()
                stores[0].timeline_rows(limit=50)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(store,)) for store in stores]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join(timeout=300)
    stop_reading.set()
    threads[-1].join(timeout=60)
    for store in set(stores):
        store.close()

    assert errors == []
    assert len(results) == WRITERS
    assert_complete_experiments(url, results)


def test_four_processes_write_at_once_into_a_fresh_database(url, tmp_path):
    # Nothing exists yet: the four processes also race to create the schema.
    go = tmp_path / "go"
    workers = []
    for number in range(WRITERS):
        ready = tmp_path / f"ready{number}"
        command = [sys.executable, "-m", "tests.store_worker", url, "--runs", str(RUNS_EACH)]
        command += ["--ready", str(ready), "--go", str(go)]
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        workers.append((process, ready))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for _, ready in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()

    ids = []
    for process, _ in workers:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "locked" not in stderr
        ids.append(stdout.splitlines()[0].removeprefix("experiment "))
        assert stdout.splitlines()[-1] == f"stored {RUNS_EACH}"
    assert_complete_experiments(url, ids)


def test_writer_killed_halfway_keeps_every_committed_run(url):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.store_worker", url, "--runs", "10000", "--delay", "0.002"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    experiment_id = process.stdout.readline().strip().removeprefix("experiment ")
    committed = 0
    while committed < 40:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        committed = int(line.split()[1])
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    with Store.open(url) as store:  # start-up after the crash
        loaded = store.load_experiment(experiment_id)
        assert loaded.status == "interrupted"
        indices = [c.run_index for c in loaded.completions]
        # Every run reported as stored is there; at most the one in flight is not.
        assert indices == list(range(len(indices)))
        assert committed <= len(indices) < 10000
        # The store keeps working after the crash.
        store.add_run(experiment_id, make_completion(make_spec(), "seeded", 99_999))

    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            connection.close()


def test_sqlite_file_uses_wal_and_every_connection_waits_for_locks(tmp_path):
    path = tmp_path / "history.db"
    Store(f"sqlite:///{path}").close()
    plain = sqlite3.connect(path)  # WAL is a property of the file, seen by any connection
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        plain.close()
    engine = create_store_engine(resolve_url(f"sqlite:///{path}"))
    try:
        with engine.connect() as connection:
            (timeout,) = connection.exec_driver_sql("PRAGMA busy_timeout").fetchone()
        assert timeout == BUSY_TIMEOUT_MS >= 5000
    finally:
        engine.dispose()


# -- unusable databases give one clear message naming the setting ---------------------------


@pytest.mark.parametrize(
    ("bad_url", "expected"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://user@127.0.0.1/seedscope", "supports sqlite and postgresql"),
        ("postgresql+psycopg2://u@127.0.0.1/db", "psycopg 3"),
    ],
)
def test_malformed_or_unsupported_urls(bad_url, expected):
    with pytest.raises(StoreError, match=expected) as raised:
        Store(bad_url)
    assert SETTING in str(raised.value)


def test_unreachable_server_names_the_setting_and_hides_the_password():
    url = f"postgresql://seedscope:hunter2secret@127.0.0.1:{free_port()}/seedscope"
    with pytest.raises(StoreError) as raised:
        Store(url)
    message = str(raised.value)
    assert SETTING in message and "server is running" in message
    assert "hunter2secret" not in message and "seedscope:***@127.0.0.1" in message


def test_unusable_sqlite_paths(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    not_a_database = tmp_path / "garbage.db"
    not_a_database.write_bytes(os.urandom(4096))
    cases = {
        f"sqlite:///{tmp_path}/missing/dir/history.db": "does not exist",
        f"sqlite:///{a_file}/history.db": "is not a directory",
        f"sqlite:///{tmp_path}": "is a directory",
        f"sqlite:///{not_a_database}": "not a database",
    }
    for bad_url, expected in cases.items():
        with pytest.raises(StoreError, match=expected) as raised:
            Store(bad_url)
        assert SETTING in str(raised.value), bad_url


def unwritable_cases(tmp_path: Path) -> dict[str, str]:
    if os.geteuid() == 0:
        # Root passes every permission check; sysfs refuses new files even to root.
        return {"sqlite:////sys/seedscope-history.db": "unable to open|not writable"}
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    read_only = tmp_path / "read-only.db"
    Store(f"sqlite:///{read_only}").close()
    read_only.chmod(0o444)
    return {
        f"sqlite:///{locked}/history.db": "is not writable",
        f"sqlite:///{read_only}": "not readable and writable",
    }


def test_unwritable_directory_or_file(tmp_path):
    for bad_url, expected in unwritable_cases(tmp_path).items():
        with pytest.raises(StoreError, match=expected) as raised:
            Store(bad_url)
        assert SETTING in str(raised.value), bad_url


def test_from_settings_uses_the_setting_or_the_per_user_data_directory(tmp_path, monkeypatch):
    chosen = tmp_path / "chosen.db"
    with Store.from_settings(Settings(database_url=f"sqlite:///{chosen}")) as store:
        assert store.url_for_display.endswith("chosen.db")
    assert chosen.exists()

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with Store.from_settings(Settings()) as store:
        store.create_experiment(make_spec(), base_url_host=None)
    assert (tmp_path / "data" / "seedscope" / "seedscope.db").exists()

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    with pytest.raises(StoreError, match=SETTING):
        Store.from_settings(Settings())


def test_missing_postgres_driver_says_which_package_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(StoreError, match=r"seedscope\[postgres\]") as raised:
        Store("postgresql://seedscope@127.0.0.1/seedscope")
    assert SETTING in str(raised.value)

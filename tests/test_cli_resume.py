"""`seedscope compare` / `seedscope resume` through the one lifecycle: an all-failed run exits 1
naming the reason, a failed save never leaves an experiment `running`, --no-store still works,
and resume sends only the missing runs, also after the CLI was SIGKILLed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from seedscope.store import Store

from tests.test_cli import REPO, remote_compare, run_cli, run_in_process

UNREACHABLE = "http://127.0.0.1:1/v1"


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return path


def only_experiment(database: Path):
    with Store(f"sqlite:///{database}") as store:
        (summary,) = store.list_experiments()
        return store.load_experiment(summary.id)


def runs_per_pair(database: Path) -> Counter:
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT arm_label, run_index FROM runs").fetchall()
    finally:
        connection.close()
    return Counter(rows)


def chat_calls(server) -> int:
    return len(server.stats()["chat_log"])


def json_runs(out: str) -> list[tuple[str, int]]:
    data = json.loads(out)
    return sorted((arm["label"], run["index"]) for arm in data["arms"] for run in arm["runs"])


ALL_PAIRS_3 = sorted((label, index) for label in ("unseeded", "seeded") for index in range(3))


# -- compare --------------------------------------------------------------------------------


def test_every_run_failing_exits_1_with_the_most_common_reason(database, monkeypatch):
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")
    status, out, err = remote_compare(UNREACHABLE, "--runs", "3", "--format", "json")
    assert status == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "every run failed; most common reason (6 of 6 runs): APIConnectionError: "
        "connection failed: could not reach 127.0.0.1:1"
    )
    assert f"check the base URL given with --base-url ({UNREACHABLE})" in last
    assert "OPENAI_BASE_URL" not in last  # the URL did not come from there
    assert json_runs(out) == ALL_PAIRS_3  # the failed runs are reported, not dropped
    stored = only_experiment(database)
    assert (stored.status, stored.summary.failed_runs) == ("failed", 6)


def test_no_store_runs_the_same_lifecycle_and_keeps_nothing(database, fake_server):
    fake_server.reset()
    args = ("--runs", "2", "--no-store", "--embedder", "openai", "--format", "json")
    status, out, err = remote_compare(fake_server.base_url, *args)
    assert status == 0, err
    assert json.loads(out)["experiment_id"] is None
    assert json_runs(out) == sorted((a, i) for a in ("unseeded", "seeded") for i in range(2))
    assert chat_calls(fake_server) == 4
    _, history, _ = run_in_process("history", "--format", "json")
    assert json.loads(history) == []


def test_a_failed_save_exits_1_interrupted_and_resume_finishes_it(
    database, fake_server_factory, monkeypatch
):
    """A real database error (SQLite trigger) on the third insert: exit 1, the experiment is
    `interrupted` (never left `running`), and `resume` via OPENAI_BASE_URL completes it."""
    server = fake_server_factory()
    run_in_process("history")  # creates the database, so the trigger can be added
    connection = sqlite3.connect(database)
    connection.execute(
        "CREATE TRIGGER disk_full BEFORE INSERT ON runs WHEN (SELECT count(*) FROM runs) >= 2 "
        "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
    )
    connection.commit()

    status, out, err = remote_compare(server.base_url, "--runs", "3", "--concurrency", "1")
    assert status == 1 and out == ""
    stored = only_experiment(database)
    assert stored.status == "interrupted" and len(stored.completions) == 2
    assert "error: stopped while saving run" in err and "simulated disk full" in err
    assert f"continue with `seedscope resume {stored.id[:12]}`" in err

    connection.execute("DROP TRIGGER disk_full")
    connection.commit()
    connection.close()
    server.reset()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # same host as stored: no flag
    status, out, err = run_in_process(
        "resume", stored.id[:8], "--format", "json", "--embedder", "openai"
    )
    assert status == 0, err
    assert "4 of 6 runs missing" in err
    assert chat_calls(server) == 4
    assert json.loads(out)["experiment_id"] == stored.id
    assert json_runs(out) == ALL_PAIRS_3  # the output covers the whole experiment
    assert only_experiment(database).status == "complete"
    assert set(runs_per_pair(database).values()) == {1}


# -- resume refusals: exit 2, nothing sent, nothing changed ----------------------------------


def interrupted_remote_experiment(database: Path, server) -> str:
    status, _, err = remote_compare(server.base_url, "--runs", "1", "--embedder", "openai")
    assert status == 0, err
    experiment_id = only_experiment(database).id
    with Store(f"sqlite:///{database}") as store:
        store.finish_experiment(experiment_id, "interrupted")
    server.reset()
    return experiment_id


def test_resume_of_a_remote_experiment_needs_its_base_url(database, fake_server_factory):
    server = fake_server_factory()
    experiment_id = interrupted_remote_experiment(database, server)
    host = server.base_url.split("//")[1].split("/")[0]

    status, out, err = run_in_process("resume", experiment_id)
    assert (status, out) == (2, "")
    assert f"ran against {host}, and only that host was stored" in err
    assert "OPENAI_BASE_URL is not set" in err and "pass --base-url" in err

    other = f"http://localhost:{server.port}/v1"
    status, _, err = run_in_process("resume", experiment_id, "--base-url", other)
    assert status == 2
    assert f"points at localhost:{server.port}, but experiment" in err

    assert chat_calls(server) == 0
    assert only_experiment(database).status == "interrupted"  # not reopened

    status, _, err = run_in_process("resume", experiment_id, "--base-url", server.base_url)
    assert status == 0, err
    assert "0 of 2 runs missing" in err and chat_calls(server) == 0
    assert only_experiment(database).status == "complete"


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        ("f00dfeed", "no experiment 'f00dfeed'"),
        ("complete", "cannot be resumed: it is complete"),
    ],
)
def test_resume_refuses_unknown_and_complete_experiments(
    database, fake_server, experiment, message
):
    if experiment == "complete":
        status, _, err = remote_compare(fake_server.base_url, "--runs", "1", "--embedder", "openai")
        assert status == 0, err
        experiment = only_experiment(database).id
    fake_server.reset()
    status, out, err = run_in_process("resume", experiment, "--base-url", fake_server.base_url)
    assert (status, out) == (2, "")
    assert message in err and len(err.strip().splitlines()) == 1
    assert chat_calls(fake_server) == 0


# -- the process dies mid-run -----------------------------------------------------------------


def stored_runs(database: Path) -> int:
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return connection.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not created or not migrated yet
        return 0
    finally:
        connection.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_compare_and_signal(database: Path, base_url: str, signum: int, after_runs: int):
    """`seedscope compare` (5 runs per arm, one call at a time) as its own process; sends it
    `signum` once `after_runs` runs are stored. Returns the ended process and its stderr."""
    env = {**os.environ, "SEEDSCOPE_DATABASE_URL": f"sqlite:///{database}", "HF_HUB_OFFLINE": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    compare = [
        *(sys.executable, "-m", "seedscope", "compare", "--provider", "openai"),
        *("--base-url", base_url, "--model", "fake-model", "--runs", "5"),
        *("--max-tokens", "8", "--concurrency", "1"),
    ]
    process = subprocess.Popen(
        compare,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A harness started in the background (`make test &`) ignores SIGINT, and children
        # inherit that: Python then never turns Ctrl-C into KeyboardInterrupt.
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 120
        while stored_runs(database) < after_runs:
            assert process.poll() is None, "compare ended before it could be signalled"
            assert time.monotonic() < deadline, "compare stored no runs in time"
            time.sleep(0.05)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait(timeout=30)  # reaped: its pid is gone, so start-up recovery sees it died
    return process, stderr


def test_ctrl_c_exits_130_cancelled_with_the_runs_kept(tmp_path, fake_server_factory):
    server = fake_server_factory("--latency", "0.4")
    database = tmp_path / "history.db"
    process, stderr = start_compare_and_signal(database, server.base_url, signal.SIGINT, 2)
    assert process.returncode == 130, stderr
    stored = only_experiment(database)
    assert stored.status == "cancelled" and 2 <= len(stored.completions) < 10
    assert f"continue with `seedscope resume {stored.id[:12]}`" in stderr
    assert "Traceback" not in stderr


def test_sigkill_mid_run_then_resume_sends_exactly_the_missing_runs(tmp_path, fake_server_factory):
    server = fake_server_factory("--latency", "0.4")
    database = tmp_path / "history.db"
    process, _ = start_compare_and_signal(database, server.base_url, signal.SIGKILL, 3)
    assert process.returncode == -signal.SIGKILL
    time.sleep(0.5)  # a call it had in flight reaches the server's log, or never will
    calls_before = chat_calls(server)
    kept = stored_runs(database)
    assert 3 <= kept < 10

    experiment_id = only_experiment(database).id
    args = ("resume", experiment_id[:10], "--base-url", server.base_url, "--embedder", "openai")
    result = run_cli(*args, "--format", "json", database=database)

    assert result.returncode == 0, result.stderr
    assert f"{10 - kept} of 10 runs missing" in result.stderr
    assert chat_calls(server) - calls_before == 10 - kept  # only the missing runs were sent
    per_pair = runs_per_pair(database)
    assert sorted(per_pair) == sorted((a, i) for a in ("unseeded", "seeded") for i in range(5))
    assert set(per_pair.values()) == {1}  # each (arm, run index) exactly once
    assert only_experiment(database).status == "complete"
    assert len(json_runs(result.stdout)) == 10


def test_a_check_is_not_resumed_as_a_plain_experiment(database, fake_server):
    """A cancelled load probe: its missing runs sent later, one by one and without their
    phases, would be another measurement, so resume refuses and says to run the check again."""
    from seedscope.checks import load_probe_spec
    from seedscope.checks.load import LOAD_PROBE_LABEL
    from seedscope.spec import ExperimentSpec

    spec = load_probe_spec(
        ExperimentSpec(provider="openai", model="fake-model", max_tokens=4), seed=1, runs=2
    )
    with Store(f"sqlite:///{database}") as store:
        experiment_id = store.create_experiment(
            spec, base_url_host="127.0.0.1", label=LOAD_PROBE_LABEL
        )
        store.finish_experiment(experiment_id, "cancelled")
    status, out, err = run_in_process("resume", experiment_id, "--base-url", fake_server.base_url)
    assert (status, out) == (2, "")
    assert "it is a load check" in err and "seedscope check load" in err
    assert chat_calls(fake_server) == 0

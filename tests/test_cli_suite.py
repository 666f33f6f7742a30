"""`seedscope suite run|import`, and `resume`/`export` of suites, in this process (main()) against
the fake OpenAI server: the issue's JSON shape, CSV exports, exit statuses, and invalid input
refused before anything is stored or called."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from seedscope.cli import main
from seedscope.experiments import create_experiment, run_experiment
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.store import Store
from seedscope.suites import load_suite_file, validate_suite_spec

ARM_KEYS = {
    *("label", "n", "cases", "cases_excluded", "tarr_at_n", "tarr_at_n_ci", "tara_at_n"),
    *("tara_at_n_ci", "accuracy_per_run", "accuracy_best", "accuracy_worst", "accuracy_spread"),
}
CASE_KEYS = {
    *("case_id", "arm", "runs", "distinct_outputs", "modal_share", "modal_share_ci", "tarr"),
    *("tara", "label", "first_divergence_char", "first_divergence_token"),
    "mean_pairwise_distance",
}
SUITE_CSV = "id,prompt,expected\nq1,What is 2+3?,5\nq2,Name the red planet.,Mars\nq3,Say hi.,\n"


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    database = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return database


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def stored_experiments(database: Path) -> int:
    with Store(f"sqlite:///{database}") as store:
        return store.count_experiments()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def remote_suite(server, path: Path, *args: str, model: str = "fake-model"):
    return cli(
        "suite",
        "run",
        str(path),
        *("--provider", "openai", "--base-url", server.base_url, "--model", model),
        *("--max-tokens", "8", "--no-embed"),
        *args,
    )


def test_suite_run_prints_the_issue_json_and_writes_the_suite_csvs(database, tmp_path, fake_server):
    fake_server.reset()
    path = write(tmp_path, "qa.csv", SUITE_CSV)
    status, out, err = remote_suite(
        fake_server,
        path,
        *("--preset", "cookbook", "--runs", "3", "--answer-last-number"),
        *("--format", "json", "--csv", str(tmp_path / "out")),
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["kind"] == "suite" and len(document["experiment_id"]) == 32
    assert [arm["label"] for arm in document["arms"]] == ["unseeded", "seeded"]
    assert all(set(arm) == ARM_KEYS for arm in document["arms"])
    assert [(d["a"], d["b"]) for d in document["differences"]] == [("unseeded", "seeded")]
    assert len(document["cases"]) == 6 and all(set(c) == CASE_KEYS for c in document["cases"])
    seeded = document["arms"][1]
    assert (seeded["n"], seeded["cases"], seeded["tarr_at_n"]) == (3, 3, 1.0)
    assert all(c["mean_pairwise_distance"] is None for c in document["cases"])  # --no-embed
    assert len(fake_server.stats()["chat_log"]) == 18
    with Store(f"sqlite:///{database}") as store:
        stored = store.load_experiment(document["experiment_id"])
    assert stored.kind == "suite" and stored.spec.extractor.kind == "last_number"
    assert {c.case_id for c in stored.completions} == {"q1", "q2", "q3"}
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert len(runs) == 18 and set(runs["case_id"]) == {"q1", "q2", "q3"}
    assert len(pd.read_csv(tmp_path / "out" / "cases.csv")) == 6
    assert list(pd.read_csv(tmp_path / "out" / "suite_metrics.csv")["arm"]) == [
        "unseeded",
        "seeded",
    ]


def test_suite_run_table_output_escapes_case_ids(database, tmp_path, fake_server):
    path = write(tmp_path, "s.jsonl", json.dumps({"id": "evil\x1b[31m", "prompt": "Hi"}) + "\n")
    status, out, err = remote_suite(fake_server, path, "--runs", "2")
    assert status == 0, err
    assert "TARr@N [95% CI]" in out and "\x1b" not in out and "evil\\x1b[31m" in out


def test_invalid_suite_file_is_refused_before_anything_is_stored_or_sent(
    database, tmp_path, fake_server
):
    fake_server.reset()
    path = write(tmp_path, "bad.csv", "id,prompt,colour\nq1,Hi,red\n")
    status, out, err = remote_suite(fake_server, path, "--runs", "2")
    assert status == 2 and out == ""
    assert "invalid input: bad.csv: header (line 1): column 3: 'colour' is not a known" in err
    path = write(tmp_path, "dup.csv", "id,prompt\nq1,Hi\nq1,\n")
    status, _, err = remote_suite(fake_server, path, "--runs", "2")
    assert status == 2
    assert "dup.csv: data row 2 (line 3): id: 'q1' is already the id of data row 1" in err
    assert "dup.csv: data row 2 (line 3): prompt: empty" in err
    good = write(tmp_path, "qa.csv", SUITE_CSV)
    status, _, err = remote_suite(fake_server, good, "--answer-regex", "(unclosed", "--runs", "2")
    assert status == 2 and "--answer-regex: answer pattern '(unclosed' is not a valid" in err
    assert stored_experiments(database) == 0
    assert fake_server.stats()["chat_log"] == []


def test_more_runs_than_the_suite_limit_is_refused(database, tmp_path, fake_server, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_MAX_SUITE_RUNS", "17")
    path = write(tmp_path, "qa.csv", SUITE_CSV)
    status, _, err = remote_suite(fake_server, path, "--preset", "cookbook", "--runs", "3")
    assert status == 2
    assert "3 cases x 6 runs of all arms = 18 runs; allowed at most 17" in err
    assert "SEEDSCOPE_MAX_SUITE_RUNS" in err
    assert stored_experiments(database) == 0


def test_every_run_failing_exits_1_and_the_runs_are_stored(database, tmp_path, fake_server):
    path = write(tmp_path, "qa.csv", SUITE_CSV)
    status, _, err = remote_suite(fake_server, path, "--runs", "1", model="fault-500")
    assert status == 1 and "every run failed" in err
    with Store(f"sqlite:///{database}") as store:
        (summary,) = store.list_experiments()
    assert (summary.kind, summary.status, summary.runs, summary.failed_runs) == (
        "suite",
        "failed",
        6,
        6,
    )


def test_suite_import_analyses_the_file_and_bad_rows_store_nothing(database, tmp_path):
    good = write(
        tmp_path,
        "outputs.csv",
        "case_id,arm,run,text,expected\n"
        "q1,a,0,answer 4,4\nq1,a,1,answer 4,4\nq2,a,0,x 1,2\nq2,a,1,y 2,2\n",
    )
    status, out, err = cli("suite", "import", str(good), "--answer-last-number", "--format", "json")
    assert status == 0, err
    document = json.loads(out)
    assert document["kind"] == "import"
    (arm,) = document["arms"]
    # q1: identical texts, both correct; q2: different texts, answers 1 and 2 (one correct).
    assert (arm["n"], arm["tarr_at_n"], arm["tara_at_n"]) == (2, 0.5, 0.5)
    assert (arm["accuracy_best"], arm["accuracy_worst"], arm["accuracy_spread"]) == (1.0, 0.5, 0.5)
    assert stored_experiments(database) == 1

    bad = write(tmp_path, "bad.jsonl", '{"case_id": "q1", "arm": "a", "run": "x", "text": "t"}\n')
    status, out, err = cli("suite", "import", str(bad), "--no-embed")
    assert status == 2 and out == ""
    assert "invalid input: bad.jsonl: line 1: run: 'x' is not an integer" in err
    assert stored_experiments(database) == 1  # nothing more


def test_resume_of_a_cancelled_suite_sends_only_the_missing_runs_and_reports_the_suite(
    database, tmp_path, fake_server_factory
):
    server = fake_server_factory("--latency", "0.05")
    suite = load_suite_file(write(tmp_path, "qa.csv", SUITE_CSV))
    spec = validate_suite_spec(
        {
            "suite": suite.model_dump(),
            "arms": [{"label": "seeded", "seed": 5, "temperature": 0, "runs": 4}],
            "provider": "openai",
            "model": "fake-model",
            "max_tokens": 8,
        }
    )
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    cancel = threading.Event()
    with Store(f"sqlite:///{database}") as store:
        experiment_id = create_experiment(store, spec, provider)
        first = run_experiment(
            store,
            experiment_id,
            spec,
            provider,
            concurrency=1,
            cancel=cancel,
            on_progress=lambda event: event.done >= 5 and cancel.set(),
        )
    missing = 12 - len(first.completions)
    assert first.status == "cancelled" and 0 < missing <= 7  # a call in flight may finish
    server.reset()

    status, out, err = cli(
        "resume", experiment_id[:8], "--base-url", server.base_url, "--format", "json"
    )

    assert status == 0, err
    assert f"{missing} of 12 runs missing" in err
    assert len(server.stats()["chat_log"]) == missing  # none sent twice
    document = json.loads(out)
    assert document["kind"] == "suite" and document["arms"][0]["tarr_at_n"] == 1.0
    assert {row["runs"] for row in document["cases"]} == {4}

    status, out, err = cli("export", experiment_id[:8], "--dir", str(tmp_path / "exp"))
    assert status == 0, err
    assert len(pd.read_csv(tmp_path / "exp" / "runs.csv")) == 12
    status, _, err = cli("export", experiment_id[:8], "--spec", str(tmp_path / "s.toml"))
    assert status == 2 and "is a suite" in err

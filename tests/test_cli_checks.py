"""`seedscope check seed|load`: compare's backend and request flags, the runs stored as a
labelled experiment, the JSON and table output, and exit statuses (0 done, 1 every run failed,
2 invalid input, refused before any call) against the fake OpenAI server and the embedded
model."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from seedscope.cli import main
from seedscope.store import Store

REPO = Path(__file__).resolve().parents[1]


def check(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["check", *args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def remote(server, *args: str, model: str = "fake-model") -> tuple[str, ...]:
    return ("--provider", "openai", "--base-url", server.base_url, "--model", model, *args)


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    database = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return database


def stored(database: Path):
    with Store.open(f"sqlite:///{database}") as store:
        return [store.load_experiment(s.id) for s in store.list_experiments()]


def test_check_seed_json_and_its_stored_experiment(fake_server, database):
    fake_server.reset()
    status, out, err = check(
        "seed", *remote(fake_server, "--runs", "3", "--max-tokens", "8", "--format", "json")
    )
    assert status == 0, err
    data = json.loads(out)
    assert set(data) == {"verdict", "evidence", "experiment_id"}
    assert data["verdict"] == "seed_honoured"
    evidence = data["evidence"]
    assert (evidence["seed_a"], evidence["seed_b"], evidence["temperature"]) == (123, 456, 1.0)
    assert evidence["same_seed"]["share"] == 1.0
    assert evidence["different_seeds"]["share"] == 0.0
    assert set(evidence["arms"]) == {"seed A", "seed A again", "seed B"}
    [experiment] = stored(database)
    assert experiment.id == data["experiment_id"]
    assert experiment.summary.label == "check:seed"
    assert experiment.summary.status == "complete"
    assert len(experiment.completions) == 9 == len(fake_server.stats()["chat_log"])
    assert {c.max_tokens for c in experiment.completions} == {8}
    assert "[9/9]" in err  # progress on stderr, as compare


def test_check_seed_flags_reach_the_request(fake_server_factory, database):
    server = fake_server_factory("--ignore-seed")
    status, out, _ = check(
        "seed",
        *remote(server, "--runs", "2", "--seed-a", "7", "--seed-b", "8", "--temperature", "0.5"),
        "--prompt",
        "Say hi.",
        "--system",
        "Be brief.",
        "--top-p",
        "0.9",
        "--format",
        "json",
    )
    assert status == 0
    assert json.loads(out)["verdict"] == "seed_ignored"
    log = server.stats()["chat_log"]
    assert sorted({call["seed"] for call in log}) == [7, 8]
    assert {(call["temperature"], call["top_p"], call["user"]) for call in log} == {
        (0.5, 0.9, "Say hi.")
    }
    [experiment] = stored(database)
    assert experiment.spec.system == "Be brief."


def test_check_load_json_names_the_runs_that_differed(fake_server_factory, database):
    server = fake_server_factory("--latency", "0.5", "--load-dependent", "2")
    args = ("--runs", "2", "--copies", "3", "--background", "1", "--max-tokens", "8")
    status, out, err = check("load", *remote(server, *args, "--format", "json"))
    assert status == 0, err
    data = json.loads(out)
    assert set(data) == {"verdict", "evidence", "experiment_id"}
    assert data["verdict"] == "load_dependent"
    # 3 copies in flight exceed 2; one measured run next to 1 background request does not.
    assert [(d["arm"], d["run_index"]) for d in data["evidence"]["differing_runs"]] == [
        ("concurrent", 0),
        ("concurrent", 1),
        ("concurrent", 2),
    ]
    assert all(d["first_divergence_char"] > 0 for d in data["evidence"]["differing_runs"])
    [experiment] = stored(database)
    assert experiment.summary.label == "check:load"
    assert len(experiment.completions) == 2 + 3 + 2 + 2 == len(server.stats()["chat_log"])


def test_the_table_is_short_and_names_the_verdict(fake_server, database):
    status, out, _ = check("load", *remote(fake_server, "--runs", "2", "--copies", "2"))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "load probe: load_invariant"
    assert lines[1].startswith("experiment ") and len(lines[1].split()[1]) == 32
    assert "every measured run gave the first sequential run's text" in lines[2]
    assert any(line.split()[:2] == ["concurrent", "2"] for line in lines)
    assert lines[-1] == "fingerprints: not reported"
    status, out, _ = check("seed", *remote(fake_server, "--runs", "2"))
    assert status == 0
    assert out.splitlines()[0] == "seed check: seed_honoured"
    assert "seed A vs seed A again" in out


def test_every_run_failed_exits_1_with_the_reason(fake_server, database, monkeypatch):
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")  # a 500 is retried otherwise: slower, same end
    status, out, err = check("seed", *remote(fake_server, "--runs", "2", model="fault-500"))
    assert status == 1
    assert out.splitlines()[0] == "seed check: inconclusive"
    assert "every run failed; most common reason (6 of 6 runs): InternalServerError" in err
    [experiment] = stored(database)
    assert experiment.summary.status == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("seed", "--seed-a", "5", "--seed-b", "5"), "--seed-b: 5 is seed A too"),
        (("seed", "--temperature", "0"), "--temperature: at 0 the output is the same"),
        (("seed", "--temperature", "2.5"), "--temperature: temperature 2.5 is out of range"),
        (("seed", "--runs", "1"), "--runs: 1 is out of range for the seed check"),
        (("seed", "--seed-a", "-1"), "--seed-a: seed -1 is out of range for the openai backend"),
        (("seed", "--max-tokens", "0"), "max_tokens: max_tokens 0 is out of range"),
        (("seed", "--prompt", " "), "prompt: prompt is empty"),
        (("seed", "--seed-a", "x"), "argument --seed-a: 'x' is not a valid int"),
        (("seed", "--seed", "1"), "ambiguous option: --seed could match --seed-a, --seed-b"),
        (("seed", "--format", "xml"), "argument --format: invalid choice: 'xml'"),
        (("load", "--copies", "1"), "--copies: 1 is out of range for the copies sent at once"),
        (("load", "--background", "0"), "--background: 0 is out of range"),
        (("load", "--runs", "30", "--background", "4"), "--background: runs x background = 30"),
        (("load", "--seed", "-1"), "--seed: seed -1 is out of range for the openai backend"),
        (("load", "--seed-a", "1"), "unrecognized arguments: --seed-a"),
    ],
)
def test_invalid_input_exits_2_before_any_call(fake_server, database, args, message):
    fake_server.reset()
    kind, *flags = args
    status, out, err = check(kind, *remote(fake_server), *flags)
    assert status == 2
    assert message in err and err.startswith("invalid input: ")
    assert out == ""
    assert fake_server.stats()["chat_log"] == []
    assert stored(database) == []  # nothing stored either


def test_all_problems_are_listed_in_one_line(database):
    status, _, err = check("seed", "--seed-a", "0", "--seed-b", "0", "--runs", "1", "--top-p", "0")
    assert status == 2
    assert err.count("\n") == 1
    for part in ("top_p: top_p 0.0 is out of range", "--runs: 1", "--seed-b: 0 is seed A too"):
        assert part in err


def test_a_missing_backend_or_a_wrong_local_model_is_refused(database):
    status, _, err = check("load", "--provider", "openai")
    assert status == 2
    assert "--provider openai needs OPENAI_API_KEY or --base-url" in err
    status, _, err = check("seed", "--model", "gpt-4o-mini", "--runs", "2")
    assert status == 2
    assert "the embedded backend here runs" in err
    assert stored(database) == []


def test_check_seed_on_the_embedded_model(database):
    status, out, err = check("seed", "--runs", "2", "--max-tokens", "4", "--format", "json")
    assert status == 0, err
    data = json.loads(out)
    assert data["verdict"] == "seed_honoured"
    [experiment] = stored(database)
    assert experiment.spec.provider == "local" and experiment.summary.label == "check:seed"


def test_check_load_on_the_embedded_model_says_it_serves_one_call_at_a_time(database):
    args = ("--runs", "2", "--copies", "2", "--background", "1", "--max-tokens", "4")
    status, out, err = check("load", *args, "--format", "json")
    assert status == 0, err
    data = json.loads(out)
    assert data["verdict"] == "load_invariant"
    assert data["evidence"]["one_call_at_a_time"] is True
    assert "The embedded model serves one call at a time" in data["evidence"]["explanation"]


def test_the_console_command_lists_check(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "seedscope", "check", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "seed" in result.stdout and "load" in result.stdout

"""`python -m seedscope`: the headless front, run as users run it (subprocesses) for stdout."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from seedscope.cli import build_parser, main, spec_from_args
from seedscope.settings import Settings
from seedscope.spec import DEFAULT_PROMPT, DEFAULT_SYSTEM, LOCAL_CHAT_MODEL

from tests.helpers import free_port, start_fake_server

REPO = Path(__file__).resolve().parents[1]
RUN_KEYS = {
    *("index", "text", "system_fingerprint", "effective_seed", "prompt_tokens"),
    *("completion_tokens", "latency_s", "finish_reason", "error"),
}
METRIC_KEYS = {
    "distinct_outputs",
    "modal_share",
    "exact_match_rate",
    "tarr",
    "mean_distance_first_vs_rest",
    "mean_pairwise_distance",
    "max_pairwise_distance",
    "first_divergence_char",
    "mean_edit_distance",
    "knife_edge_share",
}


def run_cli(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEEDSCOPE_DATABASE_URL": f"sqlite:///{database}", "HF_HUB_OFFLINE": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "seedscope", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_in_process(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def remote_compare(base_url: str, *args: str, model: str = "fake-model") -> tuple[int, str, str]:
    """`compare` on the openai backend at `base_url`, in this process."""
    base = ("compare", "--provider", "openai", "--base-url", base_url, "--model", model)
    return run_in_process(*base, *args)


@pytest.fixture
def isolated_env(tmp_path, monkeypatch) -> Path:
    database = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return database


@pytest.fixture(scope="module")
def local_comparison(tmp_path_factory) -> dict:
    """One real cookbook comparison on the embedded model, stored and exported."""
    folder = tmp_path_factory.mktemp("cli")
    database = folder / "history.db"
    csv_dir = folder / "csv"
    result = run_cli(
        "compare",
        "--preset",
        "cookbook",
        "--runs",
        "3",
        "--max-tokens",
        "12",
        "--format",
        "json",
        "--csv",
        str(csv_dir),
        database=database,
    )
    assert result.returncode == 0, result.stderr
    return {"json": json.loads(result.stdout), "database": database, "csv": csv_dir}


def test_compare_json_is_the_only_thing_on_stdout_and_has_every_field(local_comparison):
    data = local_comparison["json"]
    assert set(data) == {"experiment_id", "spec", "arms", "between_arms"}
    assert all(
        set(arm)
        == {
            "label",
            "seed",
            "temperature",
            "backend",
            "runs",
            "metrics",
            "first_divergence_token",
            "token_fork",
        }
        for arm in data["arms"]
    )
    assert all(set(run) == RUN_KEYS for arm in data["arms"] for run in arm["runs"])
    assert data["spec"]["provider"] == "local"
    assert data["spec"]["max_tokens"] == 12
    unseeded, seeded = data["arms"]
    assert (unseeded["label"], unseeded["seed"], unseeded["temperature"]) == ("unseeded", None, 0.7)
    assert (seeded["label"], seeded["seed"], seeded["temperature"]) == ("seeded", 123, 0.0)
    for arm in data["arms"]:
        assert [run["index"] for run in arm["runs"]] == [0, 1, 2]
        assert set(arm["metrics"]) == METRIC_KEYS
        for run in arm["runs"]:
            assert run["text"] and run["error"] is None
            assert run["system_fingerprint"].startswith("local-")
            assert run["completion_tokens"] <= 12 and run["prompt_tokens"] > 0
    # The seeded arm at temperature 0 reproduces itself; the unseeded arm drew fresh seeds.
    assert seeded["metrics"]["distinct_outputs"] == 1
    assert seeded["metrics"]["tarr"] == 1
    assert {run["effective_seed"] for run in seeded["runs"]} == {123}
    assert len({run["effective_seed"] for run in unseeded["runs"]}) == 3
    (pair,) = data["between_arms"]
    assert (pair["arm_a"], pair["arm_b"]) == ("unseeded", "seeded")
    assert 0 <= pair["mean_distance"] <= 2


def test_compare_csv_files_hold_every_run(local_comparison):
    runs = pd.read_csv(local_comparison["csv"] / "runs.csv")
    assert len(runs) == 6
    assert set(runs["arm"]) == {"unseeded", "seeded"}
    assert (runs["experiment_id"] == local_comparison["json"]["experiment_id"]).all()
    metrics = pd.read_csv(local_comparison["csv"] / "metrics.csv")
    assert list(metrics["arm"]) == ["unseeded", "seeded"]
    assert set(metrics["embedder"]) == {"local:all-MiniLM-L6-v2"}  # what the distances come from
    distances = pd.read_csv(local_comparison["csv"] / "distances.csv")
    assert len(distances) > 0 and set(distances["embedder"]) == {"local:all-MiniLM-L6-v2"}


def test_history_lists_the_comparison_and_export_recomputes_the_same_files(
    local_comparison, tmp_path
):
    database = local_comparison["database"]
    history = run_cli("history", "--format", "json", database=database)
    assert history.returncode == 0, history.stderr
    (entry,) = json.loads(history.stdout)
    assert entry["id"] == local_comparison["json"]["experiment_id"]
    assert (entry["status"], entry["runs"], entry["failed_runs"]) == ("complete", 6, 0)
    assert entry["kind"] == "experiment"
    assert set(entry) == {
        *("id", "created_at", "kind", "status", "provider", "model", "prompt", "runs"),
        "failed_runs",
    }
    only_suites = run_cli("history", "--kind", "suite", database=database)
    assert only_suites.stdout == "no experiments of kind suite stored\n"

    exported = run_cli("export", entry["id"], "--dir", str(tmp_path), database=database)
    assert exported.returncode == 0, exported.stderr
    for name in ("runs.csv", "metrics.csv", "distances.csv"):
        original = (local_comparison["csv"] / name).read_bytes()
        assert (tmp_path / name).read_bytes() == original, name


def spec_for(*flags: str, settings: Settings | None = None):
    return spec_from_args(build_parser().parse_args(["compare", *flags]), settings or Settings())


def arms_of(spec) -> list[tuple[str, int | None, float, int]]:
    return [(arm.label, arm.seed, arm.temperature, arm.runs) for arm in spec.arms]


def test_flag_defaults_follow_the_notebook():
    spec = spec_for()
    assert (spec.prompt, spec.system) == (DEFAULT_PROMPT, DEFAULT_SYSTEM)
    assert (spec.provider, spec.model, spec.max_tokens, spec.top_p) == (
        "local",
        LOCAL_CHAT_MODEL,
        200,
        1.0,
    )
    # No preset: two arms, the unseeded one at --temperature unless told otherwise.
    assert arms_of(spec) == [("unseeded", None, 0.7, 5), ("seeded", 123, 0.7, 5)]
    assert arms_of(spec_for("--temperature", "0.2")) == [
        ("unseeded", None, 0.2, 5),
        ("seeded", 123, 0.2, 5),
    ]
    mixed = spec_for("--temperature", "0", "--unseeded-temperature", "0.9", "--seed", "5")
    assert arms_of(mixed) == [("unseeded", None, 0.9, 5), ("seeded", 5, 0.0, 5)]
    remote = spec_for("--provider", "openai", settings=Settings(openai_model="my-model"))
    assert remote.model == "my-model"


def test_preset_flags():
    assert arms_of(spec_for("--preset", "cookbook")) == [
        ("unseeded", None, 0.7, 5),
        ("seeded", 123, 0.0, 5),
    ]
    assert arms_of(spec_for("--preset", "seed-only", "--temperature", "0.3", "--runs", "2")) == [
        ("unseeded", None, 0.3, 2),
        ("seeded", 123, 0.3, 2),
    ]
    grid = spec_for("--preset", "grid", "--temperature", "0.1", "--unseeded-temperature", "1.1")
    assert {(seed, t) for _, seed, t, _ in arms_of(grid)} == {
        (None, 0.1),
        (123, 0.1),
        (None, 1.1),
        (123, 1.1),
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--temperature", "2.5"], "arms[1].temperature"),
        (["--unseeded-temperature", "-1"], "arms[0].temperature"),
        (["--runs", "0"], "arms[0].runs"),
        (["--runs", "101"], "arms[0].runs"),
        (["--max-tokens", "0"], "max_tokens"),
        (["--top-p", "0"], "top_p"),
        (["--prompt", "   "], "prompt"),
        (["--seed", "-1"], "arms[1].seed"),
        (["--model", ""], "model"),
        # Refused by the argument parser: still one line, not argparse's usage block.
        (["--runs", "abc"], "--runs"),
        (["--temperature", "hot"], "--temperature"),
        (["--preset", "nope"], "--preset"),
        (["--concurrency", "0"], "--concurrency"),
    ],
)
def test_invalid_input_exits_2_naming_the_field_and_calls_nothing(
    isolated_env, fake_server, args, field
):
    fake_server.reset()
    status, out, err = remote_compare(fake_server.base_url, *args)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert field in err
    assert len(fake_server.stats()["chat_log"]) == 0
    status, out, _ = run_in_process("history", "--format", "json")
    assert json.loads(out) == []


def test_local_seed_zero_is_refused_with_the_reason(isolated_env):
    status, _, err = run_in_process("compare", "--seed", "0")
    assert status == 2
    assert "arms[1].seed" in err and "seed 0" in err and "default seed" in err


def test_local_model_other_than_the_loaded_one_is_refused(isolated_env):
    status, _, err = run_in_process("compare", "--model", "gpt-4o", "--runs", "1")
    assert status == 2
    assert "'gpt-4o'" in err and "SmolLM2-135M-Instruct" in err and "SEEDSCOPE_MODEL_PATH" in err
    status, out, _ = run_in_process("history", "--format", "json")
    assert json.loads(out) == []


def test_openai_provider_without_configuration_says_what_to_set(isolated_env):
    status, _, err = run_in_process("compare", "--provider", "openai")
    assert status == 2
    assert "OPENAI_API_KEY" in err


def test_bad_database_url_is_a_clear_error(isolated_env, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", "nosuchdb://x")
    status, _, err = run_in_process("history")
    assert status == 2
    assert "SEEDSCOPE_DATABASE_URL" in err
    assert "Traceback" not in err


def test_remote_compare_records_the_reported_fingerprint(isolated_env):
    server = start_fake_server("--fingerprint", "fp_cli_test")
    try:
        args = ("--runs", "4", "--temperature", "0", "--embedder", "openai", "--format", "json")
        status, out, err = remote_compare(server.base_url, *args)
        assert len(server.stats()["chat_log"]) == 8
    finally:
        server.stop()
    assert status == 0, err
    data = json.loads(out)
    fingerprints = {run["system_fingerprint"] for arm in data["arms"] for run in arm["runs"]}
    assert fingerprints == {"fp_cli_test"}
    seeded = data["arms"][1]
    assert seeded["metrics"]["distinct_outputs"] == 1
    assert {run["effective_seed"] for run in seeded["runs"]} == {123}


def test_failed_remote_runs_are_reported_not_dropped(isolated_env, fake_server):
    args = ("--runs", "2", "--format", "json")
    status, out, err = remote_compare(fake_server.base_url, *args, model="fault-500")
    assert status == 1  # every run failed: recorded, and the exit status says so
    data = json.loads(out)
    errors = [run["error"] for arm in data["arms"] for run in arm["runs"]]
    assert len(errors) == 4 and all(errors)
    reason = "InternalServerError: server error (HTTP 500)"
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith(f"every run failed; most common reason (4 of 4 runs): {reason}")
    _, history, _ = run_in_process("history", "--format", "json")
    (entry,) = json.loads(history)
    assert (entry["status"], entry["runs"], entry["failed_runs"]) == ("failed", 4, 4)


def test_table_output_escapes_terminal_control_sequences(isolated_env):
    server = start_fake_server("--payload", "echo")
    try:
        prompt = "red \x1b[31mALERT\x1b[0m text"
        status, out, err = remote_compare(server.base_url, "--runs", "1", "--prompt", prompt)
    finally:
        server.stop()
    assert status == 0, err
    assert "\x1b" not in out
    assert "\\x1b[31mALERT" in out
    # Per arm, the notebook's table plus effective seed and latency.
    header = "run  response"
    assert out.count(header) == 2
    columns = next(line for line in out.splitlines() if line.startswith(header)).split()
    assert columns == [
        *("run", "response", "system_fingerprint", "prompt_tokens", "completion_tokens"),
        *("effective_seed", "latency_s"),
    ]
    assert "== unseeded (seed none" in out and "== seeded (seed 123" in out


def test_export_recomputes_from_stored_runs_and_cached_vectors(
    isolated_env, tmp_path, fake_server, monkeypatch
):
    fake_server.reset()
    first = tmp_path / "first"
    args = ("--runs", "3", "--embedder", "openai", "--format", "json", "--csv", str(first))
    status, out, err = remote_compare(fake_server.base_url, *args)
    assert status == 0, err
    embedded = len(fake_server.stats()["embeddings_log"])
    assert embedded >= 1

    monkeypatch.setenv("OPENAI_BASE_URL", fake_server.base_url)  # the same embedder id
    again = tmp_path / "again"
    experiment_id = json.loads(out)["experiment_id"]
    status, _, err = run_in_process(
        "export", experiment_id[:8], "--dir", str(again), "--embedder", "openai"
    )
    assert status == 0, err
    assert len(fake_server.stats()["embeddings_log"]) == embedded  # vectors from the store
    for name in ("runs.csv", "metrics.csv", "distances.csv"):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    host = fake_server.base_url.split("//")[1].split("/")[0]
    embedders = set(pd.read_csv(again / "metrics.csv")["embedder"])
    assert embedders == {f"openai:text-embedding-3-small@{host}"}


def test_probe_fail_on_drift_exits_1_when_a_seeded_probe_changes(isolated_env, tmp_path):
    port = free_port()
    config = tmp_path / "probes.toml"
    config.write_text(
        "[[probe]]\n"
        'name = "remote"\n'
        'prompt = "Name a planet."\n'
        'provider = "openai"\n'
        'model = "fake-model"\n'
        f'base_url = "http://127.0.0.1:{port}/v1"\n'
        "seed = 7\nruns = 2\nmax_tokens = 8\n"
    )
    statuses = []
    for payload in ("words", "words", "echo"):
        server = start_fake_server("--port", str(port), "--payload", payload)
        try:
            status, out, err = run_in_process(
                "probe", "--config", str(config), "--fail-on-drift", "--format", "json"
            )
        finally:
            server.stop()
        statuses.append(status)
        assert json.loads(out)[0]["name"] == "remote", err
    assert statuses == [0, 0, 1]


def test_probe_config_errors_exit_2(isolated_env, tmp_path):
    config = tmp_path / "probes.toml"
    config.write_text('[[probe]]\nname = "x"\n')
    status, _, err = run_in_process("probe", "--config", str(config))
    assert status == 2
    assert "prompt" in err


def test_the_key_goes_only_to_the_configured_base_url(isolated_env, monkeypatch):
    server = start_fake_server("--api-key", "sk-cli-secret-123")
    args = ["compare", "--provider", "openai", "--model", "fake-model", "--runs", "1"]
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-secret-123")
        # A base URL given on the command line is not the configured endpoint: no key sent.
        status, out, err = run_in_process(*args, "--base-url", server.base_url)
        assert status == 1
        assert "AuthenticationError" in out
        # Configured as OPENAI_BASE_URL, the same server gets the key.
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        status, out, err = run_in_process(*args)
        assert status == 0, err
    finally:
        server.stop()
    assert "sk-cli-secret-123" not in out + err


def test_seed_only_refuses_a_second_temperature(isolated_env):
    status, out, err = run_in_process(
        "compare", "--preset", "seed-only", "--unseeded-temperature", "0.3"
    )
    assert (status, out) == (2, "")
    assert "--unseeded-temperature" in err and "--temperature" in err

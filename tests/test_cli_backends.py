"""`seedscope backends`: the capability table of the Fingerprints page on the command line, as
JSON (one object per backend, the fields of seedscope.capabilities.BackendCapabilities) and as
a terminal-safe table, after a check run with `seedscope check seed` against the test server."""

from __future__ import annotations

import io
import json
from dataclasses import fields

import pytest
from seedscope.capabilities import BackendCapabilities
from seedscope.cli import main
from seedscope.store import Store

from tests.store_support import make_completion, make_spec


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return url


def test_an_empty_history_says_what_to_run(database):
    status, out, _ = run("backends")
    assert status == 0
    assert out.startswith("no backends in the history yet")
    assert "seedscope check seed|load|logprobs" in out
    assert run("backends", "--format", "json")[:2] == (0, "[]\n")


def test_json_and_table_after_a_seed_check(database, fake_server_factory):
    server = fake_server_factory("--fingerprint", "fp_cli")
    backend = ["--provider", "openai", "--base-url", server.base_url, "--model", "fake-model"]
    status, _, err = run("check", "seed", *backend, "--runs", "2", "--max-tokens", "8")
    assert status == 0, err
    # A second backend with a model name that would rewrite the terminal (ESC) and no checks.
    with Store.open(database) as store:
        spec = make_spec(provider="openai", model="evil\x1b[2Jmodel", arms=[ARM])
        experiment_id = store.create_experiment(spec, base_url_host="h:1")
        store.add_run(experiment_id, make_completion(spec, "seeded", 0, fingerprint=None))
        store.finish_experiment(experiment_id, "complete")

    status, out, _ = run("backends", "--format", "json")
    assert status == 0
    rows = json.loads(out)
    assert [set(row) for row in rows] == [{f.name for f in fields(BackendCapabilities)}] * 2
    other, checked = rows  # by provider, model, host: "evil..." before "fake-model"
    assert checked["base_url_host"] == f"127.0.0.1:{server.port}"
    assert (checked["seed_honoured"], checked["seed_verdict"]) == ("yes", "seed_honoured")
    assert checked["seed_checked_at"].endswith("+00:00")
    assert (checked["fingerprint_reported"], checked["fingerprints"]) == ("yes", ["fp_cli"])
    assert (checked["fingerprint_changes"], checked["fingerprint_ever_changed"]) == (0, False)
    assert checked["runs"] == 6
    assert checked["logprobs_supported"] is None and checked["load_checked_at"] is None
    assert (other["model"], other["seed_honoured"]) == ("evil\x1b[2Jmodel", None)
    assert other["fingerprint_reported"] == "no"

    status, out, _ = run("backends")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split("  ")[0] == "backend"
    assert "seed honoured" in lines[0] and "load-invariant" in lines[0]
    (line,) = [line for line in lines if f"127.0.0.1:{server.port}" in line]
    words = line.split()
    assert words[:3] == ["openai/fake-model", f"127.0.0.1:{server.port}", "yes"]
    assert "never checked" in line
    assert "\x1b" not in out
    assert "openai/evil\\x1b[2Jmodel" in out
    assert "never checked: run `python -m seedscope check seed|load|logprobs`" in out


ARM = {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 1}

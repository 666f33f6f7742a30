"""`seedscope history` lists single experiments, suite runs and imports, each with its kind,
and `--kind` keeps one of them; made with the real commands against the fake server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from seedscope.cli import main


def run_in_process(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def history_of_three(tmp_path, monkeypatch, fake_server) -> dict[str, str]:
    """One experiment of each kind, made by compare, suite run and suite import."""
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    remote = ("--provider", "openai", "--base-url", fake_server.base_url, "--model", "fake-model")
    cases = Path("cases.csv")
    cases.write_text("id,prompt\nc1,Name a planet.\nc2,Name a moon.\n")
    outputs = Path("outputs.csv")
    outputs.write_text("case_id,arm,run,text\nc1,a,0,Mars\nc1,a,1,Mars\n")
    ids = {}
    for kind, command in (
        ("experiment", ["compare", *remote, "--runs", "1", "--embedder", "openai"]),
        ("suite", ["suite", "run", str(cases), *remote, "--runs", "1", "--no-embed"]),
        ("import", ["suite", "import", str(outputs), "--no-embed"]),
    ):
        status, out, err = run_in_process(*command, "--format", "json")
        assert status == 0, err
        ids[kind] = json.loads(out)["experiment_id"]
    return ids


def test_history_json_and_table_show_the_kind_of_each_entry(history_of_three):
    status, out, _ = run_in_process("history", "--format", "json")
    assert status == 0
    entries = json.loads(out)
    # Newest first: the import, the suite run, then the single experiment.
    assert [(e["kind"], e["id"]) for e in entries] == [
        ("import", history_of_three["import"]),
        ("suite", history_of_three["suite"]),
        ("experiment", history_of_three["experiment"]),
    ]
    assert [e["runs"] for e in entries] == [2, 4, 2]
    assert entries[1]["prompt"] == "suite cases: 2 cases"

    status, out, _ = run_in_process("history")
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["id", "created_at", "kind", "status"]
    assert [row.split()[2] for row in rows] == ["import", "suite", "experiment"]


@pytest.mark.parametrize("kind", ["experiment", "suite", "import"])
def test_kind_filter_keeps_only_that_kind(history_of_three, kind):
    status, out, _ = run_in_process("history", "--kind", kind, "--format", "json")
    assert status == 0
    assert [(e["kind"], e["id"]) for e in json.loads(out)] == [(kind, history_of_three[kind])]


def test_kind_filter_with_nothing_of_that_kind_and_a_bad_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    status, out, _ = run_in_process("history", "--kind", "suite")
    assert (status, out) == (0, "no experiments of kind suite stored\n")
    status, out, err = run_in_process("history", "--kind", "probe")
    assert (status, out) == (2, "")
    assert "--kind" in err and "'probe'" in err and len(err.splitlines()) == 1

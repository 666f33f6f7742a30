"""The API key is never written anywhere: not the database, an export, stdout/stderr or a log.

Runs the command line as a user would (compare with CSV files, history, export) against the
fake OpenAI server on 127.0.0.1 that requires the key, including a wrong key that the server
quotes back in its 401 answer, then searches every byte that was written for either key.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from seedscope.cli import main

KEY = "sk-seedscope-leak-check-5f3a9c0e7d21b4a6"
WRONG_KEY = "sk-wrong-and-quoted-back-8e1b2c3d4f5a6b7c"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def written_files(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (the SQLite file with its -wal/-shm, the CSV files)."""
    return {str(path): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_api_key_never_reaches_the_database_exports_output_or_logs(
    tmp_path, monkeypatch, caplog, capfd, fake_server_factory
):
    server = fake_server_factory("--api-key", KEY, "--echo-key", "--fingerprint", "fp_k")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{data / 'history.db'}")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    caplog.set_level(logging.DEBUG)  # everything any library logs, the SDK and httpx included
    remote = ("compare", "--provider", "openai", "--model", "fake-model", "--runs", "3")
    printed: list[str] = []

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    csv_dir = data / "compare-csv"
    status, out, err = run(
        *remote, "--embedder", "openai", "--format", "json", "--csv", str(csv_dir)
    )
    printed += [out, err]
    assert status == 0, err
    good = json.loads(out)
    assert all(run["error"] is None for arm in good["arms"] for run in arm["runs"])
    assert server.stats()["embeddings_log"]  # the embedder called the server with the key too

    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)
    status, out, err = run(*remote, "--embedder", "openai", "--format", "json")
    printed += [out, err]
    assert status == 1  # every run failed and was recorded
    rejected = json.loads(out)
    errors = [run["error"] for arm in rejected["arms"] for run in arm["runs"]]
    assert len(errors) == 6
    # The server quoted the wrong key back; what was recorded has it masked.
    assert all("Incorrect API key provided: ***" in error for error in errors), errors[0]

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    for args in (
        ("history", "--format", "json"),
        ("history",),
        ("export", good["experiment_id"], "--dir", str(data / "export-1"), "--embedder", "openai"),
        ("export", rejected["experiment_id"], "--dir", str(data / "export-2")),
    ):
        status, out, err = run(*args)
        printed += [out, err]
        assert status == 0, err

    files = written_files(data)
    assert {Path(name).name for name in files} >= {"history.db", "runs.csv", "metrics.csv"}
    captured = capfd.readouterr()
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert logged  # the libraries did log: the search below covers real log lines
    for secret in (KEY, WRONG_KEY):
        for name, content in files.items():
            assert secret.encode() not in content, f"key written to {name}"
        assert all(secret not in text for text in printed), "key printed"
        assert secret not in captured.out + captured.err, "key on the process's stdout/stderr"
        assert secret not in logged, "key in a log record"

"""`make run` listens on 127.0.0.1 only: the app started as the Makefile starts it (`streamlit run
app.py` from the repository root, so `.streamlit/config.toml` applies), with nothing that sets
the address, has only loopback listening sockets. Read from the process's own sockets with
psutil; no traffic goes to any address but 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.helpers import free_port, stop_process, wait_until_responds

ROOT = Path(__file__).resolve().parents[1]
# The Makefile's `$(VENV)/bin/streamlit`: the one beside the Python running the tests.
STREAMLIT = Path(sys.executable).with_name("streamlit")


def listening_sockets(pid: int) -> list:
    """Listening TCP sockets (IPv4 and IPv6) of the process and all its children."""
    process = psutil.Process(pid)
    sockets = []
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a child that ended meanwhile
            sockets += [c for c in each.net_connections(kind="inet") if c.status == "LISTEN"]
    return sockets


@pytest.mark.timeout(120)
def test_make_run_listens_on_loopback_only(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # STREAMLIT_*: e.g. STREAMLIT_SERVER_ADDRESS would override the project's config
        if not key.startswith(("OPENAI_", "SEEDSCOPE_", "STREAMLIT_"))
    }
    env.update(
        {
            "SEEDSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'loopback.db'}",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    assert "STREAMLIT_SERVER_ADDRESS" not in env
    log_path = tmp_path / "streamlit.log"
    # As `make run` does, plus a free port and headless; no --server.address: the address must
    # come from .streamlit/config.toml.
    args = [str(STREAMLIT), "run", "app.py", "--server.port", str(port)]
    args += ["--server.headless", "true"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_responds(
            f"http://127.0.0.1:{port}/_stcore/health", process, timeout=60, what="streamlit"
        )
        sockets = listening_sockets(process.pid)
    finally:
        stop_process(process)
    log_text = log_path.read_text(errors="replace")

    addresses = sorted({(c.laddr.ip, c.laddr.port) for c in sockets})
    assert any(p == port for _, p in addresses), (addresses, log_text)
    for ip, listen_port in addresses:
        assert ip not in ("0.0.0.0", "::", ""), (ip, listen_port)  # every interface
        assert ip in ("127.0.0.1", "::1"), (ip, listen_port)

"""Helpers shared by tests and benchmarks: free ports, servers started as subprocesses."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAKE_SERVER_SCRIPT = Path(__file__).with_name("fake_openai_server.py")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(url: str, method: str = "GET", timeout: float = 5.0) -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until_responds(
    url: str, process: subprocess.Popen[Any], timeout: float, what: str
) -> None:
    """Poll `url` until it answers 200, failing early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before responding")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not respond at {url} within {timeout:.0f}s")


def stop_process(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class FakeServer:
    """A running tests/fake_openai_server.py subprocess."""

    process: subprocess.Popen[str]
    port: int
    options: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def stats(self) -> dict[str, Any]:
        return http_json(f"{self.root}/_stats")

    def reset(self) -> None:
        http_json(f"{self.root}/_reset", method="POST")

    def stop(self) -> None:
        stop_process(self.process)


def start_fake_server(*options: str, timeout: float = 20.0) -> FakeServer:
    """Start the fake OpenAI-compatible server with CLI `options`; returns once it answers.

    The server binds port 0 and prints `READY <port>`, so there is no race for a free port.
    """
    args = [sys.executable, str(FAKE_SERVER_SCRIPT), "--port", "0", *options]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        stop_process(process)
        raise RuntimeError(f"fake OpenAI server did not start (options {options}): {line!r}")
    server = FakeServer(process=process, port=int(line.split()[1]), options=list(options))
    wait_until_responds(f"{server.root}/_health", process, timeout, "fake OpenAI server")
    return server


def start_llama_server(model_path: str | Path, n_ctx: int = 2048, timeout: float = 180.0):
    """Start `python -m llama_cpp.server` on the GGUF; returns (process, base_url)."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        "1",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_responds(f"{base_url}/models", process, timeout, "llama_cpp.server")
    except RuntimeError:
        stop_process(process)
        raise
    return process, base_url

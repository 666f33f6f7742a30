"""AppTest: a base URL typed in the Compare page goes through the SSRF guard. In shared mode a
loopback server that is not allowlisted is refused with the rule named and receives nothing
(not even the model listing); allowlisted, it is used; its error text never reaches the store
or the page. In local mode the same URL only warns. Every server here is on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.app.app_support import finish_jobs, page_text, problems
from tests.test_net_guard import SECRET, json_reply

NOWHERE = "http://127.0.0.1:9/v1"  # the configured backend: nothing listens, nothing is sent


def typed(make_app, url: str):
    at = make_app()
    at.selectbox(key="cmp_provider").set_value("openai").run()
    at.text_input(key="cmp_base_url").set_value(url).run()
    return at


@pytest.fixture
def shared_env(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", NOWHERE)
    monkeypatch.setenv("SEEDSCOPE_SHARED", "true")


def test_shared_mode_refuses_a_loopback_server_that_is_not_allowlisted(
    make_app, store, shared_env, start_server
):
    server = start_server()
    at = typed(make_app, server.url())
    assert not at.exception
    refusal = (
        f"base URL {server.url()} refused: 127.0.0.1 is a loopback address (shared mode "
        "allows only SEEDSCOPE_ALLOWED_BASE_URLS)"
    )
    assert any(p == f"base_url: {refusal}" for p in problems(at)), problems(at)
    assert at.button(key="cmp_generate").disabled
    assert server.hits == []  # nothing was sent there, not even a model listing
    assert store.count_experiments() == 0


def test_an_allowlisted_server_is_used(make_app, store, shared_env, start_server, monkeypatch):
    server = start_server()
    monkeypatch.setenv("SEEDSCOPE_ALLOWED_BASE_URLS", server.url())
    at = typed(make_app, server.url())
    assert not problems(at)
    at.number_input(key="cmp_runs").set_value(1).run()
    at.button(key="cmp_generate").click().run()
    finish_jobs(at)
    (summary,) = store.list_experiments()
    assert (summary.status, summary.runs, summary.failed_runs) == ("complete", 2, 0)
    assert [path for _, path, _ in server.hits].count("/v1/chat/completions") == 2


def test_shared_mode_keeps_a_typed_servers_error_text_out_of_the_store_and_page(
    make_app, store, shared_env, start_server, monkeypatch
):
    error = {"error": {"message": SECRET, "type": "permission_error"}}
    server = start_server(json_reply(error, status=403))
    monkeypatch.setenv("SEEDSCOPE_ALLOWED_BASE_URLS", server.url())
    at = typed(make_app, server.url())
    at.number_input(key="cmp_runs").set_value(1).run()
    at.button(key="cmp_generate").click().run()
    finish_jobs(at)
    (summary,) = store.list_experiments()
    stored = store.load_experiment(summary.id)
    assert summary.status == "failed"
    messages = [c.error_message or "" for c in stored.completions]
    assert all("permission denied (HTTP 403)" in m for m in messages), messages
    assert not any("abc123" in m for m in messages)
    assert "abc123" not in page_text(at) and "INTERNAL-SECRET" not in page_text(at)


def test_local_mode_only_warns_about_a_loopback_server(make_app, monkeypatch, start_server):
    monkeypatch.setenv("OPENAI_BASE_URL", NOWHERE)
    server = start_server()
    at = typed(make_app, server.url())
    assert not problems(at)
    assert any("loopback" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not at.button(key="cmp_generate").disabled

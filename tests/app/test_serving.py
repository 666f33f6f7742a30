"""AppTest: serving the page to others — the optional login, who started an experiment, the
shared-mode banner, and a budget refusing a generation before anything is stored or sent."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.app_support import APP, finish_jobs, generate, page_text

AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret-only-for-tests",
        "client_id": "seedscope-test",
        "client_secret": "not-a-real-client-secret",
        "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
    }
}


def app(user: dict | None = None, secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if secrets is not None:
        at.secrets = secrets
    if user is not None:
        at.user = user
    return at.run()


def test_with_a_login_configured_nothing_shows_before_logging_in(app_env, store):
    at = app(user={"is_logged_in": False}, secrets=AUTH)
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert at.title[0].value == "Seedscope"
    assert "Compare" not in [t.value for t in at.title]
    assert not at.text_area  # no form: no way to send anything


def test_a_logged_in_user_is_shown_and_recorded_as_who_started_the_experiment(app_env, store):
    at = app(user={"is_logged_in": True, "email": "ada@example.com", "sub": "u-1"}, secrets=AUTH)
    assert not at.exception
    assert any("ada@example.com" in c.value for c in at.sidebar.caption)
    assert "Log out" in [b.label for b in at.sidebar.button]
    generate(at, runs=1, max_tokens=2)
    (summary,) = store.list_experiments()
    assert summary.started_by == "ada@example.com"
    assert "not-a-real" not in page_text(at)  # no secret reaches the page


def test_without_a_login_nobody_is_recorded(make_app, store):
    at = make_app()
    generate(at, runs=1, max_tokens=2)
    (summary,) = store.list_experiments()
    assert summary.started_by is None


def test_shared_mode_without_a_login_says_anyone_can_use_it(make_app, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_SHARED", "true")
    at = make_app()
    assert any("anyone who can reach this page" in w.value for w in at.sidebar.warning)
    monkeypatch.setenv("SEEDSCOPE_SHARED", "false")
    assert not make_app().sidebar.warning


def test_a_budget_refuses_generate_with_the_limit_and_stores_nothing(make_app, store, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_MAX_RUNS_PER_HOUR", "6")
    at = make_app()
    generate(at, runs=2, max_tokens=2)  # 4 runs: within the budget
    assert store.count_experiments() == 1
    at.button(key="cmp_generate").click().run()  # 4 more would make 8 > 6
    errors = [e.value.replace("\\", "") for e in at.error]  # as read, without Markdown escapes
    assert any(
        "started 4 runs in the last hour; 4 more would pass SEEDSCOPE_MAX_RUNS_PER_HOUR = 6. "
        "Enough frees up at" in e
        for e in errors
    ), errors
    finish_jobs(at)
    assert store.count_experiments() == 1  # nothing stored, nothing sent

"""AppTest: the Compare form's "Arms on different backends". Each arm may name its own
provider, base URL and model in the arms table; one experiment then runs the embedded model
next to a server (real: the project's test server on 127.0.0.1), each arm with its own
fingerprint. A base URL an arm names is guarded like one typed in the page, the problems name
the arm, and only the configured backend's runs count as paid."""

from __future__ import annotations

import pytest

from tests.app.app_support import finish_jobs, problems

NOWHERE = "http://127.0.0.1:9/v1"  # a configured backend nobody listens on


def plain(markdown: str) -> str:
    """A message as read: without the backslashes that keep its Markdown literal."""
    return markdown.replace("\\", "")


def edit_arms(at, edits: dict[int, dict]) -> None:
    (editor,) = at.data_editor
    at.session_state[editor.key] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    at.run()


def with_backend_columns(make_app, *, runs: int = 1, max_tokens: int = 6):
    at = make_app()
    # The preset's parameters first: changing them starts a fresh table.
    at.number_input(key="cmp_runs").set_value(runs)
    at.number_input(key="cmp_max_tokens").set_value(max_tokens).run()
    at.toggle(key="cmp_arm_backends").set_value(True).run()
    return at


def test_the_backend_columns_appear_only_when_asked_for(make_app):
    at = make_app()
    (editor,) = at.data_editor
    assert "provider" not in editor.value.columns
    at.toggle(key="cmp_arm_backends").set_value(True).run()
    (editor,) = at.data_editor
    assert list(editor.value.columns)[-3:] == ["provider", "base_url", "model"]
    assert not problems(at)  # empty cells: every arm on the form's backend


def test_the_embedded_model_and_a_server_in_one_experiment(make_app, store, fake_server_factory):
    server = fake_server_factory("--fingerprint", "fp_server")
    at = with_backend_columns(make_app)
    edit_arms(at, {1: {"provider": "openai", "base_url": server.base_url, "model": "fake-model"}})
    assert not problems(at)
    # A loopback server in local mode: a warning that names the arm, not a refusal.
    warnings = [plain(w.value) for w in at.warning]
    assert any("arm 'seeded'" in w and "loopback" in w for w in warnings), warnings
    costs = [plain(info.value) for info in at.info]
    assert any(
        f"Server at 127.0.0.1:{server.port}" in c and "6 completion tokens (1 run ×" in c
        for c in costs
    ), costs
    at.button(key="cmp_generate").click().run()
    finish_jobs(at)

    assert not at.exception
    (summary,) = store.list_experiments()
    experiment = store.load_experiment(summary.id)
    by_arm = {c.arm_label: c for c in experiment.completions}
    assert by_arm["unseeded"].ok and by_arm["unseeded"].provider == "local"
    assert by_arm["seeded"].ok and by_arm["seeded"].system_fingerprint == "fp_server"
    assert by_arm["unseeded"].system_fingerprint != "fp_server"
    # The server got the server arm's one call, with its seed, and nothing of the other arm.
    assert [(r["model"], r["seed"]) for r in server.stats()["chat_log"]] == [("fake-model", 123)]
    assert experiment.spec.arms[1].base_url == server.base_url


def test_shared_mode_refuses_an_arms_loopback_server_naming_the_arm(
    make_app, store, monkeypatch, start_server
):
    monkeypatch.setenv("SEEDSCOPE_SHARED", "true")
    server = start_server()
    at = with_backend_columns(make_app)
    edit_arms(at, {1: {"provider": "openai", "base_url": server.url()}})
    refusal = (
        f"arm 'seeded': base_url: base URL {server.url()} refused: 127.0.0.1 is a loopback "
        "address (shared mode allows only SEEDSCOPE_ALLOWED_BASE_URLS)"
    )
    assert refusal in problems(at), problems(at)
    assert at.button(key="cmp_generate").disabled
    assert server.hits == []  # nothing was sent there
    assert store.count_experiments() == 0


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            {"provider": "local", "model": "other-model"},
            "arm 'seeded': the embedded backend runs SmolLM2-135M-Instruct; leave the arm's "
            "model empty",
        ),
        (
            {"provider": "openai"},
            "arm 'seeded': no base URL, and no OpenAI-compatible backend is configured; give "
            "the arm a base_url",
        ),
        (
            {"base_url": "http://127.0.0.1:9/v1"},
            "arms[1].base_url: only an openai arm has a base URL",
        ),
        (
            {"provider": "openai", "base_url": "http://user:pw@127.0.0.1:9/v1"},
            "arms[1].base_url: base_url may not carry credentials",
        ),
    ],
)
def test_a_backend_an_arm_cannot_use_is_named_before_anything_runs(make_app, store, edit, problem):
    at = with_backend_columns(make_app)
    edit_arms(at, {1: edit})
    assert any(p.startswith(problem) for p in problems(at)), problems(at)
    assert at.button(key="cmp_generate").disabled
    assert store.count_experiments() == 0


def test_only_the_configured_backends_runs_count_as_paid_tokens(
    make_app, store, monkeypatch, fake_server_factory
):
    """A day's paid-token budget of one run's worth: an embedded arm next to an arm on the
    configured (paid) backend passes, as only the paid arm's tokens count; another paid run
    the same day does not."""
    server = fake_server_factory()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-sent-elsewhere")
    monkeypatch.setenv("SEEDSCOPE_MAX_TOKENS_PER_DAY", "6")
    at = with_backend_columns(make_app)
    edit_arms(at, {1: {"provider": "openai", "model": "fake-model"}})
    assert not problems(at)
    at.button(key="cmp_generate").click().run()
    finish_jobs(at)
    (summary,) = store.list_experiments()
    assert (summary.status, summary.runs, summary.failed_runs) == ("complete", 2, 0)
    assert len(server.stats()["chat_log"]) == 1

    edit_arms(at, {0: {"provider": "openai", "model": "fake-model"}})
    at.button(key="cmp_generate").click().run()
    errors = [plain(e.value) for e in at.error]
    assert any("SEEDSCOPE_MAX_TOKENS_PER_DAY = 6" in e for e in errors), errors
    assert store.count_experiments() == 1  # refused before anything was stored or sent
    assert len(server.stats()["chat_log"]) == 1

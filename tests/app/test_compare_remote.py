"""AppTest: the Compare page on an OpenAI-compatible backend — the project's fake server on
127.0.0.1 — model list, cost guard, locked base URL, and where the API key may go."""

from __future__ import annotations

import pytest

from tests.app.app_support import generate, page_text, problems

KEY = "sk-seedscope-test-key-42"


def choose_remote(at):
    at.selectbox(key="cmp_provider").set_value("openai").run()
    return at


@pytest.fixture
def remote(monkeypatch, fake_server_factory, app_env):
    """Configure the app for a fake server started with `options`; returns the server."""

    def configure(*options: str, **env: str):
        server = fake_server_factory(*options)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return server

    return configure


def test_remote_backend_appears_only_when_configured(make_app, remote):
    at = make_app()
    assert at.selectbox(key="cmp_provider").options == ["Embedded model (SmolLM2-135M-Instruct)"]
    remote("--models", "alpha,beta")
    at = choose_remote(make_app())
    assert at.selectbox(key="cmp_provider").options == [
        "Embedded model (SmolLM2-135M-Instruct)",
        "OpenAI-compatible",
    ]
    (model,) = [s for s in at.selectbox if s.label == "Model"]
    assert model.options == ["alpha", "beta"]  # from the server's /v1/models


def test_server_without_a_model_list_lets_you_type_the_model(make_app, remote):
    remote("--no-models")
    at = choose_remote(make_app())
    assert at.text_input(key="cmp_model_typed").value == "gpt-4o-mini"
    assert any("type the model name" in c.value for c in at.caption)


def test_cost_guard_requires_confirmation_above_the_threshold(make_app, remote, store):
    remote(SEEDSCOPE_COST_CONFIRM_TOKENS="1000")
    at = choose_remote(make_app())
    (info,) = [i.value for i in at.info if "worst case" in i.value]
    assert "worst case 2,000 completion tokens (10 runs × max_tokens 200)" in info
    assert at.checkbox(key="cmp_confirm_cost").value is False
    assert at.button(key="cmp_generate").disabled

    at.checkbox(key="cmp_confirm_cost").check().run()
    assert not at.button(key="cmp_generate").disabled

    at.number_input(key="cmp_max_tokens").set_value(100).run()  # 10 x 100 = 1000: at the limit
    assert not [c for c in at.checkbox if c.key == "cmp_confirm_cost"]
    assert not at.button(key="cmp_generate").disabled
    assert store.count_experiments() == 0


def test_the_embedded_model_has_no_cost_guard(make_app, remote, monkeypatch):
    remote(SEEDSCOPE_COST_CONFIRM_TOKENS="1")
    at = make_app()
    assert not [i for i in at.info if "worst case" in i.value]
    assert not at.button(key="cmp_generate").disabled


@pytest.mark.parametrize(
    ("options", "shown"), [((), "*not reported*"), (("--fingerprint", "fp_x9"), "`fp_x9`")]
)
def test_generation_on_a_remote_server_records_the_fingerprint_as_reported(
    make_app, remote, store, options, shown
):
    server = remote(*options)
    at = choose_remote(make_app())
    generate(at, runs=2, max_tokens=6)

    assert not at.exception
    (summary,) = store.list_experiments()
    assert (summary.provider, summary.model, summary.runs, summary.failed_runs) == (
        "openai",
        "fake-model",
        4,
        0,
    )
    assert summary.base_url_host == f"127.0.0.1:{server.port}"
    assert server.stats()["requests"]["chat"] == 4
    captions = [c.value for c in at.caption if c.value.startswith("Fingerprint:")]
    assert captions == [f"Fingerprint: {shown}"] * 4
    assert not [b for b in at.button if b.key and "replay:" in b.key]  # local runs only


def test_locked_base_url_cannot_be_edited(make_app, remote):
    server = remote(SEEDSCOPE_LOCK_BASE_URL="true")
    at = choose_remote(make_app())
    locked = at.text_input(key="cmp_base_url_locked")
    assert locked.disabled and locked.value == server.base_url
    assert not [t for t in at.text_input if t.key == "cmp_base_url"]


def test_a_locked_base_url_holds_even_against_a_forged_widget_value(
    make_app, remote, fake_server_factory, store
):
    """The page never reads a base URL from the session when locked: a value slipped into the
    session state (as a crafted browser message could) does not redirect the runs."""
    configured = remote(SEEDSCOPE_LOCK_BASE_URL="true")
    elsewhere = fake_server_factory()
    at = choose_remote(make_app())
    at.session_state["cmp_base_url"] = elsewhere.base_url
    generate(at, runs=1, max_tokens=4)

    assert not at.exception
    (summary,) = store.list_experiments()
    assert summary.base_url_host == f"127.0.0.1:{configured.port}"
    assert configured.stats()["requests"]["chat"] == 2
    assert elsewhere.stats()["requests"] == {}


def test_only_local_allowed_hides_the_remote_backend_entirely(make_app, remote, monkeypatch):
    server = remote(SEEDSCOPE_ALLOWED_PROVIDERS="local")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    at = make_app()
    assert at.selectbox(key="cmp_provider").options == ["Embedded model (SmolLM2-135M-Instruct)"]
    sidebar = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    assert any("Embedded model ready" in line for line in sidebar)
    assert not any("OpenAI" in line or str(server.port) in line for line in sidebar)
    for page in ("pages/compare.py", "pages/history.py", "pages/fingerprints.py"):
        at.switch_page(page).run()
        shown = page_text(at)
        assert "OpenAI" not in shown and str(server.port) not in shown, page
    assert server.stats()["requests"] == {}  # not even asked for its models


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        ("-1", "arms[1].seed: seed -1 is out of range for the openai backend; allowed 0 to "),
        (str(2**63), f"arms[1].seed: seed {2**63} is out of range for the openai backend"),
        ("0", None),  # 0 is a seed like any other for a remote server
        (str(2**63 - 1), None),
    ],
)
def test_remote_seed_range_is_int64(make_app, remote, store, seed, problem):
    remote()
    at = choose_remote(make_app())
    at.text_input(key="cmp_seed").set_value(seed).run()
    shown = problems(at)
    if problem is None:
        assert not shown and not at.button(key="cmp_generate").disabled
        assert list(at.data_editor[0].value["seed"])[1] == seed  # int64 survives as text
    else:
        assert any(p.startswith(problem) for p in shown), shown
        assert at.button(key="cmp_generate").disabled
    assert store.count_experiments() == 0


def test_invalid_base_url_is_a_validation_error(make_app, remote, store):
    remote()
    at = choose_remote(make_app())
    at.text_input(key="cmp_base_url").set_value("ftp://example.org/v1").run()
    assert any(
        p.startswith("base_url: 'ftp://example.org/v1' is not an http(s) URL") for p in problems(at)
    )
    assert at.button(key="cmp_generate").disabled
    assert store.count_experiments() == 0


def test_the_api_key_only_goes_to_the_configured_server(
    make_app, remote, fake_server_factory, store, monkeypatch
):
    """A visitor who types another base URL must not receive the deployment's key."""
    configured = remote("--api-key", KEY, "--models", "configured-model")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    elsewhere = fake_server_factory("--api-key", KEY, "--models", "other-model")

    at = choose_remote(make_app())
    (model,) = [s for s in at.selectbox if s.label == "Model"]
    assert model.options == ["configured-model"]  # the configured server accepted the key

    at.text_input(key="cmp_base_url").set_value(elsewhere.base_url).run()
    # The other server was asked without the key, so it refused to list its models.
    assert elsewhere.stats()["requests"]["models"] >= 1
    assert any("401" in c.value or "authentication" in c.value.lower() for c in at.caption)
    generate(at, runs=1, max_tokens=4)
    assert not at.exception  # every run failed: shown as failed cards, no traceback
    (summary,) = store.list_experiments()
    assert summary.failed_runs == summary.runs == 2
    stored = store.load_experiment(summary.id)
    assert {c.error_type for c in stored.completions} == {"AuthenticationError"}
    assert KEY not in page_text(at)
    assert configured.stats()["requests"].get("chat", 0) == 0


def test_a_server_that_is_down_is_reported_per_run_not_as_a_traceback(make_app, store, monkeypatch):
    from tests.helpers import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")
    at = choose_remote(make_app())
    assert not at.exception
    # The model list cannot be fetched: type a name, and the caption says why.
    assert at.text_input(key="cmp_model_typed").value == "gpt-4o-mini"
    assert any(c.value.startswith("Type a model name (") for c in at.caption)
    generate(at, runs=1, max_tokens=4)

    assert not at.exception
    (summary,) = store.list_experiments()
    assert summary.failed_runs == summary.runs == 2
    failures = [t.value for t in at.text if t.value.startswith("APIConnectionError")]
    assert len(failures) == 2 and all("check OPENAI_BASE_URL" in f for f in failures)
    assert "Traceback" not in page_text(at)
    # Every run failed: the experiment is `failed`, with a red banner naming the reason.
    assert summary.status == "failed"
    assert any(":red-badge[failed]" in m.value for m in at.markdown)
    (banner,) = [e.value.replace("\\", "") for e in at.error]  # drop Markdown escapes
    assert banner.startswith(
        "This experiment failed: every run failed; most common reason (2 of 2 runs): "
        "APIConnectionError"
    )
    # Nothing looks like a success but the form's own check.
    assert [s.value for s in at.success] == ["2 arms, 2 runs in total, up to 4 tokens each."]


def test_a_typed_base_url_that_fails_is_named_as_typed_in_the_page(make_app, remote, store):
    """Listing models at an unreachable typed URL warns before Generate; the runs' errors say
    the URL was typed in the page (not OPENAI_BASE_URL), and the experiment is `failed`."""
    from tests.helpers import free_port

    remote(OPENAI_MAX_RETRIES="0")
    at = choose_remote(make_app())
    assert not at.warning  # the configured server lists its models
    typed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    at.text_input(key="cmp_base_url").set_value(typed).run()
    warnings = [w.value.replace("\\", "") for w in at.warning]
    (warning,) = [w for w in warnings if w.startswith("The models at the base URL typed")]
    assert warning.startswith("The models at the base URL typed in the page could not be listed")
    # And the SSRF guard's local-mode note: a loopback address, allowed outside shared mode.
    assert any("127.0.0.1 is a loopback address" in w for w in warnings), warnings
    assert not at.button(key="cmp_generate").disabled  # a warning, not a block
    generate(at, runs=1, max_tokens=4)

    (summary,) = store.list_experiments()
    assert (summary.status, summary.failed_runs, summary.runs) == ("failed", 2, 2)
    failures = [t.value for t in at.text if t.value.startswith("APIConnectionError")]
    assert len(failures) == 2
    assert all(f"check the base URL typed in the page ({typed})" in f for f in failures), failures
    assert not any("OPENAI_BASE_URL" in f for f in failures)
    (banner,) = [e.value.replace("\\", "") for e in at.error]
    assert "most common reason (2 of 2 runs): APIConnectionError" in banner
    assert "typed in the page" in banner


def test_distances_can_be_measured_with_the_configured_embeddings(make_app, remote, store):
    """The embedded MiniLM measures by default; the configured OpenAI-compatible embeddings are
    one click away, and switching back and forth embeds each text once per model."""
    server = remote()
    at = choose_remote(make_app())
    generate(at, runs=2, max_tokens=6)
    choice = at.radio(key="cmp_embedder")
    assert choice.value == "local"
    assert choice.options == [
        "all-MiniLM-L6-v2 (embedded, free)",
        f"text-embedding-3-small at 127.0.0.1:{server.port}",
    ]
    assert "Cosine distances between embeddings from `local:all-MiniLM-L6-v2`." in [
        c.value for c in at.caption
    ]
    assert server.stats()["embeddings_log"] == []  # nothing sent for embedding unless asked

    choice.set_value("openai").run()
    assert not at.exception and not at.error
    remote_id = f"openai:text-embedding-3-small@127.0.0.1:{server.port}"
    assert f"Cosine distances between embeddings from `{remote_id}`." in [
        c.value for c in at.caption
    ]
    assert len([m for m in at.metric if m.label == "Mean pairwise distance"]) == 2
    calls = len(server.stats()["embeddings_log"])
    assert calls >= 1
    at.radio(key="cmp_embedder").set_value("local").run()
    at.radio(key="cmp_embedder").set_value("openai").run()
    assert len(server.stats()["embeddings_log"]) == calls  # cached, not embedded again
    assert server.stats()["requests"]["chat"] == 4  # and nothing regenerated


def test_a_failing_embeddings_endpoint_keeps_the_runs_on_the_page(make_app, remote, store):
    # A model named fault-500 always gets HTTP 500 from the test server; chat still works.
    remote(OPENAI_EMBEDDING_MODEL="fault-500", OPENAI_MAX_RETRIES="0")
    at = choose_remote(make_app())
    generate(at, runs=1, max_tokens=4)
    at.radio(key="cmp_embedder").set_value("openai").run()
    assert not at.exception
    (error,) = [e.value.replace("\\", "") for e in at.error]  # drop Markdown escapes
    assert error.startswith("The outputs could not be measured: embedding with fault-500 failed")
    assert error.endswith("Choose the embedded all-MiniLM-L6-v2 above instead.")
    assert len([c for c in at.code if c.language != "diff"]) == 2  # the runs are still shown

"""AppTest: the router reaches every page, and the sidebar reports the backends honestly."""

from __future__ import annotations

import pytest
from seedscope.providers.local import LocalProvider

from tests.app.app_support import generate, page_text
from tests.helpers import free_port

PAGES = {
    "pages/compare.py": "Compare",
    "pages/history.py": "History",
    "pages/fingerprints.py": "Fingerprints",
    "pages/about.py": "About Seedscope",
}


def test_default_page_is_compare_and_every_page_is_reachable(make_app):
    at = make_app()
    assert [title.value for title in at.title] == ["Compare"]
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception, page
        assert [t.value for t in at.title] == [title]


def test_sidebar_shows_the_embedded_model_with_its_fingerprint_and_no_key(make_app, app_env):
    at = make_app()
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    captions = "\n".join(c.value for c in at.sidebar.caption)
    assert "Embedded model ready" in sidebar
    assert "SmolLM2-135M-Instruct" in sidebar
    assert LocalProvider.shared().fingerprint in captions
    assert "key not set" in sidebar
    assert "api.openai.com (default)" in captions
    assert app_env.removeprefix("sqlite:///") in captions


def test_sidebar_says_a_key_is_present_but_never_shows_it(make_app, monkeypatch):
    secret = "sk-test-never-shown-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    at = make_app()
    assert "key present" in "\n".join(m.value for m in at.sidebar.markdown)
    assert "127.0.0.1:9" in "\n".join(c.value for c in at.sidebar.caption)
    for page in PAGES:
        at.switch_page(page).run()
        assert secret not in page_text(at), page


def test_embedded_model_can_be_disabled_by_configuration(make_app, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_ALLOWED_PROVIDERS", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    at = make_app()
    assert "Embedded model disabled" in "\n".join(c.value for c in at.sidebar.caption)
    assert at.selectbox(key="cmp_provider").options == ["OpenAI-compatible"]


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SEEDSCOPE_MAX_TOKENS", "lots", "SEEDSCOPE_MAX_TOKENS"),
        ("SEEDSCOPE_ALLOWED_PROVIDERS", "local,anthropic", "SEEDSCOPE_ALLOWED_PROVIDERS"),
    ],
)
def test_bad_configuration_is_a_short_message_not_a_traceback(
    make_app, monkeypatch, name, value, named
):
    monkeypatch.setenv(name, value)
    at = make_app()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert named in errors[0] and "reload the page" in errors[0]


def test_an_unexpected_failure_is_one_short_line_not_a_traceback(make_app, monkeypatch):
    """The page guard: whatever breaks unexpectedly, the visitor sees one line."""
    from seedscope.store import Store

    def broken(self, **_filters):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(Store, "count_experiments", broken)
    at = make_app("pages/history.py")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Something went wrong: RuntimeError: the disk caught fire. Reload the page to try "
        "again; the server log has the details."
    ]


ALL_PAGES = list(PAGES)


def unusable_database_urls(tmp_path) -> dict[str, str]:
    """Database URLs that cannot work, each for a different reason (the tests run as root, so
    file permissions cannot make a path unwritable: these fail for everyone)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    a_dir = tmp_path / "a-dir"
    a_dir.mkdir()
    return {
        "parent is a file": f"sqlite:///{a_file / 'seedscope.db'}",
        "path is a directory": f"sqlite:///{a_dir}",
        "read-only file system": "sqlite:////proc/seedscope.db",
        "server down": f"postgresql+psycopg://seedscope:{PASSWORD}@127.0.0.1:{free_port()}/x",
        "unsupported database": "mysql://seedscope@127.0.0.1/seedscope",
        "not a URL": "seedscope.db",
    }


PASSWORD = "pw-never-shown-5150"
REASONS = [
    "parent is a file",
    "path is a directory",
    "read-only file system",
    "server down",
    "unsupported database",
    "not a URL",
]  # the keys of unusable_database_urls


@pytest.mark.parametrize("reason", REASONS)
def test_every_page_survives_an_unusable_database_with_the_fix_named(
    make_app, monkeypatch, tmp_path, reason
):
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", unusable_database_urls(tmp_path)[reason])
    at = make_app()
    sidebar_errors = [e.value for e in at.sidebar.error]
    assert len(sidebar_errors) == 1 and "SEEDSCOPE_DATABASE_URL" in sidebar_errors[0]
    for page in ALL_PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        shown = page_text(at)
        assert "Traceback" not in shown and PASSWORD not in shown, page
        if page in ("pages/history.py", "pages/fingerprints.py"):  # they need the history
            (error,) = [e.value for e in at.main.error]
            assert "SEEDSCOPE_DATABASE_URL" in error, page
    # The Compare form still works; generating says why it cannot store the runs.
    at.switch_page("pages/compare.py").run()
    generate(at, runs=1, max_tokens=2, wait=False)  # no job starts: nothing to wait for
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.main.error]  # drop Markdown escapes
    assert [error for error in errors if "SEEDSCOPE_DATABASE_URL" in error]
    assert PASSWORD not in page_text(at).replace("\\", "")


def test_a_missing_model_file_is_a_message_not_a_traceback(make_app, monkeypatch, tmp_path):
    missing = tmp_path / "no-such-model.gguf"
    monkeypatch.setenv("SEEDSCOPE_MODEL_PATH", str(missing))
    at = make_app()
    assert not at.exception
    (error,) = [e.value for e in at.sidebar.error]
    assert "The embedded model could not be loaded" in error and "SEEDSCOPE_MODEL_PATH" in error
    at.number_input(key="cmp_runs").set_value(1).run()
    at.button(key="cmp_generate").click().run()
    assert not at.exception
    (error,) = [e.value.replace("\\", "") for e in at.main.error]  # drop Markdown escapes
    assert error.startswith("The backend cannot be used: The embedded model could not be loaded")
    assert "Traceback" not in page_text(at)

"""AppTest: the About page states what seeds and fingerprints are and how to configure."""

from __future__ import annotations

from tests.app.app_support import page_text


def test_about_page_explains_seeds_fingerprints_measures_and_configuration(make_app):
    at = make_app("pages/about.py")

    assert not at.exception
    assert [title.value for title in at.title] == ["About Seedscope"]
    assert [header.value for header in at.header] == [
        "Seeds and system fingerprints",
        "The measures",
        "Configuring a backend",
    ]
    text = page_text(at)
    for statement in (
        "best effort",
        "deprecated",
        "Responses API has no",
        "not reported",
        "Seedscope's own",
        "effective seed",
        "distances_from_embeddings",
        "TARr@N",
        "Atil et al.",
        "First divergence",
        "Thinking Machines",
        ".streamlit/secrets.toml",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "vLLM",
        "Ollama",
        "llama.cpp server",
        "LM Studio",
        "SEEDSCOPE_LOCK_BASE_URL",
    ):
        assert statement in text, statement

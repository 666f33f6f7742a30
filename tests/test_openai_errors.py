"""One description of OpenAI-compatible API failures, and one key mask, for chat and embeddings."""

from __future__ import annotations

import asyncio
import json

import pytest
from seedscope.embeddings import EmbeddingError, OpenAIEmbedder
from seedscope.providers.base import CompletionRequest
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.providers.openai_errors import (
    CHAT,
    EMBEDDINGS,
    PLACEHOLDER_API_KEY,
    describe_openai_error,
    redact_api_key,
)

KEY = "sk-echoed-secret-0123456789abcdef"


def request(model: str = "fake-model") -> CompletionRequest:
    return CompletionRequest(
        arm_label="arm",
        run_index=0,
        prompt="Tell me about Mars.",
        system="",
        model=model,
        seed=1,
        temperature=0.0,
        top_p=1.0,
        max_tokens=8,
    )


def describe(exc: BaseException, api_key: str | None = KEY, endpoint=CHAT) -> tuple[str, str]:
    return describe_openai_error(
        exc,
        endpoint=endpoint,
        host="llm.example",
        model="m",
        timeout=5,
        max_retries=1,
        api_key=api_key,
    )


def test_redact_masks_every_occurrence_but_not_the_placeholder():
    assert redact_api_key(f"{KEY} and {KEY}!", KEY) == "*** and ***!"
    assert redact_api_key(f"key {PLACEHOLDER_API_KEY}", PLACEHOLDER_API_KEY).endswith("not-needed")
    assert redact_api_key("no key here", None) == "no key here"


def test_unclassified_and_malformed_errors_are_masked_too():
    error_type, message = describe(RuntimeError(f"refused token {KEY}"))
    assert (error_type, message) == ("RuntimeError", "RuntimeError: refused token ***")
    error_type, message = describe(json.JSONDecodeError(f"bad {KEY}", "{", 0))
    assert error_type == "MalformedResponseError"
    assert message.startswith("malformed response from llm.example: bad ***")


def test_a_key_the_server_echoes_is_masked_for_chat_and_embeddings(fake_server_factory):
    server = fake_server_factory("--api-key", "the-right-key-000000", "--echo-key")
    provider = OpenAICompatProvider(api_key=KEY, base_url=server.base_url, max_retries=0)
    completion = asyncio.run(provider.complete(request()))
    assert completion.error_type == "AuthenticationError"
    assert "Incorrect API key provided: ***" in completion.error_message
    assert KEY not in completion.error_message

    embedder = OpenAIEmbedder(api_key=KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed(["hello"])
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert KEY not in str(caught.value)


def test_chat_and_embeddings_describe_the_same_fault_in_the_same_words(fake_server):
    provider = OpenAICompatProvider(api_key=None, base_url=fake_server.base_url, max_retries=0)
    completion = asyncio.run(provider.complete(request(model="fault-500")))
    embedder = OpenAIEmbedder(base_url=fake_server.base_url, model="fault-500", max_retries=0)
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed(["hello"])
    assert completion.error_message.startswith("server error (HTTP 500)")
    assert str(caught.value) == f"embedding with fault-500 failed: {completion.error_message}"


def test_each_api_names_its_own_endpoint_and_setting_for_a_missing_model():
    import httpx2
    import openai

    response = httpx2.Response(404, request=httpx2.Request("POST", "http://llm.example/v1/x"))
    exc = openai.NotFoundError("missing", response=response, body={"message": "no such model"})
    _, chat = describe(exc, endpoint=CHAT)
    _, embeddings = describe(exc, endpoint=EMBEDDINGS)
    assert "no model 'm' or no Chat Completions endpoint; check the model name" in chat
    assert "no embedding model 'm' or no Embeddings endpoint; check OPENAI_EMBEDDING_MODEL" in (
        embeddings
    )


UNREACHABLE = "http://127.0.0.1:1/v1"


def failed_call(provider) -> str:
    completion = asyncio.run(provider.complete(request()))
    assert not completion.ok
    return completion.error_message


def test_a_connection_failure_names_where_the_base_url_came_from():
    from seedscope.providers.factory import make_provider
    from seedscope.settings import Settings

    configured = Settings(openai_base_url=UNREACHABLE, openai_max_retries=0)
    message = failed_call(make_provider(configured, "openai", model="fake-model"))
    assert f"check OPENAI_BASE_URL ({UNREACHABLE}) and that the server is running" in message

    settings = Settings(openai_max_retries=0)
    for origin in ("typed in the page", "given with --base-url"):
        provider = make_provider(
            settings, "openai", model="fake-model", base_url=UNREACHABLE, base_url_origin=origin
        )
        message = failed_call(provider)
        assert f"check the base URL {origin} ({UNREACHABLE})" in message
        assert "OPENAI_BASE_URL" not in message


def test_an_embeddings_connection_failure_names_where_the_base_url_came_from():
    from seedscope.embeddings import make_embedder
    from seedscope.settings import Settings

    settings = Settings(openai_base_url=UNREACHABLE, openai_max_retries=0)
    for origin, advice in (
        (None, f"check OPENAI_BASE_URL ({UNREACHABLE})"),
        ("given with --base-url", f"check the base URL given with --base-url ({UNREACHABLE})"),
    ):
        embedder = make_embedder(settings, "openai", base_url_origin=origin)
        with pytest.raises(EmbeddingError) as caught:
            embedder.embed(["a text"])
        assert advice in str(caught.value)


def test_a_missing_model_names_the_base_url_and_its_origin(fake_server):
    provider = OpenAICompatProvider(
        api_key=None,
        base_url=fake_server.base_url,
        max_retries=0,
        base_url_origin="typed in the page",
    )
    completion = asyncio.run(provider.complete(request(model="fault-404")))
    assert completion.error_type == "NotFoundError"
    assert (
        f"check the model name and the base URL typed in the page ({fake_server.base_url})"
        in completion.error_message
    )


def test_a_url_in_a_message_never_shows_credentials_or_the_key():
    import httpx2
    import openai

    url = f"http://user:pa55word@llm.example:9/v1?api-key={KEY}#frag"
    exc = openai.APIConnectionError(request=httpx2.Request("POST", "http://llm.example/v1"))
    _, message = describe_openai_error(
        exc,
        endpoint=CHAT,
        host="llm.example:9",
        model="m",
        timeout=5,
        max_retries=0,
        api_key=KEY,
        base_url=url,
        base_url_origin="typed in the page",
    )
    assert "check the base URL typed in the page (http://llm.example:9/v1)" in message
    assert "pa55word" not in message and KEY not in message and "frag" not in message
    # A key pasted into the path is still masked (the whole message is redacted).
    _, message = describe_openai_error(
        exc,
        endpoint=CHAT,
        host="llm.example",
        model="m",
        timeout=5,
        max_retries=0,
        api_key=KEY,
        base_url=f"http://llm.example/{KEY}/v1",
    )
    assert KEY not in message and "OPENAI_BASE_URL (http://llm.example/***/v1)" in message


# --- shared mode: a typed server's own words are not echoed (echo_body=False) ----------------

SERVER_SECRET = "INTERNAL-SECRET-TOKEN=abc123"
HIDDEN = "the server's message is not shown in shared mode"


def status_error(status: int, headers: dict[str, str] | None = None):
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://llm.example/v1/chat/completions")
    response = httpx2.Response(status, headers=headers, request=request)
    body = {"message": SERVER_SECRET, "type": "some_error"}
    classes = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        404: openai.NotFoundError,
        422: openai.UnprocessableEntityError,
        429: openai.RateLimitError,
    }
    cls = classes.get(
        status, openai.InternalServerError if status >= 500 else openai.APIStatusError
    )
    return cls(SERVER_SECRET, response=response, body=body)


def hidden(exc: BaseException) -> tuple[str, str]:
    return describe_openai_error(
        exc,
        endpoint=CHAT,
        host="llm.example",
        model="m",
        timeout=5,
        max_retries=1,
        api_key=KEY,
        base_url="http://llm.example/v1",
        base_url_origin="typed in the page",
        echo_body=False,
    )


@pytest.mark.parametrize(
    ("status", "error_type", "start"),
    [
        (400, "BadRequestError", "bad request (HTTP 400) to llm.example"),
        (401, "AuthenticationError", "authentication failed (HTTP 401): llm.example rejected"),
        (403, "PermissionDeniedError", "permission denied (HTTP 403) by llm.example"),
        (404, "NotFoundError", "not found (HTTP 404): llm.example has no model 'm'"),
        (422, "UnprocessableEntityError", "bad request (HTTP 422) to llm.example"),
        (429, "RateLimitError", "rate limited (HTTP 429) by llm.example after 1 retries"),
        (500, "InternalServerError", "server error (HTTP 500) from llm.example after 1 retries"),
        (418, "APIStatusError", "HTTP 418 from llm.example"),
    ],
)
def test_shared_mode_gives_status_and_error_type_only(status, error_type, start):
    exc = status_error(status)
    assert SERVER_SECRET in describe(exc)[1]  # echoed by default, as before
    got_type, message = hidden(exc)
    assert got_type == error_type
    assert message.startswith(start)
    assert message.endswith(HIDDEN)
    assert SERVER_SECRET not in message and "abc123" not in message


def test_shared_mode_shows_a_numeric_retry_after_only():
    assert (
        "the server asked to wait 7s (Retry-After)"
        in hidden(status_error(429, {"retry-after": "7"}))[1]
    )
    message = hidden(status_error(429, {"retry-after": SERVER_SECRET}))[1]
    assert "Retry-After" not in message and SERVER_SECRET not in message


def test_shared_mode_hides_what_a_malformed_or_unclassified_answer_said():
    from seedscope.providers.openai_errors import MalformedResponseError

    error_type, message = hidden(
        MalformedResponseError(f"no choices in the response: {SERVER_SECRET}")
    )
    assert (error_type, message) == (
        "MalformedResponseError",
        "malformed response from llm.example; what it sent is not shown in shared mode",
    )
    error_type, message = hidden(RuntimeError(SERVER_SECRET))
    assert (error_type, message) == (
        "RuntimeError",
        "RuntimeError; the details are not shown in shared mode",
    )


def test_a_guard_refusal_is_reported_with_its_rule_even_when_wrapped():
    import httpx2
    import openai
    from seedscope.net_guard import RefusedURL

    refusal = RefusedURL(
        "request to http://127.0.0.1:9/v1/chat/completions refused: 127.0.0.1 is a loopback "
        "address (shared mode allows only SEEDSCOPE_ALLOWED_BASE_URLS)"
    )
    assert hidden(refusal) == ("RefusedURL", str(refusal))
    try:
        try:
            raise refusal
        except RefusedURL as inner:
            request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
            raise openai.APIConnectionError(request=request) from inner
    except openai.APIConnectionError as wrapped:
        assert describe(wrapped) == ("RefusedURL", str(refusal))

"""The OpenAI-compatible provider against real HTTP servers on 127.0.0.1: the project's
fault-injecting test server and llama-cpp-python's own OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import openai
import pytest
from seedscope.providers.base import CompletionRequest
from seedscope.providers.factory import ProviderConfigError, make_provider
from seedscope.providers.openai_compat import ModelListError, OpenAICompatProvider, _read_answer
from seedscope.providers.openai_errors import CHAT, describe_openai_error
from seedscope.settings import Settings

from tests.helpers import free_port

SECRET = "sk-never-show-this-0123456789"


def request(seed: int | None = 42, temperature: float = 0.7, **changes) -> CompletionRequest:
    values = {
        "arm_label": "arm",
        "run_index": 0,
        "prompt": "Tell me about Mars.",
        "system": "You are a helpful assistant.",
        "model": "fake-model",
        "seed": seed,
        "temperature": temperature,
        "top_p": 0.9,
        "max_tokens": 12,
    }
    values.update(changes)
    return CompletionRequest(**values)


def complete(provider: OpenAICompatProvider, req: CompletionRequest):
    return asyncio.run(provider.complete(req))


def provider_for(server, **kw) -> OpenAICompatProvider:
    options = {"api_key": None, "base_url": server.base_url, "model": "fake-model"}
    options.update(kw)
    return OpenAICompatProvider(**options)


def test_success_records_what_the_server_sent(fake_server_factory):
    server = fake_server_factory("--fingerprint", "fp_custom_42")
    completion = complete(provider_for(server), request(seed=42))
    assert completion.ok, completion.error_message
    assert completion.text
    assert completion.system_fingerprint == "fp_custom_42"
    assert (completion.requested_seed, completion.effective_seed) == (42, 42)
    assert completion.completion_tokens == len(completion.text.rstrip(".").split())
    sent_words = " ".join([request().system, request().prompt]).split()
    assert completion.prompt_tokens == len(sent_words)  # the fake server counts words
    assert completion.finish_reason in {"stop", "length"}
    assert (completion.provider, completion.model) == ("openai", "fake-model")
    assert completion.base_url_host == f"127.0.0.1:{server.port}"  # who answered
    assert completion.latency_s > 0
    sent = server.stats()["chat_log"][0]
    assert sent.pop("arrived") > 0
    assert sent.pop("in_flight_peak") == 1  # the server's load log (the load probe reads it)
    assert sent == {
        "model": "fake-model",
        "seed": 42,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 12,
        "logprobs": None,  # not asked for
        "top_logprobs": None,
        "user": "Tell me about Mars.",
    }


def test_missing_fingerprint_stays_none_and_unseeded_sends_no_seed(fake_server):
    fake_server.reset()
    completion = complete(provider_for(fake_server), request(seed=None))
    assert completion.ok
    assert completion.system_fingerprint is None
    assert completion.effective_seed is None  # the server does not say which seed it used
    assert fake_server.stats()["chat_log"][0]["seed"] is None


def test_html_in_output_is_kept_verbatim(fake_server_factory):
    server = fake_server_factory("--payload", "xss")
    completion = complete(provider_for(server), request())
    assert completion.text.startswith('<script>alert("xss")</script>')


@pytest.mark.parametrize(
    ("model", "error_type", "fragments"),
    [
        ("fault-429", "RateLimitError", ["rate limited (HTTP 429)", "Retry-After", "retries"]),
        (
            "fault-500",
            "InternalServerError",
            ["server error (HTTP 500)", "processing your request"],
        ),
        ("fault-drop", "APIConnectionError", ["connection failed", "OPENAI_BASE_URL"]),
        ("fault-malformed", "MalformedResponseError", ["malformed response"]),
        ("fault-nochoices", "MalformedResponseError", ["malformed response", "no choices"]),
        (
            "fault-400",
            "BadRequestError",
            ["bad request (HTTP 400)", "Invalid value for 'temperature'"],
        ),
        (
            "fault-401",
            "AuthenticationError",
            ["authentication failed (HTTP 401)", "OPENAI_API_KEY"],
        ),
        ("fault-403", "PermissionDeniedError", ["permission denied (HTTP 403)"]),
        ("fault-404", "NotFoundError", ["not found (HTTP 404)", "'fault-404'", "does not exist"]),
    ],
)
def test_each_fault_becomes_a_failed_run_with_a_reason(fake_server, model, error_type, fragments):
    provider = provider_for(fake_server, model=model, max_retries=0, api_key=SECRET)
    completion = complete(provider, request(model=model, seed=7))
    assert not completion.ok
    assert completion.text == ""
    assert completion.error_type == error_type
    for fragment in fragments:
        assert fragment in completion.error_message, completion.error_message
    assert SECRET not in completion.error_message
    assert (completion.arm_label, completion.run_index, completion.effective_seed) == ("arm", 0, 7)


class RecordingHandler(BaseHTTPRequestHandler):
    """Records each request's headers and body; answers one fixed chat completion."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - stdlib signature
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        answer = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


def test_the_request_is_the_one_the_sdks_chat_create_sends():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        for seed in (42, None):
            RecordingHandler.seen.clear()
            req = request(seed=seed)
            provider = OpenAICompatProvider(api_key=SECRET, base_url=base_url, model="fake-model")
            assert complete(provider, req).text == "hi"

            async def through_create(req=req):
                client = openai.AsyncOpenAI(api_key=SECRET, base_url=base_url)
                extra = {} if req.seed is None else {"seed": req.seed}
                await client.chat.completions.create(
                    model=req.model,
                    messages=req.chat_messages(),
                    temperature=req.temperature,
                    top_p=req.top_p,
                    max_tokens=req.max_tokens,
                    **extra,
                )
                await client.close()

            asyncio.run(through_create())
            (ours, our_body), (sdks, sdk_body) = RecordingHandler.seen
            assert our_body == sdk_body  # byte for byte, key order included
            per_call = {"x-stainless-retry-count", "idempotency-key", "x-stainless-read-timeout"}
            assert {k: v for k, v in ours.items() if k not in per_call} == {
                k: v for k, v in sdks.items() if k not in per_call
            }
            assert ours["authorization"] == f"Bearer {SECRET}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"<html>Please log in</html>", "text/html", "no choices in the response: '<html>Please"),
        (b'{"choices": [{"mess', "application/json", "Unterminated string"),
        (b"", "application/json", "Expecting value"),
        (b'{"choices": []}', "application/json", "no choices in the response"),
        (b"null", "application/json", "no choices in the response: None"),
        (b'{"choices": [{"message": {"content": [1]}}]}', "application/json", "is not text: [1]"),
    ],
)
def test_a_broken_answer_is_a_malformed_response(body, content_type, fragment):
    response = httpx2.Response(200, content=body, headers={"content-type": content_type})
    with pytest.raises(Exception) as caught:
        _read_answer(response)
    error_type, message = describe_openai_error(
        caught.value, endpoint=CHAT, host="h", model="m", timeout=1, max_retries=0, api_key=None
    )
    assert error_type == "MalformedResponseError"
    assert fragment in message, message


def test_odd_but_readable_answers_read_as_the_sdk_models_did():
    def read(answer: object) -> tuple[str, str | None]:
        _, text, finish_reason, _ = _read_answer(httpx2.Response(200, json=answer))
        return text, finish_reason

    assert read({"choices": [{"message": {"content": None}, "finish_reason": None}]}) == ("", None)
    assert read({"choices": ["not an object"]}) == ("", None)
    assert read({"choices": [{"message": "x", "finish_reason": 1}]}) == ("", "1")


def test_timeout_is_reported_with_the_setting(fake_server_factory):
    server = fake_server_factory("--fault-rate", "1", "--faults", "timeout", "--hang", "5")
    provider = provider_for(server, timeout=0.5, max_retries=0)
    completion = complete(provider, request())
    assert completion.error_type == "APITimeoutError"
    assert "timed out" in completion.error_message
    assert "0.5s (OPENAI_TIMEOUT)" in completion.error_message


def test_nothing_listening_is_a_connection_failure():
    provider = OpenAICompatProvider(
        api_key=None, base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0
    )
    completion = complete(provider, request())
    assert completion.error_type == "APIConnectionError"
    assert "could not reach 127.0.0.1" in completion.error_message


def test_sdk_retries_are_the_only_retries(fake_server_factory):
    server = fake_server_factory("--retry-after", "0.05")
    failed = complete(provider_for(server, max_retries=2), request(model="fault-429"))
    assert failed.error_type == "RateLimitError"
    assert "after 2 retries" in failed.error_message
    assert "wait 0.05s" in failed.error_message
    assert server.stats()["requests"]["chat"] == 3  # 1 call + 2 SDK retries, nothing more
    server.reset()
    complete(provider_for(server, max_retries=0), request(model="fault-500"))
    assert server.stats()["requests"]["chat"] == 1


def test_wrong_key_is_rejected_and_never_shown(fake_server_factory):
    server = fake_server_factory("--api-key", "right-key")
    provider = provider_for(server, api_key=SECRET, max_retries=0)
    completion = complete(provider, request())
    assert completion.error_type == "AuthenticationError"
    assert SECRET not in completion.error_message
    assert SECRET not in repr(provider)
    assert complete(provider_for(server, api_key="right-key"), request()).ok


def test_list_models(fake_server_factory):
    server = fake_server_factory("--models", "b-model,a-model")
    assert provider_for(server).list_models() == ["a-model", "b-model"]
    without = fake_server_factory("--no-models")
    with pytest.raises(ModelListError, match="does not offer a model list"):
        provider_for(without).list_models()
    nobody = OpenAICompatProvider(None, f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    with pytest.raises(ModelListError, match="could not list models: connection failed"):
        nobody.list_models()


def test_provider_needs_a_key_or_a_base_url():
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAICompatProvider(api_key=None, base_url=None)


def test_factory_builds_from_settings(fake_server):
    settings = Settings(openai_base_url=fake_server.base_url, openai_model="fake-model")
    provider = make_provider(settings, "openai")
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.model, provider.base_url_host) == (
        "fake-model",
        f"127.0.0.1:{fake_server.port}",
    )
    other = make_provider(settings, "openai", model="other", base_url="http://127.0.0.1:1/v1")
    assert (other.model, other.base_url_host) == ("other", "127.0.0.1:1")
    remote = make_provider(Settings(openai_api_key=SECRET), "openai")
    assert remote.base_url_host == "api.openai.com"
    assert SECRET not in repr(remote)


@pytest.mark.parametrize(
    ("settings", "provider", "base_url", "fragment"),
    [
        (Settings(), "openai", None, "not configured: set OPENAI_API_KEY"),
        (Settings(), "bedrock", None, "provider 'bedrock' is unknown; choose one of local, openai"),
        (Settings(allowed_providers=("local",)), "openai", None, "disabled on this deployment"),
        (
            Settings(openai_base_url="http://127.0.0.1:9/v1", lock_base_url=True),
            "openai",
            "http://127.0.0.2:9/v1",
            "base URL is fixed",
        ),
    ],
)
def test_factory_refuses_with_a_clear_message(settings, provider, base_url, fragment):
    with pytest.raises(ProviderConfigError) as caught:
        make_provider(settings, provider, base_url=base_url)
    assert isinstance(caught.value, ValueError)
    assert fragment in str(caught.value)


# --- llama-cpp-python's own OpenAI-compatible server ---------------------------------------


def test_llama_cpp_server_round_trip(llama_server):
    provider = OpenAICompatProvider(api_key=None, base_url=llama_server, model="local-gguf")
    models = provider.list_models()
    assert len(models) == 1
    seeded = [
        complete(provider, request(seed=123, temperature=0.7, model=models[0], run_index=i))
        for i in range(3)
    ]
    for completion in seeded:
        assert completion.ok, completion.error_message
        assert completion.text
        assert completion.system_fingerprint is None  # llama-cpp-python reports none
        assert completion.completion_tokens and completion.completion_tokens <= 12
        assert completion.prompt_tokens and completion.prompt_tokens > 5
    assert len({c.text for c in seeded}) == 1

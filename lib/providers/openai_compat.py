"""OpenAI and any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio).

Chat Completions through the official SDK's `AsyncOpenAI`. Retries are the SDK's own
(`max_retries`, honouring `Retry-After`); there is no second retry layer here.

Calls go through the SDK's generic `post` (its retries, timeouts, auth headers and error types)
with a plain JSON body, and the JSON answer is read here: `chat.completions.create` walks its
typed-dict schema for every request and builds pydantic models for every response, over a
third of the client's CPU per call, and that CPU is what limits a large batch on one event loop.

- `system_fingerprint` is recorded exactly as the server reports it; None stays None.
- The effective seed of a remote run is the seed that was sent (None when unseeded: the server
  does not say which seed it used).
- Every exception becomes a failed Completion with a readable reason; the API key never
  appears in a message or in `repr`.
- Servers on your own machine usually need no key: when a base URL is set and no key is
  configured, the placeholder key "not-needed" is sent (the SDK refuses to start without one).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import weakref
from typing import Any

import httpx2
import openai
from seedscope.net_guard import GuardPolicy, guarded_async_client, guarded_client
from seedscope.providers.base import (
    Completion,
    CompletionRequest,
    completion_for,
    failed_completion,
    utc_now,
)
from seedscope.providers.openai_errors import (
    CHAT,
    DEFAULT_HOST,
    PLACEHOLDER_API_KEY,
    MalformedResponseError,
    describe_openai_error,
    shorten,
)
from seedscope.settings import Settings, base_url_host
from seedscope.tokens.trace import TokenTrace, trace_from_chat_logprobs

_CHAT_PATH = "/chat/completions"
# What `chat.completions.create` asks for: the API key as a bearer token (the SDK's default
# would also add an admin key's header when one is configured).
_CHAT_OPTIONS: openai.RequestOptions = {"security": {"bearer_auth": True}}


class ModelListError(RuntimeError):
    """The server's model list could not be read; the message says why."""


class OpenAICompatProvider:
    """Chat completions from an OpenAI-compatible HTTP API."""

    name = "openai"
    max_concurrency: int | None = None  # the runner's own bound applies

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        timeout: float = 60.0,
        max_retries: int = 2,
        base_url_origin: str | None = None,
        guard: GuardPolicy | None = None,
        echo_error_body: bool = True,
    ) -> None:
        """`base_url_origin`: where `base_url` came from, for error messages, e.g. "given with
        --base-url" or "typed in the page"; None: the configured OPENAI_BASE_URL.
        `guard`: for a base URL a visitor typed, every request is checked (seedscope.net_guard)
        and redirects are not followed. `echo_error_body` False: a server's error text is never
        quoted (shared mode), only the status and error type."""
        if not api_key and not base_url:
            raise ValueError(
                "the openai backend needs OPENAI_API_KEY, or OPENAI_BASE_URL for a "
                "compatible server that needs no key"
            )
        self.model = model
        self.base_url = base_url
        self.base_url_origin = base_url_origin
        self.base_url_host = base_url_host(base_url) or DEFAULT_HOST
        self.timeout = timeout
        self.max_retries = max_retries
        self.__api_key = api_key or PLACEHOLDER_API_KEY  # private; never in repr or messages
        # One AsyncOpenAI per event loop: its connection pool is bound to the loop that made it,
        # and run_spec_sync makes a new loop for every run.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI]
        self._clients = weakref.WeakKeyDictionary()
        # Calls in flight per loop, so one run finishing never closes a client another run on
        # the same loop is still using. The lock guards both maps: Streamlit sessions share
        # this object from several threads.
        self._in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int]
        self._in_flight = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._sync_client: openai.OpenAI | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self.guard = guard
        self.echo_error_body = echo_error_body

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        model: str | None = None,
        base_url: str | None = None,
        *,
        base_url_origin: str | None = None,
        guard: GuardPolicy | None = None,
        echo_error_body: bool = True,
    ) -> OpenAICompatProvider:
        return cls(
            api_key=settings.openai_api_key,
            base_url=base_url or settings.openai_base_url,
            model=model or settings.openai_model,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            # Only a URL that really came from elsewhere is named as coming from there.
            base_url_origin=base_url_origin if base_url else None,
            guard=guard,
            echo_error_body=echo_error_body,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatProvider(model={self.model!r}, host={self.base_url_host!r})"

    def _client_options(self) -> dict[str, Any]:
        return {
            "api_key": self.__api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }

    def _async_client(self, loop: asyncio.AbstractEventLoop) -> openai.AsyncOpenAI:
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                if self._ssl_context is None:
                    # Loading the CA bundle costs ~50 ms; one context serves every loop's client.
                    self._ssl_context = httpx2.create_ssl_context()
                http_client = (
                    guarded_async_client(self.guard, verify=self._ssl_context)
                    if self.guard is not None
                    else openai.DefaultAsyncHttpxClient(verify=self._ssl_context)
                )
                client = openai.AsyncOpenAI(**self._client_options(), http_client=http_client)
                self._clients[loop] = client
            return client

    async def aclose(self) -> None:
        """Close the running loop's HTTP connections unless calls are still in flight on it.

        The runner calls this when a run ends; the next run on the loop opens a new client.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._in_flight.get(loop, 0):
                return
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.close()

    def _track(self, loop: asyncio.AbstractEventLoop, change: int) -> None:
        with self._lock:
            self._in_flight[loop] = self._in_flight.get(loop, 0) + change

    # --- generation -----------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Completion:
        # The very body `chat.completions.create` sends for these arguments (same keys, same
        # order): every value is plain JSON already, so its schema transform changes nothing.
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": request.chat_messages(),
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        params["temperature"] = request.temperature
        params["top_p"] = request.top_p
        if request.top_logprobs is not None:
            params["logprobs"] = True
            params["top_logprobs"] = request.top_logprobs
        loop = asyncio.get_running_loop()
        self._track(loop, +1)
        started_at = utc_now()
        start = time.perf_counter()
        try:
            response = await self._async_client(loop).post(
                _CHAT_PATH, body=params, cast_to=httpx2.Response, options=_CHAT_OPTIONS
            )
            answer, text, finish_reason, tokens = _read_answer(response)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded run
            error_type, message = self.describe_error(exc, model=params["model"])
            return failed_completion(
                request,
                provider=self.name,
                model=params["model"],
                started_at=started_at,
                latency_s=time.perf_counter() - start,
                error_type=error_type,
                error_message=message,
                effective_seed=request.seed,
                base_url_host=self.base_url_host,
            )
        finally:
            self._track(loop, -1)
        latency = time.perf_counter() - start
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        fingerprint = answer.get("system_fingerprint")
        return completion_for(
            request,
            provider=self.name,
            model=params["model"],
            text=text,
            system_fingerprint=None if fingerprint is None else str(fingerprint),
            effective_seed=request.seed,
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            latency_s=latency,
            finish_reason=finish_reason,
            started_at=started_at,
            # A server that ignores the request for logprobs gives none: tokens stay unknown.
            tokens=tokens if request.top_logprobs is not None else None,
            base_url_host=self.base_url_host,
        )

    # --- models ---------------------------------------------------------------------------

    def list_models(self) -> list[str]:
        """Model ids from the server's `/v1/models`; ModelListError says why when it can't."""
        if self._sync_client is None:
            # The model list is fetched while a visitor types: a typed URL is guarded here too.
            http_client = guarded_client(self.guard) if self.guard is not None else None
            self._sync_client = openai.OpenAI(**self._client_options(), http_client=http_client)
        try:
            page = self._sync_client.models.list()
            return sorted(str(model.id) for model in page.data)
        except openai.NotFoundError:
            raise ModelListError(
                f"{self.base_url_host} does not offer a model list (/v1/models); "
                "type the model name instead"
            ) from None
        except Exception as exc:  # noqa: BLE001 - reported, never a traceback in the page
            _, message = self.describe_error(exc, model=None)
            raise ModelListError(f"could not list models: {message}") from None

    # --- errors ---------------------------------------------------------------------------

    def describe_error(self, exc: BaseException, model: str | None) -> tuple[str, str]:
        """(error class, readable reason) for an exception from a call; never includes the key."""
        return describe_openai_error(
            exc,
            endpoint=CHAT,
            host=self.base_url_host,
            model=model,
            timeout=self.timeout,
            max_retries=self.max_retries,
            api_key=self.__api_key,
            base_url=self.base_url,
            base_url_origin=self.base_url_origin,
            echo_body=self.echo_error_body,
        )


def _read_answer(
    response: httpx2.Response,
) -> tuple[dict[str, Any], str, str | None, TokenTrace | None]:
    """(the JSON answer, text, finish reason and token trace of its first choice) of a 200
    answer (the SDK raised for error statuses already); MalformedResponseError or
    json.JSONDecodeError as the SDK's own parsing reported a broken answer."""
    try:
        answer = response.json()
    except ValueError:
        if response.headers.get("content-type", "").split(";")[0].endswith("json"):
            raise
        answer = response.text  # the SDK returned the text of a body that is not JSON
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices:
        raise MalformedResponseError(f"no choices in the response: {shorten(repr(answer))}")
    # An entry or message that is not an object reads as empty, as the SDK's models did.
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise MalformedResponseError(f"message content is not text: {shorten(repr(content))}")
    finish_reason = choice.get("finish_reason")
    logprobs = choice.get("logprobs")
    tokens = (
        trace_from_chat_logprobs(logprobs.get("content")) if isinstance(logprobs, dict) else None
    )
    return answer, content or "", None if finish_reason is None else str(finish_reason), tokens


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None

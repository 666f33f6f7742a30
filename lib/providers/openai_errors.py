"""Readable reasons for failed calls to an OpenAI-compatible API, and the API key kept out of them.

The chat provider (`openai_compat.py`) and the embedder (`lib/embeddings/`) share this one
classification of the openai SDK's exceptions and this one place that masks the key, so both
say the same thing the same way and neither can leak the key into a stored run or a page.

In shared mode a typed server's own words are not echoed (`echo_body=False`): a server the
visitor chose could be an internal service whose error text carries secrets, so a reason then
gives the status, the error type and Seedscope's own advice only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import openai
from pydantic import ValidationError
from seedscope.net_guard import RefusedURL
from seedscope.net_guard import url_for_messages as url_for_messages  # one definition, shared

# Servers on your own machine usually need no key, but the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"
DEFAULT_HOST = "api.openai.com"
HIDDEN_BODY = "the server's message is not shown in shared mode"


class MalformedResponseError(RuntimeError):
    """The server answered 200 with something that is not the expected response."""


@dataclass(frozen=True)
class Endpoint:
    """What a reason says differently for each API: what a 404 was missing, how to back off."""

    model_kind: str  # "model", "embedding model"
    api_name: str  # "Chat Completions", "Embeddings"
    model_hint: str  # where the user sets the model
    rate_limit_advice: str


CHAT = Endpoint(
    model_kind="model",
    api_name="Chat Completions",
    model_hint="the model name",
    rate_limit_advice="lower the concurrency or try again later",
)
EMBEDDINGS = Endpoint(
    model_kind="embedding model",
    api_name="Embeddings",
    model_hint="OPENAI_EMBEDDING_MODEL",
    rate_limit_advice="try again later",
)

_MALFORMED = (
    openai.APIResponseValidationError,
    json.JSONDecodeError,
    MalformedResponseError,
    ValidationError,
)


def shorten(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters (server messages can be long and multi-line)."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact_api_key(text: str, api_key: str | None) -> str:
    """`text` with every occurrence of the key masked (the placeholder is not a secret)."""
    if api_key and api_key != PLACEHOLDER_API_KEY:
        return text.replace(api_key, "***")
    return text


def base_url_advice(base_url: str | None, origin: str | None) -> str:
    """Where to look for a wrong base URL: where it came from, and what it was.

    `origin` is a short phrase such as "given with --base-url" or "typed in the page";
    None means it is the configured OPENAI_BASE_URL (or, unset, api.openai.com).
    """
    if origin:
        shown = f" ({url_for_messages(base_url)})" if base_url else ""
        return f"the base URL {origin}{shown}"
    if base_url:
        return f"OPENAI_BASE_URL ({url_for_messages(base_url)})"
    return "OPENAI_BASE_URL"


def _server_detail(exc: BaseException) -> str:
    """The server's own error message (the SDK puts the JSON `error` object in `body`)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return shorten(body["message"])
    return shorten(str(getattr(exc, "message", exc)))


def _refusal(exc: BaseException) -> RefusedURL | None:
    """The guard's refusal behind `exc` (itself, or what it was raised from), if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, RefusedURL):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_openai_error(
    exc: BaseException,
    *,
    endpoint: Endpoint,
    host: str,
    model: str | None,
    timeout: float,
    max_retries: int,
    api_key: str | None,
    base_url: str | None = None,
    base_url_origin: str | None = None,
    echo_body: bool = True,
) -> tuple[str, str]:
    """(error class, one readable line: what went wrong and what to do), the key masked.

    `base_url` / `base_url_origin`: see base_url_advice; they name the URL to check.
    `echo_body=False` (shared mode, a typed server): nothing the server wrote is quoted (no
    error message, no response text, no header text); status, error type and advice remain.
    A request the SSRF guard refused is reported with the guard's rule.
    """
    refusal = _refusal(exc)
    if refusal is not None:
        return "RefusedURL", redact_api_key(shorten(str(refusal)), api_key)
    check_url = base_url_advice(base_url, base_url_origin)
    retries = f"after {max_retries} retries (OPENAI_MAX_RETRIES)"
    detail = _server_detail(exc)
    said = f". Server said: {detail}" if echo_body else f"; {HIDDEN_BODY}"
    error_type = type(exc).__name__
    if isinstance(exc, openai.APITimeoutError):
        message = (
            f"timed out: {host} did not answer within {timeout:g}s (OPENAI_TIMEOUT), {retries}"
        )
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = f" ({type(cause).__name__})" if cause else ""
        message = (
            f"connection failed: could not reach {host}{reason}, {retries}; check "
            f"{check_url} and that the server is running"
        )
    elif isinstance(exc, openai.AuthenticationError):
        message = (
            f"authentication failed (HTTP 401): {host} rejected the API key; check "
            f"OPENAI_API_KEY{said}"
        )
    elif isinstance(exc, openai.PermissionDeniedError):
        message = f"permission denied (HTTP 403) by {host}{said}"
    elif isinstance(exc, openai.RateLimitError):
        wait = exc.response.headers.get("retry-after")
        if not echo_body and not re.fullmatch(r"\d{1,6}(\.\d{1,3})?", wait or ""):
            wait = None  # a header is server text too: only a number is shown
        asked = f"; the server asked to wait {wait}s (Retry-After)" if wait else ""
        message = (
            f"rate limited (HTTP 429) by {host} {retries}{asked}; "
            f"{endpoint.rate_limit_advice}{said}"
        )
    elif isinstance(exc, openai.NotFoundError):
        message = (
            f"not found (HTTP 404): {host} has no {endpoint.model_kind} {model!r} or no "
            f"{endpoint.api_name} endpoint; check {endpoint.model_hint} and {check_url}{said}"
        )
    elif isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        message = (
            f"bad request (HTTP {exc.status_code}): {detail}"
            if echo_body
            else f"bad request (HTTP {exc.status_code}) to {host}; {HIDDEN_BODY}"
        )
    elif isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        message = (
            f"server error (HTTP {exc.status_code}) from {host} {retries}: {detail}"
            if echo_body
            else f"server error (HTTP {exc.status_code}) from {host} {retries}; {HIDDEN_BODY}"
        )
    elif isinstance(exc, openai.APIStatusError):
        message = (
            f"HTTP {exc.status_code} from {host}: {detail}"
            if echo_body
            else f"HTTP {exc.status_code} from {host}; {HIDDEN_BODY}"
        )
    elif isinstance(exc, _MALFORMED):
        error_type = "MalformedResponseError"
        message = (
            f"malformed response from {host}: {shorten(str(exc))}"
            if echo_body
            else f"malformed response from {host}; what it sent is not shown in shared mode"
        )
    else:
        message = (
            f"{error_type}: {shorten(str(exc))}"
            if echo_body
            else f"{error_type}; the details are not shown in shared mode"
        )
    return error_type, redact_api_key(message, api_key)

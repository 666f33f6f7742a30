"""The Provider protocol and the records that flow through Seedscope.

One `CompletionRequest` in, one `Completion` out, per run. A failed call is still a
`Completion`: empty text, with the error class and a readable message, so no run is lost.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from seedscope.tokens.trace import TokenTrace


@dataclass(frozen=True)
class CompletionRequest:
    arm_label: str
    run_index: int
    prompt: str
    system: str
    model: str
    seed: int | None
    temperature: float
    top_p: float
    max_tokens: int
    case_id: str | None = None  # the suite case this request belongs to; None outside suites
    top_logprobs: int | None = None  # capture logprobs with this many alternatives; None: no

    def chat_messages(self) -> list[dict[str, str]]:
        """The Chat Completions messages: the system message (unless blank), then the prompt."""
        messages = []
        if self.system.strip():
            messages.append({"role": "system", "content": self.system})
        messages.append({"role": "user", "content": self.prompt})
        return messages


def request_key(
    *,
    provider: str,
    base_url_host: str | None,
    model: str,
    prompt: str,
    system: str,
    seed: int | None,
    temperature: float,
    top_p: float,
    max_tokens: int,
    top_logprobs: int | None = None,
) -> str:
    """Identity of a fixed request: runs with equal keys should give equal text when seeded.

    The backend host is part of it: two servers with the same model name are different
    backends. Asking for logprobs is too (it can change the output, and the embedded model
    computes them on a load of its own); it is appended only when asked, so the keys of every
    other request stay as they were. Keep in step with the frozen copy in
    store/migrations/versions/0002.
    """
    fields = [
        provider,
        base_url_host,
        model,
        clean_text(prompt),
        clean_text(system),
        seed,
        float(temperature),
        float(top_p),
        int(max_tokens),
    ]
    if top_logprobs is not None:
        fields.append(["top_logprobs", int(top_logprobs)])
    encoded = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def clean_text(value: str) -> str:
    """Text that every database can store: NUL and lone surrogates become U+FFFD.

    Model output and error messages are untrusted; PostgreSQL rejects NUL in text and no
    driver can encode a lone surrogate (which JSON escapes like "\\ud800" produce). Without
    this, such a run would fail to save and be lost.
    """
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


@dataclass(frozen=True)
class Completion:
    arm_label: str
    run_index: int
    text: str
    system_fingerprint: str | None  # exactly as reported; None when the backend reports none
    requested_seed: int | None
    effective_seed: int | None  # the seed actually used (drawn per call for unseeded local runs)
    temperature: float
    top_p: float
    max_tokens: int
    provider: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    finish_reason: str | None
    started_at: datetime
    error_type: str | None = None
    error_message: str | None = None
    case_id: str | None = None  # the suite case of the run; None for a plain experiment
    tokens: TokenTrace | None = None  # the generated tokens, when the backend reported them
    # The host of the server that answered (None: the embedded model, or not recorded: a run
    # built before arms could have backends of their own takes its experiment's host).
    base_url_host: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["tokens"] = None if self.tokens is None else self.tokens.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        started = values["started_at"]
        if isinstance(started, str):
            values["started_at"] = datetime.fromisoformat(started)
        if isinstance(values.get("tokens"), dict):
            values["tokens"] = TokenTrace.from_dict(values["tokens"])
        return cls(**values)

    def with_changes(self, **changes: Any) -> Completion:
        return replace(self, **changes)


def utc_now() -> datetime:
    return datetime.now(UTC)


def completion_for(
    request: CompletionRequest,
    *,
    provider: str,
    model: str,
    text: str,
    system_fingerprint: str | None,
    effective_seed: int | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    latency_s: float,
    finish_reason: str | None,
    started_at: datetime,
    error_type: str | None = None,
    error_message: str | None = None,
    tokens: TokenTrace | None = None,
    base_url_host: str | None = None,
) -> Completion:
    """The record of one call for `request`; the fields the request fixes are copied from it."""
    return Completion(
        arm_label=request.arm_label,
        run_index=request.run_index,
        text=text,
        system_fingerprint=system_fingerprint,
        requested_seed=request.seed,
        effective_seed=effective_seed,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
        provider=provider,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency_s,
        finish_reason=finish_reason,
        started_at=started_at,
        error_type=error_type,
        error_message=error_message,
        case_id=request.case_id,
        tokens=tokens,
        base_url_host=base_url_host,
    )


def failed_completion(
    request: CompletionRequest,
    *,
    provider: str,
    model: str,
    started_at: datetime,
    latency_s: float,
    error_type: str,
    error_message: str,
    effective_seed: int | None = None,
    base_url_host: str | None = None,
) -> Completion:
    """The record of a call that did not produce text."""
    return completion_for(
        request,
        provider=provider,
        model=model,
        text="",
        system_fingerprint=None,
        effective_seed=effective_seed,
        prompt_tokens=None,
        completion_tokens=None,
        latency_s=latency_s,
        finish_reason=None,
        started_at=started_at,
        error_type=error_type,
        error_message=error_message,
        base_url_host=base_url_host,
    )


@runtime_checkable
class Provider(Protocol):
    """A backend that answers chat completion requests.

    `name` is "local" or "openai"; `max_concurrency` caps parallel calls (for the embedded
    model, its number of worker processes: 1 by default, serialised by a lock). `complete`
    never raises for a failed call: it returns a failed Completion with the reason.
    """

    name: str
    model: str
    max_concurrency: int | None
    base_url_host: str | None

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def list_models(self) -> list[str]: ...

"""Configuration from environment variables and `.streamlit/secrets.toml`.

Environment variables win over the secrets file. The API key is held in memory only:
it is excluded from `repr` and never written to the database, an export, a log or the page.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_SECRETS_PATH = Path(".streamlit/secrets.toml")
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_OPENAI_MODEL
    openai_embedding_model: str = "text-embedding-3-small"
    openai_timeout: float = 60.0
    openai_max_retries: int = 2
    max_runs_per_arm: int = 100
    max_tokens_limit: int = 1024
    max_prompt_chars: int = 8000
    remote_concurrency: int = 8
    local_model_path: str | None = None
    local_n_ctx: int = 2048
    local_n_batch: int = 512
    # One thread: on a 2-core box shared with Streamlit, the embedder or a browser, llama.cpp's
    # spinning worker threads made 2 threads several times slower than 1 (see bench/).
    local_n_threads: int = 1
    database_url: str | None = None
    # Worst-case completion tokens above which a paid backend needs a confirmation.
    cost_confirm_tokens: int = 20000
    # Deployments can lock which backends visitors may use and the base URL they go to.
    allowed_providers: tuple[str, ...] = ("local", "openai")
    lock_base_url: bool = False

    @property
    def openai_configured(self) -> bool:
        """A remote backend is usable with a key, or with a base URL (local servers need none)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def base_url_host(self) -> str | None:
        return base_url_host(self.openai_base_url)


def base_url_host(url: str | None) -> str | None:
    """Host (and port) of a base URL: safe to store and show, unlike the full URL's userinfo."""
    if not url:
        return None
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return f"{host}:{parsed.port}" if parsed.port else host


_FIELDS: dict[str, tuple[str, type]] = {
    "OPENAI_API_KEY": ("openai_api_key", str),
    "OPENAI_BASE_URL": ("openai_base_url", str),
    "OPENAI_MODEL": ("openai_model", str),
    "OPENAI_EMBEDDING_MODEL": ("openai_embedding_model", str),
    "OPENAI_TIMEOUT": ("openai_timeout", float),
    "OPENAI_MAX_RETRIES": ("openai_max_retries", int),
    "SEEDSCOPE_MAX_RUNS_PER_ARM": ("max_runs_per_arm", int),
    "SEEDSCOPE_MAX_TOKENS": ("max_tokens_limit", int),
    "SEEDSCOPE_MAX_PROMPT_CHARS": ("max_prompt_chars", int),
    "SEEDSCOPE_REMOTE_CONCURRENCY": ("remote_concurrency", int),
    "SEEDSCOPE_MODEL_PATH": ("local_model_path", str),
    "SEEDSCOPE_N_CTX": ("local_n_ctx", int),
    "SEEDSCOPE_N_BATCH": ("local_n_batch", int),
    "SEEDSCOPE_N_THREADS": ("local_n_threads", int),
    "SEEDSCOPE_DATABASE_URL": ("database_url", str),
    "SEEDSCOPE_COST_CONFIRM_TOKENS": ("cost_confirm_tokens", int),
    "SEEDSCOPE_ALLOWED_PROVIDERS": ("allowed_providers", tuple),
    "SEEDSCOPE_LOCK_BASE_URL": ("lock_base_url", bool),
}

_POSITIVE = {
    "openai_timeout",
    "max_runs_per_arm",
    "max_tokens_limit",
    "max_prompt_chars",
    "remote_concurrency",
    "local_n_ctx",
    "local_n_batch",
    "local_n_threads",
}


def _convert(name: str, raw: object, kind: type) -> object:
    if kind is str:
        text = str(raw).strip()
        return text or None
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if kind is tuple:
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        values = tuple(str(item).strip() for item in items if str(item).strip())
        unknown = [v for v in values if v not in ("local", "openai")]
        if unknown or not values:
            raise SettingsError(
                f"{name}={raw!r} is not valid: use a comma-separated list of 'local' and 'openai'"
            )
        return values
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def read_secrets_file(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None


def load_settings(
    env: Mapping[str, str] | None = None, secrets_path: Path | None = DEFAULT_SECRETS_PATH
) -> Settings:
    """Settings from `env` (default: os.environ) over the secrets file (if it exists)."""
    env = os.environ if env is None else env
    secrets = read_secrets_file(secrets_path) if secrets_path else {}
    values: dict[str, object] = {}
    for name, (attr, kind) in _FIELDS.items():
        raw = env.get(name, secrets.get(name))
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        value = _convert(name, raw, kind)
        if value is None:
            continue
        if attr in _POSITIVE and value <= 0:  # type: ignore[operator]
            raise SettingsError(f"{name}={raw!r} must be greater than 0")
        values[attr] = value
    if "openai_max_retries" in values and values["openai_max_retries"] < 0:  # type: ignore[operator]
        raise SettingsError("OPENAI_MAX_RETRIES must be 0 or more")
    return Settings(**values)

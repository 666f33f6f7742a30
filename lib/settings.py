"""Configuration from environment variables and `.streamlit/secrets.toml` (pydantic-settings).

Environment variables win over the secrets file; both use the same names (OPENAI_API_KEY,
SEEDSCOPE_MAX_TOKENS, ...). Other keys of the secrets file (e.g. an `[auth]` table) are ignored.
STREAMLIT_SERVER_ADDRESS (Streamlit's own variable, read for `shared_mode`) comes from the
environment only.
Every value is checked when loaded: a bad one raises SettingsError naming the variable, where it
came from and what is accepted. The API key is held in memory only: it is excluded from `repr`,
never quoted in a message and never written to the database, an export, a log or the page.

`Settings(...)` built directly reads nothing (tests and callers pass values by attribute name);
`load_settings()` is the one place that reads the environment and the secrets file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse, urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRETS_PATH = Path(".streamlit/secrets.toml")
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
KNOWN_PROVIDERS = ("local", "openai")
BOOLEAN_WORDS = "true/false, yes/no, on/off or 1/0"
# Each embedded-model worker process holds its own model load; past the cores they only compete.
MAX_LOCAL_WORKERS = 16
# Values never quoted back in a message: a key, or URLs that can carry a password.
_NEVER_QUOTED = {
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SEEDSCOPE_DATABASE_URL",
    "SEEDSCOPE_ALLOWED_BASE_URLS",
}
# Read from the environment only, never from the secrets file: Streamlit itself takes its
# server address from there (or from its own config), not from Seedscope's secrets.
_ENVIRONMENT_ONLY = {"STREAMLIT_SERVER_ADDRESS"}


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the setting."""


class Settings(BaseSettings):
    """Immutable, hashable configuration; each field's alias is its variable name."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        case_sensitive=True,
        validate_by_name=True,
        validate_by_alias=True,
        str_strip_whitespace=True,
    )

    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY", repr=False)
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field(DEFAULT_OPENAI_MODEL, alias="OPENAI_MODEL")
    openai_embedding_model: str = Field("text-embedding-3-small", alias="OPENAI_EMBEDDING_MODEL")
    openai_timeout: float = Field(60.0, alias="OPENAI_TIMEOUT", gt=0, allow_inf_nan=False)
    openai_max_retries: int = Field(2, alias="OPENAI_MAX_RETRIES", ge=0)
    max_runs_per_arm: int = Field(100, alias="SEEDSCOPE_MAX_RUNS_PER_ARM", gt=0)
    max_tokens_limit: int = Field(1024, alias="SEEDSCOPE_MAX_TOKENS", gt=0)
    max_prompt_chars: int = Field(8000, alias="SEEDSCOPE_MAX_PROMPT_CHARS", gt=0)
    max_cases: int = Field(1000, alias="SEEDSCOPE_MAX_CASES", gt=0)
    # cases x runs of every arm: 1,000 cases x the cookbook's 2 arms x 10 runs.
    max_suite_runs: int = Field(20000, alias="SEEDSCOPE_MAX_SUITE_RUNS", gt=0)
    remote_concurrency: int = Field(8, alias="SEEDSCOPE_REMOTE_CONCURRENCY", gt=0)
    local_model_path: str | None = Field(None, alias="SEEDSCOPE_MODEL_PATH")
    local_n_ctx: int = Field(2048, alias="SEEDSCOPE_N_CTX", gt=0)
    local_n_batch: int = Field(512, alias="SEEDSCOPE_N_BATCH", gt=0)
    # One thread: on a 2-core box shared with Streamlit, the embedder or a browser, llama.cpp's
    # spinning worker threads made 2 threads several times slower than 1 (see bench/).
    local_n_threads: int = Field(1, alias="SEEDSCOPE_N_THREADS", gt=0)
    # Worker processes for the embedded model, each with its own load (1: in this process).
    local_workers: int = Field(1, alias="SEEDSCOPE_LOCAL_WORKERS", ge=1, le=MAX_LOCAL_WORKERS)
    database_url: str | None = Field(None, alias="SEEDSCOPE_DATABASE_URL")
    # Worst-case completion tokens above which a paid backend needs a confirmation.
    cost_confirm_tokens: int = Field(20000, alias="SEEDSCOPE_COST_CONFIRM_TOKENS", ge=0)
    # Deployments can lock which backends visitors may use and the base URL they go to.
    # NoDecode: the environment gives "local,openai", not JSON.
    allowed_providers: Annotated[tuple[str, ...], NoDecode] = Field(
        KNOWN_PROVIDERS, alias="SEEDSCOPE_ALLOWED_PROVIDERS"
    )
    lock_base_url: bool = Field(False, alias="SEEDSCOPE_LOCK_BASE_URL")
    # Serving visitors: a base URL typed in the page must start with one of the allowed
    # prefixes (none: no typed base URL at all); see seedscope.net_guard.
    shared: bool = Field(False, alias="SEEDSCOPE_SHARED")
    allowed_base_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        (), alias="SEEDSCOPE_ALLOWED_BASE_URLS"
    )
    # Budgets for visitors (seedscope.budgets); unset: no limit.
    max_jobs_per_session: int | None = Field(None, alias="SEEDSCOPE_MAX_JOBS_PER_SESSION", gt=0)
    max_runs_per_hour: int | None = Field(None, alias="SEEDSCOPE_MAX_RUNS_PER_HOUR", gt=0)
    max_tokens_per_day: int | None = Field(None, alias="SEEDSCOPE_MAX_TOKENS_PER_DAY", gt=0)
    # The address Streamlit listens on, as its own environment variable sets it; a
    # non-loopback one switches shared mode on (see `shared_mode`).
    streamlit_server_address: str | None = Field(None, alias="STREAMLIT_SERVER_ADDRESS")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the values passed in: load_settings() gathers the environment and the file.
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        # `OPENAI_BASE_URL=` (or "  ") in a shell or a file means "not set": use the default.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("allowed_providers", mode="before")
    @classmethod
    def _provider_names(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("not a list")
        names = tuple(str(item).strip() for item in items if str(item).strip())
        if not names or any(name not in KNOWN_PROVIDERS for name in names):
            raise ValueError("not a list of providers")
        return names

    @field_validator("allowed_base_urls", mode="before")
    @classmethod
    def _base_url_prefixes(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("not a list")
        prefixes = tuple(str(item).strip() for item in items if str(item).strip())
        for number, prefix in enumerate(prefixes, start=1):
            problem = base_url_prefix_problem(prefix)
            if problem:
                raise ValueError(f"entry {number}: {problem}")
        return prefixes

    @property
    def shared_mode(self) -> bool:
        """Visitors other than the operator can reach the app: SEEDSCOPE_SHARED is on, or
        STREAMLIT_SERVER_ADDRESS is set to an address other than a loopback one."""
        address = self.streamlit_server_address
        return self.shared or (address is not None and not is_loopback_bind_address(address))

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


def is_loopback_bind_address(address: str) -> bool:
    """Whether a server listening on `address` is reachable from this machine only.

    "localhost" and loopback IPs (127.0.0.0/8, ::1, also IPv4-mapped) are; anything else is
    not: 0.0.0.0 and :: (every interface), a LAN address, or a host name.
    """
    text = address.strip().strip("[]").rstrip(".").lower()
    if text == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def base_url_prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot be an entry of SEEDSCOPE_ALLOWED_BASE_URLS (None: it can).

    An entry is an http(s) URL with a host and optionally a port and a path; no user info
    (it would be a password in a setting), no query and no fragment. The message shows the
    entry without anything that could carry a credential.
    """
    try:
        parts = urlsplit(prefix)
        port = parts.port
    except ValueError:
        return "not a URL, or its port is not a number"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL with a host"
    shown = f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}{parts.path}"
    if "@" in parts.netloc:
        return f"{shown} has user info (user:password@); leave it out"
    if parts.query or parts.fragment or prefix.endswith(("?", "#")):
        return f"{shown} has a query or fragment; give scheme, host, port and path only"
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return f"{shown} has . or .. in its path"
    return None


_VARIABLES = {field.alias for field in Settings.model_fields.values()}


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (os.environ or a test's)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name: value for name, value in self._env.items() if name in _VARIABLES}


class _SecretsFileSource(TomlConfigSettingsSource):
    """Top-level keys of the secrets file that are Seedscope settings; other tables are not ours."""

    def __call__(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in super().__call__().items()
            if name in _VARIABLES and name not in _ENVIRONMENT_ONLY
        }


def _describe(error: dict[str, Any]) -> str:
    """What is accepted, for one pydantic error about one setting."""
    kind = error["type"]
    context = error.get("ctx") or {}
    out_of_range = kind in {"greater_than_equal", "less_than_equal"}
    if out_of_range and error["loc"] and error["loc"][0] == "SEEDSCOPE_LOCAL_WORKERS":
        return (
            f"must be between 1 and {MAX_LOCAL_WORKERS}: each worker process loads its own "
            "copy of the embedded model, so use at most one per CPU core"
        )
    if kind == "bool_parsing" or kind == "bool_type":
        return f"is not a boolean; use {BOOLEAN_WORDS}"
    if kind in {"int_parsing", "int_from_float", "int_type"}:
        return "is not a whole number"
    if kind in {"float_parsing", "float_type", "finite_number"}:
        return "is not a number"
    if kind == "greater_than":
        return f"must be greater than {context.get('gt'):g}"
    if kind == "greater_than_equal":
        return f"must be {context.get('ge'):g} or more"
    if kind == "string_type":
        return "is not text; quote it in the secrets file"
    if error["loc"] and error["loc"][0] == "SEEDSCOPE_ALLOWED_PROVIDERS":
        return "is not valid: use a comma-separated list of 'local' and 'openai'"
    if error["loc"] and error["loc"][0] == "SEEDSCOPE_ALLOWED_BASE_URLS":
        reason = context.get("error")
        detail = f" ({reason})" if kind == "value_error" and reason else ""
        return (
            f"is not valid{detail}: use a comma-separated list of http(s) URL prefixes, "
            "e.g. https://llm.example.com/v1,http://10.0.0.5:8000/v1"
        )
    return f"is not valid ({error['msg']})"


def _default_hint(name: str) -> str:
    for field in Settings.model_fields.values():
        if field.alias == name and isinstance(field.default, int | float | bool):
            default = (
                str(field.default).lower() if isinstance(field.default, bool) else field.default
            )
            return f" (default {default})"
    return ""


def _settings_error(exc: ValidationError, origins: Mapping[str, str]) -> SettingsError:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        shown = name if name in _NEVER_QUOTED else f"{name}={error.get('input')!r}"
        origin = origins.get(name)
        where = f" (from {origin})" if origin else ""
        lines.append(f"{shown}{where} {_describe(error)}{_default_hint(name)}")
    return SettingsError("; ".join(lines))


def load_settings(
    env: Mapping[str, str] | None = None, secrets_path: Path | None = DEFAULT_SECRETS_PATH
) -> Settings:
    """Settings from `env` (default: os.environ) over the secrets file (if it exists)."""
    env_values = _MappingEnvSource(os.environ if env is None else env)()
    file_values: dict[str, Any] = {}
    if secrets_path is not None and Path(secrets_path).is_file():
        try:
            file_values = _SecretsFileSource(Settings, toml_file=Path(secrets_path))()
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{secrets_path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"{secrets_path} cannot be read: {exc.strerror}") from None
    origins = {name: str(secrets_path) for name in file_values}
    origins |= {name: "environment" for name in env_values}
    try:
        return Settings(**(file_values | env_values))
    except ValidationError as exc:
        raise _settings_error(exc, origins) from None

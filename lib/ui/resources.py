"""Heavy shared objects, created once per process at the UI edge.

`st.cache_resource` objects are shared by every session: the embedded model serialises its
generations with its own lock, the embedder is read-only, the store's SQLAlchemy engine is
thread-safe (each call checks a connection out of the pool), and the job manager (every
background generation of the process) guards its own state with locks. Settings are re-read
on every script run: cheap, and a change to the environment or secrets file shows up without a
restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from seedscope.settings import Settings, SettingsError, is_loopback_bind_address, load_settings

if TYPE_CHECKING:
    from seedscope.embeddings import Embedder
    from seedscope.jobs import JobManager
    from seedscope.providers.local import LocalProvider
    from seedscope.store import Store


class ResourceError(RuntimeError):
    """A shared object could not be created; the message says what to fix."""


def settings_or_stop() -> Settings:
    """Settings, or a short error with the fix and a stopped page. Shared mode is on whenever
    Streamlit listens on a non-loopback address, however that was set (its environment
    variable, config.toml or --server.address): then others can reach the page."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        st.error(
            f"Seedscope's configuration is not usable: {exc}. Fix the environment variable or "
            "`.streamlit/secrets.toml` and reload the page."
        )
        st.stop()
        raise  # unreachable: st.stop() raises
    address = settings.streamlit_server_address or st.get_option("server.address")
    if not settings.shared and not is_loopback_bind_address(address or "0.0.0.0"):
        settings = settings.model_copy(update={"shared": True})  # unset: every interface
    return settings


def _local_key(settings: Settings) -> tuple[object, ...]:
    # Only what changes the loaded model; never the API key.
    return (
        settings.local_model_path,
        settings.local_n_ctx,
        settings.local_n_batch,
        settings.local_n_threads,
        settings.local_workers,
    )


def _store_key(settings: Settings) -> tuple[object, ...]:
    return (settings.database_url,)


def _embedder_key(settings: Settings) -> tuple[object, ...]:
    return (settings.database_url, settings.openai_base_url, settings.openai_embedding_model)


@st.cache_resource(
    show_spinner="Loading the embedded model (first time only)…",
    hash_funcs={Settings: _local_key},
)
def _local_provider(settings: Settings) -> LocalProvider:
    from seedscope.providers.local import local_provider_from_settings

    return local_provider_from_settings(settings)


def local_provider(settings: Settings) -> LocalProvider:
    try:
        return _local_provider(settings)
    except Exception as exc:  # a missing or broken GGUF file must not show a traceback
        raise ResourceError(
            f"The embedded model could not be loaded ({type(exc).__name__}: {exc}). "
            "Check SEEDSCOPE_MODEL_PATH, or reinstall with `make install`."
        ) from exc


@st.cache_resource(show_spinner="Opening the run history…", hash_funcs={Settings: _store_key})
def _store(settings: Settings) -> Store:
    from seedscope.store import Store

    return Store.from_settings(settings)


def store(settings: Settings) -> Store:
    from seedscope.store import StoreError

    try:
        return _store(settings)
    except StoreError as exc:  # already says what is wrong and which setting to change
        raise ResourceError(f"The run history is not available: {exc}") from exc
    except Exception as exc:
        detail = _without_password(str(exc), settings.database_url)
        raise ResourceError(
            f"The run history database could not be opened ({type(exc).__name__}: {detail}). "
            "Check SEEDSCOPE_DATABASE_URL and that the database server is running."
        ) from exc


@st.cache_resource(
    show_spinner="Loading the embedding model (first time only)…",
    hash_funcs={Settings: _embedder_key},
)
def _embedder(settings: Settings, kind: str) -> Embedder:
    from seedscope.embeddings import make_embedder

    embedder = make_embedder(settings, kind, cache=store(settings))
    if kind == "local":
        _ = embedder.inner.model  # load the weights now, under this spinner, not mid-analysis
    return embedder


def embedder(settings: Settings, kind: str = "local") -> Embedder:
    try:
        return _embedder(settings, kind)
    except ResourceError:
        raise
    except Exception as exc:
        raise ResourceError(
            f"The {kind} embedding model could not be loaded ({type(exc).__name__}: {exc}). "
            "Reinstall with `make install`, or check the OpenAI settings for remote embeddings."
        ) from exc


def _without_password(message: str, url: str | None) -> str:
    """Database errors can quote the URL; a password in it must not reach the page."""
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password if url else None
    except Exception:  # an unparsable URL: hide everything after the scheme
        return message.replace(url, url.split(":", 1)[0] + "://…") if url else message
    return message.replace(str(password), "***") if password else message


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """The process-wide job manager: jobs outlive the session and the page that started them."""
    from seedscope.jobs import JobManager

    return JobManager()


def store_or_stop(settings: Settings) -> Store:
    try:
        return store(settings)
    except ResourceError as exc:
        st.error(str(exc))
        st.stop()
        raise

"""Pick and build the backend a spec asks for, from settings."""

from __future__ import annotations

from seedscope.net_guard import GuardPolicy, RefusedURL, check_typed_base_url
from seedscope.providers.base import Provider
from seedscope.settings import Settings
from seedscope.spec import PROVIDERS

# How the page names a base URL a visitor typed (as error messages say where a URL came from);
# such a URL goes through the SSRF guard (seedscope.net_guard).
TYPED_IN_THE_PAGE = "typed in the page"


class ProviderConfigError(ValueError):
    """The requested backend cannot be used with this configuration; says what to set."""


def make_provider(
    settings: Settings,
    provider: str,
    model: str | None = None,
    base_url: str | None = None,
    *,
    base_url_origin: str | None = None,
) -> Provider:
    """The backend named `provider`.

    local:  the shared embedded model from SEEDSCOPE_MODEL_PATH (default SmolLM2), in
            SEEDSCOPE_LOCAL_WORKERS worker processes when that is above 1; `model` and
            `base_url` do not apply (the embedded backend runs exactly one file).
    openai: OpenAI or a compatible server; `model` and `base_url` override the settings.
            `base_url_origin` says where `base_url` came from, as error messages name it: a
            short phrase such as "given with --base-url" or "typed in the page" (None: the
            configured OPENAI_BASE_URL).
    """
    if provider not in PROVIDERS:
        raise ProviderConfigError(
            f"provider {provider!r} is unknown; choose one of {', '.join(PROVIDERS)}"
        )
    if provider not in settings.allowed_providers:
        raise ProviderConfigError(
            f"provider {provider!r} is disabled on this deployment "
            f"(SEEDSCOPE_ALLOWED_PROVIDERS={','.join(settings.allowed_providers)})"
        )
    if provider == "local":
        from seedscope.providers.local import local_provider_from_settings  # loads llama.cpp lazily

        return local_provider_from_settings(settings)

    from seedscope.providers.openai_compat import OpenAICompatProvider

    if base_url and settings.lock_base_url and base_url != settings.openai_base_url:
        raise ProviderConfigError(
            "the base URL is fixed on this deployment (SEEDSCOPE_LOCK_BASE_URL); "
            f"remove the base URL {base_url_origin or 'given'} or change OPENAI_BASE_URL"
        )
    if not (settings.openai_api_key or base_url or settings.openai_base_url):
        raise ProviderConfigError(
            "the openai backend is not configured: set OPENAI_API_KEY for api.openai.com, "
            "or OPENAI_BASE_URL (or --base-url) for a compatible server such as vLLM, Ollama "
            "or llama.cpp"
        )
    # The command line's --base-url is the operator's own and is not guarded.
    guard = typed_url_guard(settings, base_url) if base_url_origin == TYPED_IN_THE_PAGE else None
    endpoint = settings_for_endpoint(settings, base_url)
    return OpenAICompatProvider.from_settings(
        endpoint,
        model=model,
        base_url=base_url,
        base_url_origin=base_url_origin,
        guard=guard,
        echo_error_body=not (guard is not None and settings.shared_mode),
    )


def settings_for_endpoint(settings: Settings, base_url: str | None) -> Settings:
    """The configured API key only ever goes to the configured endpoint.

    A base URL typed by a visitor (or given with --base-url) must not receive the deployment's
    key in an Authorization header, so for any other URL the key is dropped. To use a key with
    a compatible server, configure that server as OPENAI_BASE_URL.
    """
    if base_url is None or base_url == settings.openai_base_url:
        return settings
    return settings.model_copy(update={"openai_api_key": None})


def typed_url_guard(settings: Settings, base_url: str | None) -> GuardPolicy | None:
    """The SSRF guard for a base URL a visitor typed (None for the configured one, which is
    trusted): a visitor's URL makes this server send requests, so seedscope.net_guard decides,
    now (ProviderConfigError naming the rule when refused) and again at every request."""
    if not base_url or base_url == settings.openai_base_url:
        return None
    try:
        check_typed_base_url(base_url, settings)
    except RefusedURL as exc:
        raise ProviderConfigError(str(exc)) from None
    return GuardPolicy.from_settings(settings)

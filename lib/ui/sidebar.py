"""The sidebar's backend status: what this deployment can run and where history goes."""

from __future__ import annotations

import streamlit as st
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL
from seedscope.ui import resources
from seedscope.ui.text import code_span
from seedscope.ui.visitor import logged_in_user


def render_backend_status(settings: Settings) -> None:
    sidebar = st.sidebar
    sidebar.subheader("Backends")
    if "local" in settings.allowed_providers:
        try:
            provider = resources.local_provider(settings)
        except resources.ResourceError as exc:
            sidebar.error(str(exc))
        else:
            sidebar.markdown(f":green[●] **Embedded model ready** — {LOCAL_CHAT_MODEL}")
            sidebar.caption(f"Fingerprint: {code_span(provider.fingerprint)}")
    else:
        sidebar.caption("Embedded model disabled by SEEDSCOPE_ALLOWED_PROVIDERS.")

    if "openai" in settings.allowed_providers:
        key_state = "present" if settings.openai_api_key else "not set"
        host = settings.base_url_host or "api.openai.com (default)"
        mark = ":green[●]" if settings.openai_configured else ":gray[○]"
        sidebar.markdown(f"{mark} **OpenAI-compatible** — key {key_state}")
        sidebar.caption(f"Base URL host: {code_span(host)}")
        if settings.lock_base_url:
            sidebar.caption("Base URL locked by configuration.")
        if not settings.openai_configured:
            sidebar.caption("Set OPENAI_API_KEY or OPENAI_BASE_URL to enable (see About).")
    sidebar.subheader("Run history")
    try:
        location = resources.store(settings).url_for_display
    except resources.ResourceError as exc:
        sidebar.error(str(exc))
    else:
        sidebar.caption(f"Database: {code_span(location)}")


def render_visitor_status(settings: Settings) -> None:
    """Who is logged in (with Log out), or, when others can reach the page without a login,
    that anyone can use it."""
    sidebar = st.sidebar
    user = logged_in_user()
    if user is not None:
        sidebar.caption(f"Logged in as {code_span(user)}")
        sidebar.button("Log out", on_click=st.logout, icon=":material/logout:", key="logout")
    elif settings.shared_mode:  # resources.settings_or_stop also counts the listen address
        sidebar.warning(
            "Shared mode without a login: anyone who can reach this page can use it, within "
            "the budgets. Configure [auth] in .streamlit/secrets.toml to require a login "
            "(see the README's deployment guide).",
            icon=":material/public:",
        )

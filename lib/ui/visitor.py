"""Who is using the page: the logged-in user when a login is configured (Streamlit's OIDC,
`[auth]` in .streamlit/secrets.toml), else this browser session.

Only an identity is kept (the user's email, else the OIDC subject), never a token. Budgets
count per owner; experiments record `started_by` (the user; None without a login).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import streamlit as st

SESSION_KEY = "visitor_session"


@dataclass(frozen=True)
class Visitor:
    owner: str  # "user:<email or subject>" or "session:<random id>"
    user: str | None  # the logged-in user's email or subject; None without a login


def login_configured() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section (Streamlit's OIDC login)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def logged_in_user() -> str | None:
    if not login_configured() or not st.user.is_logged_in:
        return None
    identity = st.user.get("email") or st.user.get("sub")
    return str(identity) if identity else None


def current_visitor() -> Visitor:
    user = logged_in_user()
    if user is not None:
        return Visitor(owner=f"user:{user}", user=user)
    session = st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex)
    return Visitor(owner=f"session:{session}", user=None)


def require_login() -> None:
    """With a login configured, nothing but the login screen until the visitor is logged in.

    The login screen is the app's only page then: a script run that stopped before
    st.navigation would let Streamlit fall back to serving pages/ by their own URLs."""
    if not login_configured() or st.user.is_logged_in:
        return
    st.navigation([st.Page(_login_screen, title="Log in", icon=":material/login:")]).run()
    st.stop()


def _login_screen() -> None:
    st.title("Seedscope")
    st.write("This deployment asks you to log in first.")
    st.button("Log in", type="primary", on_click=st.login, icon=":material/login:")

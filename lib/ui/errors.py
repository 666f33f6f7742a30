"""The last line of defence: an unexpected error becomes a short message, not a traceback.

Known problems (bad configuration, an unreachable database or server, invalid input) are
handled where they happen, with their fix. This catches the rest, logs the traceback on the
server for whoever runs it, and shows the visitor one line. Streamlit's own control flow
(StopException, RerunException) derives from BaseException and passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st
from seedscope.ui.text import shorten
from seedscope.ui.visitor import require_login

_LOG = logging.getLogger("seedscope.ui")


def run_page(render: Callable[[], None]) -> None:
    """Draw a page. The login is checked here too, not only in app.py: until a script of the
    process has called st.navigation, Streamlit serves pages/*.py at their own URLs (/compare,
    /history, ...) without running app.py."""
    require_login()
    try:
        render()
    except Exception as exc:
        _LOG.exception("page %s failed", getattr(render, "__name__", render))
        st.error(
            f"Something went wrong: {type(exc).__name__}: {shorten(str(exc), 300)}. "
            "Reload the page to try again; the server log has the details."
        )

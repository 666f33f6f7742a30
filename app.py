"""Seedscope: router over the pages in pages/ and the shared sidebar, nothing else."""

import streamlit as st
from seedscope.ui.resources import settings_or_stop
from seedscope.ui.sidebar import render_backend_status, render_visitor_status
from seedscope.ui.visitor import require_login

st.set_page_config(page_title="Seedscope", page_icon="🎲", layout="wide")
require_login()  # with [auth] configured, nothing else shows until the visitor logs in

navigation = st.navigation(
    [
        st.Page(
            "pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True
        ),
        st.Page("pages/suites.py", title="Suites", icon=":material/checklist:"),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
        st.Page("pages/fingerprints.py", title="Fingerprints", icon=":material/fingerprint:"),
        st.Page("pages/about.py", title="About", icon=":material/info:"),
    ]
)
settings = settings_or_stop()
render_visitor_status(settings)
render_backend_status(settings)
navigation.run()

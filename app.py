"""Seedscope: router over the pages in pages/."""

import streamlit as st

st.set_page_config(page_title="Seedscope", page_icon="🎲", layout="wide")
navigation = st.navigation([st.Page("pages/compare.py", title="Compare", icon="⚖️")])
navigation.run()

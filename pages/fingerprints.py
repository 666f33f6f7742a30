"""Fingerprints: the system_fingerprint timeline, change events and drift of fixed requests."""

from seedscope.ui.errors import run_page
from seedscope.ui.fingerprints_page import render_fingerprints_page

run_page(render_fingerprints_page)

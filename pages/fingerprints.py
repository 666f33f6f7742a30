"""Fingerprints: the system_fingerprint timeline, change events and drift of fixed requests."""

from lib.ui.errors import run_page
from lib.ui.fingerprints_page import render_fingerprints_page

run_page(render_fingerprints_page)

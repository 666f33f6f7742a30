"""Suites: run every prompt of a suite in seeded and unseeded arms, or import outputs, and see
which cases reproduce."""

from seedscope.ui.errors import run_page
from seedscope.ui.suites_page import render_suites_page

run_page(render_suites_page)

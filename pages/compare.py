"""Compare: send one request many times in seeded and unseeded arms and see how far they drift."""

from seedscope.ui.compare_page import render_compare_page
from seedscope.ui.errors import run_page

run_page(render_compare_page)

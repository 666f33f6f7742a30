"""About: what seeds and fingerprints are (and are not), the measures, and configuration."""

from seedscope.ui.about import render_about
from seedscope.ui.errors import run_page

run_page(render_about)

"""History: past experiments, filterable; open one to see its results, export or delete it."""

from seedscope.ui.errors import run_page
from seedscope.ui.history_page import render_history_page

run_page(render_history_page)

"""About: what seeds and fingerprints are (and are not), the measures, and configuration."""

from lib.ui.about import render_about

render_about()

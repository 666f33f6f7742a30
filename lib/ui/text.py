"""Untrusted text in a Streamlit page.

Model output, fingerprints reported by a server, arm labels and prompts typed by other users all
end up on the page. Streamlit renders labels, captions and `st.markdown` as Markdown (HTML is
escaped there, but links, images and directives such as `:red[...]` are not). Where such text
has to sit inside Markdown, `escape_markdown` turns every Markdown-significant character into a
literal one; everywhere else the text goes through `st.text` / `st.code` / dataframes.
"""

from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of
# them (plus `<` `>` for autolinks and raw HTML, and `:` for Streamlit's directives/emoji
# shortcodes) leaves nothing for the renderer to interpret.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&\"'=^])")


def escape_markdown(text: str) -> str:
    """Text that Markdown renders literally, on one line (newlines become spaces)."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def code_span(text: str) -> str:
    """Inline code for Markdown. Nothing inside a code span is interpreted (backslashes
    included), so the only character to neutralise is the backtick that would close it."""
    flat = " ".join(str(text).split()).replace("`", "'")
    return f"`{flat}`"


def shorten(text: str, limit: int = 80) -> str:
    """First `limit` characters on one line, with an ellipsis when cut."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def fingerprint_label(fingerprint: str | None) -> str:
    """How a system fingerprint is shown: servers that report none get an explicit phrase."""
    return fingerprint if fingerprint else "not reported"


def fingerprint_markdown(fingerprint: str | None) -> str:
    """A fingerprint inside Markdown: as inline code, or an italic "not reported"."""
    return code_span(fingerprint) if fingerprint else "*not reported*"


def format_seed(seed: int | None) -> str:
    return "none" if seed is None else str(seed)


def format_latency(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def format_distance(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")


def file_name_part(text: str, limit: int = 40) -> str:
    """A suite case id (or any user text) as part of a download's file name: letters, digits,
    `.`, `_` and `-` only, so no path separator or control character reaches the browser."""
    return _UNSAFE_IN_FILE_NAMES.sub("_", text).strip("._")[:limit] or "case"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`1 run`, `2 runs`: the noun agrees with the number."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"

"""Printing untrusted model output to a terminal safely."""

from __future__ import annotations

import re

# C0/C1 control characters other than the plain newline/tab, e.g. ESC starting an ANSI sequence
# that could rewrite the user's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_for_terminal(text: str) -> str:
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def one_line(text: str, width: int) -> str:
    """A single-line preview of `text`, at most `width` characters, control characters escaped."""
    flat = " ".join(safe_for_terminal(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"

"""Word-level diff of two runs, rendered as a `diff`-highlighted code block.

The diff is shown through `st.code(..., language="diff")`: the text stays literal (model output
is untrusted) and the highlighter colours removed and added words. Pure functions: no streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

Op = Literal["equal", "delete", "insert", "replace"]


@dataclass(frozen=True)
class DiffSegment:
    op: Op
    words_a: tuple[str, ...]
    words_b: tuple[str, ...]


@dataclass(frozen=True)
class WordDiff:
    segments: tuple[DiffSegment, ...]
    first_divergence_word: int | None  # index into the words of text A; None when identical
    identical_text: bool
    whitespace_only: bool  # texts differ, but only in spacing or line breaks


def word_diff(text_a: str, text_b: str) -> WordDiff:
    words_a, words_b = text_a.split(), text_b.split()
    # autojunk off: repeated words in long outputs must not be treated as noise.
    matcher = SequenceMatcher(a=words_a, b=words_b, autojunk=False)
    segments: list[DiffSegment] = []
    first: int | None = None
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op != "equal" and first is None:
            first = a0
        segments.append(DiffSegment(op, tuple(words_a[a0:a1]), tuple(words_b[b0:b1])))
    return WordDiff(
        segments=tuple(segments),
        first_divergence_word=first,
        identical_text=text_a == text_b,
        whitespace_only=text_a != text_b and words_a == words_b,
    )


def first_difference(diff: WordDiff) -> tuple[str, str]:
    """The first word where the runs differ, from run A and from run B ("" when that run has
    no word there: it ended, or the other run inserted words)."""
    for segment in diff.segments:
        if segment.op != "equal":
            return (
                segment.words_a[0] if segment.words_a else "",
                segment.words_b[0] if segment.words_b else "",
            )
    return "", ""


def diff_as_code(diff: WordDiff, *, context_words: int = 12) -> str:
    """Unified-diff style lines: '  ' common words, '- ' only in A, '+ ' only in B.

    Long common stretches between changes are shortened to `context_words` words at each end
    so the changes stay in view; the first stretch keeps its tail, the last its head.
    """
    lines: list[str] = []
    last = len(diff.segments) - 1
    for index, segment in enumerate(diff.segments):
        if segment.op == "equal":
            words = list(segment.words_a)
            if len(diff.segments) > 1 and len(words) > 2 * context_words:
                head = words[:context_words] if index > 0 else []
                tail = words[-context_words:] if index < last else []
                skipped = len(words) - len(head) - len(tail)
                parts = [" ".join(head)] if head else []
                parts.append(f"[… {skipped} identical words …]")
                if tail:
                    parts.append(" ".join(tail))
                lines.append("  " + " ".join(parts))
            else:
                lines.append("  " + " ".join(words))
            continue
        if segment.words_a:
            lines.append("- " + " ".join(segment.words_a))
        if segment.words_b:
            lines.append("+ " + " ".join(segment.words_b))
    return "\n".join(lines)

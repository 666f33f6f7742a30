"""Word-level diff of two runs, rendered as a `diff`-highlighted code block.

The diff is shown through `st.code(..., language="diff")`: the text stays literal (model output
is untrusted) and the highlighter colours removed and added words. Pure functions: no streamlit.

The first divergence is positional, as the arms' measure counts it
(`seedscope.metrics.first_divergence_word`: the first index where the two word lists differ),
not where the aligned diff first changes: for "The cat sat" against "The The cat sat" the diff
aligns an inserted "The", while both runs differ first at word 2 ("cat" against "The").
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from seedscope.metrics import first_divergence_word

Op = Literal["equal", "delete", "insert", "replace"]


@dataclass(frozen=True)
class DiffSegment:
    op: Op
    words_a: tuple[str, ...]
    words_b: tuple[str, ...]


@dataclass(frozen=True)
class WordDiff:
    segments: tuple[DiffSegment, ...]
    first_divergence_word: int | None  # 0-based position (see the module docstring); None: same
    identical_text: bool
    whitespace_only: bool  # texts differ, but only in spacing or line breaks
    words_at_divergence: tuple[str, str] = ("", "")  # run A's and run B's word there ("": none)


def word_diff(text_a: str, text_b: str) -> WordDiff:
    words_a, words_b = text_a.split(), text_b.split()
    # autojunk off: repeated words in long outputs must not be treated as noise.
    matcher = SequenceMatcher(a=words_a, b=words_b, autojunk=False)
    segments = tuple(
        DiffSegment(op, tuple(words_a[a0:a1]), tuple(words_b[b0:b1]))
        for op, a0, a1, b0, b1 in matcher.get_opcodes()
    )
    whitespace_only = text_a != text_b and words_a == words_b
    first = None if whitespace_only else first_divergence_word(text_a, text_b)
    at = ("", "")
    if first is not None:
        at = (_word(words_a, first), _word(words_b, first))
    return WordDiff(
        segments=segments,
        first_divergence_word=first,
        identical_text=text_a == text_b,
        whitespace_only=whitespace_only,
        words_at_divergence=at,
    )


def _word(words: list[str], index: int) -> str:
    return words[index] if index < len(words) else ""


def first_difference(diff: WordDiff) -> tuple[str, str]:
    """What run A and run B have at the first divergence ("" where a run has no word there: it
    ended before)."""
    return diff.words_at_divergence


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

"""The token view of one arm: its runs aligned token by token, the fork marked, the tokens that
differ from the reference run highlighted, and the top-k alternatives with their logprobs.

The reference run is the arm's first successful run with tokens, as in `seedscope.tokens.forks`;
positions count from 1 ("token 103"), as the arm's measures do.

How model text stays literal (tokens are untrusted model output):
- The grid and the alternatives are pandas DataFrames shown with `st.dataframe`. Its cells are
  drawn as plain text in a canvas grid, never parsed as HTML or Markdown; the pandas Styler only
  adds colours and font weight (Streamlit carries a Styler's colours over, not its HTML).
- Hover: each position's column header has a tooltip (`st.column_config` help) listing the
  reference run's top-k alternatives there with their logprobs. Up to the fork every run had
  the same tokens before that position, so the same alternatives. Column help is Markdown, so
  every token in it first goes through `visible_token` and then the project's `escape_markdown`,
  which turns every Markdown- and HTML-significant character into a literal one.
- Every run's alternatives at one position: a "Top-k alternatives at" select box (the fork by
  default) under the grid shows a second dataframe, one column pair (token, logprob) per run.
  Per-cell tooltips are not possible here: `st.dataframe` drops a Styler's `set_tooltips`, and
  a Plotly grid's hover text would itself be an HTML subset to escape; the header tooltips and
  the select box keep every token in plain-text cells.
- The fork line under the measures (`render_fork`) uses `st.text` for the tokens and a caption
  with numbers only.

Whitespace is made visible (`visible_token`): ␣ space, ⏎ line feed, ␍ carriage return, ⇥ tab,
∅ an empty token; any other character that prints as nothing or moves the text (no-break and
other Unicode spaces, control and format characters such as bidi overrides) as its backslash
escape (`\\xa0`, `\\u202e`). A token that itself contains one of the marks reads the same as the
whitespace it stands for; the mark characters are rare enough in model output to accept that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from seedscope.analysis import ArmAnalysis
from seedscope.tokens.forks import KNIFE_EDGE_MARGIN, TokenFork, first_divergence_token
from seedscope.tokens.trace import TokenTrace
from seedscope.ui.text import escape_markdown

MAX_POSITIONS = 100  # columns of the grid at once; a longer arm gets a "first position" input
LEAD_BEFORE_FORK = 10  # positions shown before a fork that lies beyond the first window
TOKEN_LIMIT = 40  # characters of one token shown in a cell (longer ones end in "…")
DIVERGES_COLUMN = "diverges at"
FORK_MARK = "◆"

_WHITESPACE_MARKS = {" ": "␣", "\n": "⏎", "\r": "␍", "\t": "⇥"}
_DIFFERS_STYLE = "background-color: rgba(255, 75, 75, 0.30); font-weight: bold"
_FORK_STYLE = "background-color: rgba(255, 189, 69, 0.30)"
_CHOSEN_STYLE = "font-weight: bold; background-color: rgba(28, 131, 225, 0.20)"


def visible_token(token: str | None, limit: int = TOKEN_LIMIT) -> str:
    """A token as a cell shows it: whitespace as marks, invisible characters as escapes;
    "" for no token (a run that ended before this position), ∅ for an empty token."""
    if token is None:
        return ""
    if token == "":
        return "∅"
    parts = []
    for char in token:
        if char in _WHITESPACE_MARKS:
            parts.append(_WHITESPACE_MARKS[char])
        elif char.isprintable():
            parts.append(char)
        else:
            parts.append(char.encode("unicode_escape").decode("ascii"))
    shown = "".join(parts)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def traced_runs(arm: ArmAnalysis) -> list[tuple[int, TokenTrace]]:
    """(run index, trace) of the arm's successful runs that have tokens, in run order; the
    first is the reference run."""
    return [(c.run_index, c.tokens) for c in arm.ok if c.tokens is not None]


def has_tokens(arm: ArmAnalysis) -> bool:
    return bool(traced_runs(arm))


def position_window(
    longest: int, fork: int | None, cap: int = MAX_POSITIONS, lead: int = LEAD_BEFORE_FORK
) -> tuple[int, int]:
    """The 1-based positions (first, last) the grid shows by default: all when they fit, else
    `cap` of them from the start, moved to begin `lead` positions before a later fork."""
    if longest <= cap:
        return 1, longest
    first = 1
    if fork is not None and fork > cap:
        first = min(max(1, fork - lead), longest - cap + 1)
    return first, first + cap - 1


def _same(a: TokenTrace, b: TokenTrace, index: int) -> bool:
    """Whether two runs have the same token at a 0-based index (by id when both have ids, as
    the fork measure compares); a run that has ended differs from one that has not."""
    a_has, b_has = index < len(a), index < len(b)
    if not (a_has and b_has):
        return a_has == b_has
    if a.ids is not None and b.ids is not None:
        return a.ids[index] == b.ids[index]
    return a.tokens[index] == b.tokens[index]


@dataclass(frozen=True)
class TokenGrid:
    """An arm's runs aligned by position: `tokens` has one row per run ("run N") and the columns
    DIVERGES_COLUMN then str(position) for first..last; `differs` is True where a run's token
    differs from the reference run's (position columns only)."""

    tokens: pd.DataFrame
    differs: pd.DataFrame
    first: int
    last: int
    longest: int
    fork: int | None

    @property
    def position_columns(self) -> list[str]:
        return [str(position) for position in range(self.first, self.last + 1)]


def aligned_tokens(
    runs: Sequence[tuple[int, TokenTrace]],
    fork: int | None,
    first: int = 1,
    last: int | None = None,
) -> TokenGrid:
    """The grid of `runs` (the first is the reference) for positions first..last (1-based,
    inclusive; last defaults to the longest run). Cells past a run's end are ""."""
    longest = max((len(trace) for _, trace in runs), default=0)
    last = longest if last is None else min(last, longest)
    _, reference = runs[0]
    columns = [str(position) for position in range(first, last + 1)]
    token_rows, differ_rows, labels = [], [], []
    for row, (run_index, trace) in enumerate(runs):
        labels.append(f"run {run_index}")
        if row == 0:
            diverges = "reference"
        else:
            position = first_divergence_token(reference, trace)
            diverges = "same" if position is None else f"token {position}"
        cells = [
            visible_token(trace.tokens[p - 1] if p <= len(trace) else None)
            for p in range(first, last + 1)
        ]
        token_rows.append([diverges, *cells])
        differ_rows.append([not _same(reference, trace, p - 1) for p in range(first, last + 1)])
    tokens = pd.DataFrame(token_rows, index=labels, columns=[DIVERGES_COLUMN, *columns])
    differs = pd.DataFrame(differ_rows, index=labels, columns=columns, dtype=bool)
    tokens.index.name = differs.index.name = "run"
    return TokenGrid(tokens, differs, first, last, longest, fork)


def grid_styles(grid: TokenGrid) -> pd.DataFrame:
    """CSS per cell of `grid.tokens`: the fork column amber, differing tokens red and bold."""
    styles = pd.DataFrame("", index=grid.tokens.index, columns=grid.tokens.columns)
    fork_column = str(grid.fork) if grid.fork is not None else None
    if fork_column in styles.columns:
        styles[fork_column] = _FORK_STYLE
    for column in grid.position_columns:
        styles.loc[grid.differs[column], column] = _DIFFERS_STYLE
    return styles


def header_help(reference: TokenTrace, run_index: int, position: int, fork: int | None) -> str:
    """The tooltip of one position's column: Markdown with every token escaped."""
    lines = [f"Token {position}" + (" — the fork" if position == fork else "")]
    index = position - 1
    if reference.top is not None and index < len(reference) and reference.top[index]:
        lines.append(f"Top-{len(reference.top[index])} at run {run_index} (reference):")
        lines.extend(
            f"{escape_markdown(visible_token(token))} {escape_markdown(f'{logprob:.4f}')}"
            for token, logprob in reference.top[index]
        )
    elif reference.logprobs is not None and index < len(reference):
        lines.append(
            f"Logprob at run {run_index}: {escape_markdown(f'{reference.logprobs[index]:.4f}')}"
        )
    return "  \n".join(lines)


@dataclass(frozen=True)
class AlternativesTable:
    """The alternatives at one position: index "chosen", then ranks "1".."k"; per run the
    columns "run N" (token) and "run N logprob". `chosen` is True where an alternative is the
    token the run generated there."""

    frame: pd.DataFrame
    chosen: pd.DataFrame


def alternatives_table(runs: Sequence[tuple[int, TokenTrace]], position: int) -> AlternativesTable:
    index = position - 1
    depth = max(
        (len(t.top[index]) for _, t in runs if t.top is not None and index < len(t)), default=0
    )
    rows = ["chosen", *(str(rank) for rank in range(1, depth + 1))]
    data: dict[str, list[object]] = {}
    chosen: dict[str, list[bool]] = {}
    for run_index, trace in runs:
        present = index < len(trace)
        token = trace.tokens[index] if present else None
        logprob = trace.logprobs[index] if present and trace.logprobs is not None else None
        alternatives = list(trace.top[index]) if present and trace.top is not None else []
        alternatives += [(None, None)] * (depth - len(alternatives))
        name = f"run {run_index}"
        data[name] = [visible_token(token), *(visible_token(t) for t, _ in alternatives)]
        data[f"{name} logprob"] = [
            math.nan if value is None else value
            for value in (logprob, *(lp for _, lp in alternatives))
        ]
        chosen[name] = [False, *(present and t == token for t, _ in alternatives)]
        chosen[f"{name} logprob"] = [False] * len(rows)
    frame = pd.DataFrame(data, index=rows)
    frame.index.name = "rank"
    return AlternativesTable(frame, pd.DataFrame(chosen, index=rows, dtype=bool))


def fork_summary(fork: TokenFork) -> str:
    """Numbers only (no model text): for a caption."""
    margin = (
        "top-1/top-2 margin not known (logprobs not captured)"
        if fork.margin is None
        else f"top-1/top-2 margin {fork.margin:.4f}"
        + (f" (under {KNIFE_EDGE_MARGIN:g}: a near-tie)" if fork.margin < KNIFE_EDGE_MARGIN else "")
    )
    return f"Fork at token {fork.position}: {margin}."


def fork_tokens_text(fork: TokenFork) -> str:
    """The two runs' tokens at the fork and their logprobs, for st.text (shown literally)."""

    def side(run: int, token: str | None, logprob: float | None) -> str:
        shown = "(ended before)" if token is None else f'"{visible_token(token)}"'
        return f"run {run}: {shown}" + ("" if logprob is None else f" (logprob {logprob:.4f})")

    return (
        f"{side(fork.run_a, fork.token_a, fork.logprob_a)}  vs  "
        f"{side(fork.run_b, fork.token_b, fork.logprob_b)}"
    )


def render_fork(fork: TokenFork | None) -> None:
    """Under the arm's measures: where its runs fork in tokens, the two tokens, their logprobs
    and the margin."""
    if fork is None:
        return
    st.caption(fork_summary(fork))
    st.text(fork_tokens_text(fork))


LEGEND = (
    f"One row per run, one column per token position; the fork's column is amber and marked "
    f"{FORK_MARK}, tokens that differ from the reference run are red and bold. Hover over a "
    "position's header for the reference run's top-k alternatives. ␣ space · ⏎ line break · "
    "⇥ tab · ∅ empty token; other invisible characters appear as backslash escapes."
)


def render_token_view(arm: ArmAnalysis, key: str) -> None:
    """The arm's token grid and the alternatives at a chosen position; nothing when no run of
    the arm has tokens."""
    runs = traced_runs(arm)
    if not runs:
        return
    fork = arm.fork.position if arm.fork is not None else None
    longest = max(len(trace) for _, trace in runs)
    if longest == 0:
        st.caption("The runs generated no tokens.")
        return
    first, last = position_window(longest, fork)
    if longest > MAX_POSITIONS:
        first = int(
            st.number_input(
                "First position shown",
                min_value=1,
                max_value=longest - MAX_POSITIONS + 1,
                value=first,
                step=1,
                key=f"{key}_first",
                help=f"The grid shows {MAX_POSITIONS} positions at a time.",
            )
        )
        last = first + MAX_POSITIONS - 1
        st.caption(f"Positions {first}–{last} of {longest} shown ({MAX_POSITIONS} at a time).")
    grid = aligned_tokens(runs, fork, first, last)
    st.caption(LEGEND)
    _grid_dataframe(grid, runs, key)
    without = [c.run_index for c in arm.ok if c.tokens is None]
    if without:
        st.caption(f"Runs without tokens (not shown): {', '.join(map(str, without))}.")
    _alternatives(runs, longest, fork, key)


def _grid_dataframe(grid: TokenGrid, runs: Sequence[tuple[int, TokenTrace]], key: str) -> None:
    reference_index, reference = runs[0]
    config: dict[str, object] = {
        "_index": st.column_config.TextColumn("run", help="Run index; the first is the reference."),
        DIVERGES_COLUMN: st.column_config.TextColumn(
            DIVERGES_COLUMN,
            help="First token position (from 1) where the run differs from the reference run.",
        ),
    }
    for column in grid.position_columns:
        position = int(column)
        label = f"{column} {FORK_MARK}" if position == grid.fork else column
        config[column] = st.column_config.TextColumn(
            label, help=header_help(reference, reference_index, position, grid.fork)
        )
    styled = grid.tokens.style.apply(lambda _: grid_styles(grid), axis=None)
    st.dataframe(styled, column_config=config, key=f"{key}_grid")


def _alternatives(
    runs: Sequence[tuple[int, TokenTrace]], longest: int, fork: int | None, key: str
) -> None:
    if all(trace.top is None for _, trace in runs):
        st.caption(
            "No top-k alternatives: this arm did not capture logprobs (the arm's "
            "top\\_logprobs option, 1–20, captures them)."
        )
        return
    positions = list(range(1, longest + 1))
    chosen = st.selectbox(
        "Top-k alternatives at",
        positions,
        index=(fork - 1) if fork is not None and fork <= longest else 0,
        format_func=lambda p: f"token {p}" + (" (the fork)" if p == fork else ""),
        key=f"{key}_position",
        help="Each run's chosen token there, then its alternatives best first, with logprobs.",
    )
    position = chosen or 1
    table = alternatives_table(runs, position)
    margins = [
        f"run {run_index} {margin:.4f}"
        for run_index, trace in runs
        if position <= len(trace) and (margin := trace.margin(position - 1)) is not None
    ]
    if margins:
        st.caption("Top-1/top-2 margin here: " + " · ".join(margins) + ".")
    styled = table.frame.style.apply(
        lambda _: table.chosen.map(lambda hit: _CHOSEN_STYLE if hit else ""), axis=None
    )
    config = {
        column: st.column_config.NumberColumn(column, format="%.4f")
        for column in table.frame.columns
        if column.endswith(" logprob")
    }
    st.dataframe(styled, column_config=config, key=f"{key}_alternatives")

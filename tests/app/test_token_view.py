"""The token view and the token measures of the results view: the aligned grid, the fork, the
alternatives, the knife-edge share, and model tokens shown literally (never as HTML/Markdown)."""

from __future__ import annotations

import json
import math
import re

import pytest
from seedscope.analysis import ArmAnalysis, ArmMetrics
from seedscope.tokens.forks import TokenFork
from seedscope.tokens.trace import TokenTrace
from seedscope.ui import token_view
from seedscope.ui.results import knife_edge_text, token_position_text
from seedscope.ui.text import escape_markdown
from seedscope.ui.token_view import (
    DIVERGES_COLUMN,
    aligned_tokens,
    alternatives_table,
    fork_summary,
    fork_tokens_text,
    grid_styles,
    header_help,
    position_window,
    visible_token,
)

from tests.app.app_support import completion, generate, spec_for

PAYLOAD = "<img src=x onerror=alert(1)>"
SHOWN_PAYLOAD = "<img␣src=x␣onerror=alert(1)>"  # every space marked, nothing else changed
BOLD = "**bold**"


def trace(tokens, tops=None, ids=None) -> TokenTrace:
    """Chosen logprob -0.1 everywhere; `tops`: per position the alternatives, best first."""
    return TokenTrace(
        tokens=tuple(tokens),
        ids=None if ids is None else tuple(ids),
        logprobs=None if tops is None else (-0.1,) * len(tokens),
        top=None if tops is None else tuple(tuple(top) for top in tops),
    )


def unescaped(markdown: str, char: str) -> bool:
    """Whether `char` occurs in Markdown text without the backslash that makes it literal."""
    return re.search(rf"(?<!\\){re.escape(char)}", markdown) is not None


def pair(token: str, other: str, margin: float) -> tuple[tuple[str, float], ...]:
    return ((token, -0.1), (other, -0.1 - margin))


# ---------------------------------------------------------------- pure helpers, worked values


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        (" cat", "␣cat"),
        (" ", "␣"),
        ("\n\n", "⏎⏎"),
        ("\r\n", "␍⏎"),
        ("\tx", "⇥x"),
        ("", "∅"),
        (None, ""),
        ("\xa0x", "\\xa0x"),  # no-break space
        ("\u202eabc", "\\u202eabc"),  # right-to-left override
        ("\x1b[31m", "\\x1b[31m"),  # terminal escape
        (PAYLOAD, SHOWN_PAYLOAD),  # literal: cells are plain text
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        (BOLD, BOLD),
        ("x" * 50, "x" * 39 + "…"),
    ],
)
def test_visible_token_marks_whitespace_and_invisible_characters(token, shown):
    assert visible_token(token) == shown


def test_position_window_fits_caps_and_moves_to_a_late_fork():
    assert position_window(50, None) == (1, 50)
    assert position_window(50, 7) == (1, 50)
    assert position_window(250, None) == (1, 100)
    assert position_window(250, 100) == (1, 100)  # the fork is in the first window
    assert position_window(250, 150) == (140, 239)  # 10 positions before the fork
    assert position_window(250, 245) == (151, 250)  # the window ends at the longest run
    assert position_window(250, 150, cap=20, lead=5) == (145, 164)


def test_aligned_tokens_puts_runs_on_rows_and_marks_differences():
    runs = [
        (0, trace(["The", " cat", " sat"])),
        (1, trace(["The", " dog", " sat"])),
        (2, trace(["The", " cat"])),  # ends early: differs where run 0 still has a token
        (3, trace(["The", " cat", " sat"])),
    ]
    grid = aligned_tokens(runs, fork=2)
    assert list(grid.tokens.columns) == [DIVERGES_COLUMN, "1", "2", "3"]
    assert list(grid.tokens.index) == ["run 0", "run 1", "run 2", "run 3"]
    assert grid.tokens.values.tolist() == [
        ["reference", "The", "␣cat", "␣sat"],
        ["token 2", "The", "␣dog", "␣sat"],
        ["token 3", "The", "␣cat", ""],
        ["same", "The", "␣cat", "␣sat"],
    ]
    assert grid.differs.values.tolist() == [
        [False, False, False],
        [False, True, False],
        [False, False, True],
        [False, False, False],
    ]
    assert (grid.first, grid.last, grid.longest, grid.fork) == (1, 3, 3, 2)


def test_aligned_tokens_compares_by_id_when_both_runs_have_ids_and_cuts_a_window():
    # Same strings, different ids (two tokenizations of " a"): a difference, as the fork counts.
    runs = [
        (0, trace(["x", " a", "b", "c"], ids=[1, 2, 3, 4])),
        (1, trace(["x", " a", "b", "c"], ids=[1, 9, 3, 4])),
    ]
    grid = aligned_tokens(runs, fork=2, first=2, last=3)
    assert list(grid.tokens.columns) == [DIVERGES_COLUMN, "2", "3"]
    assert grid.tokens.loc["run 1"].tolist() == ["token 2", "␣a", "b"]
    assert grid.differs.loc["run 1"].tolist() == [True, False]
    assert grid.position_columns == ["2", "3"]


def test_grid_styles_colour_the_fork_column_and_the_differing_tokens():
    runs = [(0, trace(["A", "b", "c"])), (1, trace(["A", "x", "c"]))]
    styles = grid_styles(aligned_tokens(runs, fork=2))
    assert styles.loc["run 0", "1"] == "" and styles.loc["run 0", DIVERGES_COLUMN] == ""
    assert styles.loc["run 0", "2"] == token_view._FORK_STYLE
    assert styles.loc["run 1", "2"] == token_view._DIFFERS_STYLE
    assert styles.loc["run 1", "3"] == ""


def test_alternatives_table_lists_each_runs_chosen_token_and_top_k():
    runs = [
        (0, trace(["The", " cat"], tops=[pair("The", "A", 1.0), pair(" cat", " dog", 0.005)])),
        (1, trace(["The", " dog"], tops=[pair("The", "A", 1.0), pair(" dog", " cat", 0.004)])),
        (2, trace(["The"], tops=[pair("The", "A", 1.0)])),  # ended before position 2
    ]
    table = alternatives_table(runs, 2)
    frame = table.frame
    assert list(frame.index) == ["chosen", "1", "2"]
    assert list(frame.columns) == [
        "run 0",
        "run 0 logprob",
        "run 1",
        "run 1 logprob",
        "run 2",
        "run 2 logprob",
    ]
    assert frame["run 0"].tolist() == ["␣cat", "␣cat", "␣dog"]
    assert frame["run 0 logprob"].tolist() == pytest.approx([-0.1, -0.1, -0.105])
    assert frame["run 1"].tolist() == ["␣dog", "␣dog", "␣cat"]
    assert frame["run 2"].tolist() == ["", "", ""]
    assert all(math.isnan(v) for v in frame["run 2 logprob"])
    assert table.chosen["run 0"].tolist() == [False, True, False]
    assert table.chosen["run 1"].tolist() == [False, True, False]
    assert not table.chosen["run 2"].any() and not table.chosen["run 0 logprob"].any()


def test_a_chosen_token_outside_the_top_k_is_still_shown():
    runs = [(0, trace(["z"], tops=[pair("a", "b", 0.5)]))]
    table = alternatives_table(runs, 1)
    assert table.frame["run 0"].tolist() == ["z", "a", "b"]
    assert not table.chosen["run 0"].any()


def test_header_help_escapes_every_token_for_markdown():
    reference = trace(["The", PAYLOAD], tops=[pair("The", "A", 1.0), pair(PAYLOAD, BOLD, 0.5)])
    text = header_help(reference, 0, 2, fork=2)
    assert text.startswith("Token 2 — the fork  \nTop-2 at run 0 (reference):")
    assert escape_markdown(SHOWN_PAYLOAD) in text and escape_markdown(BOLD) in text
    assert not unescaped(text, "<") and BOLD not in text
    assert escape_markdown("-0.6000") in text
    plain = header_help(trace(["The"]), 0, 1, fork=None)
    assert plain == "Token 1"


def test_fork_lines_give_the_tokens_logprobs_and_margin():
    fork = TokenFork(2, 0, 1, " cat", " dog", -0.1, -0.105, 0.005)
    assert (
        fork_summary(fork) == "Fork at token 2: top-1/top-2 margin 0.0050 (under 0.01: a near-tie)."
    )
    assert fork_tokens_text(fork) == (
        'run 0: "␣cat" (logprob -0.1000)  vs  run 1: "␣dog" (logprob -0.1050)'
    )
    ended = TokenFork(3, 0, 2, "\n", None, None, None, None)
    assert fork_summary(ended) == (
        "Fork at token 3: top-1/top-2 margin not known (logprobs not captured)."
    )
    assert fork_tokens_text(ended) == 'run 0: "⏎"  vs  run 2: (ended before)'
    wide = TokenFork(4, 1, 2, "a", "b", None, None, 0.25)
    assert fork_summary(wide) == "Fork at token 4: top-1/top-2 margin 0.2500."


def _metrics(position: int | None) -> ArmAnalysis:
    metrics = ArmMetrics(*(["a", 2, 0, 1] + [None] * 10), position, None)  # type: ignore[arg-type]
    return ArmAnalysis("a", [], [], [], [], None, None, [], metrics)  # type: ignore[arg-type]


def test_the_measure_texts():
    assert token_position_text(_metrics(103)) == "token 103"
    assert token_position_text(_metrics(None)) == "—"
    assert knife_edge_text(0.25) == "25.0%"
    assert knife_edge_text(0.004) == "0.4%"


# ---------------------------------------------------------------- the results view (History)

RUN_TOKENS = {
    0: trace(
        ["The", " cat", " sat", "\n"],
        tops=[
            pair("The", "A", 2.0),
            pair(" cat", " dog", 0.005),
            ((" sat", -0.1), (PAYLOAD, -0.3)),
            pair("\n", ".", 0.5),
        ],
    ),
    1: trace(
        ["The", " dog", " sat", "\n"],
        tops=[
            pair("The", "A", 2.0),
            pair(" dog", " cat", 0.004),
            pair(" sat", " ran", 0.5),
            pair("\n", ".", 0.5),
        ],
    ),
    2: trace(
        ["The", " cat", PAYLOAD, BOLD],
        tops=[
            pair("The", "A", 2.0),
            pair(" cat", " dog", 0.005),
            pair(PAYLOAD, " sat", 0.2),
            pair(BOLD, "\n", 0.5),
        ],
    ),
}  # 12 margins, 3 under 0.01: knife-edge 25.0%


def open_traced_experiment(store, make_app):
    spec = spec_for(
        arms=[
            {"label": "traced", "seed": 7, "temperature": 0.0, "runs": 3},
            {"label": "plain", "seed": None, "temperature": 0.7, "runs": 2},
        ]
    )
    experiment_id = store.create_experiment(spec, base_url_host=None)
    for index, tokens in RUN_TOKENS.items():
        run = completion(spec, "traced", index, "".join(tokens.tokens))
        store.add_run(experiment_id, run.with_changes(tokens=tokens))
    for index in range(2):
        store.add_run(experiment_id, completion(spec, "plain", index, "same words"))
    store.finish_experiment(experiment_id, "complete")
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(experiment_id).run()
    assert not at.exception
    return at


def alternatives_frame(at):
    (frame,) = [d.value for d in at.dataframe if "run 0 logprob" in d.value.columns]
    return frame


def metric_values(at) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def markdown_texts(at) -> list[str]:
    """Everything the page renders as Markdown: markdown, captions, headings, metric labels."""
    texts = [e.value for e in (*at.markdown, *at.caption, *at.subheader)]
    return texts + [m.label for m in at.metric] + [e.label for e in at.expander]


def test_the_results_view_shows_the_token_fork_and_the_knife_edge_share(make_app, store):
    at = open_traced_experiment(store, make_app)
    measures = metric_values(at)
    # traced arm first, then plain: the plain arm has no tokens and no knife-edge measure
    assert [v for label, v in measures if label == "First divergence (token)"] == ["token 2", "—"]
    assert [v for label, v in measures if label == "Knife-edge tokens"] == ["25.0%"]
    helps = {m.label: m.help for m in at.metric}
    assert "counted from 1" in helps["First divergence (token)"]
    assert "under 0.01" in helps["Knife-edge tokens"]
    captions = [c.value for c in at.caption]
    assert "Fork at token 2: top-1/top-2 margin 0.0050 (under 0.01: a near-tie)." in captions
    texts = [t.value for t in at.text]
    assert 'run 0: "␣cat" (logprob -0.1000)  vs  run 1: "␣dog" (logprob -0.1000)' in texts


def test_the_token_view_aligns_runs_and_keeps_model_text_literal(make_app, store):
    at = open_traced_experiment(store, make_app)
    # Only the arm with tokens has a token view.
    assert [e.label for e in at.expander].count("Tokens") == 1
    grids = [d for d in at.dataframe if DIVERGES_COLUMN in d.value.columns]
    assert len(grids) == 1
    (grid_element,) = grids
    grid = grid_element.value
    assert grid.values.tolist() == [
        ["reference", "The", "␣cat", "␣sat", "⏎"],  # whitespace tokens visible
        ["token 2", "The", "␣dog", "␣sat", "⏎"],
        ["token 3", "The", "␣cat", SHOWN_PAYLOAD, BOLD],  # literal text in the cells
    ]
    styles = grid_element.proto.arrow_data.styler.styles  # the Styler's colours reach the grid
    assert token_view._FORK_STYLE in styles and token_view._DIFFERS_STYLE in styles
    columns = json.loads(grid_element.proto.columns)
    assert columns["2"]["label"] == "2 ◆"  # the fork's column is marked
    help_text = columns["3"]["help"]  # hover: the reference run's top-k, escaped
    assert escape_markdown(SHOWN_PAYLOAD) in help_text and not unescaped(help_text, "<")
    # The alternatives at the fork by default; another position on request.
    assert at.selectbox(key="hist_tokens_0_position").value == 2
    alternatives = alternatives_frame(at)
    assert alternatives.loc["chosen", ["run 0", "run 1", "run 2"]].tolist() == [
        "␣cat",
        "␣dog",
        "␣cat",
    ]
    assert alternatives.loc["2", "run 0"] == "␣dog"
    assert "Top-1/top-2 margin here: run 0 0.0050 · run 1 0.0040 · run 2 0.0050." in [
        c.value for c in at.caption
    ]
    at.selectbox(key="hist_tokens_0_position").set_value(3).run()
    alternatives = alternatives_frame(at)
    assert alternatives.loc["chosen", "run 2"] == SHOWN_PAYLOAD
    assert alternatives.loc["2", "run 0"] == SHOWN_PAYLOAD
    # No model token reaches anything rendered as Markdown.
    for text in markdown_texts(at):
        assert "onerror" not in text and BOLD not in text and "␣cat" not in text


def _long_arm_script(length: int, fork: int) -> None:
    import numpy as np
    from seedscope.analysis import analyze
    from seedscope.providers.base import Completion
    from seedscope.tokens.trace import TokenTrace
    from seedscope.ui.token_view import render_token_view

    class ZeroEmbedder:
        id = "test:zero"

        def embed(self, texts):
            return np.ones((len(texts), 2), dtype=np.float32)

    runs = []
    for run_index in range(2):
        tokens = [f"t{p}" for p in range(1, length + 1)]
        if run_index == 1:
            tokens[fork - 1] = "X"
        runs.append(
            Completion(
                arm_label="long",
                run_index=run_index,
                text="".join(tokens),
                system_fingerprint=None,
                requested_seed=1,
                effective_seed=1,
                temperature=0.0,
                top_p=1.0,
                max_tokens=length,
                provider="local",
                model="m",
                prompt_tokens=1,
                completion_tokens=length,
                latency_s=0.1,
                finish_reason="length",
                started_at=None,
                error_type=None,
                error_message=None,
                tokens=TokenTrace(tokens=tuple(tokens)),
            )
        )
    (arm,) = analyze(runs, ZeroEmbedder()).arms
    render_token_view(arm, key="tv")


def test_a_long_arm_shows_a_window_around_the_fork_with_a_note():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_long_arm_script, kwargs={"length": 250, "fork": 150})
    at.run(timeout=60)
    assert not at.exception
    (grid,) = [d.value for d in at.dataframe if DIVERGES_COLUMN in d.value.columns]
    assert list(grid.columns) == [DIVERGES_COLUMN, *(str(p) for p in range(140, 240))]
    assert grid.loc["run 1", "150"] == "X" and grid.loc["run 1", DIVERGES_COLUMN] == "token 150"
    assert "Positions 140–239 of 250 shown (100 at a time)." in [c.value for c in at.caption]
    # No logprobs captured: no alternatives, and the page says why.
    assert not [d for d in at.dataframe if "run 0 logprob" in d.value.columns]
    assert any("did not capture logprobs" in c.value for c in at.caption)
    at.number_input(key="tv_first").set_value(1).run()
    (grid,) = [d.value for d in at.dataframe if DIVERGES_COLUMN in d.value.columns]
    assert list(grid.columns)[1:3] == ["1", "2"] and len(grid.columns) == 101


def test_embedded_model_runs_get_a_token_view_of_their_own_tokens(make_app, store):
    at = generate(make_app(), runs=2, max_tokens=8)  # the cookbook arms: unseeded, seeded
    assert not at.exception
    assert [e.label for e in at.expander].count("Tokens") == 2
    (summary,) = store.list_experiments()
    stored = store.load_experiment(summary.id)
    grids = [d.value for d in at.dataframe if DIVERGES_COLUMN in d.value.columns]
    for arm, grid in zip(("unseeded", "seeded"), grids, strict=True):
        runs = sorted(
            (c for c in stored.completions if c.arm_label == arm), key=lambda c: c.run_index
        )
        for run in runs:
            assert run.tokens is not None and run.tokens.ids is not None
            cells = grid.loc[f"run {run.run_index}"].tolist()[1:]
            shown = [visible_token(token) for token in run.tokens.tokens]
            assert cells[: len(shown)] == shown and not any(cells[len(shown) :])
    # The embedded model captures no logprobs unless the arm asks: no alternatives table.
    assert not [d for d in at.dataframe if "run 0 logprob" in d.value.columns]

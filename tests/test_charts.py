"""seedscope.charts: figures inspected through fig.data and fig.layout, not as images."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from seedscope import charts
from seedscope.analysis import ExperimentAnalysis, analyze
from seedscope.fingerprints import FingerprintChange
from seedscope.metrics import upper_triangle
from seedscope.providers.base import Completion

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
XSS = '<script>alert("x")</script> & <b>bold</b>'


class HashEmbedder:
    """Deterministic vectors from each text's sha256: the charts, not the embedder, are tested."""

    id = "test:hash"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).normal(size=16))
        return np.asarray(rows, dtype=np.float32)


def runs(label: str, texts: Sequence[str | None]) -> list[Completion]:
    """Completions of one arm; None stands for a failed run."""
    return [
        Completion(
            arm_label=label,
            run_index=i,
            text=text or "",
            system_fingerprint=None,
            requested_seed=None,
            effective_seed=None,
            temperature=0.7,
            top_p=1.0,
            max_tokens=32,
            provider="local",
            model="SmolLM2-135M-Instruct",
            prompt_tokens=5,
            completion_tokens=5,
            latency_s=0.1,
            finish_reason="stop",
            started_at=START,
            error_type="Boom" if text is None else None,
        )
        for i, text in enumerate(texts)
    ]


@pytest.fixture
def analysis() -> ExperimentAnalysis:
    completions = runs("unseeded", ["a", "b", XSS + " " + "long " * 40, "a"]) + runs(
        "seeded", ["same", "same", "same"]
    )
    return analyze(completions, HashEmbedder())


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


# --- heatmaps -------------------------------------------------------------------------------


def test_arm_heatmap_structure(analysis):
    arm = analysis.arm("unseeded")
    fig = charts.arm_heatmap(arm)
    (trace,) = fig.data
    assert trace.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(trace.z), arm.distances)
    assert list(trace.x) == ["0", "1", "2", "3"] and list(trace.y) == ["0", "1", "2", "3"]
    assert trace.texttemplate == "%{z:.2f}"  # small N: values printed in cells
    assert trace.zmin == 0.0 and trace.zmax == pytest.approx(arm.distances.max())
    assert fig.layout.xaxis.title.text == "run" and fig.layout.yaxis.title.text == "run"
    assert fig.layout.yaxis.autorange == "reversed"
    assert "unseeded" in fig.layout.title.text


TEMPLATE_FIELD = re.compile(r"%{([^}:]+)(:[^}]*)?}")


def hover_of(trace: go.Heatmap, row: int, column: int) -> str:
    """The hover plotly.js shows over cell (row, column): its template filled the way plotly
    fills it, each %{...} replaced once (a value is never read as a template again), x and y
    by the cell's axis labels, a format spec applied to numbers."""
    values = {
        "x": trace.x[column],
        "y": trace.y[row],
        "z": np.asarray(trace.z)[row, column],
        "customdata[0]": trace.customdata[row][column][0],
        "customdata[1]": trace.customdata[row][column][1],
    }

    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return format(value, match.group(2)[1:]) if match.group(2) else str(value)

    return TEMPLATE_FIELD.sub(fill, trace.hovertemplate).removesuffix("<extra></extra>")


def test_heatmap_hover_shows_escaped_snippets_of_both_texts(analysis):
    arm = analysis.arm("unseeded")
    trace = charts.arm_heatmap(arm).data[0]
    cell = hover_of(trace, 0, 2)
    assert cell == (
        f"run 0 vs run 2<br>cosine distance {arm.distances[0, 2]:.4f}"
        f"<br>run 0: a<br>run 2: {charts.plain(arm.texts[2], charts.SNIPPET_CHARS)}"
    )
    assert 'run 0: a<br>run 2: &lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;' in cell
    assert "<script>" not in cell and "<b>" not in cell
    snippet = cell.rsplit("run 2: ", 1)[1]
    assert len(snippet) < 80 + 30 and snippet.endswith("…")  # ~80 characters, escaped
    assert hover_of(trace, 3, 1).startswith("run 3 vs run 1<br>")  # row first, then column
    # No per-cell hover strings: one template, the snippets as pairs.
    assert trace.hovertext is None and trace.hovertemplate == charts.HEATMAP_HOVER


def test_heatmap_hover_shows_template_syntax_and_markup_in_model_text_literally():
    texts = ["%{z} and %{customdata[1]}", "<b>bold</b> </script><script>alert(1)</script>"]
    arm = analyze(runs("odd", texts), HashEmbedder()).arm("odd")
    trace = charts.arm_heatmap(arm).data[0]
    # Model text reaches the figure only as escaped customdata, never in the template.
    assert trace.hovertemplate == charts.HEATMAP_HOVER
    fields = {name for name, _ in TEMPLATE_FIELD.findall(trace.hovertemplate)}
    assert fields == {"x", "y", "z", "customdata[0]", "customdata[1]"}
    cell = hover_of(trace, 0, 1)
    assert "run 0: %{z} and %{customdata[1]}<br>" in cell  # not filled in
    assert cell.endswith(
        "run 1: &lt;b&gt;bold&lt;/b&gt; &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert "<b>" not in cell and "</script>" not in cell
    assert "</script" not in charts.arm_heatmap(arm).to_json()


def test_heatmap_hover_data_is_a_fraction_of_per_cell_hover_texts():
    texts = [" ".join(f"word{i}-{w}" for w in range(12)) for i in range(100)]
    arm = analyze(runs("big", texts), HashEmbedder()).arm("big")
    fig = charts.arm_heatmap(arm)
    per_cell = go.Figure(fig).update_traces(
        customdata=None,
        hovertemplate=None,
        hoverinfo="text",
        hovertext=[[hover_of(fig.data[0], i, j) for j in range(100)] for i in range(100)],
    )
    assert len(fig.to_json()) < 0.75 * len(per_cell.to_json())


def test_heatmap_for_many_runs_hides_cell_values():
    arm = analyze(runs("big", [f"text {i}" for i in range(13)]), HashEmbedder()).arm("big")
    assert charts.arm_heatmap(arm).data[0].texttemplate is None


def test_heatmap_colour_options_do_not_touch_the_data(analysis):
    arm = analysis.arm("unseeded")
    viridis = charts.arm_heatmap(arm)
    cividis = charts.arm_heatmap(arm, zmax=2.0, colorscale="Cividis")
    assert cividis.data[0].colorscale == go.Heatmap(colorscale="Cividis").colorscale
    assert cividis.data[0].colorscale != viridis.data[0].colorscale
    assert cividis.data[0].zmax == 2.0
    np.testing.assert_array_equal(np.asarray(cividis.data[0].z), np.asarray(viridis.data[0].z))


def test_arm_heatmap_of_an_arm_without_successful_runs():
    arm = analyze(runs("dead", [None, None]), HashEmbedder()).arm("dead")
    fig = charts.arm_heatmap(arm)
    assert len(fig.data) == 0
    assert annotation_texts(fig) == ["No successful runs in arm dead"]


def test_arms_heatmaps_share_one_colour_axis(analysis):
    fig = charts.arms_heatmaps(analysis, colorscale="Plasma")
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert all(t.coloraxis == "coloraxis" for t in fig.data)
    assert fig.layout.coloraxis.cmin == 0.0
    top = max(arm.distances.max() for arm in analysis.arms)
    assert fig.layout.coloraxis.cmax == pytest.approx(top)
    assert fig.layout.coloraxis.colorscale == go.Heatmap(colorscale="Plasma").colorscale
    assert annotation_texts(fig) == ["unseeded", "seeded"]  # subplot titles
    assert fig.data[0].xaxis == "x" and fig.data[1].xaxis == "x2"
    assert fig.layout.xaxis2.title.text == "run"


def test_arms_heatmaps_with_an_empty_arm_and_no_arms():
    completions = runs("ok", ["same", "same"]) + runs("dead", [None])
    fig = charts.arms_heatmaps(analyze(completions, HashEmbedder()))
    assert len(fig.data) == 1
    assert "no successful runs" in annotation_texts(fig)
    assert fig.layout.coloraxis.cmax == 1.0  # all distances 0: an honest 0..1 scale
    empty = charts.arms_heatmaps(ExperimentAnalysis(arms=[], between_arms=[]))
    assert len(empty.data) == 0 and annotation_texts(empty) == ["No arms to show"]


# --- distributions --------------------------------------------------------------------------


def test_distance_distribution_has_one_box_per_arm(analysis):
    fig = charts.distance_distribution(analysis)
    assert [t.type for t in fig.data] == ["box", "box"]
    assert [t.name for t in fig.data] == ["unseeded", "seeded"]
    expected = upper_triangle(analysis.arm("unseeded").distances)
    np.testing.assert_allclose(np.asarray(fig.data[0].y), expected)
    assert fig.data[0].boxpoints == "all"
    assert fig.data[0].hovertext[0].startswith("run 0 vs run 1: ")
    assert fig.layout.yaxis.title.text == "cosine distance"
    low, high = fig.layout.yaxis.range
    assert low < 0 < high  # zero distances sit visibly above the axis line
    assert high >= max(max(trace.y) for trace in fig.data)


def test_distance_distribution_skips_arms_without_pairs():
    fig = charts.distance_distribution(analyze(runs("solo", ["one"]), HashEmbedder()))
    assert len(fig.data) == 0
    assert annotation_texts(fig) == ["No arm has two successful runs to compare"]


def test_distinct_output_frequency(analysis):
    fig = charts.distinct_output_frequency(analysis)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    unseeded, seeded = fig.data
    assert list(unseeded.y) == [2, 1, 1] and list(unseeded.x) == ["#1", "#2", "#3"]
    assert list(seeded.y) == [3]
    assert "&lt;script&gt;" in unseeded.hovertext[2] and "<script>" not in unseeded.hovertext[2]
    assert fig.layout.yaxis.title.text == "runs"
    assert fig.layout.barmode == "group"


def test_distinct_output_frequency_with_nothing_to_count():
    fig = charts.distinct_output_frequency(analyze(runs("dead", [None]), HashEmbedder()))
    assert len(fig.data) == 0 and annotation_texts(fig) == ["No successful runs"]


# --- fingerprint timeline -------------------------------------------------------------------


def timeline_rows() -> pd.DataFrame:
    def row(minutes, provider, model, host, fingerprint, arm, seed, effective, text):
        return {
            "started_at": START + timedelta(minutes=minutes),
            "provider": provider,
            "model": model,
            "base_url_host": host,
            "system_fingerprint": fingerprint,
            "arm_label": arm,
            "requested_seed": seed,
            "effective_seed": effective,
            "text": text,
        }

    api = "api.openai.com"
    rows = [
        row(0, "openai", "gpt-4o-mini", api, "fp_a", "seeded", 123, 123, "Mars is red."),
        row(1, "openai", "gpt-4o-mini", api, "fp_a", "unseeded", None, None, XSS),
        row(5, "openai", "gpt-4o-mini", api, "fp_b", "seeded", 123, 123, "Mars is red."),
        row(2, "local", "SmolLM2", None, None, "unseeded", None, 2**63 - 1, "one two three"),
        row(3, "local", "SmolLM2", None, None, "seeded", 7, 7, "one two three"),
        row(9, "openai", "gpt-4o-mini", api, None, "seeded", 123, 123, "Mars is red."),
        # The same model on another host: its own row, whatever its fingerprint.
        row(4, "openai", "gpt-4o-mini", "10.0.0.5:8000", "fp_b", "seeded", 123, 123, "Mars."),
    ]
    # object columns, as a store query gives them: float64 could not hold a 64-bit seed exactly
    return pd.DataFrame(rows, dtype=object)


def change(minutes, before, after, *, host="api.openai.com", runs=(2, 1), model="gpt-4o-mini"):
    """A change event as Store.fingerprint_events gives it."""
    return FingerprintChange(
        started_at=START + timedelta(minutes=minutes),
        provider="openai",
        model=model,
        base_url_host=host,
        previous_fingerprint=before,
        system_fingerprint=after,
        runs_before=runs[0],
        runs_after=runs[1],
        previous_seen=START + timedelta(minutes=minutes - 1),
    )


# The events of timeline_rows() on api.openai.com: fp_a -> fp_b, then fp_b -> not reported.
CHANGES = [change(5, "fp_a", "fp_b"), change(9, "fp_b", None, runs=(1, 1))]
API_ROW = "openai/gpt-4o-mini<br>@ api.openai.com"
OTHER_HOST_ROW = "openai/gpt-4o-mini<br>@ 10.0.0.5:8000"


def change_marks(fig: go.Figure) -> go.Scatter | None:
    marks = [t for t in fig.data if t.name == charts.CHANGE_EVENT]
    assert len(marks) <= 1
    return marks[0] if marks else None


def test_fingerprint_timeline_traces_colours_and_symbols():
    fig = charts.fingerprint_timeline(timeline_rows(), CHANGES)
    assert all(t.type == "scatter" and t.mode == "markers" for t in fig.data)
    names = [t.name for t in fig.data]
    assert names == [
        "fp_a · seeded",
        "fp_a · unseeded",
        "not reported · unseeded",
        "not reported · seeded",
        "fp_b · seeded",
        charts.CHANGE_EVENT,
    ]
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours["fp_a · seeded"] == colours["fp_a · unseeded"] != colours["fp_b · seeded"]
    assert colours["not reported · seeded"] == charts.NOT_REPORTED_COLOR
    symbols = {t.name: t.marker.symbol for t in fig.data}
    assert symbols["fp_a · seeded"] == symbols["fp_b · seeded"] != symbols["fp_a · unseeded"]
    assert set(fig.data[2].y) == {"local/SmolLM2"}
    assert fig.layout.xaxis.title.text == "time (UTC)"
    assert fig.layout.yaxis.title.text == "series (provider/model @ host)"


def test_fingerprint_timeline_has_one_row_per_series_host_included():
    fig = charts.fingerprint_timeline(timeline_rows())
    # Rows in the tables' order (provider, model, no host first, then hosts), first on top.
    assert list(fig.layout.yaxis.categoryarray) == ["local/SmolLM2", OTHER_HOST_ROW, API_ROW]
    assert fig.layout.yaxis.autorange == "reversed"
    fp_b = next(t for t in fig.data if t.name == "fp_b · seeded")
    assert list(fp_b.y) == [OTHER_HOST_ROW, API_ROW]  # same fingerprint, two series
    assert "openai/gpt-4o-mini @ 10.0.0.5:8000 · arm seeded" in fp_b.hovertext[0]


def test_fingerprint_timeline_hover():
    fig = charts.fingerprint_timeline(timeline_rows())
    unseeded_hover = fig.data[1].hovertext[0]
    assert "2026-03-01 12:01:00" in unseeded_hover
    assert "openai/gpt-4o-mini @ api.openai.com · arm unseeded" in unseeded_hover
    assert "seed none, effective seed none" in unseeded_hover
    assert "fingerprint fp_a" in unseeded_hover
    assert "&lt;script&gt;" in unseeded_hover and "<script>" not in unseeded_hover
    local_hover = fig.data[2].hovertext[0]
    assert f"effective seed {2**63 - 1}" in local_hover  # int64 seeds stay exact
    assert "one two three" in local_hover


def test_fingerprint_timeline_marks_the_change_events_it_is_given_and_no_others():
    fig = charts.fingerprint_timeline(timeline_rows(), CHANGES)
    marks = change_marks(fig)
    assert [pd.Timestamp(x) for x in marks.x] == [
        pd.Timestamp(START + timedelta(minutes=m)).tz_localize(None) for m in (5, 9)
    ]
    assert list(marks.y) == [API_ROW, API_ROW]  # on the series' own row
    first, second = marks.hovertext
    assert "change event · openai/gpt-4o-mini @ api.openai.com" in first
    assert "fingerprint fp_a → fp_b" in first and "2 runs before" in first and "1 after" in first
    assert "fingerprint fp_b → not reported" in second
    assert not fig.layout.shapes  # markers, not lines across every series
    # The chart works out no change of its own: the fingerprints above do change, but
    # without events there is nothing to mark.
    assert change_marks(charts.fingerprint_timeline(timeline_rows())) is None
    # An event of a series not drawn, or after the last run drawn, is not marked.
    elsewhere = [change(5, "x", "y", model="other"), change(60, "fp_b", "fp_c")]
    assert change_marks(charts.fingerprint_timeline(timeline_rows(), elsewhere)) is None


def test_fingerprint_timeline_times_are_utc_for_runs_and_events():
    rows = timeline_rows()
    rows["started_at"] = [t.astimezone(timezone(timedelta(hours=2))) for t in rows["started_at"]]
    fig = charts.fingerprint_timeline(rows, CHANGES)
    seeded = fig.data[0]
    assert pd.Timestamp(seeded.x[0]) == pd.Timestamp("2026-03-01 12:00:00")
    assert pd.Timestamp(change_marks(fig).x[0]) == pd.Timestamp("2026-03-01 12:05:00")


def test_fingerprint_timeline_escapes_hosts_models_and_fingerprints():
    rows = timeline_rows()
    rows.loc[0, "base_url_host"] = "<b>evil</b>:1"
    rows.loc[0, "system_fingerprint"] = '<img src=x onerror="alert(1)">'
    evil = replace(
        change(0, "<i>old</i>", "<img src=x>", host="<b>evil</b>:1", runs=(1, 1)),
        previous_seen=START,
    )
    fig = charts.fingerprint_timeline(rows, [evil])
    texts = [fig.layout.yaxis.categoryarray, [t.name for t in fig.data]]
    texts += [list(t.hovertext) for t in fig.data] + [list(t.y) for t in fig.data]
    flat = " ".join(str(text) for text in texts)
    assert "<b>" not in flat and "<img" not in flat and "<i>" not in flat
    assert "&lt;b&gt;evil&lt;/b&gt;:1" in flat and "&lt;img src=x&gt;" in flat


def test_fingerprint_timeline_legend_sits_under_the_axis_in_its_own_margin():
    fig = charts.fingerprint_timeline(timeline_rows(), CHANGES)
    legend = fig.layout.legend
    assert legend.orientation == "h"
    # Container coordinates: plotly reserves the legend a margin below the axis' own.
    assert (legend.xref, legend.yref, legend.y, legend.yanchor) == (
        "container",
        "container",
        0,
        "bottom",
    )
    assert fig.layout.xaxis.automargin and fig.layout.yaxis.automargin
    assert fig.layout.title.automargin
    # Taller with more series and more fingerprints, so the plot keeps its room.
    rows = timeline_rows()
    more = rows.assign(base_url_host=[f"h{i}:1" for i in range(len(rows))])
    assert charts.fingerprint_timeline(more).layout.height > fig.layout.height
    many = rows.assign(system_fingerprint=[f"fp_{i}" for i in range(len(rows))])
    assert charts.fingerprint_timeline(many).layout.height > fig.layout.height


def test_fingerprint_timeline_empty_and_invalid_input():
    fig = charts.fingerprint_timeline(pd.DataFrame(columns=list(charts.TIMELINE_COLUMNS)))
    assert len(fig.data) == 0 and annotation_texts(fig) == ["No runs recorded yet"]
    with pytest.raises(ValueError, match="lack columns: text"):
        charts.fingerprint_timeline(timeline_rows().drop(columns=["text"]))
    with pytest.raises(ValueError, match="lack columns: base_url_host"):
        charts.fingerprint_timeline(timeline_rows().drop(columns=["base_url_host"]))


def test_plain_escapes_and_shortens():
    assert charts.plain("<a href='x'>&</a>") == "&lt;a href='x'&gt;&amp;&lt;/a&gt;"
    assert charts.plain("line\nbreak\t tab") == "line break tab"
    assert charts.plain("x" * 100, 80) == "x" * 79 + "…"


# --- drift of repeated fixed requests ---------------------------------------------------------


def drift_points() -> pd.DataFrame:
    def point(minutes, request, status, fp_changed, fingerprint, previous, text):
        return {
            "started_at": START + timedelta(minutes=minutes),
            "request": request,
            "status": status,
            "fingerprint_changed": fp_changed,
            "system_fingerprint": fingerprint,
            "previous_fingerprint": previous,
            "text_preview": text,
        }

    probe, other = "local/SmolLM2 · seed 5", "openai/gpt · seed 1 · " + XSS
    rows = [
        point(30, probe, "changed", True, "fp_b", "fp_a", "A storm hit the base."),
        point(0, probe, "first", None, "fp_a", None, "The rover landed."),
        point(10, probe, "same", False, "fp_a", "fp_a", "The rover landed."),
        point(40, probe, "changed", False, "fp_b", "fp_b", "Dust everywhere."),
        point(5, other, "first", None, None, None, "Big."),
        point(50, other, "same", True, "fp_x", None, "Big."),
    ]
    return pd.DataFrame(rows, dtype=object)


def test_drift_chart_marks_same_and_changed_text_and_fingerprint_changes():
    fig = charts.drift_chart(drift_points())
    assert all(t.type == "scatter" and t.mode == "markers" for t in fig.data)
    traces = {t.name: t for t in fig.data}
    assert list(traces) == [
        "first run",
        "same text",
        "same text · fingerprint changed",
        "changed · same fingerprint",
        "changed · fingerprint changed",
    ]
    # Colour is the text status; the symbol tells fingerprint changes apart.
    colour = {name: t.marker.color for name, t in traces.items()}
    assert colour["same text"] == colour["same text · fingerprint changed"]
    assert colour["changed · same fingerprint"] == colour["changed · fingerprint changed"]
    assert colour["same text"] != colour["changed · same fingerprint"] != colour["first run"]
    symbol = {name: t.marker.symbol for name, t in traces.items()}
    assert symbol["changed · fingerprint changed"] == symbol["same text · fingerprint changed"]
    assert symbol["changed · fingerprint changed"] != symbol["changed · same fingerprint"]
    assert symbol["same text"] != symbol["same text · fingerprint changed"]
    changed = traces["changed · fingerprint changed"]
    # Plotly serialises times without their zone (all times here are UTC)
    assert [pd.Timestamp(x) for x in changed.x] == [pd.Timestamp("2026-03-01 12:30:00")]
    assert list(changed.y) == ["local/SmolLM2 · seed 5"]
    assert len(traces["first run"].x) == 2
    # One row per request, first-seen order, labels escaped and broken into short lines.
    rows = list(fig.layout.yaxis.categoryarray)
    assert rows[0] == "local/SmolLM2 · seed 5"
    lines = rows[1].split("<br>")
    assert len(lines) > 1 and all(len(html.unescape(line)) <= 36 for line in lines)
    assert " ".join(lines) == charts.plain("openai/gpt · seed 1 · " + XSS)
    assert set(traces["same text · fingerprint changed"].y) == {rows[1]}
    assert fig.layout.xaxis.type == "date" and fig.layout.legend.orientation == "h"


def test_drift_chart_hover_shows_the_fingerprint_before_and_after():
    traces = {t.name: t for t in charts.drift_chart(drift_points()).data}
    (hover,) = traces["changed · fingerprint changed"].hovertext
    assert "2026-03-01 12:30:00" in hover
    assert "fingerprint fp_a → fp_b" in hover and "A storm hit the base." in hover
    (reported,) = traces["same text · fingerprint changed"].hovertext
    assert "fingerprint not reported → fp_x" in reported
    assert "&lt;script&gt;" in reported and "<script>" not in reported


def test_drift_chart_empty_and_invalid_input():
    fig = charts.drift_chart(pd.DataFrame(columns=list(charts.DRIFT_COLUMNS)))
    assert len(fig.data) == 0
    assert annotation_texts(fig) == ["No fixed request has been repeated yet"]
    with pytest.raises(ValueError, match="lack columns: text_preview"):
        charts.drift_chart(drift_points().drop(columns=["text_preview"]))
    bad = drift_points()
    bad.loc[0, "status"] = "maybe"
    with pytest.raises(ValueError, match="unknown drift status: maybe"):
        charts.drift_chart(bad)


def test_drift_chart_legend_sits_under_the_axis_in_its_own_margin():
    fig = charts.drift_chart(drift_points())
    legend = fig.layout.legend
    assert legend.orientation == "h" and legend.title.text == "vs the previous run:"
    assert legend.title.side == "top"  # above the entries, not on the first date label
    # Container coordinates, as on the timeline: plotly reserves the legend a margin of its
    # own below the one the date labels and the axis title take.
    assert (legend.xref, legend.yref, legend.x, legend.y, legend.yanchor) == (
        "container",
        "container",
        0,
        0,
        "bottom",
    )
    assert fig.layout.xaxis.title.text == "time (UTC)"
    assert fig.layout.yaxis.title.text == "fixed request"
    assert fig.layout.xaxis.automargin and fig.layout.yaxis.automargin
    assert fig.layout.title.automargin
    # First request on top, half a row beyond the first and the last: the bottom row's label
    # (three lines here) stays above the date labels.
    assert tuple(fig.layout.yaxis.range) == (1.5, -0.5) and fig.layout.yaxis.autorange is None
    # Taller with more requests, so every row keeps its room.
    more = drift_points().assign(request=[f"request {i}" for i in range(len(drift_points()))])
    assert charts.drift_chart(more).layout.height > fig.layout.height
    # and with longer labels: a row is at least as tall as its label's lines.
    longer = drift_points().assign(request=lambda f: f["request"] + " " + "word " * 40)
    assert charts.drift_chart(longer).layout.height > fig.layout.height


def test_drift_chart_times_are_utc():
    points = drift_points()
    points["started_at"] = [
        t.astimezone(timezone(timedelta(hours=2))) for t in points["started_at"]
    ]
    traces = {t.name: t for t in charts.drift_chart(points).data}
    (changed,) = traces["changed · fingerprint changed"].x
    assert pd.Timestamp(changed) == pd.Timestamp("2026-03-01 12:30:00")
    assert "2026-03-01 12:30:00" in traces["changed · fingerprint changed"].hovertext[0]

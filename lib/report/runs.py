"""The runs themselves: backends, fingerprints seen, completions side by side, the word diff,
and the raw runs. Every text here is model output or user input, so all of it goes through
`esc` (via the html helpers)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from seedscope.analysis import ArmAnalysis
from seedscope.providers.base import Completion
from seedscope.report.html import Safe, details, element, esc, join, paragraph, pre, table
from seedscope.ui.diff import word_diff  # pure Python: the ui package's only Streamlit-free part

NOT_REPORTED = "not reported"
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def fingerprint_text(fingerprint: str | None) -> str:
    return fingerprint if fingerprint else NOT_REPORTED


def backends_table(completions: Sequence[Completion], host: str | None) -> Safe:
    """The backends that answered (arms may name their own; imports may name several models):
    provider, model and host, with their arms and runs. `host`: the experiment's, for runs
    stored before each run kept its own."""
    seen: dict[tuple[str, str, str | None], tuple[dict[str, None], list[int]]] = {}
    for run in completions:
        answered_at = None if run.provider == "local" else (run.base_url_host or host)
        arms, runs = seen.setdefault((run.provider, run.model, answered_at), ({}, [0]))
        arms[run.arm_label] = None
        runs[0] += 1
    rows = [
        [provider, model, where or "–", ", ".join(arms), str(runs[0])]
        for (provider, model, where), (arms, runs) in seen.items()
    ]
    return table(["provider", "model", "host", "arms", "runs"], rows, anchor="backends")


@dataclass
class _Seen:
    runs: int
    arms: dict[str, None]  # labels in order of first appearance
    first: str
    last: str


def fingerprints_table(completions: Sequence[Completion]) -> Safe:
    """Each system fingerprint the successful runs reported, with when and where."""
    seen: dict[tuple[str, str, str | None], _Seen] = {}
    for run in sorted((c for c in completions if c.ok), key=lambda c: c.started_at):
        key = (run.provider, run.model, run.system_fingerprint)
        stamp = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
        entry = seen.setdefault(key, _Seen(0, {}, stamp, stamp))
        entry.runs += 1
        entry.arms[run.arm_label] = None
        entry.last = stamp
    if not seen:
        return paragraph("No successful run, so no fingerprint was reported.", class_="muted")
    rows = [
        [
            f"{provider}/{model}",
            fingerprint_text(fp),
            str(e.runs),
            ", ".join(e.arms),
            e.first,
            e.last,
        ]
        for (provider, model, fp), e in seen.items()
    ]
    columns = ["backend/model", "system fingerprint", "runs", "arms", "first seen", "last seen"]
    return table(columns, rows, anchor="fingerprints")


def run_meta(run: Completion) -> str:
    seed = "none" if run.effective_seed is None else str(run.effective_seed)
    tokens = f"{_count(run.prompt_tokens)} prompt + {_count(run.completion_tokens)} completion"
    finish = f" · finish {run.finish_reason}" if run.finish_reason else ""
    return (
        f"run {run.run_index} · effective seed {seed} · {tokens} tokens · "
        f"{run.latency_s:.2f} s{finish} · fingerprint {fingerprint_text(run.system_fingerprint)}"
    )


def _count(value: int | None) -> str:
    return "–" if value is None else str(value)


def run_cell(run: Completion | None, answer: str | None = None) -> Safe:
    """One run: what it was, then its text (or why it failed)."""
    if run is None:
        return paragraph("no run", class_="muted")
    meta = paragraph(run_meta(run), class_="meta")
    if not run.ok:
        return meta + paragraph(
            f"failed: {run.error_type}: {run.error_message or ''}", class_="failed"
        )
    extra = paragraph(f"answer: {answer}", class_="meta") if answer is not None else Safe("")
    text = pre(run.text, class_="out") if run.text else paragraph("(empty output)", class_="muted")
    return meta + text + extra


def runs_side_by_side(
    arms: Sequence[str],
    completions: Sequence[Completion],
    *,
    anchor: str | None = None,
    answers: dict[int, str | None] | None = None,  # by id() of a completion
) -> Safe:
    """Runs x arms: run N of every arm reads across one row."""
    by_arm = {
        label: {c.run_index: c for c in completions if c.arm_label == label} for label in arms
    }
    indices = sorted({c.run_index for c in completions})
    rows = []
    for index in indices:
        cells = []
        for label in arms:
            run = by_arm[label].get(index)
            answer = None if answers is None or run is None else answers.get(id(run))
            cells.append(run_cell(run, answer))
        rows.append([str(index), *cells])
    return table(["run", *arms], rows, anchor=anchor, class_="runs")


def most_different_pair(arm: ArmAnalysis) -> tuple[int, int] | None:
    """Positions (in arm.ok) of the two runs with the largest edit distance; None when fewer
    than two runs or all texts are identical. Ties go to the earliest pair."""
    if len(arm.ok) < 2 or len(set(arm.texts)) == 1:
        return None
    rows, cols = np.triu_indices(len(arm.ok), k=1)
    best = int(np.argmax(arm.edit_distances[rows, cols]))
    return int(rows[best]), int(cols[best])


def arm_diff(arm: ArmAnalysis) -> Safe:
    heading = element("h3", f"Arm {arm.label}")
    if len(arm.ok) < 2:
        return heading + paragraph("Fewer than two successful runs: nothing to compare.")
    pair = most_different_pair(arm)
    if pair is None:
        return heading + paragraph(f"All {len(arm.ok)} successful runs are identical.")
    first, second = (arm.ok[i] for i in pair)
    distance = float(arm.edit_distances[pair])
    diff = word_diff(first.text, second.text)
    what = paragraph(
        f"Run {first.run_index} (A) against run {second.run_index} (B): the two runs of this "
        f"arm with the largest edit distance ({distance:.4f})."
    )
    if diff.whitespace_only:
        return heading + what + paragraph("The two runs differ only in spacing or line breaks.")
    word_a, word_b = diff.words_at_divergence
    position = diff.first_divergence_word
    where = paragraph(
        f"First divergence at word {'–' if position is None else position + 1}: ",
        element("code", word_a) if word_a else "nothing",
        " in run A, ",
        element("code", word_b) if word_b else "nothing",
        " in run B. Struck-through words are only in run A, highlighted words only in run B.",
    )
    return heading + what + where + element("div", _diff_markup(diff), class_="diff")


def _diff_markup(diff) -> Safe:
    parts = []
    for segment in diff.segments:
        if segment.op == "equal":
            parts.append(esc(" ".join(segment.words_a)))
            continue
        if segment.words_a:
            parts.append(element("del", " ".join(segment.words_a)))
        if segment.words_b:
            parts.append(element("ins", " ".join(segment.words_b)))
    return join(parts, " ")


def raw_runs(completions: Sequence[Completion]) -> Safe:
    """Every stored run as JSON lines (all recorded fields), collapsed."""
    # Line and paragraph separators escaped, so that no line reader splits a run in two.
    lines = "\n".join(
        json.dumps(c.to_dict(), ensure_ascii=False).translate(_LINE_SEPARATORS) for c in completions
    )
    summary = f"Raw runs: {len(completions)} as JSON lines (every recorded field)"
    return details(summary, pre(lines or "(no runs stored)", class_="raw-runs"))

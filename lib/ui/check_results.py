"""A check's verdict, above the usual results of its experiment.

A check (seedscope.checks) is an ordinary stored experiment labelled `check:<kind>` whose arms
are the check's; its verdict is recomputed here from the stored spec and runs by the check's
own evaluate function, so a page shows what `seedscope check` printed. An experiment with a
check label whose arms are not the check's is shown as a plain experiment.

Everything shown is the check's own wording and numbers, as plain text (st.text) and tables;
the only Markdown is the verdict's fixed name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st
from seedscope.checks import (
    LOAD_PROBE_LABEL,
    LOGPROBS_CHECK_LABEL,
    SEED_CHECK_LABEL,
    Verdict,
    evaluate_load_probe,
    evaluate_logprobs_check,
    evaluate_seed_check,
)
from seedscope.checks.load import is_load_probe_spec
from seedscope.checks.logprobs import is_logprobs_check_spec
from seedscope.checks.seed import is_seed_check_spec
from seedscope.providers.base import Completion
from seedscope.store import StoredExperiment
from seedscope.ui.text import code_span, fingerprint_label

RUNS_SHOWN = 20  # differing runs listed under the verdict


@dataclass(frozen=True)
class CheckKind:
    kind: str  # "seed" | "load" | "logprobs"
    title: str
    fits: Callable[[Any], bool]
    evaluate: Callable[[Any, Sequence[Completion]], Verdict]


CHECK_KINDS = {
    SEED_CHECK_LABEL: CheckKind("seed", "Seed check", is_seed_check_spec, evaluate_seed_check),
    LOAD_PROBE_LABEL: CheckKind("load", "Load probe", is_load_probe_spec, evaluate_load_probe),
    LOGPROBS_CHECK_LABEL: CheckKind(
        "logprobs", "Logprobs check", is_logprobs_check_spec, evaluate_logprobs_check
    ),
}
# verdict -> (how it is shown: success | warning | info, what it means in a few words)
VERDICTS: dict[str, tuple[str, str]] = {
    "seed_honoured": ("success", "the same seed gives the same text, run by run"),
    "seed_ignored": ("warning", "the same seed repeats itself no more often than another"),
    "deterministic_regardless_of_seed": ("info", "every run is the same, whatever the seed"),
    "seed_honoured_not_deterministic": (
        "warning",
        "the seed matters, but the same seed does not always give the same text",
    ),
    "load_invariant": ("success", "the output does not change with load"),
    "load_dependent": ("warning", "the output changes with what else the backend is doing"),
    "logprobs_do_not_change_outputs": ("success", "asking for logprobs leaves the output alone"),
    "logprobs_change_outputs": ("warning", "asking for logprobs changes the output"),
    "inconclusive": ("info", "the runs cannot tell"),
}
ICONS = {"success": ":material/verified:", "warning": ":material/warning:", "info": None}


def check_kind(experiment: StoredExperiment) -> CheckKind | None:
    """The check this experiment is: its label is a check's and its spec fits that check."""
    kind = CHECK_KINDS.get(experiment.summary.label or "")
    if kind is None or experiment.case_id is not None or not kind.fits(experiment.spec):
        return None
    return kind


def render_check_verdict(experiment: StoredExperiment) -> bool:
    """The verdict, its explanation and the key evidence, if `experiment` is a check
    (True); else nothing is drawn (False)."""
    kind = check_kind(experiment)
    if kind is None:
        return False
    verdict = kind.evaluate(experiment.spec, experiment.completions)
    style, meaning = VERDICTS.get(verdict.verdict, ("info", ""))
    headline = f"**{kind.title}: {code_span(verdict.verdict)}**"
    if meaning:
        headline += f" — {meaning}."
    getattr(st, style)(headline, icon=ICONS[style])
    evidence = verdict.evidence
    st.text(evidence.get("explanation", ""))
    if experiment.status != "complete":
        st.caption(
            f"The check ended {experiment.status}: the verdict rests on the "
            f"{len(experiment.completions)} runs stored."
        )
    st.dataframe(key_evidence(kind.kind, evidence), hide_index=True)
    st.dataframe(arms_evidence(evidence), hide_index=True)
    caption, differing = differing_runs(kind.kind, evidence)
    if differing:
        st.caption(caption)
        st.dataframe(pd.DataFrame(differing[:RUNS_SHOWN]), hide_index=True)
    return True


def _fingerprints(seen: Sequence[str | None]) -> str:
    return ", ".join(fingerprint_label(fp) for fp in seen) or "–"


def _pairs(pairs: dict[str, Any]) -> str:
    return f"{pairs['matching']} of {pairs['usable']} usable pairs match"


def key_evidence(kind: str, evidence: dict[str, Any]) -> pd.DataFrame:
    """The figures the verdict rests on, one per row (as text: the values are of many kinds)."""
    rows: list[tuple[str, Any]]
    if kind == "seed":
        rows = [
            ("seed A / seed B", f"{evidence['seed_a']} / {evidence['seed_b']}"),
            ("temperature", evidence["temperature"]),
            ("runs per arm", evidence["runs_per_arm"]),
            ("seed A vs seed A again", _pairs(evidence["same_seed"])),
            ("seed A vs seed B", _pairs(evidence["different_seeds"])),
            ("margin (same-seed share − cross-seed share)", evidence["margin"]),
            ("distinct outputs", evidence["distinct_outputs"]),
            ("fingerprints", _fingerprints(evidence["fingerprints"])),
        ]
    elif kind == "load":
        rows = [
            ("seed", evidence["seed"]),
            ("temperature", evidence["temperature"]),
            ("runs alone / under load", evidence["runs"]),
            ("copies at once (K)", evidence["copies"]),
            ("background requests per run (B)", evidence["background"]),
            ("runs differing from the first sequential run", len(evidence["differing_runs"])),
            ("sequential runs agree", evidence["sequential_runs_agree"]),
            ("fewest background calls in flight with a run", evidence["background_in_flight"]),
            ("one call at a time", evidence["one_call_at_a_time"]),
            ("fingerprints", _fingerprints(evidence["fingerprints"])),
        ]
    else:
        returned = evidence["logprobs_returned"]
        rows = [
            ("seed", evidence["seed"]),
            ("temperature", evidence["temperature"]),
            ("top k logprobs", evidence["top_logprobs"]),
            ("runs per arm", evidence["runs_per_arm"]),
            ("logprobs returned", f"in {returned['runs']} of {returned['of']} runs"),
            ("runs with logprobs that differ", len(evidence["differing_runs"])),
        ]
        rows += [
            (f"fingerprints ({arm})", _fingerprints(seen))
            for arm, seen in evidence["fingerprints"].items()
        ]
    return pd.DataFrame([{"evidence": name, "value": _text(value)} for name, value in rows])


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def arms_evidence(evidence: dict[str, Any]) -> pd.DataFrame:
    """Per arm: runs planned, succeeded, failed, missing, distinct outputs (and for the load
    probe the runs matching the reference and the most calls in flight at once)."""
    rows = [{"arm": arm, **summary} for arm, summary in evidence["arms"].items()]
    return pd.DataFrame(rows).convert_dtypes()  # counts stay whole numbers next to a missing one


DIFFERING = {
    "seed": "runs where seed A and seed A again differ",
    "load": "runs that differ from the first sequential run",
    "logprobs": "runs with logprobs whose text differs from the runs without",
}


def differing_runs(kind: str, evidence: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The runs whose text differs where the check expects the same text, and what they are."""
    pairs = evidence["same_seed"] if kind == "seed" else evidence
    runs = pairs["differing_runs"]
    shown = f", the first {RUNS_SHOWN} here" if len(runs) > RUNS_SHOWN else ""
    caption = (
        f"{len(runs)} {DIFFERING[kind]}{shown} (first_divergence_char: the first character "
        "that differs, counted from 0)"
    )
    return caption, runs

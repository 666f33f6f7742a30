"""What the commands print: progress lines, tables and the compare JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from seedscope.spec import ExperimentSpec
from seedscope.terminal import one_line
from seedscope.tokens.forks import TokenFork


def progress_printer(stream):
    def report(event) -> None:
        arm = event.arms[event.completion.arm_label]
        status = "ok" if event.completion.ok else f"FAILED ({event.completion.error_type})"
        cases = f" cases {event.cases_done}/{event.cases_total}" if event.cases_total else ""
        stream.write(
            f"\r[{event.done}/{event.total}]{cases} {arm.label}: {arm.done}/{arm.total} {status}   "
        )
        if event.done == event.total:
            stream.write("\n")
        stream.flush()

    return report


def _arm_runs_json(completions) -> list[dict[str, Any]]:
    return [
        {
            "index": c.run_index,
            "text": c.text,
            "system_fingerprint": c.system_fingerprint,
            "effective_seed": c.effective_seed,
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "latency_s": round(c.latency_s, 4),
            "finish_reason": c.finish_reason,
            "error": None if c.ok else f"{c.error_type}: {c.error_message}",
        }
        for c in completions
    ]


_JSON_METRICS = (
    "distinct_outputs",
    "modal_share",
    "exact_match_rate",
    "tarr",
    "mean_distance_first_vs_rest",
    "mean_pairwise_distance",
    "max_pairwise_distance",
    "first_divergence_char",
    "mean_edit_distance",
    "knife_edge_share",
)


def _arm_backend_json(spec: ExperimentSpec, arm, completions) -> dict[str, Any]:
    """Who answered the arm: from its runs (each records its backend), else from the spec."""
    answered = next((c for c in completions), None)
    if answered is not None:
        return {
            "provider": answered.provider,
            "model": answered.model,
            "base_url_host": answered.base_url_host,
        }
    return {"provider": arm.provider or spec.provider, "model": arm.model, "base_url_host": None}


def comparison_json(spec: ExperimentSpec, completions, analysis, experiment_id) -> dict[str, Any]:
    by_arm = {arm.label: [c for c in completions if c.arm_label == arm.label] for arm in spec.arms}
    arms = []
    for arm in spec.arms:
        entry: dict[str, Any] = {
            "label": arm.label,
            "seed": arm.seed,
            "temperature": arm.temperature,
            "backend": _arm_backend_json(spec, arm, by_arm[arm.label]),
            "runs": _arm_runs_json(by_arm[arm.label]),
        }
        if analysis is not None:
            arm_analysis = analysis.arm(arm.label)
            metrics = arm_analysis.metrics.to_dict()
            entry["metrics"] = {key: metrics.get(key) for key in _JSON_METRICS}
            entry["first_divergence_token"] = arm_analysis.metrics.first_divergence_token
            fork = arm_analysis.fork
            entry["token_fork"] = None if fork is None else asdict(fork)
        arms.append(entry)
    result: dict[str, Any] = {
        "experiment_id": experiment_id,
        "spec": spec.model_dump(),
        "arms": arms,
    }
    if analysis is not None:
        result["between_arms"] = [
            {"arm_a": a, "arm_b": b, "mean_distance": distance}
            for a, b, distance in analysis.between_arms
        ]
    return result


def describe_fork(fork: TokenFork) -> str:
    """One line for the terminal: where the arm forks and how near a tie it was there."""

    def token(text: str | None, logprob: float | None) -> str:
        # repr escapes whitespace and every unprintable character (ESC included)
        shown = "(ended)" if text is None else repr(text[:30])
        return shown if logprob is None else f"{shown} (logprob {logprob:.3f})"

    line = (
        f"fork at token {fork.position}: run {fork.run_a} {token(fork.token_a, fork.logprob_a)}"
        f" vs run {fork.run_b} {token(fork.token_b, fork.logprob_b)}"
    )
    if fork.margin is not None:
        line += f"; top-1/top-2 margin {fork.margin:.4f}"
    return line


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(rows: list[dict[str, Any]], out) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_fmt(row[col]) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    out.write("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)) + "\n")
    for row in cells:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + "\n")


def print_comparison_table(spec, completions, analysis, experiment_id, out) -> None:
    if experiment_id:
        out.write(f"experiment {experiment_id}\n")
    for arm in spec.arms:
        seed = "none" if arm.seed is None else arm.seed
        backend = ""
        if arm.provider or arm.base_url or arm.model:  # an arm with a backend of its own
            runs = [c for c in completions if c.arm_label == arm.label]
            named = _arm_backend_json(spec, arm, runs)
            where = f" @ {named['base_url_host']}" if named["base_url_host"] else ""
            backend = one_line(f"; {named['provider']} {named['model'] or ''}{where}", 80)
        out.write(
            f"\n== {one_line(arm.label, 60)} (seed {seed}, temperature {arm.temperature:g}"
            f"{backend})\n"
        )
        rows = []
        for c in (c for c in completions if c.arm_label == arm.label):
            response = (
                one_line(c.text, 60) if c.ok else f"[failed] {c.error_type}: {c.error_message}"
            )
            rows.append(
                {
                    "run": c.run_index,
                    "response": one_line(response, 70),
                    "system_fingerprint": c.system_fingerprint or "not reported",
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "effective_seed": c.effective_seed,
                    "latency_s": round(c.latency_s, 3),
                }
            )
        print_table(rows, out)
        if analysis is not None:
            m = analysis.arm(arm.label).metrics
            out.write(
                f"distinct outputs {m.distinct_outputs}/{m.runs - m.failed_runs}"
                f"  mean distance run 0 vs rest (cookbook) {_fmt(m.mean_distance_first_vs_rest)}"
                f"  mean pairwise {_fmt(m.mean_pairwise_distance)}"
                f"  exact match {_fmt(m.exact_match_rate, 2)}"
                f"  first divergence (char) {_fmt(m.first_divergence_char)}"
                f"  (token) {_fmt(m.first_divergence_token)}\n"
            )
            fork = analysis.arm(arm.label).fork
            if fork is not None:
                out.write(f"{describe_fork(fork)}\n")
    if analysis is not None and analysis.between_arms:
        out.write("\nbetween arms (mean cosine distance)\n")
        for a, b, distance in analysis.between_arms:
            out.write(f"  {a} vs {b}: {_fmt(distance)}\n")

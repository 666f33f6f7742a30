"""lib/checks/logprobs.py: does asking for logprobs change the outputs? The verdict on worked
runs for every branch, its validation, both outcomes for real against the project's test
server (honest, and told that its logprob path changes the output), the embedded model (its
capturing arm on a load of its own), and `seedscope check logprobs`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from seedscope.checks import (
    LOGPROBS_VERDICTS,
    evaluate_logprobs_check,
    latest_checks,
    logprobs_check_spec,
    run_logprobs_check,
)
from seedscope.checks.logprobs import WITH, WITHOUT
from seedscope.cli import main
from seedscope.providers.base import Completion
from seedscope.providers.local import LocalProvider
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.spec import ExperimentSpec, SpecError
from seedscope.store import Store
from seedscope.tokens.trace import TokenTrace

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REMOTE = ExperimentSpec(provider="openai", model="fake-model", max_tokens=8)


def run(arm: str, index: int, text: str | None) -> Completion:
    """One hand-built run; text None is a failed call. Runs with logprobs carry a trace."""
    traced = arm == WITH and text is not None
    return Completion(
        arm_label=arm,
        run_index=index,
        text=text or "",
        system_fingerprint="fp",
        requested_seed=123,
        effective_seed=123,
        temperature=1.0,
        top_p=1.0,
        max_tokens=8,
        provider="openai",
        model="fake-model",
        prompt_tokens=5,
        completion_tokens=1,
        latency_s=0.01,
        finish_reason="stop",
        started_at=T0 + timedelta(seconds=index),
        error_type=None if text is not None else "InternalServerError",
        error_message=None if text is not None else "500",
        tokens=TokenTrace(tokens=(text,), logprobs=(-0.5,)) if traced else None,
    )


def runs_of(without: str, with_: str) -> list[Completion]:
    """One letter per run ('x' = a failed run)."""
    return [
        run(label, index, None if char == "x" else f"text {char}")
        for label, texts in ((WITHOUT, without), (WITH, with_))
        for index, char in enumerate(texts.split())
    ]


WORKED = [
    ("a a a a", "a a a a", "logprobs_do_not_change_outputs", []),
    ("a a a a", "a b a c", "logprobs_change_outputs", [1, 3]),
    ("a a x x", "b b b b", "logprobs_change_outputs", [0, 1, 2, 3]),  # 2 of 4 needed
    ("a b a a", "a a a a", "inconclusive", []),  # does not repeat itself without logprobs
    ("a x x x", "a a a a", "inconclusive", []),  # too few successful runs
    ("a a a a", "a x x x", "inconclusive", []),
]


@pytest.mark.parametrize(("without", "with_", "verdict", "differing"), WORKED)
def test_worked_values(without, with_, verdict, differing):
    result = evaluate_logprobs_check(logprobs_check_spec(REMOTE, runs=4), runs_of(without, with_))
    assert result.verdict == verdict
    assert [d["run_index"] for d in result.evidence["differing_runs"]] == differing
    if differing:
        assert result.evidence["differing_runs"][0]["first_divergence_char"] == 5  # "text ?"


def test_the_evidence_says_whether_logprobs_came_back():
    runs = runs_of("a a", "a a")
    runs[-1] = runs[-1].with_changes(tokens=None)
    evidence = evaluate_logprobs_check(logprobs_check_spec(REMOTE, runs=2), runs).evidence
    assert evidence["logprobs_returned"] == {"runs": 1, "of": 2}


def test_the_spec_names_each_bad_parameter():
    spec = logprobs_check_spec(REMOTE, seed=7, temperature=0.5, top_logprobs=3, runs=2)
    assert [(a.label, a.seed, a.temperature, a.top_logprobs) for a in spec.arms] == [
        (WITHOUT, 7, 0.5, None),
        (WITH, 7, 0.5, 3),
    ]
    with pytest.raises(SpecError) as error:
        logprobs_check_spec(REMOTE, top_logprobs=21, temperature=3, runs=1)
    text = str(error.value)
    assert "runs: 1 is out of range for the logprobs check" in text
    assert "top_logprobs: top_logprobs 21 is out of range; allowed 1 to 20" in text
    assert "temperature: temperature 3.0 is out of range" in text


@pytest.mark.parametrize(
    ("options", "verdict"),
    [
        ((), "logprobs_do_not_change_outputs"),
        (("--logprobs-change-output",), "logprobs_change_outputs"),
    ],
)
def test_both_outcomes_against_the_test_server(fake_server_factory, tmp_path, options, verdict):
    server = fake_server_factory(*options)
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    with Store.open(f"sqlite:///{tmp_path / 'h.db'}") as store:
        result = run_logprobs_check(store, logprobs_check_spec(REMOTE, runs=3), provider)
        assert result.verdict == verdict
        assert result.evidence["logprobs_returned"] == {"runs": 3, "of": 3}
        [record] = latest_checks(store)
        assert (record.kind, record.verdict, record.experiment_id) == (
            "logprobs",
            verdict,
            result.experiment_id,
        )
    sent = [(e["logprobs"], e["top_logprobs"]) for e in server.stats()["chat_log"]]
    assert sorted(sent, key=str) == sorted([(None, None)] * 3 + [(True, 5)] * 3, key=str)


def test_a_server_without_logprobs_support_is_reported(fake_server_factory, tmp_path):
    server = fake_server_factory("--no-logprobs")
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    with Store.open(f"sqlite:///{tmp_path / 'h.db'}") as store:
        result = run_logprobs_check(store, logprobs_check_spec(REMOTE, runs=2), provider)
    assert result.verdict == "logprobs_do_not_change_outputs"
    assert result.evidence["logprobs_returned"] == {"runs": 0, "of": 2}


def test_the_embedded_model_captures_on_a_load_of_its_own(tmp_path):
    provider = LocalProvider.shared()
    base = ExperimentSpec(provider="local", max_tokens=16)
    with Store.open(f"sqlite:///{tmp_path / 'h.db'}") as store:
        result = run_logprobs_check(store, logprobs_check_spec(base, runs=2), provider)
    assert result.verdict in LOGPROBS_VERDICTS
    fingerprints = result.evidence["fingerprints"]
    assert fingerprints[WITHOUT] == [provider.fingerprint]
    assert fingerprints[WITH] == [provider.logprobs_fingerprint] != fingerprints[WITHOUT]
    assert result.evidence["logprobs_returned"] == {"runs": 2, "of": 2}


def test_the_command_prints_the_verdict_as_json_and_as_a_table(fake_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    backend = ["--provider", "openai", "--base-url", fake_server.base_url, "--model", "fake-model"]
    args = ["check", "logprobs", *backend, "--runs", "2", "--max-tokens", "8"]
    out, err = io.StringIO(), io.StringIO()
    assert main([*args, "--top-logprobs", "3", "--format", "json"], out=out, err=err) == 0, err
    data = json.loads(out.getvalue())
    assert data["verdict"] == "logprobs_do_not_change_outputs"
    assert data["evidence"]["top_logprobs"] == 3
    out = io.StringIO()
    assert main(args, out=out, err=io.StringIO()) == 0
    table = out.getvalue()
    assert table.startswith("logprobs check: logprobs_do_not_change_outputs\n")
    assert "logprobs returned in 2 of 2 runs" in table
    err = io.StringIO()
    assert main([*args, "--top-logprobs", "0"], out=io.StringIO(), err=err) == 2
    assert "--top-logprobs: top_logprobs 0 is out of range; allowed 1 to 20\n" in err.getvalue()

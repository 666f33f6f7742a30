"""The three checks against llama-cpp-python's own OpenAI-compatible server on the embedded
GGUF (a real server on 127.0.0.1): it honours the seed, serves calls one at a time so load
cannot move a greedy output, and returns logprobs without changing the text. The opposite
outcomes come from the project's test server (test_checks_seed/load/logprobs.py)."""

from __future__ import annotations

import pytest
from seedscope.checks import (
    latest_checks,
    load_probe_spec,
    logprobs_check_spec,
    run_load_probe,
    run_logprobs_check,
    run_seed_check,
    seed_check_spec,
)
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.spec import ExperimentSpec
from seedscope.store import Store

BASE = ExperimentSpec(provider="openai", model="smollm2", max_tokens=24)


@pytest.fixture(scope="module")
def verdicts(llama_server, tmp_path_factory):
    provider = OpenAICompatProvider(api_key=None, base_url=llama_server, model="smollm2")
    database = tmp_path_factory.mktemp("llama") / "history.db"
    with Store.open(f"sqlite:///{database}") as store:
        results = {
            "seed": run_seed_check(store, seed_check_spec(BASE, runs=3), provider),
            "load": run_load_probe(
                store, load_probe_spec(BASE, runs=3, copies=3, background=2), provider
            ),
            "logprobs": run_logprobs_check(store, logprobs_check_spec(BASE, runs=3), provider),
        }
        latest = {record.kind: record.verdict for record in latest_checks(store)}
    return results, latest


def test_llama_cpp_python_server_honours_the_seed(verdicts):
    results, latest = verdicts
    assert results["seed"].verdict == latest["seed"] == "seed_honoured"
    assert results["seed"].evidence["same_seed"]["share"] == 1.0


def test_llama_cpp_python_server_is_load_invariant(verdicts):
    results, latest = verdicts
    assert results["load"].verdict == latest["load"] == "load_invariant"


def test_llama_cpp_python_server_returns_logprobs_without_changing_the_text(verdicts):
    results, latest = verdicts
    logprobs = results["logprobs"]
    assert logprobs.verdict == latest["logprobs"] == "logprobs_do_not_change_outputs"
    assert logprobs.evidence["logprobs_returned"] == {"runs": 3, "of": 3}
    captured = [c for c in logprobs.runs if c.arm_label == "with logprobs"]
    assert all("".join(c.tokens.tokens) == c.text for c in captured)

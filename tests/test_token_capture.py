"""Token capture for real: the embedded model's token ids and logprobs, and Chat Completions
logprobs from the project's test server, through the lifecycle and the store."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from seedscope.analysis import analyze
from seedscope.embeddings import CachingEmbedder, LocalEmbedder
from seedscope.experiments import create_experiment, run_experiment
from seedscope.metrics import first_divergence_char
from seedscope.providers.base import CompletionRequest
from seedscope.providers.local import load_llama
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.spec import validate_spec
from seedscope.store import Store

PROMPT = "Write one sentence about the sea."


def local_request(seed: int, top_logprobs: int | None = None, **changes) -> CompletionRequest:
    values = {
        "arm_label": "arm",
        "run_index": 0,
        "prompt": PROMPT,
        "system": "You are a helpful assistant.",
        "model": "SmolLM2-135M-Instruct",
        "seed": seed,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_tokens": 24,
        "top_logprobs": top_logprobs,
    }
    values.update(changes)
    return CompletionRequest(**values)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(LocalEmbedder())


@pytest.fixture(scope="module")
def vocabulary(gguf_path: Path):
    return load_llama(gguf_path, 2048, 512, 1, vocab_only=True)


def test_a_seeded_runs_token_ids_decode_to_its_text(local_provider, vocabulary):
    completion = local_provider.complete_sync(local_request(7))
    assert completion.ok and completion.text
    trace = completion.tokens
    assert len(trace.ids) == completion.completion_tokens
    assert vocabulary.detokenize(list(trace.ids)).decode("utf-8") == completion.text
    assert "".join(trace.tokens) == completion.text
    assert trace.logprobs is None and trace.top is None  # a plain arm captures no logprobs


def test_logprobs_come_from_a_load_of_their_own(local_provider):
    plain = local_provider.complete_sync(local_request(11))
    captured = local_provider.complete_sync(local_request(11, top_logprobs=5))
    assert captured.system_fingerprint != plain.system_fingerprint
    assert captured.system_fingerprint == local_provider.logprobs_fingerprint
    trace = captured.tokens
    assert len(trace.logprobs) == len(trace.ids) == len(trace.top) == captured.completion_tokens
    for logprob, alternatives in zip(trace.logprobs, trace.top, strict=True):
        assert len(alternatives) == 5
        values = [value for _, value in alternatives]
        assert values == sorted(values, reverse=True)
        assert logprob <= values[0] + 1e-9 and sum(math.exp(v) for v in values) <= 1 + 1e-6
    # A plain arm afterwards is still served by the plain load.
    assert local_provider.complete_sync(local_request(11)).system_fingerprint == (
        plain.system_fingerprint
    )


def test_logprobs_match_llama_cpps_own(local_provider):
    """llama-cpp-python's completion logprobs are the reference: same load, same seed."""
    captured = local_provider.complete_sync(local_request(5, top_logprobs=2, max_tokens=12))
    llm = local_provider._logprobs_llm
    llm.reset()
    reference = llm.create_chat_completion(
        messages=local_request(5).chat_messages(),
        temperature=1.0,
        top_p=1.0,
        max_tokens=12,
        seed=5,
        logprobs=True,
        top_logprobs=2,
    )
    content = reference["choices"][0]["logprobs"]["content"]
    assert reference["choices"][0]["message"]["content"] == captured.text
    assert [entry["token"] for entry in content] == list(captured.tokens.tokens)
    for entry, logprob in zip(content, captured.tokens.logprobs, strict=True):
        assert logprob == pytest.approx(entry["logprob"], abs=1e-4)


def test_two_texts_that_differ_at_a_known_token_report_that_token(
    local_provider, vocabulary, embedder
):
    runs = [
        local_provider.complete_sync(local_request(seed, run_index=i))
        for i, seed in enumerate((101, 202))
    ]
    a, b = (run.tokens.ids for run in runs)
    assert a != b
    # These two seeds differ inside the shorter run (not one a prefix of the other).
    known = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y) + 1
    analysis = analyze(runs, embedder)
    assert analysis.arms[0].metrics.first_divergence_token == known
    fork = analysis.arms[0].fork
    assert (fork.token_a, fork.token_b) == (
        runs[0].tokens.tokens[known - 1],
        runs[1].tokens.tokens[known - 1],
    )
    # The character divergence lies inside that token: after the common tokens' text.
    common = len(vocabulary.detokenize(list(a[: known - 1])).decode("utf-8", "replace"))
    char = first_divergence_char(runs[0].text, runs[1].text)
    assert common <= char < common + max(len(fork.token_a), len(fork.token_b))


def spec_with_capture(top_logprobs: int | None, runs: int = 3, max_tokens: int = 12):
    return validate_spec(
        {
            "prompt": PROMPT,
            "provider": "openai",
            "model": "fake-model",
            "max_tokens": max_tokens,
            "arms": [
                {
                    "label": "captured",
                    "seed": 1,
                    "temperature": 1,
                    "runs": runs,
                    "top_logprobs": top_logprobs,
                },
                {"label": "plain", "seed": 1, "temperature": 1, "runs": runs},
            ],
        }
    )


def test_chat_completions_logprobs_are_asked_for_stored_and_measured(
    fake_server_factory, tmp_path, embedder
):
    server = fake_server_factory()
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    spec = spec_with_capture(4)
    with Store.open(f"sqlite:///{tmp_path / 'h.db'}") as store:
        experiment_id = create_experiment(store, spec, provider)
        run_experiment(store, experiment_id, spec, provider)
        stored = store.load_experiment(experiment_id)
    log = server.stats()["chat_log"]
    sent = {(entry["logprobs"], entry["top_logprobs"]) for entry in log}
    assert sent == {(True, 4), (None, None)}
    captured = [c for c in stored.completions if c.arm_label == "captured"]
    plain = [c for c in stored.completions if c.arm_label == "plain"]
    assert all(c.tokens is None for c in plain)
    for c in captured:
        assert "".join(c.tokens.tokens) == c.text and c.tokens.ids is None
        assert all(len(top) == 4 for top in c.tokens.top)
    # The server makes every 4th position a near tie (margin 0.004): the share is exact.
    positions = [len(c.tokens) for c in captured]
    ties = sum(n // 4 for n in positions)
    analysis = analyze(stored.completions, embedder, arm_order=["captured", "plain"])
    assert analysis.arm("captured").metrics.knife_edge_share == pytest.approx(ties / sum(positions))
    assert analysis.arm("plain").metrics.knife_edge_share is None
    # Seeded and identical: no fork, in tokens or characters.
    assert analysis.arm("captured").metrics.first_divergence_token is None


def test_a_server_that_ignores_the_request_for_logprobs_leaves_tokens_unknown(fake_server_factory):
    server = fake_server_factory("--no-logprobs")
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    completion = asyncio.run(
        provider.complete(local_request(3, top_logprobs=2, model="fake-model"))
    )
    assert completion.ok and completion.tokens is None

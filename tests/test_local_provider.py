"""The embedded model for real: SmolLM2-135M-Instruct through llama-cpp-python (short outputs)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from seedscope.providers.base import CompletionRequest
from seedscope.providers.factory import make_provider
from seedscope.providers.local import (
    LocalModelError,
    LocalProvider,
    local_fingerprint,
    local_provider_from_settings,
)
from seedscope.runner import plan_requests, run_spec_sync
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL, LOCAL_SEED_MAX, ExperimentSpec

REPO = Path(__file__).resolve().parents[1]
MAX_TOKENS = 24


def local_spec(*arms: tuple[str, int | None, float, int]) -> ExperimentSpec:
    return ExperimentSpec(
        max_tokens=MAX_TOKENS,
        arms=[{"label": a, "seed": s, "temperature": t, "runs": n} for a, s, t, n in arms],
    )


def one_request(seed: int | None, temperature: float = 0.7, **changes) -> CompletionRequest:
    values = dict(
        arm_label="arm",
        run_index=0,
        prompt="Generate a short excerpt of news about a journey to Mars.",
        system="You are a helpful assistant.",
        model=LOCAL_CHAT_MODEL,
        seed=seed,
        temperature=temperature,
        top_p=1.0,
        max_tokens=MAX_TOKENS,
    )
    values.update(changes)
    return CompletionRequest(**values)


def test_identity_and_sharing(local_provider):
    assert local_provider is LocalProvider.shared()
    assert local_provider is local_provider_from_settings(Settings())
    assert local_provider is make_provider(Settings(), "local")
    assert (local_provider.name, local_provider.model) == ("local", LOCAL_CHAT_MODEL)
    assert local_provider.max_concurrency == 1 and local_provider.base_url_host is None
    assert local_provider.list_models() == [LOCAL_CHAT_MODEL]
    assert re.fullmatch(r"local-[0-9a-f]{10}", local_provider.fingerprint)


def test_seeded_arm_gives_one_text(local_provider):
    outcome = run_spec_sync(local_spec(("seeded", 123, 0.7, 5)), local_provider)
    texts = [c.text for c in outcome.completions]
    assert all(c.ok for c in outcome.completions)
    assert len(set(texts)) == 1 and texts[0]
    assert {c.effective_seed for c in outcome.completions} == {123}
    assert {c.system_fingerprint for c in outcome.completions} == {local_provider.fingerprint}
    first = outcome.completions[0]
    assert first.completion_tokens and first.completion_tokens <= MAX_TOKENS
    assert first.prompt_tokens and first.prompt_tokens > 10
    assert first.finish_reason in {"stop", "length"}


def test_unseeded_arm_varies_and_records_fresh_seeds(local_provider):
    spec = local_spec(("unseeded", None, 0.7, 5))
    outcome = run_spec_sync(spec, local_provider)
    seeds = [c.effective_seed for c in outcome.completions]
    assert len(set(seeds)) == 5
    assert all(1 <= s <= LOCAL_SEED_MAX for s in seeds)
    assert all(c.requested_seed is None for c in outcome.completions)
    assert len({c.text for c in outcome.completions}) >= 2

    # Replaying any unseeded run with its effective seed reproduces its text exactly,
    # even though other generations ran in between.
    requests = {(r.arm_label, r.run_index): r for r in plan_requests(spec)}
    for completion in (outcome.completions[3], outcome.completions[0]):
        again = local_provider.replay(completion, requests["unseeded", completion.run_index])
        assert again.text == completion.text
        assert again.effective_seed == completion.effective_seed
        assert again.requested_seed is None


def test_temperature_zero_gives_identical_texts(local_provider):
    outcome = run_spec_sync(local_spec(("greedy", None, 0.0, 5)), local_provider)
    assert len({c.text for c in outcome.completions}) == 1


def test_a_seed_reproduces_regardless_of_history(local_provider):
    # Without the context reset before each call, llama-cpp-python would reuse the previous
    # call's evaluated prompt, which changes the text for this prompt with seed 4 (checked).
    prompt = "Explain photosynthesis to a child."
    for seed in (4, 6):
        first = local_provider.complete_sync(one_request(seed=seed, prompt=prompt))
        again = local_provider.complete_sync(one_request(seed=seed, prompt=prompt))
        local_provider.complete_sync(one_request(seed=None, prompt="Name three moons."))
        later = local_provider.complete_sync(one_request(seed=seed, prompt=prompt))
        assert first.text == again.text == later.text
        assert first.effective_seed == seed


def test_concurrent_callers_are_serialised_by_the_lock(local_provider):
    results = []

    def call() -> None:
        results.append(local_provider.complete_sync(one_request(seed=77)))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({c.text for c in results}) == 1 and all(c.ok for c in results)


def test_async_complete(local_provider):
    completion = asyncio.run(local_provider.complete(one_request(seed=5)))
    assert completion.ok and completion.text == local_provider.complete_sync(one_request(5)).text


def test_failures_are_recorded_not_raised(local_provider):
    too_long = local_provider.complete_sync(one_request(seed=1, prompt="Mars " * 3000))
    assert not too_long.ok and too_long.text == ""
    assert "context window" in too_long.error_message
    assert too_long.error_message.startswith("the embedded model failed")
    for seed in (0, LOCAL_SEED_MAX + 1):
        bad = local_provider.complete_sync(one_request(seed=seed))
        assert not bad.ok and f"seed {seed} is out of range" in bad.error_message


def test_replay_needs_an_effective_seed(local_provider):
    completion = local_provider.complete_sync(one_request(seed=3)).with_changes(effective_seed=None)
    with pytest.raises(ValueError, match="no effective seed"):
        local_provider.replay(completion, one_request(seed=None))


def test_fingerprint_is_stable_across_loads(local_provider):
    code = "from seedscope.providers.local import LocalProvider; print(LocalProvider().fingerprint)"
    fresh = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert fresh.stdout.strip() == local_provider.fingerprint


@pytest.mark.parametrize("setting", [{"n_ctx": 1024}, {"n_batch": 256}, {"n_threads": 2}])
def test_fingerprint_changes_with_each_load_setting(local_provider, setting):
    other = LocalProvider(**setting)  # a new load, bypassing the shared instance
    assert other is not LocalProvider.shared()
    assert other.fingerprint != local_provider.fingerprint
    assert re.fullmatch(r"local-[0-9a-f]{10}", other.fingerprint)
    completion = other.complete_sync(one_request(seed=3, max_tokens=4))
    assert completion.system_fingerprint == other.fingerprint


def test_unseeded_runs_draw_fresh_seeds_after_every_load():
    # llama-cpp-python derives an unseeded call's seed from the constructor's seed, so without
    # a fresh OS-drawn seed the first unseeded run after every load would repeat.
    firsts = []
    for _ in range(2):
        fresh_load = LocalProvider()
        completion = fresh_load.complete_sync(one_request(seed=None, max_tokens=4))
        assert completion.ok and completion.requested_seed is None
        firsts.append(completion.effective_seed)
    assert firsts[0] != firsts[1]
    assert all(1 <= seed <= LOCAL_SEED_MAX for seed in firsts)


def test_fingerprint_inputs_each_matter():
    base = ("ab" * 32, "0.3.36", 2048, 512, 2, "chatml", "CPU : AVX2 = 1 |")
    reference = local_fingerprint(*base)
    assert reference == local_fingerprint(*base)
    others = ("cd" * 32, "0.3.37", 4096, 256, 4, "llama-2", "CPU : AVX2 = 1 | AVX512 = 1 |")
    for position, changed in enumerate(others):
        varied = list(base)
        varied[position] = changed
        assert local_fingerprint(*varied) != reference


def test_model_path_setting_loads_another_gguf_file(local_provider, gguf_path, tmp_path):
    other = tmp_path / "renamed-model.gguf"
    try:
        os.link(gguf_path, other)  # the same weights under another name, without a copy
    except OSError:
        shutil.copyfile(gguf_path, other)
    provider = local_provider_from_settings(Settings(local_model_path=str(other)))
    assert provider is not local_provider and provider.model == "renamed-model"
    # Same file contents and load settings: the same fingerprint and the same seeded output.
    assert provider.fingerprint == local_provider.fingerprint
    request = one_request(seed=21, max_tokens=6, model=provider.model)
    assert provider.complete_sync(request).text == local_provider.complete_sync(request).text


def test_a_file_that_is_not_a_gguf_model_is_refused_clearly(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    with pytest.raises(LocalModelError, match="could not load the GGUF model at"):
        LocalProvider(model_path=bad)


def test_missing_model_file_names_the_setting(tmp_path):
    with pytest.raises(LocalModelError, match="SEEDSCOPE_MODEL_PATH=.*is not a file"):
        LocalProvider(model_path=tmp_path / "nope.gguf")

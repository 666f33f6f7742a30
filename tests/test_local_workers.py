"""SEEDSCOPE_LOCAL_WORKERS: the embedded model in worker processes, for real (short outputs).

The reference is the in-process provider (workers = 1, the `local_provider` fixture): two
workers must give exactly its texts for the same seeded requests.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from seedscope.providers.base import Completion, CompletionRequest
from seedscope.providers.factory import make_provider
from seedscope.providers.local import LocalModelError, LocalProvider
from seedscope.runner import plan_requests, run_spec_sync
from seedscope.settings import Settings, load_settings
from seedscope.spec import LOCAL_CHAT_MODEL, LOCAL_SEED_MAX, ExperimentSpec

REPO = Path(__file__).resolve().parents[1]
MAX_TOKENS = 12
PROMPTS = (
    "Generate a short excerpt of news about a journey to Mars.",
    "Name three colours and say why you like them.",
    "Explain photosynthesis to a child.",
)
SEEDS = (1, 123, 98765)


def child_pids() -> set[int]:
    """Live (not zombie) processes whose parent is this test process."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == os.getpid() and state != "Z":
            children.add(int(entry.name))
    return children


def seeded_spec(prompt: str, runs: int = 1, max_tokens: int = MAX_TOKENS) -> ExperimentSpec:
    return ExperimentSpec(
        prompt=prompt,
        max_tokens=max_tokens,
        arms=[
            {"label": f"seed {seed}", "seed": seed, "temperature": 0.7, "runs": runs}
            for seed in SEEDS
        ],
    )


def texts_by_run(completions: list[Completion]) -> dict[tuple[str, int], str]:
    assert all(c.ok for c in completions), [c.error_message for c in completions if not c.ok]
    return {(c.arm_label, c.run_index): c.text for c in completions}


def long_request(seed: int) -> CompletionRequest:
    """A call that runs for seconds, so a worker can be stopped in the middle of it."""
    return CompletionRequest(
        arm_label="long",
        run_index=0,
        prompt="Write a long, detailed story about a lighthouse keeper and a storm.",
        system="",
        model=LOCAL_CHAT_MODEL,
        seed=seed,
        temperature=0.7,
        top_p=1.0,
        max_tokens=400,
    )


def short_request(seed: int) -> CompletionRequest:
    return dataclasses.replace(long_request(seed), max_tokens=4)


def call_in_thread(
    provider: LocalProvider, request: CompletionRequest
) -> tuple[threading.Thread, list[Completion]]:
    results: list[Completion] = []
    thread = threading.Thread(target=lambda: results.append(provider.complete_sync(request)))
    thread.start()
    return thread, results


def wait_for_a_call_in_flight(provider: LocalProvider) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        calling = provider._pool.calling_pids()
        if calling:
            return calling[0]
        time.sleep(0.005)
    raise AssertionError("no worker received the call within 30 s")


@pytest.fixture(scope="module")
def two_workers() -> Iterator[LocalProvider]:
    """The shared provider for SEEDSCOPE_LOCAL_WORKERS=2, read from the environment as the app
    does; its workers are stopped after this module."""
    settings = load_settings(env={"SEEDSCOPE_LOCAL_WORKERS": "2"}, secrets_path=None)
    provider = make_provider(settings, "local")
    assert isinstance(provider, LocalProvider)
    yield provider
    provider.close()


def test_the_setting_reaches_the_provider(two_workers, local_provider):
    assert load_settings(env={}, secrets_path=None).local_workers == 1
    assert two_workers is LocalProvider.shared(workers=2) and two_workers is not local_provider
    assert (two_workers.workers, two_workers.max_concurrency) == (2, 2)
    assert (local_provider.workers, local_provider.max_concurrency) == (1, 1)
    assert make_provider(Settings(), "local") is local_provider
    # Same outputs, so the same fingerprint (see lib/providers/local.py).
    assert two_workers.fingerprint == local_provider.fingerprint


def test_one_worker_stays_in_this_process(local_provider):
    before = child_pids()
    completion = local_provider.complete_sync(short_request(seed=3))
    assert completion.ok and child_pids() == before


def test_two_workers_give_the_same_seeded_texts_as_one(two_workers, local_provider):
    for prompt in PROMPTS:
        spec = seeded_spec(prompt)
        in_process = run_spec_sync(spec, local_provider).completions
        in_workers = run_spec_sync(spec, two_workers).completions
        assert texts_by_run(in_workers) == texts_by_run(in_process)
        assert len(set(texts_by_run(in_process).values())) > 1  # the seed matters here
        assert {c.system_fingerprint for c in in_workers} == {local_provider.fingerprint}
        assert [c.effective_seed for c in in_workers] == [c.effective_seed for c in in_process]
    # Both workers ran calls, each with its own model load.
    assert len(two_workers._pool.pids()) == 2
    assert set(two_workers._pool.pids()) <= child_pids()


def test_unseeded_calls_draw_distinct_recorded_seeds(two_workers, local_provider):
    spec = ExperimentSpec(
        max_tokens=MAX_TOKENS,
        arms=[{"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 4}],
    )
    outcome = run_spec_sync(spec, two_workers)
    seeds = [c.effective_seed for c in outcome.completions]
    assert all(c.ok and c.requested_seed is None for c in outcome.completions)
    assert len(set(seeds)) == 4 and all(1 <= seed <= LOCAL_SEED_MAX for seed in seeds)
    # A recorded seed replays to the same text in this process as in the workers.
    request = plan_requests(spec)[0]
    for completion in outcome.completions[:1]:
        assert local_provider.replay(completion, request).text == completion.text
        assert two_workers.replay(completion, request).text == completion.text


def test_two_calls_run_at_once(two_workers):
    outcome = run_spec_sync(seeded_spec(PROMPTS[0], max_tokens=24), two_workers)
    spans = [
        (c.started_at, c.started_at + timedelta(seconds=c.latency_s)) for c in outcome.completions
    ]
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running, most = 0, 0
    for _, change in edges:
        running += change
        most = max(most, running)
    assert most == 2  # calls overlap, and never more than one per worker


def test_a_killed_worker_fails_its_call_and_the_pool_recovers(two_workers, local_provider):
    thread, results = call_in_thread(two_workers, long_request(seed=9))
    victim = wait_for_a_call_in_flight(two_workers)
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the call on the killed worker never returned"
    (failed,) = results
    assert not failed.ok and failed.text == "" and failed.error_type == "LocalWorkerError"
    assert f"worker process (pid {victim}) was killed by signal SIGKILL during the call" in (
        failed.error_message
    )
    assert failed.effective_seed == 9 and failed.system_fingerprint is None

    spec = seeded_spec(PROMPTS[1])
    again = run_spec_sync(spec, two_workers).completions
    assert texts_by_run(again) == texts_by_run(run_spec_sync(spec, local_provider).completions)
    assert victim not in two_workers._pool.pids() and len(two_workers._pool.pids()) == 2


def test_close_stops_the_workers_and_a_later_call_starts_them(two_workers):
    assert two_workers.complete_sync(short_request(seed=5)).ok
    thread, results = call_in_thread(two_workers, long_request(seed=11))
    wait_for_a_call_in_flight(two_workers)
    workers = set(two_workers._pool.pids())
    two_workers.close()
    thread.join(timeout=30)
    (cut,) = results
    assert not cut.ok and "workers were shut down during the call" in cut.error_message
    assert not workers & child_pids() and two_workers._pool.pids() == []

    assert two_workers.complete_sync(short_request(seed=5)).ok
    assert len(two_workers._pool.pids()) == 1  # started lazily: one call, one worker


def test_workers_are_stopped_at_exit():
    # This atexit hook is registered before the pool's, so it runs after it: the workers must
    # already be gone then, stopped by the pool rather than by noticing their parent's exit.
    code = (
        "import atexit, os, sys\n"
        "from seedscope.providers.local import LocalProvider\n"
        "from tests.test_local_workers import short_request\n"
        "pids = []\n"
        "atexit.register(lambda: print(all(not os.path.exists(f'/proc/{p}') for p in pids)))\n"
        "provider = LocalProvider(workers=2)\n"
        "assert provider.complete_sync(short_request(seed=2)).ok\n"
        "pids.extend(provider._pool.pids())\n"
        "print(len(pids))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True"]


def test_a_worker_count_below_one_is_refused():
    with pytest.raises(LocalModelError, match="workers=0 is out of range"):
        LocalProvider(workers=0)

"""lib/probe.py: probes file validation, and probe runs that are stored and compared with the
previous run: on the embedded model (tiny max_tokens) and on the fake OpenAI-compatible server
restarted with another fingerprint / another output (real drift, no doctored data)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from seedscope.probe import ProbeConfigError, load_probe_config, parse_probe_config, run_probes
from seedscope.providers.factory import make_provider
from seedscope.settings import Settings
from seedscope.spec import Limits
from seedscope.store import Store

from tests.helpers import free_port, start_fake_server
from tests.store_support import ROOT


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'probes.db'}") as opened:
        yield opened


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probes.toml"
    path.write_text(text)
    return path


# -- the probes file ------------------------------------------------------------------------


def test_example_file_is_valid_and_defaults_apply():
    config = load_probe_config(ROOT / "probes.example.toml")
    assert [p.name for p in config.probes] == ["local-mars-news", "local-mars-news-unseeded"]
    seeded, unseeded = config.probes
    assert (seeded.seed, seeded.spec.arms[0].temperature, seeded.spec.total_runs) == (123, 0.0, 3)
    assert (unseeded.seed, unseeded.spec.arms[0].temperature) == (None, 0.7)
    assert seeded.spec.max_tokens == 48 and seeded.model is None and seeded.base_url is None
    assert seeded.spec.arms[0].label == "local-mars-news"


def test_every_problem_is_reported_with_its_probe_and_key(tmp_path):
    path = write_config(
        tmp_path,
        """
[defaults]
runs = 2
prompt = "not allowed as a default"

[[probe]]
name = "hot"
prompt = "p"
temperature = 3.5

[[probe]]
name = "typo"
prompt = "p"
sead = 1

[[probe]]
prompt = "nameless"

[[probe]]
name = "local-base-url"
prompt = "p"
base_url = "http://127.0.0.1:8000/v1"

[[probe]]
name = "zero-seed"
prompt = "p"
seed = 0

[[probe]]
name = "dup"
prompt = "p"

[[probe]]
name = "dup"
prompt = "q"
""",
    )
    with pytest.raises(ProbeConfigError) as raised:
        load_probe_config(path)
    messages = raised.value.messages
    assert any("[defaults]" in m and "prompt" in m for m in messages)
    assert any("'hot'" in m and "temperature 3.5 is out of range" in m for m in messages)
    assert any("'typo'" in m and "unknown key(s) sead" in m for m in messages)
    assert any("probe[2].name" in m for m in messages)
    assert any("'local-base-url'.base_url" in m and "openai" in m for m in messages)
    assert any("'zero-seed'" in m and "seed 0 is out of range" in m for m in messages)
    assert any("repeated: dup" in m for m in messages)
    assert len(messages) == 7


def test_limits_from_settings_apply_to_probes():
    data = {"probe": [{"name": "big", "prompt": "p", "runs": 11, "max_tokens": 600}]}
    with pytest.raises(ProbeConfigError, match="runs 11 is out of range; allowed 1 to 10"):
        parse_probe_config(data, Limits(max_runs_per_arm=10, max_tokens=1024))
    with pytest.raises(ProbeConfigError, match="max_tokens 600 is out of range"):
        parse_probe_config(data, Limits(max_runs_per_arm=20, max_tokens=512))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[probe]\nname=", "not valid TOML"),
        ("", "no probes"),
        ("[probes]\nname = 'x'", "unknown section(s) probes"),
    ],
)
def test_unusable_files(tmp_path, text, expected):
    with pytest.raises(ProbeConfigError, match=re.escape(expected)):
        load_probe_config(write_config(tmp_path, text))
    with pytest.raises(ProbeConfigError, match="no such file"):
        load_probe_config(tmp_path / "missing.toml")


# -- running on the embedded model ----------------------------------------------------------

LOCAL_PROBES = """
[defaults]
provider = "local"
runs = 2
max_tokens = 4

[[probe]]
name = "seeded"
prompt = "Name a planet."
seed = 42

[[probe]]
name = "unseeded"
prompt = "Name a planet."
temperature = 1.0
"""


def test_local_probes_are_stored_and_compared_with_their_previous_run(tmp_path, store):
    config = load_probe_config(write_config(tmp_path, LOCAL_PROBES))
    settings = Settings()
    events: list[tuple[str, int]] = []

    first = run_probes(
        config, settings, store, make_provider, on_progress=lambda n, e: events.append((n, e.done))
    )
    assert [r.status for r in first] == ["complete", "complete"]
    assert events == [("seeded", 1), ("seeded", 2), ("unseeded", 1), ("unseeded", 2)]
    for result in first:
        assert result.previous_experiment_id is None
        assert (result.outputs_changed, result.fingerprint_changed, result.drifted) == (
            None,
            None,
            False,
        )
        stored = store.load_experiment(result.experiment_id)
        assert stored.status == "complete" and stored.summary.label == result.name
        assert len(stored.completions) == 2 and all(c.ok for c in stored.completions)
        assert stored.spec.model == "SmolLM2-135M-Instruct"
        assert "first run" in result.summary_line()
    assert first[0].unique_outputs == 1  # same seed, same text
    assert first[0].fingerprints[0].startswith("local-")

    second = run_probes(config, settings, store, make_provider)
    seeded, unseeded = second
    assert seeded.previous_experiment_id == first[0].experiment_id
    assert (seeded.outputs_changed, seeded.fingerprint_changed, seeded.drifted) == (
        False,
        False,
        False,
    )
    assert "outputs unchanged, fingerprint unchanged" in seeded.summary_line()
    assert unseeded.previous_experiment_id == first[1].experiment_id
    assert unseeded.drifted is False  # unseeded outputs may change; that is not drift
    json.dumps([result.to_dict() for result in second])

    # Drift series of the seeded probe: 4 runs of one request, all the same text.
    series = store.drift_series(provider="local")
    assert [point.status for point in series] == ["first", "same", "same", "same"]


# -- running on an OpenAI-compatible server -------------------------------------------------


def remote_probe(port: int, **overrides) -> dict:
    return {
        "name": "remote",
        "prompt": "Name a planet.",
        "provider": "openai",
        "model": "fake-model",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "seed": 7,
        "runs": 2,
        "max_tokens": 8,
    } | overrides


def run_against_server(store, config, *server_options) -> list:
    server = start_fake_server(*server_options)
    try:
        return run_probes(config, Settings(), store, make_provider)
    finally:
        server.stop()


def test_remote_probe_reports_fingerprint_changes_and_drift(store):
    port = free_port()
    config = parse_probe_config({"probe": [remote_probe(port)]})
    (first,) = run_against_server(store, config, "--port", str(port), "--fingerprint", "fp_one")
    assert (first.fingerprints, first.base_url_host, first.drifted) == (
        ["fp_one"],
        f"127.0.0.1:{port}",
        False,
    )

    # Same backend address, new build: same text, new fingerprint. Not drift.
    (second,) = run_against_server(store, config, "--port", str(port), "--fingerprint", "fp_two")
    assert second.previous_experiment_id == first.experiment_id
    assert (second.outputs_changed, second.fingerprint_changed, second.drifted) == (
        False,
        True,
        False,
    )
    assert "fingerprint changed (fp_one -> fp_two)" in second.summary_line()

    # The backend now answers differently to the same seeded request: drift.
    (third,) = run_against_server(
        store, config, "--port", str(port), "--fingerprint", "fp_two", "--payload", "echo"
    )
    assert third.previous_experiment_id == second.experiment_id
    assert (third.outputs_changed, third.fingerprint_changed, third.drifted) == (True, False, True)
    assert "DRIFT: outputs changed" in third.summary_line()
    assert third.to_dict()["drifted"] is True

    spans = store.fingerprint_changes(provider="openai")
    assert [(s.system_fingerprint, s.runs) for s in spans] == [("fp_one", 2), ("fp_two", 4)]


def test_a_changed_request_starts_a_new_comparison_and_a_broken_probe_does_not_stop_others(
    store,
):
    port = free_port()
    base = remote_probe(port)
    unconfigured = {"name": "no-backend", "prompt": "p", "provider": "openai", "seed": 1}
    server = start_fake_server("--port", str(port))
    try:
        run_probes(parse_probe_config({"probe": [base]}), Settings(), store, make_provider)
        changed = parse_probe_config({"probe": [unconfigured, remote_probe(port, max_tokens=9)]})
        broken, remote = run_probes(changed, Settings(), store, make_provider)
    finally:
        server.stop()
    assert broken.status == "error" and broken.experiment_id is None
    assert "OPENAI_API_KEY" in broken.error and "not run" in broken.summary_line()
    assert remote.status == "complete"
    assert remote.previous_experiment_id is None  # max_tokens differs: another request
    assert store.count_experiments() == 2


def test_failed_runs_are_stored_and_not_counted_as_drift(store):
    port = free_port()
    config = parse_probe_config({"probe": [remote_probe(port)]})
    run_against_server(store, config, "--port", str(port))
    (failing,) = run_against_server(
        store, config, "--port", str(port), "--fault-rate", "1", "--faults", "500"
    )
    assert (failing.runs, failing.failed_runs, failing.unique_outputs) == (2, 2, 0)
    assert failing.outputs_changed is None and failing.drifted is False
    assert "no successful runs to compare" in failing.summary_line()
    assert store.load_experiment(failing.experiment_id).summary.failed_runs == 2


def test_cancelled_before_start_runs_nothing(store):
    config = parse_probe_config({"probe": [remote_probe(free_port())]})
    cancel = threading.Event()
    cancel.set()
    assert run_probes(config, Settings(), store, make_provider, cancel=cancel) == []
    assert store.count_experiments() == 0

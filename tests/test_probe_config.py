"""lib/probe_config.py: the probes file, validated by a pydantic model before anything runs.

Every message names the probe (position from 1, and its name when it has one) and the key.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from seedscope.cli import main
from seedscope.probe import ProbeConfigError, load_probe_config, parse_probe_config
from seedscope.spec import Limits

from tests.store_support import ROOT


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probes.toml"
    path.write_text(text)
    return path


def problems(data: dict, limits: Limits | None = None) -> list[str]:
    with pytest.raises(ProbeConfigError) as raised:
        parse_probe_config(data, limits, source="probes.toml")
    assert str(raised.value) == "; ".join(raised.value.messages)
    return raised.value.messages


def probe(**keys: object) -> dict[str, object]:
    return {"name": "p", "prompt": "Name a planet.", **keys}


def test_example_file_is_valid_and_defaults_apply():
    config = load_probe_config(ROOT / "probes.example.toml")
    assert [p.name for p in config.probes] == ["local-mars-news", "local-mars-news-unseeded"]
    seeded, unseeded = config.probes
    assert (seeded.seed, seeded.spec.arms[0].temperature, seeded.spec.total_runs) == (123, 0.0, 3)
    assert (unseeded.seed, unseeded.spec.arms[0].temperature) == (None, 0.7)
    assert seeded.spec.max_tokens == 48 and seeded.model is None and seeded.base_url is None
    assert seeded.spec.arms[0].label == "local-mars-news"
    assert config.source.endswith("probes.example.toml")


def test_builtin_defaults_and_an_openai_probe():
    config = parse_probe_config(
        {
            "probe": [
                {"name": " plain ", "prompt": "p"},
                probe(
                    name="gateway",
                    provider="openai",
                    base_url="http://127.0.0.1:8000/v1",
                    model="m",
                    seed=7,
                    temperature=1,  # a TOML integer is a fine temperature
                ),
            ]
        }
    )
    plain, gateway = config.probes
    assert plain.name == "plain"
    assert (plain.spec.provider, plain.spec.max_tokens, plain.spec.total_runs) == ("local", 64, 3)
    assert (plain.seed, plain.spec.arms[0].temperature, plain.spec.top_p) == (None, 0.0, 1.0)
    assert (gateway.base_url, gateway.model, gateway.seed) == ("http://127.0.0.1:8000/v1", "m", 7)
    assert gateway.spec.arms[0].temperature == 1.0


def test_every_problem_names_its_probe_and_key(tmp_path):
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
    assert messages[:5] == [
        "[defaults]: prompt: cannot have a default; set it in each [[probe]]",
        "probe 1 ('hot'): temperature: temperature 3.5 is out of range; allowed 0 to 2",
        "probe 2 ('typo'): sead: unknown key; allowed: name, prompt, suite, system, provider, "
        "model, base_url, seed, temperature, top_p, runs, max_tokens",
        "probe 3: name: missing; give every probe a unique name",
        "probe 4 ('local-base-url'): base_url: only applies to provider = \"openai\"",
    ]
    assert messages[5].startswith(
        "probe 5 ('zero-seed'): seed: seed 0 is out of range for the local backend; allowed 1 to"
    )
    assert messages[6] == f"{path}: probe names must be unique; repeated: dup"
    assert len(messages) == 7


def test_limits_from_settings_apply_to_probes():
    data = {"probe": [probe(name="gateway", runs=11, max_tokens=600)]}
    assert problems(data, Limits(max_runs_per_arm=10, max_tokens=1024)) == [
        "probe 1 ('gateway'): runs: runs 11 is out of range; allowed 1 to 10"
    ]
    (message,) = problems(data, Limits(max_runs_per_arm=20, max_tokens=512))
    assert message.startswith("probe 1 ('gateway'): max_tokens: max_tokens 600 is out of range")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"seed": True}, "seed: True is not a whole number"),
        ({"seed": 1.5}, "seed: 1.5 is not a whole number"),
        ({"runs": "3"}, "runs: '3' is not a whole number"),
        ({"temperature": "hot"}, "temperature: 'hot' is not a number"),
        ({"prompt": 5}, "prompt: 5 is not text; put it in quotes"),
        ({"provider": "bedrock"}, "provider: 'bedrock' is not a backend; use \"local\" or"),
        ({"model": "  "}, "model: empty; remove it to use the backend's default model"),
        ({"name": "  "}, "name: empty; give every probe a unique name"),
        ({"prompt": "  "}, "prompt: prompt is empty; type the request to send"),
        ({"top_p": 0}, "top_p: top_p 0.0 is out of range; allowed greater than 0 up to 1"),
        (
            {"provider": "openai", "base_url": "ftp://host/v1"},
            "base_url: 'ftp://host/v1' is not an http(s) URL",
        ),
    ],
)
def test_bad_values_name_the_key(keys, message):
    (line,) = problems({"probe": [probe(**keys)]})
    assert line.startswith("probe 1")
    assert message in line


def test_a_bad_default_is_reported_once_and_attributed_to_defaults():
    data = {
        "defaults": {"max_tokens": "lots", "runs": 50, "colour": "red", "name": "x"},
        "probe": [probe(name="a"), probe(name="b"), probe(name="c", max_tokens=8, runs=2)],
    }
    assert problems(data, Limits(max_runs_per_arm=10)) == [
        "[defaults]: colour: unknown key; allowed: system, provider, model, base_url, seed, "
        "temperature, top_p, runs, max_tokens",
        "[defaults]: name: cannot have a default; give every probe its own name",
        "[defaults]: max_tokens: 'lots' is not a whole number",
    ]


def test_a_default_out_of_range_is_reported_once():
    data = {"defaults": {"runs": 50}, "probe": [probe(name="a"), probe(name="b")]}
    assert problems(data, Limits(max_runs_per_arm=10)) == [
        "[defaults]: runs: runs 50 is out of range; allowed 1 to 10"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "probes.toml: no probes; add at least one [[probe]] with a name and prompt"),
        ({"probe": []}, "probes.toml: no probes"),
        ({"probe": probe()}, "probes.toml: write each probe as [[probe]] (double brackets)"),
        ({"probe": [1]}, "probe 1: must be a [[probe]] table of keys"),
        ({"defaults": 3, "probe": [probe()]}, "probes.toml: [defaults] must be a table of keys"),
        ({"probes": {}, "probe": [probe()]}, "probes.toml: unknown section(s) probes; use"),
    ],
)
def test_unusable_structure(data, message):
    assert any(line.startswith(message) for line in problems(data)), problems(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[[probe]\nname=", "not valid TOML: "), ("", "no probes")],
)
def test_unusable_files(tmp_path, text, message):
    path = write_config(tmp_path, text)
    with pytest.raises(ProbeConfigError, match=message) as raised:
        load_probe_config(path)
    assert str(path) in str(raised.value)


def test_missing_file(tmp_path):
    with pytest.raises(ProbeConfigError, match="missing.toml: no such file"):
        load_probe_config(tmp_path / "missing.toml")


def test_cli_refuses_a_bad_probes_file_before_anything_is_stored(tmp_path, monkeypatch):
    database = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, '[[probe]]\nname = "gateway"\nprompt = "p"\nruns = 0\n')
    out, err = io.StringIO(), io.StringIO()
    assert main(["probe", "--config", str(path)], out=out, err=err) == 2
    assert err.getvalue() == (
        "error: probe 1 ('gateway'): runs: runs 0 is out of range; allowed 1 to 100\n"
    )
    assert out.getvalue() == ""
    assert not database.exists()

"""Specs on the command line: `compare --arm`, `compare --spec FILE`, `export ID --spec FILE`.

Bad input is refused with one line naming the flag, the arm and the field, exit 2, before any
call (the fake server counts calls) or store (the history stays empty). The round trip runs
the real embedded model: export --spec -> compare --spec stores the very same spec.
"""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seedscope.cli import build_parser, main, spec_from_args
from seedscope.settings import Settings
from seedscope.spec import DEFAULT_PROMPT, LOCAL_CHAT_MODEL, ExperimentSpec, Limits, SpecError
from seedscope.spec_files import load_spec_file, read_spec_data, spec_file_text, write_spec_file
from seedscope.store import Store

ARM_A = "steady,seed=7,temperature=0,runs=1"
ARM_B = "loose,seed=none,temperature=0.9,runs=1"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def spec_for(*flags: str, settings: Settings | None = None) -> ExperimentSpec:
    return spec_from_args(build_parser().parse_args(["compare", *flags]), settings or Settings())


def arms_of(spec: ExperimentSpec) -> list[tuple[str, int | None, float, int]]:
    return [(arm.label, arm.seed, arm.temperature, arm.runs) for arm in spec.arms]


def refusal(*flags: str) -> str:
    with pytest.raises(SpecError) as raised:
        spec_for(*flags)
    return str(raised.value)


@pytest.fixture
def isolated_env(tmp_path, monkeypatch) -> Path:
    database = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return database


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- --arm ------------------------------------------------------------------------------------


def test_arms_replace_the_preset_and_keep_the_request_flags():
    spec = spec_for(
        "--arm", ARM_A, "--arm", " loose , seed = None , temperature=0.9 ", "--prompt", "Hi"
    )
    assert arms_of(spec) == [("steady", 7, 0.0, 1), ("loose", None, 0.9, 5)]  # runs: Arm default
    assert (spec.prompt, spec.provider, spec.model, spec.max_tokens) == (
        "Hi",
        "local",
        LOCAL_CHAT_MODEL,
        200,
    )
    remote = spec_for("--arm", ARM_A, "--provider", "openai", settings=Settings(openai_model="m"))
    assert remote.model == "m"


def test_one_arm_is_enough():
    assert arms_of(spec_for("--arm", "only,temperature=1.5")) == [("only", None, 1.5, 5)]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--arm", ARM_A, "--preset", "grid", "--runs", "5"],
            "--arm replaces the preset's arms, so --preset, --runs cannot be used with it; give "
            'seed, temperature and runs in each --arm (--arm "seeded,seed=123,temperature=0,'
            'runs=5")',
        ),
        (["--arm", ARM_A, "--seed", "123"], "so --seed cannot be used with it"),
        (["--arm", ARM_A, "--temperature", "0"], "so --temperature cannot be used"),
        (["--arm", ARM_A, "--unseeded-temperature", "1"], "so --unseeded-temperature cannot"),
        (
            ["--arm", "seed=1,temperature=0"],
            "--arm 1 ('seed=1,temperature=0'): start with the arm's label, e.g. --arm",
        ),
        (["--arm", ",temperature=0"], "--arm 1 (',temperature=0'): start with the arm's label"),
        (["--arm", ARM_A, "--arm", "b,temp=1"], "--arm 2 ('b'): 'temp' is not an arm key; use "),
        (["--arm", "b,temperature"], "--arm 1 ('b'): 'temperature' is not key=value; e.g. --arm"),
        (["--arm", "b,runs=1,runs=2,temperature=0"], "--arm 1 ('b'): runs is given twice"),
        (["--arm", "b,runs=2"], "--arm 1 ('b'): temperature: missing; allowed 0 to 2"),
        (
            ["--arm", "b,temperature=2.5"],
            "--arm 1 ('b'): temperature: temperature 2.5 is out of range; allowed 0 to 2",
        ),
        (["--arm", "b,temperature=hot"], "--arm 1 ('b'): temperature: 'hot' is not a valid"),
        (["--arm", "b,temperature=0,runs=0"], "--arm 1 ('b'): runs: runs 0 is out of range"),
        (["--arm", "b,temperature=0,runs=2.5"], "--arm 1 ('b'): runs: '2.5' is not a valid"),
        (
            ["--arm", "b,temperature=0,seed=0"],
            "--arm 1 ('b'): seed: seed 0 is out of range for the local backend",
        ),
        (["--arm", "b,temperature=0,seed=-"], "--arm 1 ('b'): seed: '-' is not a valid number"),
        (["--arm", ARM_A, "--arm", ARM_A], "--arm: arm labels must be unique; repeated: steady"),
    ],
)
def test_bad_arms_are_refused_naming_the_arm_and_field(flags, message):
    assert message in refusal(*flags)


def test_every_bad_arm_is_reported_at_once():
    message = refusal("--arm", "a,temp=3", "--arm", "b,colour=red,temperature=0")
    assert "--arm 1 ('a'): 'temp' is not an arm key" in message
    assert "--arm 2 ('b'): 'colour' is not an arm key" in message
    message = refusal("--arm", "a,temperature=3", "--arm", "b,temperature=0,runs=0")
    assert "--arm 1 ('a'): temperature:" in message and "--arm 2 ('b'): runs:" in message


def test_bad_arm_exits_2_before_any_call_or_store(isolated_env, fake_server):
    fake_server.reset()
    status, out, err = run(
        "compare",
        *("--provider", "openai", "--base-url", fake_server.base_url, "--model", "fake-model"),
        *("--arm", ARM_A, "--arm", "b,temperature=9"),
    )
    assert (status, out) == (2, "")
    assert err.startswith("invalid input: --arm 2 ('b'): temperature: temperature 9.0 is out")
    assert len(err.strip().splitlines()) == 1
    assert fake_server.stats()["chat_log"] == []
    assert json.loads(run("history", "--format", "json")[1]) == []


# -- spec files -------------------------------------------------------------------------------

SPEC_TOML = """
prompt = "Name a planet."
provider = "openai"
max_tokens = 8
arms = [
    { label = "unseeded", temperature = 0.7, runs = 2 },
    { label = "seeded", seed = 123, temperature = 0.0, runs = 2 },
]
"""


def test_toml_spec_file_with_defaults(tmp_path):
    path = write(tmp_path / "spec.toml", SPEC_TOML)
    spec = load_spec_file(path, Limits(), openai_model="gpt-x")
    assert (spec.prompt, spec.provider, spec.model, spec.max_tokens) == (
        "Name a planet.",
        "openai",
        "gpt-x",  # no model in the file: the provider's default
        8,
    )
    assert arms_of(spec) == [("unseeded", None, 0.7, 2), ("seeded", 123, 0.0, 2)]
    assert spec.system == ExperimentSpec().system


def test_compare_spec_uses_the_settings_limits_and_model(tmp_path):
    path = write(tmp_path / "spec.toml", SPEC_TOML)
    args = build_parser().parse_args(["compare", "--spec", str(path)])
    spec = spec_from_args(args, Settings(openai_model="configured"))
    assert spec.model == "configured"
    with pytest.raises(SpecError, match=r"spec.toml: max_tokens: max_tokens 8 is out of range"):
        spec_from_args(args, Settings(max_tokens_limit=4))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.yaml", "", "s.yaml: a spec file name must end in .json or .toml"),
        ("s.json", "{", "s.json: not valid JSON: Expecting property name"),
        ("s.toml", "prompt = ", "s.toml: not valid TOML: "),
        ("s.json", "[1, 2]", "s.json: must hold one object with the spec's fields"),
        ("s.json", '{"arms": []}', "s.json: prompt: missing; a spec file must set it"),
        ("s.toml", 'prompt = "p"\n', "s.toml: arms: missing; a spec file must set it"),
        ("s.toml", 'prompt = "p"\narms = []\n', "s.toml: arms: no arms; add at least one arm"),
        (
            "s.toml",
            'prompt = "p"\nseed = 1\narms = [{label = "a", temperature = 0}]\n',
            "s.toml: seed: 'seed' is not a known field; allowed prompt, system, provider, model",
        ),
        (
            "s.json",
            '{"prompt": "p", "arms": [{"label": "a", "temperature": 0, "colour": 1}]}',
            "s.json: arms[0].colour: 'colour' is not a known field; allowed label, seed",
        ),
        (
            "s.json",
            '{"prompt": "p", "arms": [{"label": "a", "temperature": 0}, {"label": "b"}]}',
            "s.json: arms[1].temperature: missing; allowed 0 to 2",
        ),
        (
            "s.toml",
            'prompt = "p"\nprovider = "bedrock"\narms = [{label = "a", temperature = 0}]\n',
            "s.toml: provider: 'bedrock' is not allowed",
        ),
        (
            "s.toml",
            'prompt = "p"\narms = [{label = "a", temperature = 0, seed = 0}]\n',
            "s.toml: arms[0].seed: seed 0 is out of range for the local backend",
        ),
        ("s.toml", b"prompt = '\xff'", "s.toml: not UTF-8 text"),
    ],
)
def test_bad_spec_files_name_the_file_and_field(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SpecError) as raised:
        load_spec_file(path, Limits(), openai_model="m")
    assert message in str(raised.value)
    assert str(tmp_path) in str(raised.value)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="missing.json: no such file"):
        read_spec_data(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "flags",
    [
        ["--prompt", "p"],
        ["--provider", "local"],
        ["--model", "m"],
        ["--system", "s"],
        ["--max-tokens", "5"],
        ["--top-p", "1"],
        ["--runs", "5"],  # the default value, still refused: it was given
        ["--seed", "1"],
        ["--preset", "cookbook"],
        ["--temperature", "0"],
        ["--arm", ARM_A],
    ],
)
def test_spec_refuses_request_and_arm_flags(tmp_path, flags):
    path = write(tmp_path / "spec.toml", SPEC_TOML)
    message = refusal("--spec", str(path), *flags)
    assert message == (
        f"--spec holds the whole request and its arms, so {flags[0]} cannot be used with it; "
        "edit the spec file instead"
    )


def test_bad_spec_file_exits_2_before_any_call_or_store(isolated_env, fake_server, tmp_path):
    fake_server.reset()
    path = write(tmp_path / "spec.toml", SPEC_TOML.replace("runs = 2 }", "runs = 0 }", 1))
    status, out, err = run(
        "compare", "--spec", str(path), "--base-url", fake_server.base_url, "--format", "json"
    )
    assert (status, out) == (2, "")
    assert err == f"invalid input: {path}: arms[0].runs: runs 0 is out of range; allowed 1 to 100\n"
    assert fake_server.stats()["chat_log"] == []
    assert json.loads(run("history", "--format", "json")[1]) == []


printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    prompt=printable.filter(str.strip),
    system=printable,
    label=printable.map(str.strip).filter(bool),
    seed=st.none() | st.integers(1, 2**32 - 2),
    temperature=st.floats(0, 2),
    suffix=st.sampled_from([".json", ".toml"]),
)
def test_spec_file_text_reads_back_as_the_same_spec(
    prompt, system, label, seed, temperature, suffix
):
    # Quotes, backslashes, CR/LF, DEL, non-BMP characters: the file must give back the spec.
    spec = ExperimentSpec(
        prompt=prompt,
        system=system,
        arms=[{"label": label, "seed": seed, "temperature": temperature, "runs": 3}],
    )
    text = spec_file_text(spec, suffix, comment="line one\nline two")
    data = json.loads(text) if suffix == ".json" else tomllib.loads(text)
    assert ExperimentSpec.model_validate(data) == spec


def test_written_toml_has_no_seed_for_an_unseeded_arm(tmp_path):
    spec = spec_for("--arm", ARM_A, "--arm", ARM_B)
    path = write_spec_file(spec, tmp_path / "s.toml", comment="exported")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# exported\n")
    assert tomllib.loads(text)["arms"][1] == {"label": "loose", "temperature": 0.9, "runs": 1}
    assert load_spec_file(path, Limits(), openai_model="m") == spec


# -- export --spec ----------------------------------------------------------------------------


def test_export_needs_dir_or_spec_and_a_known_extension(isolated_env, tmp_path):
    status, out, err = run("export", "abc")
    assert (status, out) == (2, "")
    assert err == "error: export needs --dir DIR (the CSV files), --spec FILE (the spec), or both\n"
    status, _, err = run("export", "abc", "--spec", str(tmp_path / "s.yml"))
    assert status == 2
    assert err.endswith("s.yml: a spec file name must end in .json or .toml\n")
    assert not isolated_env.exists()  # refused before the store was opened


def test_round_trip_export_spec_then_compare_spec_stores_the_same_spec(isolated_env, tmp_path):
    prompt = 'Say "hi"\r\nthen stop.'
    first = ["compare", "--arm", ARM_A, "--arm", ARM_B, "--prompt", prompt]
    status, out, err = run(*first, "--max-tokens", "4", "--format", "json")
    assert status == 0, err
    original_id = json.loads(out)["experiment_id"]

    ids = [original_id]
    for name in ("again.toml", "again.json"):
        path = tmp_path / name
        status, out, err = run("export", original_id[:8], "--spec", str(path))
        assert (status, out) == (0, f"{path}\n"), err
        status, out, err = run("compare", "--spec", str(path), "--format", "json")
        assert status == 0, err
        ids.append(json.loads(out)["experiment_id"])

    with Store.open(f"sqlite:///{isolated_env}") as store:
        stored = [store.load_experiment(experiment_id) for experiment_id in ids]
    original = stored[0].spec
    assert original.prompt == prompt and original.max_tokens == 4
    assert arms_of(original) == [("steady", 7, 0.0, 1), ("loose", None, 0.9, 1)]
    for rerun in stored[1:]:
        assert rerun.spec.model_dump() == original.model_dump()
        assert rerun.status == "complete"
        assert [(c.arm_label, c.run_index) for c in rerun.completions] == [
            ("steady", 0),
            ("loose", 0),
        ]
    assert ids[1] != ids[0] and ids[2] != ids[1]  # new experiments, not the same one again
    toml_text = (tmp_path / "again.toml").read_text(encoding="utf-8")
    assert f"# Seedscope experiment {original_id}" in toml_text
    assert "# Run it again with: seedscope compare --spec" in toml_text
    assert DEFAULT_PROMPT not in toml_text

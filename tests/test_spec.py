"""Every validation rule of lib/spec.py: the message names field, value and allowed range,
and no model call is made (checked at a real HTTP server's request counter)."""

from __future__ import annotations

from typing import Any

import pytest
from seedscope.providers.openai_compat import OpenAICompatProvider
from seedscope.runner import run_spec_sync
from seedscope.settings import Settings
from seedscope.spec import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM,
    LOCAL_SEED_MAX,
    REMOTE_SEED_MAX,
    ExperimentSpec,
    Limits,
    SpecError,
    preset_arms,
    validate_spec,
)


def spec_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt": "Say hi.",
        "provider": "openai",
        "model": "fake-model",
        "max_tokens": 16,
        "arms": [
            {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 2},
            {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 2},
        ],
    }
    data.update(changes)
    return data


def with_arm(index: int, **changes: Any) -> dict[str, Any]:
    data = spec_data()
    data["arms"][index] = {**data["arms"][index], **changes}
    return data


# (case id, input, limits, fragments every one of which must appear in the message)
INVALID: list[tuple[str, dict[str, Any], Limits | None, list[str]]] = [
    (
        "temperature high",
        with_arm(0, temperature=2.5),
        None,
        ["arms[0].temperature", "2.5", "0 to 2"],
    ),
    (
        "temperature low",
        with_arm(1, temperature=-0.1),
        None,
        ["arms[1].temperature", "-0.1", "0 to 2"],
    ),
    (
        "temperature text",
        with_arm(0, temperature="hot"),
        None,
        ["arms[0].temperature", "'hot'", "number", "allowed 0 to 2"],
    ),
    ("top_p text", spec_data(top_p="all"), None, ["top_p", "'all'", "greater than 0 up to 1"]),
    (
        "runs not whole",
        with_arm(0, runs=2.5),
        Limits(max_runs_per_arm=9),
        ["arms[0].runs", "2.5", "1 to 9"],
    ),
    (
        "max_tokens text",
        spec_data(max_tokens="many"),
        Limits(max_tokens=64),
        ["max_tokens", "'many'", "1 to 64"],
    ),
    (
        "remote seed text",
        with_arm(1, seed="abc"),
        None,
        ["arms[1].seed", "'abc'", f"0 to {REMOTE_SEED_MAX}", "none for an unseeded arm"],
    ),
    (
        "local seed not whole",
        {**with_arm(1, seed=1.5), "provider": "local"},
        None,
        ["arms[1].seed", "1.5", f"1 to {LOCAL_SEED_MAX}"],
    ),
    (
        "temperature missing",
        {**spec_data(), "arms": [{"label": "a", "runs": 1}]},
        None,
        ["arms[0].temperature", "missing", "0 to 2"],
    ),
    ("top_p zero", spec_data(top_p=0), None, ["top_p", "0", "greater than 0 up to 1"]),
    ("top_p high", spec_data(top_p=1.5), None, ["top_p", "1.5", "greater than 0 up to 1"]),
    ("runs zero", with_arm(0, runs=0), None, ["arms[0].runs", "runs 0", "1 to 100"]),
    ("runs over default max", with_arm(1, runs=101), None, ["arms[1].runs", "101", "1 to 100"]),
    (
        "runs over configured max",
        with_arm(0, runs=6),
        Limits(max_runs_per_arm=5),
        ["arms[0].runs", "6", "1 to 5"],
    ),
    ("max_tokens zero", spec_data(max_tokens=0), None, ["max_tokens", "0", "1 to 1024"]),
    (
        "max_tokens over configured",
        spec_data(max_tokens=65),
        Limits(max_tokens=64),
        ["max_tokens", "65", "1 to 64", "SEEDSCOPE_MAX_TOKENS"],
    ),
    ("prompt empty", spec_data(prompt="   "), None, ["prompt", "empty"]),
    (
        "prompt too long",
        spec_data(prompt="x" * 101),
        Limits(max_prompt_chars=100),
        ["prompt", "101", "at most 100", "SEEDSCOPE_MAX_PROMPT_CHARS"],
    ),
    ("no arms", spec_data(arms=[]), None, ["arms", "no arms", "at least one"]),
    ("duplicate labels", with_arm(1, label="unseeded"), None, ["arms", "unique", "unseeded"]),
    ("blank label", with_arm(0, label="  "), None, ["arms[0].label", "empty"]),
    ("blank model", spec_data(model=" "), None, ["model", "empty"]),
    (
        "unknown provider",
        spec_data(provider="anthropic"),
        None,
        ["provider", "'anthropic'", "local", "openai"],
    ),
    (
        "unknown field",
        spec_data(temprature=0.5),
        None,
        ["temprature", "not a known field", "max_tokens, top_p, arms"],
    ),
    (
        "unknown arm field",
        with_arm(0, sed=1),
        None,
        ["arms[0].sed", "not a known field", "label, seed, temperature, runs"],
    ),
    (
        "remote seed negative",
        with_arm(1, seed=-1),
        None,
        ["arms[1].seed", "-1", f"0 to {REMOTE_SEED_MAX}"],
    ),
    (
        "remote seed too big",
        with_arm(1, seed=2**63),
        None,
        ["arms[1].seed", str(2**63), f"0 to {REMOTE_SEED_MAX}"],
    ),
    (
        "local seed zero",
        {**with_arm(1, seed=0), "provider": "local"},
        None,
        ["arms[1].seed", "seed 0", f"1 to {LOCAL_SEED_MAX}", "default"],
    ),
    (
        "local seed means random",
        {**with_arm(1, seed=2**32 - 1), "provider": "local"},
        None,
        ["arms[1].seed", "4294967295", f"1 to {LOCAL_SEED_MAX}", "random"],
    ),
    (
        "local seed too big",
        {**with_arm(1, seed=LOCAL_SEED_MAX + 1), "provider": "local"},
        None,
        ["arms[1].seed", str(LOCAL_SEED_MAX + 1), f"1 to {LOCAL_SEED_MAX}"],
    ),
]


@pytest.fixture
def counting_provider(fake_server):
    """A real OpenAI-compatible provider whose calls are counted at the server."""
    fake_server.reset()
    yield OpenAICompatProvider(api_key=None, base_url=fake_server.base_url, model="fake-model")
    fake_server.reset()


@pytest.mark.parametrize(
    ("case", "data", "limits", "fragments"), INVALID, ids=[c[0] for c in INVALID]
)
def test_invalid_input_is_named_and_no_call_is_made(
    case, data, limits, fragments, counting_provider, fake_server
):
    with pytest.raises(SpecError) as caught:
        spec = validate_spec(data, limits)
        run_spec_sync(spec, counting_provider)  # reached only if validation wrongly passed
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{case}: {fragment!r} missing from {message!r}"
    assert caught.value.messages, "one readable line per problem"
    assert fake_server.stats()["requests"].get("chat", 0) == 0


def test_every_problem_is_listed_at_once():
    data = with_arm(0, temperature=3)
    data["top_p"] = 2
    with pytest.raises(SpecError) as caught:
        validate_spec(data)
    fields = " ".join(caught.value.messages)
    assert "arms[0].temperature" in fields and "top_p" in fields
    assert len(caught.value.messages) == 2


def test_runner_rechecks_seeds_for_the_backend_it_is_given(counting_provider, fake_server):
    # A spec built directly (not through validate_spec) for the local backend may carry a seed
    # the embedded model cannot use; here the backend is remote, where 2**40 is valid ...
    spec = ExperimentSpec(**with_arm(1, seed=2**40, runs=1) | {"provider": "local"})
    outcome = run_spec_sync(spec, counting_provider)
    assert [c.requested_seed for c in outcome.completions if c.arm_label == "seeded"] == [2**40]
    # ... and a seed out of the remote range is refused before any call.
    fake_server.reset()
    bad = ExperimentSpec(**with_arm(1, seed=-5))
    with pytest.raises(SpecError, match=r"arms\[1\]\.seed: seed -5 is out of range for the openai"):
        run_spec_sync(bad, counting_provider)
    assert fake_server.stats()["requests"].get("chat", 0) == 0


def test_boundaries_are_accepted():
    spec = validate_spec(
        {
            **with_arm(1, seed=LOCAL_SEED_MAX, temperature=2, runs=100),
            "provider": "local",
            "top_p": 1,
            "max_tokens": 1024,
        }
    )
    assert spec.arms[1].seed == LOCAL_SEED_MAX
    remote = validate_spec(with_arm(1, seed=REMOTE_SEED_MAX, temperature=0))
    assert remote.arms[1].seed == REMOTE_SEED_MAX
    assert validate_spec(with_arm(1, seed=0)).arms[1].seed == 0  # 0 is a valid remote seed


def test_defaults_follow_the_notebook():
    spec = validate_spec({"arms": preset_arms("cookbook")})
    assert spec.prompt == DEFAULT_PROMPT
    assert spec.system == DEFAULT_SYSTEM == "You are a helpful assistant."
    assert spec.provider == "local"
    assert spec.max_tokens == 200 and spec.top_p == 1.0
    assert [(a.label, a.seed, a.temperature, a.runs) for a in spec.arms] == [
        ("unseeded", None, 0.7, 5),
        ("seeded", 123, 0.0, 5),
    ]
    assert spec.total_runs == 10


def test_presets():
    seed_only = preset_arms("seed-only", seed=7, temperature=0.3, runs=3)
    assert [(a["seed"], a["temperature"], a["runs"]) for a in seed_only] == [
        (None, 0.3, 3),
        (7, 0.3, 3),
    ]
    grid = validate_spec({"arms": preset_arms("grid", temperature=0, unseeded_temperature=1.2)})
    assert {(a.seed, a.temperature) for a in grid.arms} == {
        (None, 0.0),
        (None, 1.2),
        (123, 0.0),
        (123, 1.2),
    }
    assert len({a.label for a in grid.arms}) == 4
    cookbook = preset_arms("cookbook", temperature=0.2, unseeded_temperature=0.9)
    assert [a["temperature"] for a in cookbook] == [0.9, 0.2]
    with pytest.raises(SpecError, match="preset: 'nope' is not a preset; choose one of cookbook"):
        preset_arms("nope")


def test_limits_from_settings():
    limits = Limits.from_settings(
        Settings(max_runs_per_arm=7, max_tokens_limit=99, max_prompt_chars=50)
    )
    assert limits == Limits(max_runs_per_arm=7, max_tokens=99, max_prompt_chars=50)


def test_validate_spec_accepts_a_spec_object_and_strips_labels():
    spec = validate_spec(with_arm(0, label="  first  "))
    assert spec.arms[0].label == "first"
    assert validate_spec(spec) == spec

"""AppTest: the checks on the Compare page — the seed check, load probe and logprobs check
presets (their parameters, their problems, a background job that runs the check, the verdict
above the results) and the arms table's top_logprobs column, against the project's fake
server on 127.0.0.1 and the embedded model."""

from __future__ import annotations

import pytest
from seedscope.checks import (
    LOAD_PROBE_LABEL,
    LOGPROBS_CHECK_LABEL,
    SEED_CHECK_LABEL,
    seed_check_spec,
)
from streamlit.testing.v1 import AppTest

from tests.app.app_support import (
    APP,
    completion,
    finish_jobs,
    generate,
    page_text,
    problems,
    spec_for,
)

VERDICT_TITLES = ("**Seed check:", "**Load probe:", "**Logprobs check:")


@pytest.fixture
def remote(monkeypatch, fake_server_factory, app_env):
    """The app configured for a fake server started with `options`; returns the server."""

    def configure(*options: str):
        server = fake_server_factory(*options)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        return server

    return configure


def remote_app(make_app, preset: str):
    at = make_app()
    at.selectbox(key="cmp_provider").set_value("openai").run()
    at.selectbox(key="cmp_preset").set_value(preset).run()
    return at


def verdict_box(at):
    """The verdict shown above the results (success, warning or info)."""
    boxes = [b.value for kind in (at.success, at.warning, at.info) for b in kind]
    (verdict,) = [b for b in boxes if b.startswith(VERDICT_TITLES)]
    return verdict


def only_experiment(store, label: str):
    (summary,) = store.list_experiments()
    assert summary.label == label and summary.status == "complete"
    return store.load_experiment(summary.id)


def evidence_table(at) -> dict[str, str]:
    (table,) = [d.value for d in at.dataframe if list(d.value.columns) == ["evidence", "value"]]
    return dict(zip(table["evidence"], table["value"], strict=True))


def test_check_presets_show_their_parameters_with_the_cli_defaults(make_app, store):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("check-seed").run()
    assert not at.exception
    assert not at.data_editor  # the check brings its own arms
    assert (at.text_input(key="cmp_seed_a").value, at.text_input(key="cmp_seed_b").value) == (
        "123",
        "456",
    )
    assert at.number_input(key="cmp_seed_check_temperature").value == 1.0
    assert at.number_input(key="cmp_runs").value == 5
    assert not problems(at)
    assert "3 arms, 15 runs in total" in at.success[0].value
    (arms,) = at.dataframe
    assert list(arms.value["arm"]) == ["seed A", "seed A again", "seed B"]
    assert list(arms.value["seed"]) == ["123", "123", "456"]

    at.selectbox(key="cmp_preset").set_value("check-load").run()
    assert at.text_input(key="cmp_seed").value == "123"
    assert at.number_input(key="cmp_load_temperature").value == 0.0
    assert at.number_input(key="cmp_load_copies").value == 4
    assert at.number_input(key="cmp_load_background").value == 4
    # 5 sequential + 4 at once + 5 under load + 5 x 4 background
    assert "4 arms, 34 runs in total" in at.success[0].value

    at.selectbox(key="cmp_preset").set_value("check-logprobs").run()
    assert at.number_input(key="cmp_logprobs_temperature").value == 1.0
    assert at.number_input(key="cmp_logprobs_top_k").value == 5
    (arms,) = at.dataframe
    assert list(arms.value["arm"]) == ["without logprobs", "with logprobs"]
    assert [None if v is None or str(v) == "<NA>" else v for v in arms.value["top_logprobs"]] == [
        None,
        5,
    ]
    assert not generate_disabled(at)
    assert store.count_experiments() == 0


def generate_disabled(at) -> bool:
    return at.button(key="cmp_generate").disabled


@pytest.mark.parametrize(
    ("options", "verdict"), [((), "seed_honoured"), (("--ignore-seed",), "seed_ignored")]
)
def test_seed_check_preset_runs_the_check_and_shows_its_verdict(
    make_app, remote, store, options, verdict
):
    server = remote(*options)
    at = remote_app(make_app, "check-seed")
    generate(at, runs=3, max_tokens=8)

    assert not at.exception
    shown = verdict_box(at)
    assert shown.startswith(f"**Seed check: `{verdict}`**"), shown
    experiment = only_experiment(store, SEED_CHECK_LABEL)
    assert [arm.label for arm in experiment.spec.arms] == ["seed A", "seed A again", "seed B"]
    assert len(experiment.completions) == 9
    stats = server.stats()
    assert stats["requests"]["chat"] == 9
    assert stats["max_in_flight"] == 1  # the seed check sends one call at a time
    explanations = [t.value for t in at.text if "seed" in t.value and "pairs" in t.value]
    assert explanations, "the explanation is shown as text"
    figures = evidence_table(at)
    expected = "3 of 3 usable pairs match" if verdict == "seed_honoured" else "0 of 3"
    assert figures["seed A vs seed A again"].startswith(expected)
    assert "arms[" not in page_text(at)  # the usual results follow, no validation message


@pytest.mark.parametrize(
    ("options", "verdict"),
    [((), "logprobs_do_not_change_outputs"), (("--logprobs-change-output",), "logprobs_change")],
)
def test_logprobs_check_preset_shows_its_verdict(make_app, remote, store, options, verdict):
    server = remote(*options)
    at = remote_app(make_app, "check-logprobs")
    at.number_input(key="cmp_logprobs_top_k").set_value(3)
    generate(at, runs=2, max_tokens=8)

    assert not at.exception
    assert verdict_box(at).startswith(f"**Logprobs check: `{verdict}"), verdict_box(at)
    experiment = only_experiment(store, LOGPROBS_CHECK_LABEL)
    assert [arm.top_logprobs for arm in experiment.spec.arms] == [None, 3]
    log = server.stats()["chat_log"]
    assert [r["top_logprobs"] for r in log if r["logprobs"] is True] == [3, 3]
    assert len(log) == 4  # 2 without logprobs, 2 with
    assert evidence_table(at)["logprobs returned"] == "in 2 of 2 runs"


def test_load_probe_preset_against_a_load_dependent_server(make_app, remote, store):
    remote("--latency", "0.5", "--load-dependent", "1")
    at = remote_app(make_app, "check-load")
    at.number_input(key="cmp_load_copies").set_value(2)
    at.number_input(key="cmp_load_background").set_value(1)
    generate(at, runs=2, max_tokens=8)

    assert not at.exception
    assert verdict_box(at).startswith("**Load probe: `load_dependent`**"), verdict_box(at)
    experiment = only_experiment(store, LOAD_PROBE_LABEL)
    assert len(experiment.completions) == 2 + 2 + 2 + 2
    assert evidence_table(at)["one call at a time"] == "no"
    assert any("differ from the first sequential run" in c.value for c in at.caption)


def test_load_probe_on_the_embedded_model_says_it_serves_one_call_at_a_time(make_app, store):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("check-load").run()
    at.number_input(key="cmp_load_copies").set_value(2)
    at.number_input(key="cmp_load_background").set_value(1)
    generate(at, runs=2, max_tokens=4)

    assert not at.exception
    verdict = verdict_box(at)
    assert verdict.startswith("**Load probe: `load_invariant`**"), verdict
    (explanation,) = [t.value for t in at.text if "first sequential run" in t.value]
    assert "The embedded model serves one call at a time" in explanation
    assert evidence_table(at)["one call at a time"] == "yes"
    only_experiment(store, LOAD_PROBE_LABEL)


@pytest.mark.parametrize(
    ("preset", "widget", "key", "value", "expected"),
    [
        ("check-seed", "text_input", "cmp_seed_b", "123", "seed_b: 123 is seed A too"),
        ("check-seed", "text_input", "cmp_seed_a", "", "seed_a: no seed given"),
        ("check-seed", "text_input", "cmp_seed_a", "abc", "seed_a: 'abc' is not a valid number"),
        ("check-seed", "number_input", "cmp_seed_check_temperature", 0.0, "temperature: at 0"),
        ("check-seed", "number_input", "cmp_runs", 1, "runs: 1 is out of range for the seed"),
        ("check-load", "number_input", "cmp_load_copies", 1, "copies: 1 is out of range"),
        ("check-load", "number_input", "cmp_load_background", 30, "background: runs x background"),
        ("check-load", "text_input", "cmp_seed", "0", "seed: seed 0 is out of range for the local"),
        ("check-logprobs", "number_input", "cmp_logprobs_top_k", 21, "top_logprobs: top_logprobs"),
    ],
)
def test_a_bad_check_parameter_is_shown_and_nothing_runs(
    make_app, store, preset, widget, key, value, expected
):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value(preset).run()
    getattr(at, widget)(key=key).set_value(value).run()

    shown = problems(at)
    assert any(message.startswith(expected) for message in shown), shown
    assert len(shown) == 1, shown  # each problem once, named by its parameter
    assert generate_disabled(at)
    assert not at.exception
    assert store.count_experiments() == 0


def test_request_and_check_problems_are_reported_together(make_app, store):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("check-seed").run()
    at.number_input(key="cmp_max_tokens").set_value(0)
    at.text_input(key="cmp_seed_b").set_value("123").run()
    shown = problems(at)
    assert [message.split(":", 1)[0] for message in shown] == ["max_tokens", "seed_b"], shown
    assert generate_disabled(at)
    assert store.count_experiments() == 0


def test_the_top_logprobs_column_reaches_the_stored_spec(make_app, remote, store):
    server = remote()
    at = remote_app(make_app, "cookbook")
    # The preset's parameters first: changing them starts a fresh table.
    at.number_input(key="cmp_runs").set_value(1)
    at.number_input(key="cmp_max_tokens").set_value(6).run()
    (editor,) = at.data_editor
    assert list(editor.value.columns) == ["label", "seed", "temperature", "runs", "top_logprobs"]
    assert editor.value["top_logprobs"].isna().all()  # no capture unless asked for
    at.session_state[editor.key] = {
        "edited_rows": {1: {"top_logprobs": 4}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not problems(at)
    at.button(key="cmp_generate").click().run()
    finish_jobs(at)

    assert not at.exception
    (summary,) = store.list_experiments()
    experiment = store.load_experiment(summary.id)
    assert [(arm.label, arm.top_logprobs) for arm in experiment.spec.arms] == [
        ("unseeded", None),
        ("seeded", 4),
    ]
    sent = {r["seed"]: (r["logprobs"], r["top_logprobs"]) for r in server.stats()["chat_log"]}
    assert sent[123] == (True, 4)
    seeded = [c for c in experiment.completions if c.arm_label == "seeded"]
    assert seeded[0].tokens is not None and seeded[0].tokens.logprobs is not None


def test_a_bad_top_logprobs_names_the_arm(make_app, store):
    at = make_app()
    (editor,) = at.data_editor
    at.session_state[editor.key] = {
        "edited_rows": {0: {"top_logprobs": 25}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert problems(at) == [
        "arms[0].top_logprobs: top_logprobs 25 is out of range; allowed 1 to 20, or none to "
        "capture no logprobs"
    ]
    assert generate_disabled(at)
    assert store.count_experiments() == 0


def stored_check(store, spec, label: str, texts: dict[str, list[str]]) -> str:
    experiment_id = store.create_experiment(spec, base_url_host=None, label=label)
    store.add_runs(
        experiment_id,
        [
            completion(spec, arm, index, text)
            for arm, arm_texts in texts.items()
            for index, text in enumerate(arm_texts)
        ],
    )
    store.finish_experiment(experiment_id, "complete")
    return experiment_id


def opened(experiment_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["experiment"] = experiment_id
    return at.run()


def test_a_stored_check_shows_the_verdict_recomputed_from_its_runs(app_env, store):
    spec = seed_check_spec(spec_for(), runs=2)
    texts = {"seed A": ["a b", "c d"], "seed A again": ["e f", "g h"], "seed B": ["i j", "k l"]}
    at = opened(stored_check(store, spec, SEED_CHECK_LABEL, texts))

    assert not at.exception
    assert verdict_box(at).startswith("**Seed check: `seed_ignored`**")
    assert evidence_table(at)["seed A vs seed A again"] == "0 of 2 usable pairs match"
    (differing,) = [c.value for c in at.caption if "seed A and seed A again differ" in c.value]
    assert differing.startswith("2 runs")


def test_a_check_label_on_other_arms_is_shown_as_a_plain_experiment(app_env, store):
    spec = spec_for()
    at = opened(stored_check(store, spec, SEED_CHECK_LABEL, {"unseeded": ["a", "b"]}))

    assert not at.exception
    boxes = [b.value for kind in (at.success, at.warning, at.info) for b in kind]
    assert not [b for b in boxes if b.startswith(VERDICT_TITLES)]
    assert any(m.value.startswith("#### Experiment") for m in at.markdown)


def test_history_shows_a_checks_verdict_offers_no_resume_and_runs_it_again_as_the_check(
    make_app, store
):
    """A seed check cancelled after some runs: History shows its verdict over the stored runs,
    says it is run again rather than resumed, and Run again brings back the check's preset
    with its parameters (not its arms as a plain experiment)."""
    spec = seed_check_spec(spec_for(), seed_a=11, seed_b=22, temperature=0.9, runs=3)
    texts = {"seed A": ["a", "b"], "seed A again": ["a", "b"], "seed B": ["c", "d"]}
    experiment_id = stored_check(store, spec, SEED_CHECK_LABEL, texts)
    store.reopen_experiment(experiment_id, from_statuses=("complete",))
    store.finish_experiment(experiment_id, "cancelled")
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(experiment_id).run()
    assert not at.exception
    assert verdict_box(at).startswith("**Seed check: `seed_honoured`**")
    assert any("A check is not resumed" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key and b.key.startswith("hist_resume_")]

    at.button(key=f"hist_run_again_{experiment_id}").click().run()
    assert not at.exception
    assert at.selectbox(key="cmp_preset").value == "check-seed"
    assert (at.text_input(key="cmp_seed_a").value, at.text_input(key="cmp_seed_b").value) == (
        "11",
        "22",
    )
    assert at.number_input(key="cmp_runs").value == 3
    assert at.number_input(key="cmp_seed_check_temperature").value == 0.9
    assert store.count_experiments() == 1  # nothing ran

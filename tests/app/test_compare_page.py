"""AppTest: the Compare page — form defaults, presets, every validation message, cost guard,
and a real generation on the embedded model with the real embedder."""

from __future__ import annotations

import json
import time

import pytest
from plotly.colors import get_colorscale
from seedscope.spec import DEFAULT_PROMPT, DEFAULT_SYSTEM, LOCAL_SEED_MAX, preset_arms
from seedscope.ui import resources
from seedscope.ui.diff import word_diff
from seedscope.ui.results import analysis_for, finish_text, word_position
from seedscope.ui.text import count, format_latency

from tests.app.app_support import finish_jobs, generate, page_text, problems, spec_for


def generate_button(at):
    return at.button(key="cmp_generate")


def arm_headings(block) -> list[str]:
    """The arm headings ("##### label") directly inside `block` or its columns."""
    return [m.value.removeprefix("##### ") for m in block.markdown if m.value.startswith("##### ")]


def texts_of(experiment, arm: str) -> list[str]:
    return [c.text for c in experiment.completions if c.arm_label == arm]


def arms_editor(at):
    (editor,) = at.data_editor
    return editor


def test_form_defaults_follow_the_cookbook_notebook(make_app, store):
    at = make_app()

    assert not at.exception
    assert at.text_area(key="cmp_prompt").value == DEFAULT_PROMPT
    assert at.text_area(key="cmp_system").value == DEFAULT_SYSTEM
    assert at.selectbox(key="cmp_provider").value == "local"
    assert at.selectbox(key="cmp_provider").options == ["Embedded model (SmolLM2-135M-Instruct)"]
    assert at.text_input(key="cmp_local_model").value == "SmolLM2-135M-Instruct"
    assert at.selectbox(key="cmp_preset").value == "cookbook"
    assert at.text_input(key="cmp_seed").value == "123"
    assert at.number_input(key="cmp_temperature").value == 0.0
    assert at.number_input(key="cmp_unseeded_temperature").value == 0.7
    assert at.number_input(key="cmp_runs").value == 5
    assert at.number_input(key="cmp_max_tokens").value == 200
    assert at.number_input(key="cmp_top_p").value == 1.0
    table = arms_editor(at).value
    expected = preset_arms("cookbook")
    assert list(table["label"]) == [arm["label"] for arm in expected]
    assert list(table["temperature"]) == [arm["temperature"] for arm in expected]
    assert list(table["runs"]) == [arm["runs"] for arm in expected]
    assert [s or None for s in table["seed"]] == [None, "123"]
    assert not problems(at)
    assert "2 arms, 10 runs in total" in at.success[0].value
    assert not generate_button(at).disabled
    assert "Generate" in at.info[0].value  # the empty state says what to do
    assert store.count_experiments() == 0


@pytest.mark.parametrize(
    ("preset", "labels", "temperatures", "seeds"),
    [
        ("seed-only", ["unseeded", "seeded"], [0.0, 0.0], [None, "123"]),
        (
            "grid",
            ["unseeded t=0", "seed 123 t=0", "unseeded t=0.7", "seed 123 t=0.7"],
            [0.0, 0.0, 0.7, 0.7],
            [None, "123", None, "123"],
        ),
    ],
)
def test_presets_fill_the_arms_table(make_app, preset, labels, temperatures, seeds):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value(preset).run()
    table = arms_editor(at).value
    assert list(table["label"]) == labels
    assert list(table["temperature"]) == temperatures
    assert [s or None for s in table["seed"]] == seeds
    assert not problems(at)


def test_preset_parameters_refill_the_table(make_app):
    at = make_app()
    at.text_input(key="cmp_seed").set_value("77")
    at.number_input(key="cmp_runs").set_value(3)
    at.number_input(key="cmp_unseeded_temperature").set_value(1.1).run()
    table = arms_editor(at).value
    assert [s or None for s in table["seed"]] == [None, "77"]
    assert list(table["runs"]) == [3, 3]
    assert list(table["temperature"]) == [1.1, 0.0]


def test_custom_preset_keeps_an_editable_table(make_app):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("custom").run()
    editor = arms_editor(at)
    assert editor.editing_mode == "dynamic"
    at.session_state[editor.key] = {
        "edited_rows": {},
        "added_rows": [{"label": "third", "seed": "7", "temperature": 1.0, "runs": 2}],
        "deleted_rows": [],
    }
    at.run()
    assert not problems(at)
    assert "3 arms, 12 runs in total" in at.success[0].value


def test_the_check_panel_counts_one_arm_and_one_run_in_the_singular(make_app):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("custom").run()
    at.session_state[arms_editor(at).key] = {
        "edited_rows": {0: {"runs": 1}},
        "added_rows": [],
        "deleted_rows": [1],
    }
    at.number_input(key="cmp_max_tokens").set_value(1).run()
    assert not problems(at)
    assert [s.value for s in at.success] == ["1 arm, 1 run in total, up to 1 token each."]


def assert_rejected(at, store, expected: str) -> None:
    shown = problems(at)
    assert any(message.startswith(expected) for message in shown), shown
    assert at.error[0].value == "Fix these before generating:"
    assert generate_button(at).disabled
    assert not at.exception
    assert store.count_experiments() == 0  # nothing generated, nothing stored


@pytest.mark.parametrize(
    ("widget", "key", "value", "expected"),
    [
        ("text_area", "cmp_prompt", "   ", "prompt: prompt is empty"),
        ("number_input", "cmp_max_tokens", 0, "max_tokens: max_tokens 0 is out of range"),
        ("number_input", "cmp_top_p", 0.0, "top_p: top_p 0.0 is out of range"),
        ("number_input", "cmp_top_p", 1.5, "top_p: top_p 1.5 is out of range"),
        ("number_input", "cmp_temperature", 2.5, "arms[1].temperature: temperature 2.5 is out"),
        ("number_input", "cmp_unseeded_temperature", -0.1, "arms[0].temperature: temperature"),
        ("number_input", "cmp_runs", 0, "arms[0].runs: runs 0 is out of range; allowed 1 to 100"),
        ("text_input", "cmp_seed", "0", "arms[1].seed: seed 0 is out of range for the local"),
        (
            "text_input",
            "cmp_seed",
            str(LOCAL_SEED_MAX + 1),
            f"arms[1].seed: seed {LOCAL_SEED_MAX + 1} is out of range",
        ),
        ("text_input", "cmp_seed", "twelve", "arms[1].seed: 'twelve' is not a valid number"),
    ],
)
def test_each_widget_validation_error_is_shown_and_blocks_generation(
    make_app, store, widget, key, value, expected
):
    at = make_app()
    getattr(at, widget)(key=key).set_value(value).run()
    assert_rejected(at, store, expected)
    if key == "cmp_seed" and value == "0":
        assert "llama.cpp treats seed 0" in problems(at)[0]  # says why


@pytest.mark.parametrize(
    ("variable", "limit", "expected"),
    [
        ("SEEDSCOPE_MAX_RUNS_PER_ARM", "3", "arms[0].runs: runs 5 is out of range; allowed 1 to 3"),
        ("SEEDSCOPE_MAX_TOKENS", "100", "max_tokens: max_tokens 200 is out of range; allowed 1 to"),
        (
            "SEEDSCOPE_MAX_PROMPT_CHARS",
            "20",
            f"prompt: prompt has {len(DEFAULT_PROMPT)} characters; allowed at most 20",
        ),
    ],
)
def test_configured_limits_are_enforced_with_their_setting_named(
    make_app, store, monkeypatch, variable, limit, expected
):
    monkeypatch.setenv(variable, limit)
    at = make_app()
    assert_rejected(at, store, expected)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            {"edited_rows": {1: {"label": "unseeded"}}},
            "arms: arm labels must be unique; repeated: unseeded",
        ),
        ({"edited_rows": {0: {"label": "  "}}}, "arms[0].label: label is empty"),
        ({"deleted_rows": [0, 1]}, "arms: no arms; add at least one arm"),
        ({"edited_rows": {0: {"runs": None}}}, "arms[0].runs:"),
    ],
)
def test_each_arms_table_validation_error_is_shown(make_app, store, edit, expected):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("custom").run()
    state = {"edited_rows": {}, "added_rows": [], "deleted_rows": []} | edit
    at.session_state[arms_editor(at).key] = state
    at.run()
    assert_rejected(at, store, expected)


def test_generation_on_the_embedded_model_shows_both_arms_and_their_measures(make_app, store):
    at = generate(make_app(), runs=2, max_tokens=8)

    assert not at.exception
    assert not at.error
    # Stored at once, as it ran: one complete experiment with every run.
    (summary,) = store.list_experiments()
    assert (summary.status, summary.runs, summary.failed_runs) == ("complete", 4, 0)
    stored = store.load_experiment(summary.id)
    assert stored is not None

    # The job has ended: no progress panel is left, and Generate may be pressed again.
    assert not at.get("progress")
    assert not [b for b in at.button if b.label == "Cancel"]
    assert not generate_button(at).disabled

    # Both arms side by side with their headline measures.
    headings = [m.value for m in at.markdown if m.value.startswith("##### ")]
    assert headings == ["##### unseeded", "##### seeded"]
    labels = [m.label for m in at.metric]
    for measure in (
        "Distinct outputs",
        "Notebook mean distance",
        "Mean pairwise distance",
        "Exact-match rate",
        "First divergence",
    ):
        assert labels.count(measure) == 2, measure
    assert "Mean distance unseeded vs seeded" in labels
    # No OpenAI configured: the embedded MiniLM measures, with no choice offered.
    assert not [r for r in at.radio if r.key == "cmp_embedder"]
    assert "Cosine distances between embeddings from `local:all-MiniLM-L6-v2`." in [
        c.value for c in at.caption
    ]
    distinct = [m.value for m in at.metric if m.label == "Distinct outputs"]
    seeded_texts = set(texts_of(stored, "seeded"))
    unseeded_texts = set(texts_of(stored, "unseeded"))
    assert distinct == [f"{len(unseeded_texts)}/2", f"{len(seeded_texts)}/2"]
    assert len(seeded_texts) == 1  # seed 123 at temperature 0 repeats itself

    # Each run as a card: its text exactly as stored, its fingerprint and effective seed.
    assert [c.value for c in at.code if c.language != "diff"] == [
        c.text for c in stored.completions
    ]
    captions = "\n".join(c.value for c in at.caption)
    assert f"Fingerprint: `{stored.completions[0].system_fingerprint}`" in captions
    for run in stored.completions:
        assert f"effective seed {run.effective_seed}" in captions
        tokens = f"{run.prompt_tokens} prompt + {run.completion_tokens} completion tokens"
        assert tokens in captions
        assert f"{tokens} · {format_latency(run.latency_s)}{finish_text(run.finish_reason)}" in (
            captions
        )

    # Charts, diff and the three downloads; the two heatmaps share one colour axis.
    assert len(at.get("plotly_chart")) == 3
    heatmaps = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["type"] for t in heatmaps["data"]] == ["heatmap", "heatmap"]
    assert {t["coloraxis"] for t in heatmaps["data"]} == {"coloraxis"}
    assert at.selectbox(key="cmp_diff_a").value == ("unseeded", 0)
    downloads = at.get("download_button")
    assert [d.label for d in downloads] == [
        "Runs CSV",
        "Metrics CSV",
        "Distances CSV",
        "Report (HTML)",
    ]
    (link,) = at.get("page_link")
    assert link.proto.label == "Open in History"
    assert link.proto.query_string == f"experiment={summary.id}"

    # A display control redraws from the cached analysis: nothing generated or embedded again.
    embedder = resources.embedder(resources.load_settings())
    encodes = embedder.encode_calls
    at.selectbox(key="cmp_colorscale").set_value("Cividis").run()
    at.selectbox(key="cmp_diff_b").set_value(("seeded", 1)).run()
    assert not at.exception
    assert embedder.encode_calls == encodes
    diff = word_diff(texts_of(stored, "unseeded")[0], texts_of(stored, "seeded")[1])
    shown = [m.value for m in at.markdown if m.value.startswith("First divergence at")]
    if diff.identical_text:
        assert "The two runs are identical." in [s.value for s in at.success]
    else:
        assert shown[0].startswith(
            f"First divergence at **{word_position(diff.first_divergence_word)}"
        )
    assert store.count_experiments() == 1
    assert store.load_experiment(summary.id).summary.runs == 4
    heatmaps = json.loads(at.get("plotly_chart")[0].proto.spec)
    shown = [color for _, color in heatmaps["layout"]["coloraxis"]["colorscale"]]
    assert shown == [color for _, color in get_colorscale("Cividis")]

    # Replay an unseeded run with its effective seed: the same text comes back.
    replay_keys = [b.key for b in at.button if b.key and ":unseeded:0" in b.key]
    at.button(key=replay_keys[0]).click().run()
    assert [s.value for s in at.success if "Replay" in s.value] == [
        "Replay reproduced the text exactly."
    ]
    assert store.load_experiment(summary.id).summary.runs == 4  # replays are not stored


def test_untrusted_output_is_never_rendered_as_markdown_or_html(make_app, store):
    """Model output, arm labels and fingerprints from the store reach the page only as text."""
    from tests.app.app_support import spec_for, store_experiment

    payload = "<script>window.pwned=1</script> **bold** [link](http://x) :red[red]"
    spec = spec_for(arms=[{"label": "<b>arm</b> *x*", "seed": 5, "temperature": 0.0, "runs": 2}])
    store_experiment(
        store, spec, {"<b>arm</b> *x*": [payload, payload + " again"]}, fingerprint="<i>fp</i>"
    )
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(store.list_experiments()[0].id).run()
    assert not at.exception
    assert payload in [c.value for c in at.code]
    # Everywhere Markdown is used, the untrusted parts arrive escaped.
    markdown = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert "<b>arm</b>" not in markdown and "\\<b\\>arm\\</b\\>" in markdown
    assert "Fingerprint: `<i>fp</i>`" in markdown  # inside a code span: shown literally
    assert "allow_html: true" not in page_text(at)


def test_grid_generation_shows_four_arms_and_every_pair_of_arms(make_app, store):
    at = make_app()
    at.selectbox(key="cmp_preset").set_value("grid").run()
    generate(at, runs=2, max_tokens=4)

    assert not at.exception
    (summary,) = store.list_experiments()
    assert (summary.status, summary.runs) == ("complete", 8)
    labels = ["unseeded t=0", "seed 123 t=0", "unseeded t=0.7", "seed 123 t=0.7"]
    headings = [m.value.removeprefix("##### ") for m in at.markdown if m.value.startswith("#####")]
    assert [h.replace("\\", "") for h in headings] == labels
    assert [m.label for m in at.metric].count("Distinct outputs") == 4
    (pairs,) = [d.value for d in at.dataframe if "arm A" in d.value.columns]
    assert len(pairs) == 6
    assert list(zip(pairs["arm A"], pairs["arm B"], strict=True))[0] == (labels[0], labels[1])
    # Two arms to a row: a row per temperature, the seedless arm beside the seeded one.
    rows = [
        [heading.replace("\\", "") for heading in arm_headings(block)]
        for block in at.main.children.values()
        if getattr(block, "type", None) == "flex_container"
        and len(block.children) == 2
        and all(arm_headings(column) for column in block.children.values())
    ]
    assert rows == [labels[:2], labels[2:]]
    # The heatmaps follow the same rows, on one colour scale from 0 to the largest distance.
    first, second = (json.loads(c.proto.spec) for c in at.get("plotly_chart")[:2])
    assert [t["name"] for t in first["data"] + second["data"]] == labels
    stored = store.load_experiment(summary.id)
    largest = max(
        (
            float(arm.distances.max())
            for arm in analysis_for(resources.load_settings(), stored).arms
            if arm.distances.size
        ),
        default=0.0,
    )
    for figure in (first, second):
        assert figure["layout"]["coloraxis"]["cmin"] == 0.0
        assert figure["layout"]["coloraxis"]["cmax"] == pytest.approx(largest or 1.0)


def test_no_usable_backend_says_what_to_configure(make_app, monkeypatch, store):
    monkeypatch.setenv("SEEDSCOPE_ALLOWED_PROVIDERS", "openai")  # and no OpenAI settings
    at = make_app()
    assert not at.exception
    (error,) = [e.value for e in at.main.error]
    assert error.startswith("No backend is available")
    assert "OPENAI_API_KEY or OPENAI_BASE_URL" in error
    assert not [b for b in at.button if b.key == "cmp_generate"]


def test_latest_comparison_deleted_elsewhere_says_what_to_do(make_app, store):
    from tests.app.app_support import spec_for, store_experiment

    experiment_id = store_experiment(store, spec_for(), {"seeded": ["Same.", "Same."]})
    at = make_app()
    at.session_state["cmp_experiment_id"] = experiment_id  # as after a generation
    at.run()
    assert [m.value for m in at.markdown if m.value.startswith("##### ")] == [
        "##### unseeded",
        "##### seeded",
    ]
    store.delete_experiment(experiment_id)  # say, in History in another tab
    at.run()
    assert not at.exception
    assert [i.value for i in at.info] == [
        "The latest comparison was deleted in History. Generate a new one."
    ]


def test_a_database_failure_mid_run_stops_and_keeps_what_was_saved(make_app, store, app_env):
    """A real database error on the third insert (an SQLite trigger): generation stops, the two
    runs saved before stay, the experiment is `interrupted`, and the page says what happened."""
    import sqlite3

    connection = sqlite3.connect(app_env.removeprefix("sqlite:///"))
    connection.execute(
        "CREATE TRIGGER disk_full BEFORE INSERT ON runs WHEN (SELECT count(*) FROM runs) >= 2 "
        "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
    )
    connection.commit()
    connection.close()

    at = generate(make_app(), runs=2, max_tokens=4)

    assert not at.exception
    (summary,) = store.list_experiments()
    assert (summary.status, summary.runs) == ("interrupted", 2)
    (error,) = [e.value.replace("\\", "") for e in at.error]  # drop Markdown escapes
    assert "Generation interrupted: stopped while saving run 1 of arm 'unseeded'" in error
    assert "simulated disk full" in error and "The 2 runs saved so far are kept" in error
    # The two saved runs are shown, marked interrupted, with Resume for the missing two.
    assert len([c for c in at.code if c.language != "diff"]) == 2
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("Generation was interrupted")
    assert "2 completed runs kept" in warning and "2 runs missing" in warning
    assert [b.label for b in at.button if b.key and b.key.startswith("cmp_resume_")] == ["Resume"]
    assert "interrupted" in page_text(at)


def test_progress_cancel_and_resume_run_in_the_background(make_app, store, local_provider):
    """Generate returns at once and the page polls the job: it waits behind another job on the
    embedded model, shows its progress newest run first, survives edits, stops on Cancel with
    the runs kept, and Resume sends only the missing runs."""
    blocker = resources.job_manager().start(
        store,
        spec_for(arms=[{"label": "other", "seed": 5, "temperature": 0.0, "runs": 50}]),
        local_provider,
    )  # another session's job holds the embedded model
    at = generate(make_app(), runs=10, max_tokens=8, wait=False)
    assert not at.exception
    (experiment_id,) = [s.id for s in store.list_experiments() if s.id != blocker.experiment_id]
    assert at.session_state["cmp_experiment_id"] == experiment_id
    assert at.query_params["experiment"] == experiment_id  # a reloaded tab finds it again
    (waiting,) = [i.value for i in at.info if i.value.startswith("Waiting")]
    assert waiting.startswith("Waiting for the embedded model, 1 ahead")
    assert [bar.proto.text for bar in at.get("progress")] == [
        "0 of 20 runs",
        "unseeded: 0/10",
        "seeded: 0/10",
    ]
    assert generate_button(at).disabled  # one job per session at a time

    blocker.cancel()
    job = resources.job_manager().job(experiment_id)
    while job.snapshot().done < 3:
        time.sleep(0.02)
    at.text_area(key="cmp_prompt").set_value("Edited while it runs.").run()  # does not cancel
    assert not at.exception
    snapshot = job.snapshot()
    assert not snapshot.finished and not snapshot.cancel_requested
    # The live log, newest run first: one call at a time, so runs end in plan order
    # (unseeded 0, seeded 0, unseeded 1, ...) and the log shows them backwards.
    live = [t.value.split(" · ")[:2] for t in at.text if " · run " in t.value]
    assert len(live) >= 3
    plan = [(arm, index) for index in range(10) for arm in ("unseeded", "seeded")]
    positions = [plan.index((arm, int(run.removeprefix("run ")))) for arm, run in live]
    assert positions == sorted(positions, reverse=True) and positions[-1] == 0
    assert at.get("progress")[0].proto.text.endswith("of 20 runs")
    at.switch_page("pages/history.py").run()
    at.switch_page("pages/compare.py").run()  # the session remembers its job
    assert at.get("progress")[0].proto.text.endswith("of 20 runs")
    assert not job.snapshot().finished

    at.button(key=f"cmp_cancel_{experiment_id}").click().run()
    finish_jobs(at)
    stored = store.load_experiment(experiment_id)
    kept = stored.summary.runs
    assert stored.summary.status == "cancelled" and 3 <= kept < 20
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith(f"Generation was cancelled: {count(kept, 'completed run')} kept")
    assert stored.spec.prompt != "Edited while it runs."  # the job runs what was generated

    at.button(key=f"cmp_resume_{experiment_id}").click().run()
    finish_jobs(at)
    assert not at.exception and not at.warning
    stored = store.load_experiment(experiment_id)
    assert (stored.summary.status, stored.summary.runs) == ("complete", 20)
    pairs = [(c.arm_label, c.run_index) for c in stored.completions]
    assert len(set(pairs)) == 20  # each run once: only the missing ones were sent
    assert [m.value for m in at.markdown if m.value.startswith("##### ")] == [
        "##### unseeded",
        "##### seeded",
    ]

"""AppTest: the History page — empty state, listing and filters, opening an experiment in the
shared results view, and deleting with a confirmation."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from tests.app.app_support import spec_for, store_experiment

MARS = ["The rover landed near the crater.", "The crew saw a dust storm."]
SEEDED = ["Mars news: the mission launched.", "Mars news: the mission launched."]


def seed_history(store) -> dict[str, str]:
    """Three stored experiments, oldest first: two local, one remote."""
    ids = {}
    mars = spec_for(prompt="A short news excerpt about a journey to Mars.")
    ids["mars"] = store_experiment(store, mars, {"unseeded": MARS, "seeded": SEEDED})
    venus = spec_for(prompt="Describe Venus in one line.")
    ids["venus"] = store_experiment(
        store, venus, {"unseeded": ["Hot.", "Cloudy."], "seeded": ["Hot.", "Hot."]}
    )
    remote = spec_for(prompt="Describe Jupiter.", provider="openai", model="fake-model")
    ids["remote"] = store_experiment(
        store,
        remote,
        {"unseeded": ["Big.", "Gas."], "seeded": ["Big.", "Big."]},
        fingerprint=None,
        host="127.0.0.1:8000",
    )
    return ids


def cells(at, column: str) -> list[list[str]]:
    """The table's column, each cell as its lines (related facts share a column, a line each)."""
    (table,) = at.dataframe
    return [cell.split("\n") for cell in table.value[column]]


def listed(at) -> list[str]:
    return [lines[0] for lines in cells(at, "id, status")]


def test_empty_history_says_what_to_do(make_app):
    at = make_app("pages/history.py")
    assert not at.exception
    assert "Run a comparison on the Compare page" in at.info[0].value
    assert not at.dataframe


def test_history_lists_experiments_newest_first_with_filters(make_app, store):
    ids = seed_history(store)
    at = make_app("pages/history.py")
    assert not at.exception
    assert listed(at) == [ids["remote"][:8], ids["venus"][:8], ids["mars"][:8]]
    # Readable at 1024 px: five columns, related facts one per line in a cell.
    (table,) = at.dataframe
    assert list(table.value.columns) == ["id, status", "kind", "prompt", "runs, arms", "backend"]
    assert cells(at, "backend") == [
        ["openai", "fake-model", "127.0.0.1:8000"],
        ["local", "SmolLM2-135M-Instruct"],
        ["local", "SmolLM2-135M-Instruct"],
    ]
    # What tells experiments of one prompt apart: kind, status, runs, max_tokens, arms.
    assert list(table.value["kind"]) == ["experiment"] * 3
    assert [lines[1:] for lines in cells(at, "id, status")] == [
        ["complete", f"{s.created_at:%Y-%m-%d}", f"{s.created_at:%H:%M} UTC"]
        for s in store.list_experiments()
    ]
    assert (
        cells(at, "runs, arms")
        == [["4 runs", "max_tokens 8", "none T0.7 ×2", "seed 123 T0 ×2"]] * 3
    )
    assert list(table.value["prompt"])[0] == "Describe Jupiter."

    at.text_input(key="hist_prompt").set_value("VENUS").run()
    assert listed(at) == [ids["venus"][:8]]
    at.text_input(key="hist_prompt").set_value("").run()

    at.selectbox(key="hist_provider").set_value("openai").run()
    assert listed(at) == [ids["remote"][:8]]
    assert at.selectbox(key="hist_model").options == ["All", "fake-model"]
    at.selectbox(key="hist_provider").set_value("All").run()
    at.selectbox(key="hist_model").set_value("SmolLM2-135M-Instruct").run()
    assert listed(at) == [ids["venus"][:8], ids["mars"][:8]]
    at.selectbox(key="hist_model").set_value("All").run()

    today = datetime.now(UTC).date()
    at.date_input(key="hist_dates").set_value((today, today)).run()
    assert len(listed(at)) == 3
    long_ago = today - timedelta(days=400)
    at.date_input(key="hist_dates").set_value((long_ago, long_ago + timedelta(days=1))).run()
    assert not at.dataframe
    assert "No experiment matches these filters" in at.info[0].value


def test_table_cells_keep_to_four_short_lines():
    """Many arms end in "+N more arms"; failures, the host and who started it get a line;
    imported outputs have no max_tokens (no request was sent from here)."""
    from seedscope.store import ExperimentSummary
    from seedscope.ui.history_table import summary_table

    grid = spec_for(
        arms=[
            {"label": f"arm {i}", "seed": 5 if i % 2 else None, "temperature": 0.7, "runs": 3}
            for i in range(4)
        ]
    )
    summary = ExperimentSummary(
        id="0123456789abcdef",
        created_at=datetime(2025, 1, 31, 14, 5, tzinfo=UTC),
        finished_at=None,
        status="interrupted",
        provider="openai",
        model="m",
        prompt="p " * 100,
        base_url_host="llm.example.com:8443",
        label=None,
        runs=1,
        failed_runs=1,
        started_by="alice",
    )
    imported = dataclasses.replace(summary, id="fedcba9876543210", kind="import", failed_runs=0)
    table = summary_table([summary, imported], {summary.id: grid, imported.id: grid})
    rows = table.to_dict("records")
    assert rows[0]["id, status"].split("\n") == [
        "01234567",
        "interrupted",
        "2025-01-31",
        "14:05 UTC",
    ]
    assert rows[0]["runs, arms"].split("\n") == [
        "1 run, 1 failed",
        "max_tokens 8",
        "none T0.7 ×3",
        "+3 more arms",
    ]
    assert rows[0]["backend"].split("\n") == ["openai", "m", "llm.example.com:8443", "by alice"]
    assert len(rows[0]["prompt"]) == 64 and rows[0]["prompt"].endswith("…")
    assert rows[1]["runs, arms"].split("\n") == ["1 run", "none T0.7 ×3", "+3 more arms"]


def test_opening_an_experiment_shows_the_compare_results_view(make_app, store):
    ids = seed_history(store)
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(ids["mars"]).run()

    assert not at.exception
    headings = [m.value for m in at.markdown if m.value.startswith("##### ")]
    assert headings == ["##### unseeded", "##### seeded"]
    assert [m.value for m in at.metric if m.label == "Distinct outputs"] == ["2/2", "1/2"]
    assert [m.value for m in at.metric if m.label == "Exact-match rate"] == ["0%", "100%"]
    assert [c.value for c in at.code if c.language != "diff"] == MARS + SEEDED
    assert len(at.get("plotly_chart")) == 3
    assert [d.label for d in at.get("download_button")] == [
        "Runs CSV",
        "Metrics CSV",
        "Distances CSV",
        "Report (HTML)",
    ]
    assert any(ids["mars"][:8] in m.value for m in at.markdown)


def test_link_from_compare_opens_the_experiment_in_history(make_app, store):
    """The Compare page links to History with ?experiment=<id>; History opens it."""
    from streamlit.testing.v1 import AppTest

    from tests.app.app_support import APP

    ids = seed_history(store)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/history.py").run()  # visited before: the link must still work
    assert at.selectbox(key="hist_open").value is None
    at.query_params["experiment"] = ids["venus"]
    at.run()
    assert at.selectbox(key="hist_open").value == ids["venus"]
    assert [c.value for c in at.code if c.language != "diff"][:2] == ["Hot.", "Cloudy."]
    # Choosing another experiment afterwards sticks (the link is applied once).
    at.selectbox(key="hist_open").set_value(ids["mars"]).run()
    assert at.selectbox(key="hist_open").value == ids["mars"]
    at.query_params["experiment"] = "ffffffff"
    at.run()
    assert "not found" in at.warning[0].value


def test_delete_needs_a_confirmation_and_removes_the_experiment(make_app, store):
    ids = seed_history(store)
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(ids["venus"]).run()

    delete = at.button(key=f"hist_delete_{ids['venus']}")
    assert delete.disabled
    at.checkbox(key=f"hist_confirm_delete_{ids['venus']}").check().run()
    assert store.count_experiments() == 3  # confirming alone deletes nothing
    at.button(key=f"hist_delete_{ids['venus']}").click().run()

    assert not at.exception
    assert store.load_experiment(ids["venus"]) is None
    assert store.count_experiments() == 2
    assert [s.value for s in at.success] == [f"Deleted experiment {ids['venus'][:8]}."]
    assert at.selectbox(key="hist_open").value is None
    assert listed(at) == [ids["remote"][:8], ids["mars"][:8]]


def test_failed_runs_are_listed_with_their_reason_and_not_measured(make_app, store):
    from tests.app.app_support import completion

    spec = spec_for()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    store.add_runs(
        experiment_id,
        [
            completion(spec, "unseeded", 0, "Red dust."),
            completion(spec, "unseeded", 1, "", error="RateLimitError"),
            completion(spec, "seeded", 0, "Same."),
            completion(spec, "seeded", 1, "Same."),
        ],
    )
    store.finish_experiment(experiment_id, "complete")
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(experiment_id).run()

    assert not at.exception
    assert "RateLimitError: RateLimitError: the server said no" in [t.value for t in at.text]
    assert any("1 failed run]" in c.value for c in at.caption)  # one run: "run", not "runs"
    assert [m.value for m in at.metric if m.label == "Distinct outputs"] == ["1/1", "1/2"]


def test_experiments_with_nothing_to_measure_say_so(make_app, store):
    """An experiment stopped before its first run, and one with a single run: no empty charts
    or broken diff, a sentence instead."""
    spec = spec_for()
    empty = store.create_experiment(spec, base_url_host=None)
    store.finish_experiment(empty, "cancelled")
    single = store_experiment(store, spec, {"seeded": ["Only one."]})
    at = make_app("pages/history.py")

    at.selectbox(key="hist_open").set_value(empty).run()
    assert not at.exception
    assert any("No runs were stored for this experiment" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.get("download_button")

    at.selectbox(key="hist_open").set_value(single).run()
    assert not at.exception
    assert "At least two successful runs are needed for a diff." in [c.value for c in at.caption]
    assert "No runs stored for this arm." in [c.value for c in at.caption]  # the unseeded arm
    assert [m.value for m in at.metric if m.label == "Distinct outputs"] == ["0/0", "1/1"]


def test_a_running_experiment_is_followed_live_in_history_and_in_a_new_tab(
    make_app, store, fake_server_factory
):
    """A job outlives the page: History shows its live progress, a reloaded Compare tab (a new
    session with ?experiment=<id>) finds it, Cancel in History stops it, and the results then
    offer Resume."""
    from seedscope.providers.openai_compat import OpenAICompatProvider
    from seedscope.ui import resources
    from streamlit.testing.v1 import AppTest

    from tests.app.app_support import APP, finish_jobs

    server = fake_server_factory("--latency", "0.3")
    spec = spec_for(
        provider="openai",
        model="fake-model",
        arms=[{"label": "slow", "seed": 3, "temperature": 0.0, "runs": 40}],
    )
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    job = resources.job_manager().start(store, spec, provider, concurrency=1)
    experiment_id = job.experiment_id

    at = make_app("pages/history.py")
    assert listed(at) == [experiment_id[:8]]
    assert cells(at, "id, status")[0][1] == "running"
    at.selectbox(key="hist_open").set_value(experiment_id).run()
    assert not at.exception
    assert at.get("progress")[0].proto.text.endswith("of 40 runs")
    assert at.button(key=f"hist_cancel_{experiment_id}").label == "Cancel"
    assert not at.get("plotly_chart")  # the results come when it ends

    reloaded = AppTest.from_file(APP, default_timeout=120)
    reloaded.query_params["experiment"] = experiment_id
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.get("progress")[0].proto.text.endswith("of 40 runs")
    assert reloaded.button(key="cmp_generate").disabled
    assert not job.snapshot().finished  # neither page stopped it

    at.button(key=f"hist_cancel_{experiment_id}").click().run()
    finish_jobs(at)
    assert not at.exception
    summary = store.load_experiment(experiment_id).summary
    assert summary.status == "cancelled" and 0 < summary.runs < 40
    assert server.stats()["requests"]["chat"] == summary.runs  # in flight at Cancel: kept
    assert any(":orange-badge[cancelled]" in m.value for m in at.markdown)
    assert at.button(key=f"hist_resume_{experiment_id}").label == "Resume"
    finish_jobs(reloaded)
    assert any(":orange-badge[cancelled]" in m.value for m in reloaded.markdown)


def test_failed_experiments_are_listed_and_shown_as_failed(make_app, store):
    from tests.app.app_support import completion

    spec = spec_for()
    experiment_id = store.create_experiment(spec, base_url_host=None)
    store.add_runs(
        experiment_id,
        [
            completion(spec, arm, index, "", error=error)
            for arm, index, error in [
                ("unseeded", 0, "APIConnectionError"),
                ("unseeded", 1, "APIConnectionError"),
                ("seeded", 0, "APIConnectionError"),
                ("seeded", 1, "RateLimitError"),
            ]
        ],
    )
    store.finish_experiment(experiment_id, "failed")
    at = make_app("pages/history.py")
    assert cells(at, "id, status")[0][1] == "failed"
    assert cells(at, "runs, arms")[0][0] == "4 runs, 4 failed"
    at.selectbox(key="hist_open").set_value(experiment_id).run()

    assert not at.exception
    assert any(":red-badge[failed]" in m.value for m in at.markdown)
    (banner,) = [e.value.replace("\\", "") for e in at.error]  # drop Markdown escapes
    assert "most common reason (3 of 4 runs): APIConnectionError: APIConnectionError: the" in (
        banner
    )
    assert not [b for b in at.button if b.key and "resume" in b.key]  # nothing to resume


def test_status_and_kind_filters(make_app, store):
    ids = seed_history(store)
    store.finish_experiment(ids["venus"], "cancelled")
    at = make_app("pages/history.py")
    at.selectbox(key="hist_status").set_value("cancelled").run()
    assert listed(at) == [ids["venus"][:8]]
    at.selectbox(key="hist_status").set_value("All").run()
    at.selectbox(key="hist_kind").set_value("suite").run()
    assert "No experiment matches these filters" in at.info[0].value
    at.selectbox(key="hist_kind").set_value("experiment").run()
    assert len(listed(at)) == 3


def test_run_again_loads_the_request_and_arms_into_the_compare_form(make_app, store):
    spec = spec_for(
        prompt="Name three moons.",
        arms=[
            {"label": "steady", "seed": 7, "temperature": 0.0, "runs": 3},
            {"label": "loose", "seed": None, "temperature": 1.1, "runs": 2},
        ],
        max_tokens=12,
    )
    experiment_id = store_experiment(store, spec, {"steady": ["a", "a", "a"], "loose": ["b", "c"]})
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(experiment_id).run()
    at.button(key=f"hist_run_again_{experiment_id}").click().run()
    assert not at.exception
    assert at.text_area(key="cmp_prompt").value == "Name three moons."
    assert at.number_input(key="cmp_max_tokens").value == 12
    assert at.selectbox(key="cmp_preset").value == "custom"
    (editor,) = at.data_editor
    assert list(editor.value["label"]) == ["steady", "loose"]
    assert [s or None for s in editor.value["seed"]] == ["7", None]
    assert list(editor.value["temperature"]) == [0.0, 1.1]
    assert list(editor.value["runs"]) == [3, 2]
    assert any(f"`{experiment_id[:8]}`" in info.value for info in at.info)
    assert "5 runs in total, up to 12 tokens each" in at.success[0].value
    assert store.count_experiments() == 1  # nothing ran


def test_run_again_keeps_logprob_capture_and_each_arms_own_backend(make_app, store):
    spec = spec_for(
        arms=[
            {"label": "traced", "seed": 7, "temperature": 0.0, "runs": 1, "top_logprobs": 3},
            {
                "label": "elsewhere",
                "seed": 7,
                "temperature": 0.0,
                "runs": 1,
                "provider": "openai",
                "base_url": "http://127.0.0.1:9/v1",
            },
        ],
    )
    experiment_id = store_experiment(store, spec, {"traced": ["a"], "elsewhere": ["b"]})
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(experiment_id).run()
    at.button(key=f"hist_run_again_{experiment_id}").click().run()
    assert not at.exception
    (editor,) = at.data_editor
    captured = editor.value["top_logprobs"]
    assert captured.iloc[0] == 3 and captured.isna().iloc[1]  # empty: no capture
    assert at.toggle(key="cmp_arm_backends").value  # the backend columns are shown
    assert [p or None for p in editor.value["provider"]] == [None, "openai"]
    assert [u or None for u in editor.value["base_url"]] == [None, "http://127.0.0.1:9/v1"]


def test_compare_with_puts_two_experiments_side_by_side(make_app, store):
    ids = seed_history(store)
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(ids["venus"]).run()
    at.selectbox(key="hist_compare_with").set_value(ids["mars"]).run()
    assert not at.exception
    frame = next(d.value for d in at.dataframe if "measure" in d.value.columns)
    venus, mars = ids["venus"][:8], ids["mars"][:8]
    rows = {(r["arm"], r["measure"]): r for r in frame.to_dict("records")}
    assert rows[("seeded", "distinct outputs")][venus] == "1"
    assert rows[("unseeded", "distinct outputs")][venus] == "2"
    assert rows[("seeded", "TARr")][mars] == "1"
    distance = float(rows[("seeded", "distance between the two")][venus])
    assert distance > 0.1  # "Hot." against a Mars news line
    assert any(m.label.startswith(f"Mean distance between {venus} and {mars}") for m in at.metric)
    # Offered: the other listed experiments, not the opened one itself.
    options = at.selectbox(key="hist_compare_with").options
    assert [option[:8] for option in options] == [ids["remote"][:8], mars]


def test_run_again_loads_a_stored_suite_into_the_suites_form(make_app, store):
    from seedscope.answers import AnswerExtractor
    from seedscope.suites import validate_suite_spec

    from tests.store_support import make_case_completion

    spec = validate_suite_spec(
        {
            "suite": {
                "name": "moons",
                "cases": [
                    {"id": "m1", "prompt": "How many moons has Mars?", "expected": "2"},
                    {"id": "m2", "prompt": "How many moons has Earth?", "expected": "1"},
                ],
            },
            "provider": "local",
            "model": "SmolLM2-135M-Instruct",
            "system": "Answer with a digit.",
            "max_tokens": 12,
            "top_p": 0.9,
            "arms": [
                {"label": "steady", "seed": 7, "temperature": 0.0, "runs": 3},
                {"label": "loose", "seed": None, "temperature": 1.1, "runs": 2},
            ],
            "extractor": AnswerExtractor(kind="regex", pattern=r"(\d+) moons?"),
        }
    )
    suite_id = store.create_experiment(spec, base_url_host=None)
    store.add_runs(
        suite_id,
        [
            make_case_completion(spec, case.id, arm.label, index, text=f"{case.expected} moons")
            for case in spec.cases
            for arm in spec.arms
            for index in range(arm.runs)
        ],
    )
    store.finish_experiment(suite_id, "complete")
    at = make_app("pages/history.py")
    assert cells(at, "id, status") and list(at.dataframe[0].value["kind"]) == ["suite"]
    at.selectbox(key="hist_open").set_value(suite_id).run()
    assert at.button(key=f"hist_run_again_{suite_id}").help.startswith(
        "Load this experiment's request and arms into the Suites form"
    )
    at.button(key=f"hist_run_again_{suite_id}").click().run()

    assert not at.exception
    assert at.title[0].value == "Suites"
    assert at.radio(key="ste_source").value == "stored"
    assert at.selectbox(key="ste_stored").value == suite_id
    assert at.text_area(key="ste_system").value == "Answer with a digit."
    assert at.number_input(key="ste_max_tokens").value == 12
    assert at.number_input(key="ste_top_p").value == 0.9
    assert at.selectbox(key="ste_extractor").value == "regex"
    assert at.text_input(key="ste_regex").value == r"(\d+) moons?"
    assert at.selectbox(key="ste_preset").value == "custom"
    (editor,) = at.data_editor
    assert list(editor.value["label"]) == ["steady", "loose"]
    assert [s or None for s in editor.value["seed"]] == ["7", None]
    assert list(editor.value["temperature"]) == [0.0, 1.1]
    assert list(editor.value["runs"]) == [3, 2]
    assert any(f"`{suite_id[:8]}`" in info.value for info in at.info)
    assert "2 cases × 2 arms, 10 runs in total, up to 12 tokens each" in at.success[0].value
    assert not at.button(key="ste_generate").disabled
    assert store.count_experiments() == 1  # nothing ran

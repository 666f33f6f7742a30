"""AppTest: the History page — empty state, listing and filters, opening an experiment in the
shared results view, and deleting with a confirmation."""

from __future__ import annotations

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


def listed(at) -> list[str]:
    (table,) = at.dataframe
    return list(table.value["id"])


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
    (table,) = at.dataframe
    assert list(table.value["runs"]) == [4, 4, 4]
    assert list(table.value["backend"]) == [
        "openai/fake-model @ 127.0.0.1:8000",
        "local/SmolLM2-135M-Instruct",
        "local/SmolLM2-135M-Instruct",
    ]
    # What tells experiments of one prompt apart: kind, arms, max_tokens, status.
    assert list(table.value["kind"]) == ["experiment"] * 3
    assert list(table.value["arms"]) == ["none T0.7 ×2 · seed 123 T0 ×2"] * 3
    assert list(table.value["max_tokens"]) == [8, 8, 8]
    assert list(table.value["status"]) == ["complete"] * 3

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
    assert list(at.dataframe[0].value["status"]) == ["running"]
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
    assert list(at.dataframe[0].value["status"]) == ["failed"]
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

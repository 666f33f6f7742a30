"""The shared results view's smaller parts: runs aligned by run index, how the cost line names
a backend, and which embedder is offered for an experiment that ran elsewhere."""

from __future__ import annotations

from seedscope.ui.compare_form import backend_cost_label
from seedscope.ui.results import runs_aligned
from seedscope.ui.text import escape_markdown

from tests.app.app_support import completion, spec_for, store_experiment


def test_runs_aligned_put_run_n_of_every_arm_on_one_row(store):
    spec = spec_for(
        arms=[
            {"label": "a", "seed": 1, "temperature": 0.0, "runs": 3},
            {"label": "b", "seed": None, "temperature": 0.7, "runs": 2},
        ]
    )
    experiment_id = store.create_experiment(spec, base_url_host=None)
    store.add_runs(
        experiment_id,
        [
            completion(spec, "a", 0, "A0"),
            completion(spec, "a", 1, "A1"),
            completion(spec, "a", 2, "A2"),
            completion(spec, "b", 0, "B0"),
            completion(spec, "b", 1, "", error="APITimeoutError"),
        ],
    )
    frame = runs_aligned(store.load_experiment(experiment_id))
    assert list(frame.columns) == ["a", "b"]
    assert frame.index.name == "run" and list(frame.index) == [0, 1, 2]
    assert frame.loc[0].tolist() == ["A0", "B0"]
    assert frame.loc[1, "b"] == "FAILED APITimeoutError: APITimeoutError: the server said no"
    assert frame.loc[2, "a"] == "A2" and frame.isna().loc[2, "b"]


def test_the_aligned_layout_is_offered_in_the_page(make_app, store):
    spec = spec_for()
    experiment_id = store_experiment(store, spec, {"unseeded": ["x", "y"], "seeded": ["z", "z"]})
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(experiment_id).run()
    at.segmented_control(key="hist_layout").set_value("aligned").run()
    assert not at.exception
    frame = next(d.value for d in at.dataframe if list(d.value.columns) == ["unseeded", "seeded"])
    assert frame.values.tolist() == [["x", "z"], ["y", "z"]]
    assert not [c for c in at.code if c.value in {"x", "y"}]  # no run cards in this layout


def test_the_cost_line_calls_only_openai_paid():
    assert backend_cost_label(None) == "Paid backend (OpenAI)"
    assert backend_cost_label("https://api.openai.com/v1") == "Paid backend (OpenAI)"
    assert backend_cost_label("http://127.0.0.1:8080/v1") == (
        f"Server at {escape_markdown('127.0.0.1:8080')} (paid only if it charges)"
    )


def test_remote_embeddings_are_not_offered_for_another_servers_outputs(
    make_app, store, monkeypatch
):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing is sent there
    spec = spec_for(provider="openai", model="fake-model")
    elsewhere = store_experiment(
        store, spec, {"unseeded": ["a", "b"], "seeded": ["c", "c"]}, host="10.0.0.5:8000"
    )
    here = store_experiment(
        store, spec, {"unseeded": ["a", "b"], "seeded": ["c", "c"]}, host="127.0.0.1:9"
    )
    at = make_app("pages/history.py")
    at.selectbox(key="hist_open").set_value(elsewhere).run()
    assert not at.exception
    assert not [r for r in at.radio if r.key == "hist_embedder"]
    assert any(f"ran at {escape_markdown('10.0.0.5:8000')}" in c.value for c in at.caption)
    at.selectbox(key="hist_open").set_value(here).run()
    assert at.radio(key="hist_embedder").value == "local"

"""AppTest: the Fingerprints page — empty state, the timeline, change events, and the drift of
a repeated fixed request (with and without a fingerprint change)."""

from __future__ import annotations

import json
from datetime import timedelta

from seedscope.capabilities import SEED

from tests.app.app_support import spec_for, store_experiment
from tests.store_support import T0

PROBE = [{"label": "probe", "seed": 5, "temperature": 0.0, "runs": 1}]
# (hours after T0, fingerprint, text) of one fixed seeded request repeated four times
REPEATS = [
    (0, "fp_a", "The rover landed."),
    (1, "fp_a", "The rover landed."),
    (2, "fp_b", "A storm hit the base."),  # text changed with the fingerprint
    (3, "fp_b", "Dust everywhere."),  # text changed, fingerprint did not: silent drift
]


def seed_fingerprints(store) -> None:
    for hours, fingerprint, text in REPEATS:
        spec = spec_for(prompt="Probe: one line about Mars.", arms=PROBE)
        store_experiment(
            store,
            spec,
            {"probe": [text]},
            fingerprint=fingerprint,
            started_at=T0 + timedelta(hours=hours),
        )
    other = spec_for(prompt="Describe Jupiter.", provider="openai", model="fake-model")
    # A remote server that reports no fingerprint; its seeded arm repeats one fixed request.
    store_experiment(
        store,
        other,
        {"unseeded": ["Big.", "Gas."], "seeded": ["Big.", "Big."]},
        fingerprint=None,
        started_at=T0 + timedelta(hours=5),
    )


def captions(at) -> str:
    return "\n".join(caption.value for caption in at.caption)


def fingerprint_tables(at) -> list:
    """The page's dataframes above the Backends section (which has a test of its own)."""
    return [table.value for table in at.dataframe if SEED not in table.value.columns]


def backends_tables(at) -> list:
    return [table.value for table in at.dataframe if SEED in table.value.columns]


def change_marks(figure: dict) -> list[dict]:
    return [trace for trace in figure["data"] if trace["name"] == "change event"]


def store_runs_on_hosts(store, history) -> None:
    """history: (host, fingerprint, hours after T0) per experiment of two runs, one per arm."""
    for host, fingerprint, hours in history:
        spec = spec_for(prompt="Say hi.", provider="openai", model="echo", arms=TWO_ARMS)
        store_experiment(
            store,
            spec,
            {"unseeded": ["Hi."], "seeded": ["Hello."]},
            host=host,
            fingerprint=fingerprint,
            started_at=T0 + timedelta(hours=hours),
        )


TWO_ARMS = [
    {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 1},
    {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 1},
]
# Issue 11: fp_a, then fp_b, then nothing, then fp_a again on one host, and a second host that
# reports fp_a throughout. The page said "0 change events" above a table listing them.
ISSUE_HISTORY = [
    ("127.0.0.1:8001", "fp_a", 0),
    ("127.0.0.1:8002", "fp_a", 1),
    ("127.0.0.1:8001", "fp_b", 2),
    ("127.0.0.1:8001", None, 3),
    ("127.0.0.1:8002", "fp_a", 4),
    ("127.0.0.1:8001", "fp_a", 5),
]


def test_count_caption_event_list_and_chart_agree_on_one_definition(make_app, store):
    store_runs_on_hosts(store, ISSUE_HISTORY)
    at = make_app("pages/fingerprints.py")
    assert not at.exception

    text = captions(at)
    assert "3 change events in 2 series." in text
    assert "A new host starts a new series, not a change." in text
    assert "a new row for the same model is a change" not in text

    events, spans, _summary = fingerprint_tables(at)
    first = "openai/echo @ 127.0.0.1:8001"
    assert events.to_dict("records") == [
        {
            "when (UTC)": (T0 + timedelta(hours=hours)).replace(tzinfo=None),
            "series": first,
            "from → to": change,
            "runs before": before,
            "runs after": after,
        }
        for hours, change, before, after in [
            (2, "fp_a → fp_b", 2, 2),
            (3, "fp_b → not reported", 2, 2),
            (5, "not reported → fp_a", 2, 2),
        ]
    ]
    # The spans table: the first row of each series starts it, each further row is an event.
    assert spans[["series", "system fingerprint", "runs"]].values.tolist() == [
        [first, "fp_a", 2],
        [first, "fp_b", 2],
        [first, "not reported", 2],
        [first, "fp_a", 2],
        ["openai/echo @ 127.0.0.1:8002", "fp_a", 4],
    ]
    rows_per_series = spans.groupby("series").size()
    assert len(events) == len(spans) - len(rows_per_series)

    timeline, _drift = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    (marks,) = change_marks(timeline)
    assert marks["y"] == ["openai/echo<br>@ 127.0.0.1:8001"] * 3
    assert [hover.split("<br>")[2] for hover in marks["hovertext"]] == [
        "fingerprint fp_a → fp_b",
        "fingerprint fp_b → not reported",
        "fingerprint not reported → fp_a",
    ]
    rows = timeline["layout"]["yaxis"]["categoryarray"]
    assert rows == ["openai/echo<br>@ 127.0.0.1:8001", "openai/echo<br>@ 127.0.0.1:8002"]


def test_no_change_says_so_and_a_date_range_is_explained(make_app, store):
    store_runs_on_hosts(store, [("h:1", "fp_a", 0), ("h:2", "fp_b", 1), ("h:1", "fp_a", 2)])
    at = make_app("pages/fingerprints.py")
    assert "0 change events in 2 series." in captions(at)
    assert "No change: every series reported one fingerprint throughout." in captions(at)
    assert len(fingerprint_tables(at)) == 2  # the spans and the drift summary; no event list
    assert not change_marks(json.loads(at.get("plotly_chart")[0].proto.spec))
    day = T0.date()
    at.date_input(key="fp_dates").set_value((day, day)).run()
    assert "each series starts at its first run in them" in captions(at)


def test_empty_fingerprints_page_says_what_to_do(make_app):
    at = make_app("pages/fingerprints.py")
    assert not at.exception
    assert "Run a comparison on the Compare page" in at.info[0].value
    assert not at.get("plotly_chart")


def test_fingerprints_page_shows_timeline_changes_and_drift(make_app, store):
    seed_fingerprints(store)
    at = make_app("pages/fingerprints.py")
    assert not at.exception

    timeline, drift = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    names = " ".join(trace["name"] for trace in timeline["data"])
    assert "fp_a" in names and "fp_b" in names and "not reported" in names
    (marks,) = change_marks(timeline)  # one change marker: fp_a -> fp_b
    assert marks["y"] == ["local/SmolLM2-135M-Instruct"]

    events, spans, summary, changes = fingerprint_tables(at)
    assert events[["series", "from → to"]].values.tolist() == [
        ["local/SmolLM2-135M-Instruct", "fp_a → fp_b"]
    ]
    local = spans[spans["series"] == "local/SmolLM2-135M-Instruct"]
    assert list(local["system fingerprint"]) == ["fp_a", "fp_b"]
    assert list(local["runs"]) == [2, 2]
    remote = spans[spans["series"] == "openai/fake-model"]
    assert list(remote["system fingerprint"]) == ["not reported"]
    assert "1 change event in 2 series." in captions(at)

    metrics = {m.label: m.value for m in at.metric}
    # The probe repeated over time, and the remote seeded arm (two runs of one fixed request).
    assert metrics["Repeated requests"] == "2"
    assert metrics["Text changes"] == "2"
    assert metrics["Fingerprint changed too"] == "1/2"
    assert sorted(summary["runs"]) == [2, 4]
    probe = summary[summary["request"].str.contains("Probe")].iloc[0]
    assert (probe["runs"], probe["text changes"]) == (4, 2)
    assert (probe["…with a fingerprint change"], probe["…silent (same fingerprint)"]) == (1, 1)
    assert list(summary[~summary["request"].str.contains("Probe")]["text changes"]) == [0]
    assert list(changes["fingerprint changed"]) == [True, False]
    assert list(changes["new text starts"]) == ["A storm hit the base.", "Dust everywhere."]

    # The drift chart: one row per repeated request, each run marked against the one before.
    points = {trace["name"]: trace for trace in drift["data"]}
    assert len(points["first run"]["x"]) == 2
    assert len(points["same text"]["x"]) == 2  # the probe's 2nd run, the remote seeded run 1
    (silent,) = points["changed · same fingerprint"]["hovertext"]
    assert "fingerprint fp_b → fp_b" in silent and "Dust everywhere." in silent
    (announced,) = points["changed · fingerprint changed"]["hovertext"]
    assert "fingerprint fp_a → fp_b" in announced and "A storm hit the base." in announced
    rows = [row.replace("<br>", " ") for row in drift["layout"]["yaxis"]["categoryarray"]]
    assert len(rows) == 2
    assert rows[0].startswith("local/SmolLM2-135M-Instruct · seed 5 · t=0 · Probe: one line")
    assert rows[1].startswith("openai/fake-model · seed 123 · t=0 · Describe Jupiter.")


def test_fingerprint_filters_narrow_the_timeline(make_app, store):
    seed_fingerprints(store)
    at = make_app("pages/fingerprints.py")
    at.selectbox(key="fp_provider").set_value("openai").run()
    timeline, drift = at.get("plotly_chart")
    names = " ".join(trace["name"] for trace in json.loads(timeline.proto.spec)["data"])
    assert "not reported" in names and "fp_a" not in names
    (row,) = json.loads(drift.proto.spec)["layout"]["yaxis"]["categoryarray"]
    assert row.startswith("openai/fake-model")
    assert {m.label: m.value for m in at.metric}["Text changes"] == "0"

    at.selectbox(key="fp_provider").set_value("All").run()
    at.selectbox(key="fp_model").set_value("SmolLM2-135M-Instruct").run()
    (timeline, drift) = at.get("plotly_chart")
    names = " ".join(trace["name"] for trace in json.loads(timeline.proto.spec)["data"])
    assert "fp_a" in names and "not reported" not in names
    at.selectbox(key="fp_model").set_value("All").run()
    day = T0.date() - timedelta(days=30)
    at.date_input(key="fp_dates").set_value((day, day)).run()
    assert not at.get("plotly_chart")
    assert "No successful runs match" in at.info[0].value


def test_drift_section_explains_when_nothing_was_repeated(make_app, store):
    unseeded = [{"label": "free", "seed": None, "temperature": 0.7, "runs": 2}]
    store_experiment(store, spec_for(arms=unseeded), {"free": ["One.", "Two."]})
    at = make_app("pages/fingerprints.py")
    assert len(at.get("plotly_chart")) == 1
    assert "No fixed request has been repeated yet" in at.info[0].value
    assert "python -m seedscope probe" in at.info[0].value


# -- the Backends section: the capability table (seedscope.capabilities) --------------------------


def test_backends_section_shows_checks_fingerprints_and_never_checked(
    make_app, store, fake_server_factory
):
    from seedscope.checks import run_seed_check, seed_check_spec
    from seedscope.providers.openai_compat import OpenAICompatProvider
    from seedscope.spec import ExperimentSpec

    store_runs_on_hosts(store, ISSUE_HISTORY)
    server = fake_server_factory("--fingerprint", "fp_srv")
    provider = OpenAICompatProvider(api_key=None, base_url=server.base_url, model="fake-model")
    base = ExperimentSpec(provider="openai", model="fake-model", max_tokens=8)
    check = run_seed_check(store, seed_check_spec(base, runs=2), provider)
    checked_at = store.load_experiment(check.experiment_id).summary.created_at
    # A model name that would be markup anywhere but a dataframe cell.
    hostile = spec_for(model="<b>x</b> **bold** :red[y]", arms=PROBE)
    store_experiment(store, hostile, {"probe": ["Hi."]}, started_at=T0)

    at = make_app("pages/fingerprints.py")
    assert not at.exception
    assert "Backends" in [header.value for header in at.subheader]
    (table,) = backends_tables(at)
    rows = {row["host"]: row for row in table.to_dict("records")}
    assert set(rows) == {"embedded", "127.0.0.1:8001", "127.0.0.1:8002", f"127.0.0.1:{server.port}"}

    changed = rows["127.0.0.1:8001"]
    assert changed["backend"] == "openai/echo"
    assert changed["fingerprint changed"] == "yes (3 change events)"  # the count above
    assert changed["fingerprint reported"] == "partly"
    for column in ("seed honoured", "logprobs supported", "logprobs change output"):
        assert changed[column] == "never checked"
    assert changed["load-invariant"] == "never checked"
    assert rows["127.0.0.1:8002"]["fingerprint changed"] == "no"

    checked = rows[f"127.0.0.1:{server.port}"]
    assert (checked["seed honoured"], checked["fingerprint reported"]) == ("yes", "yes")
    assert checked["seed checked (UTC)"] == checked_at.replace(tzinfo=None)
    assert checked["load-invariant"] == "never checked"

    assert rows["embedded"]["backend"] == "local/<b>x</b> **bold** :red[y]"  # literal
    assert "**bold**" not in "\n".join(m.value for m in at.markdown)

    text = captions(at)
    assert "`seedscope check seed`" in text and "`seedscope check logprobs`" in text
    assert "*Never checked*" in text
    assert "3 change events in 4 series." in text


def test_backends_section_follows_the_provider_filter_and_says_when_empty(make_app, store):
    at = make_app("pages/fingerprints.py")
    assert "No backend has runs or checks yet" in captions(at)
    assert not backends_tables(at)

    store_runs_on_hosts(store, ISSUE_HISTORY[:2])
    store_experiment(store, spec_for(arms=PROBE), {"probe": ["Hi."]}, started_at=T0)
    at = make_app("pages/fingerprints.py")
    (table,) = backends_tables(at)
    assert list(table["host"]) == ["embedded", "127.0.0.1:8001", "127.0.0.1:8002"]
    at.selectbox(key="fp_provider").set_value("openai").run()
    (table,) = backends_tables(at)
    assert list(table["backend"]) == ["openai/echo", "openai/echo"]
    # Dates narrow the timeline, not the table: capabilities are as last checked.
    day = T0.date() - timedelta(days=30)
    at.date_input(key="fp_dates").set_value((day, day)).run()
    assert "No successful runs match" in at.info[0].value
    (table,) = backends_tables(at)
    assert len(table) == 2

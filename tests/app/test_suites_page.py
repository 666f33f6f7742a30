"""AppTest: the Suites page — suite sources and their validation, a real suite on the embedded
model (the page shows the CLI's JSON figures), cases worst first with filters, one case opened
in the Compare results view, imports, and History listing suites."""

from __future__ import annotations

import io
import json

import pytest
from seedscope.cli import main
from seedscope.ui.suite_form import extractor_problems

from tests.app.app_support import finish_jobs, page_text, problems

PAGE = "pages/suites.py"
SUITE_CSV = (
    "id,prompt,expected\n"
    "q1,What is 2+3? Answer with a number.,5\n"
    "q2,What is 10-4? Answer with a number.,6\n"
    "q3,Name the red planet.,\n"
    "q4,Say hello.,\n"
    "q5,Count to three.,\n"
)
IMPORT_CSV = (
    "case_id,arm,run,text,expected\n"
    "a,seeded,0,The answer is 4,4\n"
    "a,seeded,1,The answer is 4,4\n"
    "b,seeded,0,I think 7,7\n"
    "b,seeded,1,It is 7.,7\n"
    "c,seeded,0,<script>alert(1)</script> 3,9\n"
    "c,seeded,1,maybe 9,9\n"
)


def upload(at, content: str, name: str = "cases.csv", key: str = "ste_file"):
    at.file_uploader(key=key).set_value((name, content.encode(), "text/csv"))
    return at.run()


def frame_with(at, column: str):
    """The dataframe that has `column` (only selectable dataframes carry their key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def arms_rows(at) -> list[dict]:
    return frame_with(at, "TARr@N").to_dict("records")


def cases_frame(at, key: str = "ste"):
    return at.dataframe(key=f"{key}_cases_table").value


def cli_json(*args: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    assert main(list(args), out=out, err=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_empty_page_says_what_to_do_and_generates_nothing(make_app, store):
    at = make_app(PAGE)
    assert not at.exception
    assert at.radio(key="ste_source").value == "upload"
    assert problems(at) == ["cases: upload a suite file (.csv, .jsonl or .txt)"]
    assert at.button(key="ste_generate").disabled
    assert "Upload a suite" in at.info[0].value
    assert store.count_experiments() == 0


def test_an_invalid_suite_file_names_rows_and_fields_and_stores_nothing(make_app, store):
    at = make_app(PAGE)
    upload(at, "id,prompt,colour\nq1,Hi,red\n")
    assert problems(at) == [
        "cases.csv: header (line 1): column 3: 'colour' is not a known column; allowed id, "
        "prompt, and optionally system, expected"
    ]
    upload(at, "id,prompt\nq1,Hi\nq1,\n")
    assert problems(at) == [
        "cases.csv: data row 2 (line 3): id: 'q1' is already the id of data row 1 (line 2)",
        "cases.csv: data row 2 (line 3): prompt: empty; type the request to send",
    ]
    assert at.button(key="ste_generate").disabled
    at.file_uploader(key="ste_file").set_value(("x.csv", b"id,prompt\nq1,caf\xe9\n", "text/csv"))
    at.run()
    assert problems(at) == [
        "x.csv: line 2: not UTF-8 text (byte 0xe9 at position 16); save the file as UTF-8"
    ]
    assert store.count_experiments() == 0


def test_typed_prompts_and_limits_are_checked_before_generating(make_app, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_MAX_SUITE_RUNS", "10")
    at = make_app(PAGE)
    at.radio(key="ste_source").set_value("type").run()
    at.text_area(key="ste_typed").set_value("2 + 2 =\nName a colour.\n").run()
    assert any("SEEDSCOPE_MAX_SUITE_RUNS" in p for p in problems(at)), problems(at)
    at.number_input(key="ste_runs").set_value(2).run()
    assert not problems(at)
    assert "2 cases × 2 arms, 8 runs in total" in at.success[0].value
    at.selectbox(key="ste_extractor").set_value("regex").run()
    at.text_input(key="ste_regex").set_value("(unclosed").run()
    assert any(p.startswith("answer extractor:") for p in problems(at)), problems(at)
    assert at.button(key="ste_generate").disabled


def test_extractor_choices_become_extractors_or_say_what_to_fix():
    assert extractor_problems("none", "") == (None, [])
    regex, none = extractor_problems("regex", r"is (\d+)")
    assert none == [] and regex.extract("it is 42") == "42"
    json_path, _ = extractor_problems("json", " result.choice ")
    assert json_path.extract('{"result": {"choice": "B"}}') == "B"
    assert extractor_problems("last_number", "")[0].extract("1, then 2") == "2"
    assert extractor_problems("json", "")[1] == [
        "answer extractor: a json answer extractor needs a field path, e.g. 'answer'"
    ]


def test_a_suite_run_by_the_cli_shows_the_same_figures_on_the_page(make_app, store, tmp_path):
    """Embedded model, for real: 5 cases x cookbook x 3 runs. The seeded arm reproduces every
    case (TARr@3 = 1.0), and the page shows the CLI JSON's figures."""
    suite = tmp_path / "cases.csv"
    suite.write_text(SUITE_CSV, encoding="utf-8")
    document = cli_json(
        *("suite", "run", str(suite), "--preset", "cookbook", "--runs", "3"),
        *("--max-tokens", "8", "--answer-last-number", "--format", "json"),
    )
    seeded = next(arm for arm in document["arms"] if arm["label"] == "seeded")
    assert seeded["tarr_at_n"] == 1.0 and seeded["cases"] == 5

    at = make_app(PAGE)
    at.query_params["experiment"] = document["experiment_id"]
    at.run()
    assert not at.exception
    rows = {row["arm"]: row for row in arms_rows(at)}
    for arm in document["arms"]:
        row = rows[arm["label"]]
        assert (row["N"], row["cases"], row["excluded"]) == (
            arm["n"],
            arm["cases"],
            arm["cases_excluded"],
        )
        assert row["TARr@N"] == pytest.approx(arm["tarr_at_n"])
        assert row["TARa@N"] == pytest.approx(arm["tara_at_n"])
        low, high = arm["tarr_at_n_ci"]
        assert row["TARr@N 95% CI"] == f"[{low:.2f}, {high:.2f}]"
        assert row["accuracy best"] == pytest.approx(arm["accuracy_best"])
        assert row["accuracy worst"] == pytest.approx(arm["accuracy_worst"])
    diff = document["differences"][0]
    (shown,) = frame_with(at, "TARr@N A − B").to_dict("records")
    assert shown["TARr@N A − B"] == pytest.approx(diff["tarr_at_n_diff"])
    cases = cases_frame(at)
    by_key = {(r["case"], r["arm"]): r for r in cases.to_dict("records")}
    for case in document["cases"]:
        row = by_key[(case["case_id"], case["arm"])]
        assert row["distinct outputs"] == case["distinct_outputs"]
        assert row["modal share"] == pytest.approx(case["modal_share"])
        assert row["label"] == case["label"]
    # Worst first: modal shares never decrease down the table.
    shares = list(cases["modal share"])
    assert shares == sorted(shares)
    assert at.get("plotly_chart")  # the cases x arms heatmap


def test_generate_runs_the_suite_in_the_background_and_a_case_opens_its_runs(make_app, store):
    at = make_app(PAGE)
    at.radio(key="ste_source").set_value("type").run()
    at.text_area(key="ste_typed").set_value("Name a planet.\nName a colour.\n")
    at.number_input(key="ste_runs").set_value(2)
    at.number_input(key="ste_max_tokens").set_value(4).run()
    assert not problems(at)
    at.button(key="ste_generate").click().run()
    finish_jobs(at)
    assert not at.exception
    (summary,) = store.list_experiments()
    assert (summary.kind, summary.status, summary.runs) == ("suite", "complete", 8)
    assert at.query_params["experiment"] == summary.id
    assert {row["arm"] for row in arms_rows(at)} == {"unseeded", "seeded"}
    assert len(cases_frame(at)) == 4  # 2 cases x 2 arms

    # Filters: one arm only, then only the stable rows.
    at.selectbox(key="ste_arm_filter").set_value("seeded").run()
    assert set(cases_frame(at)["arm"]) == {"seeded"}
    at.multiselect(key="ste_labels").set_value(["stable"]).run()
    assert set(cases_frame(at)["label"]) <= {"stable"}

    at.selectbox(key="ste_open_case").set_value("case-2").run()
    assert not at.exception
    text = page_text(at)
    assert "Case case\\-2" in text
    headings = [m.value for m in at.markdown if m.value.startswith("##### ")]
    assert headings == ["##### unseeded", "##### seeded"]
    stored = store.load_experiment(summary.id)
    outputs = {c.text for c in stored.completions if c.case_id == "case-2"}
    shown = {c.value for c in at.code if c.language != "diff"}
    assert outputs <= shown
    assert "Compare two runs word by word" in text
    names = [b.proto.label for b in at.get("download_button")]
    assert {"runs.csv", "cases.csv", "suite_metrics.csv", "arm_differences.csv"} <= set(names)


def test_import_refuses_a_bad_file_whole_and_measures_a_good_one(make_app, store):
    at = make_app(PAGE)
    bad = IMPORT_CSV + "c,seeded,one,again,9\n"
    upload(at, bad, name="outputs.csv", key="ste_import_file")
    at.button(key="ste_import").click().run()
    assert any("Nothing was imported" in e.value for e in at.error)
    assert "outputs.csv: data row 7 (line 8): run: 'one' is not an integer" in problems(at)
    assert store.count_experiments() == 0

    upload(at, IMPORT_CSV, name="outputs.csv", key="ste_import_file")
    at.selectbox(key="ste_import_extractor").set_value("last_number").run()
    at.button(key="ste_import").click().run()
    assert not at.exception
    (summary,) = store.list_experiments()
    assert summary.kind == "import"
    (row,) = arms_rows(at)
    # a: identical texts and answers; b: answers agree, texts differ; c: answers differ.
    assert row["TARr@N"] == pytest.approx(1 / 3)
    assert row["TARa@N"] == pytest.approx(2 / 3)
    assert row["accuracy best"] == pytest.approx(1.0)
    assert row["accuracy worst"] == pytest.approx(2 / 3)
    labels = dict(zip(cases_frame(at)["case"], cases_frame(at)["label"], strict=True))
    assert labels == {"a": "stable", "b": "answer-stable", "c": "flaky"}
    # Model output is text: the script tag is shown literally, never as markup.
    at.selectbox(key="ste_open_case").set_value("c").run()
    assert "<script>alert(1)</script> 3" in {c.value for c in at.code}
    # In Markdown (the diff's sentence) it only ever sits inside a code span.
    for markdown in at.markdown:
        assert "<script>" not in markdown.value.replace("`<script>alert(1)</script>`", "")


def test_history_lists_suites_and_imports_and_opens_them(make_app, store):
    at = make_app(PAGE)
    upload(at, IMPORT_CSV, name="outputs.csv", key="ste_import_file")
    at.button(key="ste_import").click().run()
    (summary,) = store.list_experiments()

    at.switch_page("pages/history.py").run()
    table = at.dataframe[0].value
    assert list(table["kind"]) == ["import"]
    at.selectbox(key="hist_open").set_value(summary.id).run()
    assert not at.exception
    assert frame_with(at, "TARr@N")["arm"].tolist() == ["seeded"]
    assert "Imported outputs" in page_text(at)


def test_each_page_shows_only_its_own_kind_of_experiment(make_app, store):
    at = make_app(PAGE)
    upload(at, IMPORT_CSV, name="outputs.csv", key="ste_import_file")
    at.button(key="ste_import").click().run()
    (summary,) = store.list_experiments()
    compare = make_app()
    compare.query_params["experiment"] = summary.id
    compare.run()
    assert not compare.exception
    assert any("is a suite: open it on the Suites page" in i.value for i in compare.info)

"""The HTML report of a stored experiment, suite, import and suite case, read back with
html.parser: only its own scripts, every payload escaped, no external URL, its tables equal to
the analyses' own JSON, and a manifest whose spec and command run the experiment again.

Real collaborators: a SQLite store, the embedded MiniLM embedder, the CLI's own parser and
spec builders for the re-run commands. The helpers here are shared with test_cli_report.py and
e2e/test_report_e2e.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field, replace
from datetime import timedelta
from html import escape
from html.parser import HTMLParser
from typing import Any

import pytest
from seedscope.analysis import analyze
from seedscope.answers import AnswerExtractor
from seedscope.cli.parser import build_parser
from seedscope.cli.specs import spec_from_args
from seedscope.cli.suite import suite_spec_from_args
from seedscope.embeddings import CachingEmbedder, LocalEmbedder
from seedscope.imports import import_outputs, parse_import
from seedscope.providers.base import Completion
from seedscope.report import render_report, report_file_name
from seedscope.report.figures import plotly_js
from seedscope.report.html import script_json
from seedscope.report.manifest import build_manifest, seedscope_version
from seedscope.settings import load_settings
from seedscope.spec import ExperimentSpec
from seedscope.store import Store
from seedscope.suite_analysis import analyze_suite_spec
from seedscope.suites import parse_suite, validate_suite_spec

from tests.store_support import (
    T0,
    make_case_completion,
    make_completion,
    make_spec,
    make_suite_spec,
)

XSS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "<img src=x onerror=\"window.__pwned=1\"> <a href='https://evil.example/x'>click</a>",
    "<!-- comment start \u2028 line separator \u2029 paragraph separator &amp; -->",
)
XSS_LABEL = "<b onmouseover=alert(4)>hot</b>"
XSS_FINGERPRINT = "fp_<i>x</i>"
XSS_CASE = '"><svg onload=alert(5)>'
SECRET_HOST = "user:hunter2@llm.example.com:8443"


def store_plain(store: Store) -> str:
    """Two arms: an unseeded one whose runs are the payloads, a seeded one that repeats."""
    spec = make_spec(
        prompt="Say <script>alert('prompt')</script>",
        provider="openai",
        model="m",
        arms=[
            {"label": XSS_LABEL, "seed": None, "temperature": 0.7, "runs": len(XSS)},
            {"label": "seeded", "seed": 7, "temperature": 0.0, "runs": 3},
        ],
    )
    experiment_id = store.create_experiment(spec, base_url_host=SECRET_HOST)
    runs = [
        make_completion(spec, XSS_LABEL, index, text=text, fingerprint=XSS_FINGERPRINT)
        for index, text in enumerate(XSS)
    ]
    runs += [make_completion(spec, "seeded", index, text=XSS[0]) for index in range(2)]
    runs.append(make_completion(spec, "seeded", 2, error=True))
    store.add_runs(experiment_id, runs)
    store.finish_experiment(experiment_id, "complete")
    return experiment_id


SUITE_TEXTS = {
    # (case, arm): the texts of runs 0, 1, 2
    ("q1", "unseeded"): ["The answer is 1", "It is 2", "The answer is 1"],
    ("q1", "seeded"): ["The answer is 1"] * 3,
    ("q2", "unseeded"): ["Two: 2", "2", "two"],
    ("q2", "seeded"): ["Two: 2", "Two: 2", "2"],
    (XSS_CASE, "unseeded"): [XSS[0], XSS[1], XSS[2]],
    (XSS_CASE, "seeded"): [XSS[3]] * 2,  # one run short: excluded at @N
}


def suite_spec():
    return validate_suite_spec(
        {
            "suite": {
                "name": "tiny",
                "cases": [
                    {"id": "q1", "prompt": "One, as a digit?", "expected": "1"},
                    {
                        "id": "q2",
                        "prompt": "Two?",
                        "system": "Answer, with a digit.",
                        "expected": "2",
                    },
                    {"id": XSS_CASE, "prompt": XSS[0]},
                ],
            },
            "provider": "openai",
            "model": "fake-model",
            "system": "Be brief, 'really'.",
            "max_tokens": 16,
            "top_p": 0.9,
            "arms": [
                {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 3},
                {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 3},
            ],
            "extractor": AnswerExtractor(kind="regex", pattern=r"(\d+)"),
        }
    )


def store_suite(store: Store) -> str:
    spec = suite_spec()
    experiment_id = store.create_experiment(spec, base_url_host="127.0.0.1:8000")
    runs = [
        make_case_completion(
            spec,
            case_id,
            arm,
            index,
            text=text,
            started_at=T0 + timedelta(seconds=index),
            fingerprint=XSS_FINGERPRINT if arm == "seeded" else None,
        )
        for (case_id, arm), texts in SUITE_TEXTS.items()
        for index, text in enumerate(texts)
    ]
    store.add_runs(experiment_id, runs)
    store.finish_experiment(experiment_id, "complete")
    return experiment_id


IMPORT_CSV = (
    "case_id,arm,run,text,prompt,expected,seed\n"
    "a,gpt,0,Answer: 4,2+2?,4,11\n"
    "a,gpt,1,Answer: 4,2+2?,4,11\n"
    'a,other,0,"<script>alert(6)</script> 5",2+2?,4,\n'
    "a,other,1,Answer: 4,2+2?,4,\n"
    "b,gpt,0,Seven,3+4?,7,11\n"
    "b,gpt,1,Seven,3+4?,7,11\n"
    "b,other,0,7,3+4?,7,\n"
    "b,other,1,seven,3+4?,7,\n"
)


def store_import(store: Store) -> str:
    imported = parse_import(
        IMPORT_CSV, filename="outputs.csv", extractor=AnswerExtractor(kind="last_number")
    )
    return import_outputs(store, imported)


@dataclass
class ParsedReport:
    scripts: list[tuple[dict[str, str | None], str]] = field(default_factory=list)
    attributes: list[tuple[str, str, str | None]] = field(default_factory=list)  # tag, name, value
    tags: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # text outside scripts and styles
    tables: dict[str, list[list[tuple[str, str | None]]]] = field(default_factory=dict)
    pres: dict[str, list[str]] = field(default_factory=dict)  # by class


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.report = ParsedReport()
        self._raw: str | None = None  # inside <script>/<style>
        self._script_attrs: dict[str, str | None] = {}
        self._table: str | None = None
        self._row: list[tuple[str, str | None]] | None = None
        self._cell: list[str] | None = None
        self._cell_value: str | None = None
        self._pre: str | None = None
        self._pre_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.report.tags.append(tag)
        self.report.attributes += [(tag, name, value) for name, value in attrs]
        values = dict(attrs)
        if tag in ("script", "style"):
            self._raw = ""
            self._script_attrs = values
        elif tag == "table" and values.get("id"):
            self._table = values["id"]
            self.report.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell, self._cell_value = [], values.get("data-value")
        elif tag == "pre":
            self._pre, self._pre_text = values.get("class") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._raw is not None:
            if tag == "script":
                self.report.scripts.append((self._script_attrs, self._raw))
            self._raw = None
        elif tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None and self._table:
            if self._row:
                self.report.tables[self._table].append(self._row)
            self._row = None
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.append(("".join(self._cell).strip(), self._cell_value))
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.report.pres.setdefault(self._pre, []).append("".join(self._pre_text))
            self._pre = None

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self._raw += data
            return
        self.report.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self._pre_text.append(data)


def parse_report(document: str) -> ParsedReport:
    parser = _Parser()
    parser.feed(document)
    parser.close()
    return parser.report


def table_rows(report: ParsedReport, anchor: str) -> list[list[tuple[str, str | None]]]:
    assert anchor in report.tables, f"no table #{anchor}; tables: {sorted(report.tables)}"
    return report.tables[anchor]


def by_first_cells(rows: list[list[Any]], width: int = 1) -> dict[tuple[str, ...], list[Any]]:
    return {tuple(cell[0] for cell in row[:width]): row for row in rows}


# -- fixtures ------------------------------------------------------------------------------------

SECTIONS = ("request", "backend", "manifest", "raw-runs")
PLAIN_SECTIONS = ("measures-section", "charts", "completions", "diff")
SUITE_SECTIONS = ("suite-arms-section", "cases", "case-runs")
EXTERNAL = re.compile(
    r"""(?:src|href|action|srcset|xlink:href)\s*=\s*["']?\s*(?:https?:|//)""", re.I
)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(LocalEmbedder())


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Store(f"sqlite:///{tmp_path_factory.mktemp('report') / 'history.db'}") as store:
        yield store


@dataclass
class Rendered:
    stored: Any
    document: str
    parsed: ParsedReport


def _render(store: Store, experiment_id: str, embedder, **options) -> Rendered:
    stored = store.load_experiment(experiment_id)
    document = render_report(stored, embedder=embedder, **options)
    return Rendered(stored, document, parse_report(document))


@pytest.fixture(scope="module")
def plain(store, embedder) -> Rendered:
    return _render(store, store_plain(store), embedder)


@pytest.fixture(scope="module")
def suite(store, embedder) -> Rendered:
    return _render(store, store_suite(store), embedder)


@pytest.fixture(scope="module")
def imported(store, embedder) -> Rendered:
    return _render(store, store_import(store), embedder)


def without_plotly(document: str) -> str:
    return document.replace(plotly_js(), "")


def assert_safe(rendered: Rendered, payloads: tuple[str, ...]) -> None:
    """Only the report's three scripts, no event handler attribute, nothing external, and every
    payload present only as escaped text."""
    parsed, document = rendered.parsed, rendered.document
    kinds = [attrs.get("type") for attrs, _ in parsed.scripts]
    assert kinds == ["text/javascript", "application/json", None]
    assert parsed.scripts[0][1] == plotly_js()
    assert document.count(plotly_js()) == 1
    assert parsed.tags.count("script") == 3
    # The policy lets exactly those two scripts run (by hash) and fetches nothing.
    (policy,) = [v for t, n, v in parsed.attributes if n == "content" and "default-src" in v]
    assert policy.startswith("default-src 'none'; script-src 'sha256-")
    for script in (parsed.scripts[0][1], parsed.scripts[2][1]):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert policy.count("sha256-") == 2 and "unsafe-inline" not in policy.split(";")[1]
    handlers = [(tag, name) for tag, name, _ in parsed.attributes if name.lower().startswith("on")]
    assert handlers == []
    assert not [a for a in parsed.attributes if a[1] in ("src", "srcset", "action")]
    links = [value for tag, name, value in parsed.attributes if name == "href"]
    assert links and all(value and value.startswith("#") for value in links)
    rest = without_plotly(document)
    # Markup outside the scripts; inside the figures' JSON no `<` can start a tag (below).
    markup = re.sub(r"<script[^>]*>.*?</script>", "", document, flags=re.S)
    assert EXTERNAL.search(markup) is None
    assert "cdn." not in rest and "mathjax" not in rest.lower()
    figures = parsed.scripts[1][1]
    assert not set(figures) & {"<", ">", "\u2028", "\u2029"}
    data = json.loads(figures)
    assert len(data["figures"]) == sum(
        1 for t, n, v in parsed.attributes if (n, v) == ("class", "figure")
    )
    assert data["config"]["displaylogo"] is False
    text = "".join(parsed.text)
    for payload in payloads:
        assert payload not in rest, payload
        assert escape(payload, quote=True) in rest, payload
        assert payload in text, payload  # shown, as text


# -- safety --------------------------------------------------------------------------------------


def test_plain_report_runs_only_its_own_scripts_and_shows_payloads_as_text(plain):
    assert_safe(plain, (*XSS, XSS_LABEL, XSS_FINGERPRINT, "Say <script>alert('prompt')</script>"))
    outputs = plain.parsed.pres["out"]
    for payload in XSS:
        assert payload in outputs  # each output whole, in its own block
    # Plotly hover text is escaped by seedscope.charts.plain, inside the escaped JSON too.
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in json.loads(plain.parsed.scripts[1][1]).__repr__()
    )


def test_only_the_stored_host_appears_never_credentials(plain):
    assert "hunter2" not in plain.document and "user:" not in plain.document
    assert "llm.example.com:8443" in "".join(plain.parsed.text)
    assert "sk-" not in without_plotly(plain.document)


def test_suite_and_import_reports_are_just_as_safe(suite, imported):
    assert_safe(suite, (XSS[0], XSS[1], XSS[2], XSS[3], XSS_CASE, XSS_FINGERPRINT))
    assert_safe(imported, ("<script>alert(6)</script> 5",))


def test_figures_keep_plotly_colours_inside_a_streamlit_process(store, embedder, monkeypatch):
    import plotly.io as pio
    import streamlit  # noqa: F401 - registers Streamlit's template (placeholder colours)

    monkeypatch.setattr(pio.templates, "default", "streamlit")  # as a Streamlit process has it
    rendered = _render(store, store_plain(store), embedder)
    figures = rendered.parsed.scripts[1][1]
    assert "#000001" not in figures and "#636efa" in figures


def test_script_json_cannot_end_its_script_element():
    data = {"text": "</script><script>alert(1)</script><!-- \u2028\u2029 & >"}
    safe = script_json(json.dumps(data, ensure_ascii=False))
    assert not set(safe) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(safe) == data


# -- a plain experiment --------------------------------------------------------------------------


def _section_order(document: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', document)


def test_plain_report_has_its_sections_and_the_analysis_measures(plain, embedder):
    assert _section_order(plain.document) == [
        "request",
        "backend",
        *PLAIN_SECTIONS,
        "manifest",
        "raw-runs",
    ]
    stored = plain.stored
    analysis = analyze(stored.completions, embedder, [arm.label for arm in stored.spec.arms])
    measures = by_first_cells(table_rows(plain.parsed, "measures"))
    hot, seeded = analysis.arm(XSS_LABEL).metrics, analysis.arm("seeded").metrics
    assert measures[("Distinct outputs",)][1][0] == f"{len(XSS)}/{len(XSS)}"
    assert measures[("Distinct outputs",)][2][0] == "1/2"
    assert measures[("Failed runs",)][2][0] == "1"
    assert measures[("TARr@N",)][2][0] == "1 (N = 2)"
    for name, value in (
        ("Mean pairwise distance", hot.mean_pairwise_distance),
        ("Notebook mean distance", hot.mean_distance_first_vs_rest),
        ("Mean edit distance", hot.mean_edit_distance),
    ):
        assert float(measures[(name,)][1][1]) == pytest.approx(value)
        assert measures[(name,)][1][0] == f"{value:.4f}"
    assert measures[("First divergence (word)",)][1][0] == str(hot.first_divergence_word + 1)
    assert measures[("First divergence (word)",)][2][0] == "none"
    assert seeded.exact_match_rate == 1.0 and measures[("Exact-match rate",)][2][0] == "1.00"
    assert all(row[-1][0] for row in measures.values())  # every measure has its definition
    ((a, b, distance),) = analysis.between_arms
    (row,) = table_rows(plain.parsed, "between")
    assert [row[0][0], row[1][0]] == [a, b] and float(row[2][1]) == pytest.approx(distance)
    fingerprints = by_first_cells(table_rows(plain.parsed, "fingerprints"), 2)
    assert fingerprints[("openai/m", XSS_FINGERPRINT)][2][0] == str(len(XSS))
    assert fingerprints[("openai/m", "fp_a")][2][0] == "2"  # the failed run reported none


def test_completions_read_across_by_run_index_and_raw_runs_round_trip(plain):
    rows = table_rows(plain.parsed, "runs-side-by-side")
    assert [row[0][0] for row in rows] == [str(i) for i in range(len(XSS))]
    assert "no run" in rows[-1][2][0] and "failed: APITimeoutError" in rows[2][2][0]
    (raw,) = plain.parsed.pres["raw-runs"]
    runs = [Completion.from_dict(json.loads(line)) for line in raw.splitlines()]
    assert runs == plain.stored.completions
    assert "<details><summary>Raw runs" in plain.document  # collapsed


def test_the_diff_compares_the_two_most_different_runs_and_says_which(plain):
    text = " ".join(plain.parsed.text)
    assert "the two runs of this arm with the largest edit distance" in text
    assert "All 2 successful runs are identical." in text  # the seeded arm
    assert "First divergence at word 1:" in text


def test_manifest_spec_and_command_run_the_experiment_again(plain, tmp_path, monkeypatch):
    (spec_text,) = plain.parsed.pres["spec-json"]
    assert ExperimentSpec.model_validate(json.loads(spec_text)) == plain.stored.spec
    (command,) = plain.parsed.pres["command"]
    assert command == "seedscope compare --spec spec.json"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.json").write_text(spec_text, encoding="utf-8")
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert spec_from_args(args, load_settings(env={}, secrets_path=None)) == plain.stored.spec
    text = " ".join(plain.parsed.text)
    assert "Only the server's host (llm.example.com:8443) was stored" in text
    facts = by_first_cells(table_rows(plain.parsed, "manifest-facts"))
    assert facts[("Seedscope version",)][1][0] == seedscope_version()
    assert facts[("embedder",)][1][0] == "local:all-MiniLM-L6-v2"


def test_a_given_analysis_is_reused_and_a_plain_experiment_needs_one(plain, embedder):
    stored = plain.stored
    analysis = analyze(stored.completions, embedder, [arm.label for arm in stored.spec.arms])
    document = render_report(stored, analysis=analysis)
    assert parse_report(document).tables.keys() == plain.parsed.tables.keys()
    with pytest.raises(ValueError, match="needs an embedder"):
        render_report(stored)
    with pytest.raises(TypeError):
        render_report(stored, analysis=analyze_suite_spec(suite_spec(), []))


# -- suites and imports --------------------------------------------------------------------------


def _number(cell: tuple[str, str | None]) -> float | None:
    return None if cell[1] is None else float(cell[1])


def _interval(value: list[float] | None) -> str:
    return "–" if value is None else f"[{value[0]:.2f}, {value[1]:.2f}]"


def assert_suite_tables(rendered: Rendered, expected: dict[str, Any]) -> None:
    """The per-arm, differences and cases tables hold the values of SuiteAnalysis.to_json."""
    parsed = rendered.parsed
    arms = by_first_cells(table_rows(parsed, "suite-arms"))
    assert list(arms) == [(arm["label"],) for arm in expected["arms"]]
    for arm in expected["arms"]:
        row = arms[(arm["label"],)]
        assert [_number(c) for c in row[1:4]] == [arm["n"], arm["cases"], arm["cases_excluded"]]
        for position, key in ((5, "tarr_at_n"), (7, "tara_at_n"), (9, "accuracy_best")):
            assert _number(row[position]) == pytest.approx(arm[key]), key
        assert _number(row[10]) == pytest.approx(arm["accuracy_worst"])
        assert _number(row[11]) == pytest.approx(arm["accuracy_spread"])
        assert row[6][0] == _interval(arm["tarr_at_n_ci"])
        assert row[8][0] == _interval(arm["tara_at_n_ci"])
        per_run = arm["accuracy_per_run"]
        assert row[12][0] == ("–" if per_run is None else ", ".join(f"{v:.2f}" for v in per_run))
    differences = table_rows(parsed, "suite-differences")
    assert len(differences) == len(expected["differences"])
    for row, diff in zip(differences, expected["differences"], strict=True):
        assert (row[0][0], row[1][0]) == (diff["a"], diff["b"])
        assert _number(row[3]) == pytest.approx(diff["tarr_at_n_diff"])
        assert row[4][0] == _interval(diff["ci"])
    cases = table_rows(parsed, "suite-cases")
    assert len(cases) == len(expected["cases"])
    rows = by_first_cells(cases, 2)
    for case in expected["cases"]:
        row = rows[(case["case_id"], case["arm"])]
        assert row[2][0] == (case["label"] or "excluded")
        assert _number(row[3]) == case["runs"]
        assert _number(row[5]) == case["distinct_outputs"]
        assert _number(row[6]) == pytest.approx(case["modal_share"])
        assert row[7][0] == _interval(case["modal_share_ci"])
        assert _number(row[8]) == case["tarr"] and _number(row[9]) == case["tara"]
        divergence = case["first_divergence_char"]
        assert _number(row[11]) == (None if divergence is None else divergence + 1)
        assert _number(row[12]) == case["first_divergence_token"]  # counted from 1 already
        assert _number(row[13]) == pytest.approx(case["mean_pairwise_distance"])
    shares = [_number(row[6]) for row in cases]
    measured = [share for share in shares if share is not None]
    assert measured == sorted(measured)  # worst first
    assert shares[: len(measured)] == measured  # unmeasured cases last


def _heatmap(rendered: Rendered) -> dict[str, Any]:
    figures = json.loads(rendered.parsed.scripts[1][1])["figures"]
    (trace,) = [
        trace for f in figures for trace in f["figure"]["data"] if trace["type"] == "heatmap"
    ]
    return trace


def test_suite_report_tables_equal_the_suite_analysis(suite, embedder):
    stored = suite.stored
    assert _section_order(suite.document) == ["request", "backend", *SUITE_SECTIONS, *SECTIONS[2:]]
    expected = analyze_suite_spec(stored.spec, stored.completions, embedder).to_json(
        stored.id, "suite"
    )
    assert_suite_tables(suite, expected)
    heatmap = _heatmap(suite)  # the modal-share heatmap: cases x arms
    assert len(heatmap["z"]) == len(stored.spec.cases) and len(heatmap["z"][0]) == 2
    assert "answer: 1" in " ".join(suite.parsed.text)  # each run's extracted answer


def test_suite_command_and_cases_file_run_the_suite_again(suite, tmp_path, monkeypatch):
    stored = suite.stored
    (command,) = suite.parsed.pres["command"]
    words = shlex.split(command)
    assert words[:4] == ["seedscope", "suite", "run", "cases.csv"]
    assert "--answer-regex" in words and "--max-tokens" in words
    (cases_text,) = suite.parsed.pres["cases-file"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cases.csv").write_text(cases_text, encoding="utf-8")
    args = build_parser().parse_args(words[1:])
    rebuilt = suite_spec_from_args(args, load_settings(env={}, secrets_path=None))
    renamed = rebuilt.model_copy(
        update={"suite": rebuilt.suite.model_copy(update={"name": "tiny"})}
    )
    assert renamed == stored.spec
    (spec_text,) = suite.parsed.pres["spec-json"]
    assert type(stored.spec).model_validate(json.loads(spec_text)) == stored.spec


def test_import_report_tables_and_its_manifest(imported, embedder, tmp_path, monkeypatch):
    stored = imported.stored
    expected = analyze_suite_spec(stored.spec, stored.completions, embedder).to_json(
        stored.id, "import"
    )
    assert_suite_tables(imported, expected)
    text = " ".join(imported.parsed.text)
    assert "Imported outputs: made elsewhere" in text
    assert "These outputs were imported" in text
    (command,) = imported.parsed.pres["command"]
    assert "--provider" not in command and "--answer-last-number" in command
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cases.csv").write_text(imported.parsed.pres["cases-file"][0], encoding="utf-8")
    rebuilt = suite_spec_from_args(
        build_parser().parse_args(shlex.split(command)[1:]),
        load_settings(env={}, secrets_path=None),
    )
    assert rebuilt.cases == stored.spec.cases and rebuilt.arms == stored.spec.arms


def test_one_suite_case_reports_as_an_experiment(suite, embedder):
    case = suite.stored.case_view("q2")
    document = render_report(case, embedder=embedder)
    parsed = parse_report(document)
    assert _section_order(document) == ["request", "backend", *PLAIN_SECTIONS, *SECTIONS[2:]]
    assert "Seedscope report: suite case" in document and ", case q2</h1>" in document
    assert [cell[0] for cell in table_rows(parsed, "measures")[2][1:3]] == ["3/3", "2/3"]
    assert parsed.pres["command"] == ["seedscope compare --spec spec.json"]
    spec = ExperimentSpec.model_validate(json.loads(parsed.pres["spec-json"][0]))
    assert spec.model_dump() == case.spec.model_dump()
    assert report_file_name(case) == f"seedscope-{case.id[:8]}-case-q2-report.html"


def test_a_suite_renders_without_an_embedder(suite):
    rendered = render_report(suite.stored)
    facts = by_first_cells(table_rows(parse_report(rendered), "manifest-facts"))
    assert facts[("embedder",)][1][0] == "none (no embedding distances)"


def test_cases_that_csv_cannot_hold_go_to_a_jsonl_file():
    spec = validate_suite_spec(
        {
            "suite": {"name": "s", "cases": [{"id": "a", "prompt": "p", "system": ""}]},
            "arms": [{"label": "x", "seed": 1, "temperature": 0, "runs": 1}],
        }
    )
    manifest = build_manifest(spec, None)
    assert manifest.cases_file == "cases.jsonl"
    assert shlex.split(manifest.command)[3] == "cases.jsonl"
    assert parse_suite(manifest.cases_text, filename="cases.jsonl").cases == spec.cases


def test_report_file_names_are_safe():
    class Fake:
        id = "0123456789abcdef"
        case_id = "../x y/<z>"

    assert report_file_name(Fake()) == "seedscope-01234567-case-x_y_z-report.html"


def test_counts_read_in_the_singular_for_one_run(store, embedder):
    """The title's run count and each suite case's block: "1 run", never "1 runs"."""
    spec = make_spec(arms=[{"label": "only", "seed": 1, "temperature": 0.0, "runs": 1}])
    experiment_id = store.create_experiment(spec, base_url_host=None)
    store.add_runs(experiment_id, [make_completion(spec, "only", 0)])
    store.finish_experiment(experiment_id, "complete")
    text = " ".join(_render(store, experiment_id, embedder).parsed.text)
    assert " · status complete · 1 run · report generated " in text

    suite = make_suite_spec(
        cases=[{"id": "q1", "prompt": "One?"}, {"id": "q2", "prompt": "Two?"}],
        arms=[{"label": "only", "seed": 1, "temperature": 0.0, "runs": 2}],
    )
    suite_id = store.create_experiment(suite, base_url_host=None)
    runs = [
        make_case_completion(suite, "q1", "only", 0),
        make_case_completion(suite, "q2", "only", 0),
    ]
    runs.append(make_case_completion(suite, "q2", "only", 1, error=True))
    store.add_runs(suite_id, runs)
    store.finish_experiment(suite_id, "complete")
    document = render_report(store.load_experiment(suite_id))
    assert "<summary>Case q1 · 1 run</summary>" in document
    assert "<summary>Case q2 · 2 runs</summary>" in document
    assert " · 3 runs, 1 failed · " in " ".join(parse_report(document).text)


def test_arms_on_their_own_backends_each_show_their_backend_and_host(store, embedder):
    """An embedded arm next to a server's arm: one row per backend that answered, with its
    arms and its own host (the experiment's host only for runs that kept none)."""
    spec = make_spec(
        arms=[
            {"label": "embedded", "seed": 1, "temperature": 0.0, "runs": 2},
            {
                "label": "server",
                "seed": 1,
                "temperature": 0.0,
                "runs": 1,
                "provider": "openai",
                "base_url": "http://127.0.0.1:8000/v1",
                "model": "fake-model",
            },
        ]
    )
    experiment_id = store.create_experiment(spec, base_url_host=None)
    runs = [make_completion(spec, "embedded", index) for index in range(2)]
    served = make_completion(spec, "server", 0)
    runs.append(
        replace(served, provider="openai", model="fake-model", base_url_host="127.0.0.1:8000")
    )
    store.add_runs(experiment_id, runs)
    store.finish_experiment(experiment_id, "complete")
    report = _render(store, experiment_id, embedder).parsed
    rows = [[cell for cell, _ in row] for row in table_rows(report, "backends")]
    assert rows == [
        ["local", spec.model, "–", "embedded", "2"],
        ["openai", "fake-model", "127.0.0.1:8000", "server", "1"],
    ]

"""`seedscope report ID --html FILE` in this process (main()): short ids, suites, one case,
--no-embed, and exit status 2 with a one-line message for an unknown id or an unwritable path.
The stored experiments and the parser are those of tests/test_report.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from seedscope.cli import main
from seedscope.store import Store

from tests.test_report import (
    XSS,
    by_first_cells,
    parse_report,
    store_plain,
    store_suite,
    table_rows,
)


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-in-a-report")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return url


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def stored(database: str, make) -> str:
    with Store(database) as store:
        return make(store)


def test_report_by_short_id_writes_one_self_contained_file(database, tmp_path):
    experiment_id = stored(database, store_plain)
    path = tmp_path / "report.html"
    status, out, err = cli("report", experiment_id[:8], "--html", str(path))
    assert (status, err) == (0, "")
    assert out == f"{path}\n"
    document = path.read_text(encoding="utf-8")
    parsed = parse_report(document)
    assert len(parsed.scripts) == 3
    assert XSS[0] in parsed.pres["out"] and XSS[0] not in document.split("<script")[0]
    assert "sk-test" not in document
    facts = by_first_cells(table_rows(parsed, "manifest-facts"))
    assert facts[("experiment id",)][1][0] == experiment_id


def test_suite_report_one_case_and_no_embed(database, tmp_path):
    experiment_id = stored(database, store_suite)
    status, _, err = cli("report", experiment_id, "--html", "suite.html", "--no-embed")
    assert (status, err) == (0, "")
    parsed = parse_report((tmp_path / "suite.html").read_text(encoding="utf-8"))
    assert {"suite-arms", "suite-differences", "suite-cases"} <= parsed.tables.keys()
    cases = table_rows(parsed, "suite-cases")
    assert {row[12][0] for row in cases} == {"–"}  # no embedding distances
    status, _, err = cli("report", experiment_id[:6], "--html", "q1.html", "--case", "q1")
    assert (status, err) == (0, "")
    case = parse_report((tmp_path / "q1.html").read_text(encoding="utf-8"))
    assert "measures" in case.tables and case.pres["command"] == [
        "seedscope compare --spec spec.json"
    ]


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda i, d: ("report", "feedbeef", "--html", "x.html"), "no experiment 'feedbeef'"),
        (lambda i, d: ("report", "nonsense", "--html", "x.html"), "no experiment 'nonsense'"),
        (lambda i, d: ("report", i, "--html", "missing/x.html"), "no folder missing"),
        (lambda i, d: ("report", i, "--html", str(d)), "is a directory"),
        (lambda i, d: ("report", i, "--html", "x.html", "--no-embed"), "--no-embed: the measures"),
        (lambda i, d: ("report", i, "--html", "x.html", "--case", "q1"), "--case: experiment"),
        (lambda i, d: ("report", i), "--html"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(database, tmp_path, make_args, message):
    experiment_id = stored(database, store_plain)
    status, out, err = cli(*make_args(experiment_id, tmp_path))
    assert status == 2 and out == ""
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.html").exists()


def test_an_unknown_case_exits_2(database):
    experiment_id = stored(database, store_suite)
    status, _, err = cli("report", experiment_id, "--html", "x.html", "--case", "nope")
    assert status == 2 and "--case: no case 'nope'" in err
    assert not Path("x.html").exists()

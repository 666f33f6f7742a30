"""Probes over a suite file: validated with the probes file, run through the one lifecycle as a
suite experiment, and compared with the probe's previous run case by case.

Backends are real HTTP servers on 127.0.0.1: the fake OpenAI-compatible server (restarted with
other options to change every answer), and a small gateway in front of it that revises the
answers (or fingerprints) of chosen prompts only, so that exactly those cases change.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from seedscope.cli import main
from seedscope.probe import ProbeConfigError, load_probe_config, run_probes
from seedscope.providers.factory import make_provider
from seedscope.settings import Settings
from seedscope.spec import Limits
from seedscope.store import Store
from seedscope.suites import SuiteSpec

from tests.helpers import FakeServer, free_port, start_fake_server

CASES_CSV = """id,prompt,expected
c1,Name a planet.,Mars
c2,Name a moon of Mars.,Phobos
c3,Name a rover.,Curiosity
c4,Name a crater.,Jezero
"""


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'probes.db'}") as opened:
        yield opened


def write_probes(folder: Path, probes: str, cases: str | None = CASES_CSV) -> Path:
    """probes.toml, and the suite file it names in a subfolder (paths are relative to it)."""
    (folder / "suites").mkdir(exist_ok=True)
    if cases is not None:
        (folder / "suites" / "cases.csv").write_text(cases)
    path = folder / "probes.toml"
    path.write_text(probes)
    return path


def suite_probe(base_url: str, *, name: str = "evals", seed: str = "7", extra: str = "") -> str:
    seed_line = f"seed = {seed}\n" if seed else ""
    return (
        f'[[probe]]\nname = "{name}"\nsuite = "suites/cases.csv"\nprovider = "openai"\n'
        f'model = "fake-model"\nbase_url = "{base_url}"\n{seed_line}runs = 2\nmax_tokens = 8\n'
        f"{extra}"
    )


def problems_of(path: Path, limits: Limits | None = None) -> list[str]:
    with pytest.raises(ProbeConfigError) as raised:
        load_probe_config(path, limits)
    return raised.value.messages


# -- the probes file ---------------------------------------------------------------------------


def test_a_suite_probe_loads_its_file_relative_to_the_probes_file(tmp_path, monkeypatch):
    path = write_probes(tmp_path, suite_probe("http://127.0.0.1:9/v1", extra='system = "Terse."'))
    monkeypatch.chdir(tmp_path / "suites")  # not where the probes file is: must not matter
    (probe,) = load_probe_config(path).probes
    assert isinstance(probe.spec, SuiteSpec) and probe.is_suite
    assert [case.id for case in probe.spec.cases] == ["c1", "c2", "c3", "c4"]
    assert probe.spec.cases[1].expected == "Phobos"
    assert (probe.spec.system, probe.spec.max_tokens, probe.spec.total_runs) == ("Terse.", 8, 8)
    assert [(arm.label, arm.seed, arm.runs) for arm in probe.spec.arms] == [("evals", 7, 2)]
    assert (probe.suite_file, probe.seed, probe.base_url) == (
        "suites/cases.csv",
        7,
        "http://127.0.0.1:9/v1",
    )


def test_prompt_and_suite_are_mutually_exclusive_and_one_is_required(tmp_path):
    path = write_probes(
        tmp_path,
        '[[probe]]\nname = "both"\nprompt = "p"\nsuite = "suites/cases.csv"\n'
        '[[probe]]\nname = "neither"\nseed = 1\n'
        '[[probe]]\nname = "blank"\nsuite = " "\n',
    )
    assert problems_of(path) == [
        "probe 1 ('both'): suite: cannot be used with prompt; a probe sends one prompt or every "
        "case of a suite file: remove one of them",
        "probe 2 ('neither'): prompt: missing; give the request to send (or suite = "
        '"cases.csv" to send every case of a suite file)',
        "probe 3 ('blank'): suite: empty; name a suite file, e.g. suite = \"cases.csv\"",
    ]


def test_suite_file_problems_name_the_probe_the_file_and_the_row(tmp_path):
    bad_rows = "id,prompt\nc1,Name a planet.\nc1,\n"
    path = write_probes(
        tmp_path,
        '[[probe]]\nname = "ok"\nprompt = "p"\n'
        '[[probe]]\nname = "evals"\nsuite = "suites/cases.csv"\n'
        '[[probe]]\nname = "gone"\nsuite = "suites/missing.csv"\n'
        '[[probe]]\nname = "sheet"\nsuite = "suites/cases.xlsx"\n',
        cases=bad_rows,
    )
    (tmp_path / "suites" / "cases.xlsx").write_bytes(b"PK\x03\x04")
    messages = problems_of(path)
    assert messages[:2] == [
        "probe 2 ('evals'): suite: cases.csv: data row 2 (line 3): id: 'c1' is already the id "
        "of data row 1 (line 2)",
        "probe 2 ('evals'): suite: cases.csv: data row 2 (line 3): prompt: empty; type the "
        "request to send",
    ]
    assert messages[2] == (
        f"probe 3 ('gone'): suite: {tmp_path / 'suites' / 'missing.csv'}: no such file"
    )
    assert messages[3].startswith(
        "probe 4 ('sheet'): suite: cases.xlsx: a suite file name must end in .csv"
    )
    assert len(messages) == 4


def test_suite_limits_and_defaults(tmp_path):
    path = write_probes(
        tmp_path,
        '[defaults]\nsuite = "suites/cases.csv"\nruns = 3\n'
        '[[probe]]\nname = "evals"\nsuite = "suites/cases.csv"\n',
    )
    assert problems_of(path) == [
        "[defaults]: suite: cannot have a default; set it in each [[probe]]"
    ]
    path = write_probes(tmp_path, '[[probe]]\nname = "evals"\nsuite = "suites/cases.csv"\n')
    (message,) = problems_of(path, Limits(max_suite_runs=10))  # 4 cases x 3 runs = 12
    assert message.startswith("probe 1 ('evals'): runs: 4 cases x 3 runs of all arms = 12 runs")
    (message,) = problems_of(path, Limits(max_cases=3))
    assert message.startswith("probe 1 ('evals'): suite: cases.csv: the suite: has 4 cases")


def test_cli_refuses_a_bad_suite_file_before_any_call_or_store(tmp_path, monkeypatch):
    database = tmp_path / "history.db"
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{database}")
    server = start_fake_server()
    try:
        probes = suite_probe(server.base_url, name="nightly")
        path = write_probes(tmp_path, probes, cases="id,prompt\nc1,Name a planet.\nc2,\n")
        out, err = io.StringIO(), io.StringIO()
        status = main(["probe", "--config", str(path)], out=out, err=err)
        calls = server.stats()["requests"].get("chat", 0)
    finally:
        server.stop()
    assert status == 2
    assert err.getvalue() == (
        "error: probe 1 ('nightly'): suite: cases.csv: data row 2 (line 3): prompt: empty; "
        "type the request to send\n"
    )
    assert out.getvalue() == "" and calls == 0
    assert not database.exists()


# -- running against OpenAI-compatible servers -------------------------------------------------


class RevisingGateway(ThreadingHTTPServer):
    """An OpenAI-compatible gateway in front of the fake server that, once told to, revises the
    answer or the fingerprint of chosen prompts only (as a new deployment might)."""

    def __init__(self, upstream: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.upstream = upstream
        self.revised_texts: set[str] = set()  # prompts whose answer gets " (revised)"
        self.fingerprints: dict[str, str] = {}  # prompt -> fingerprint reported for it
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _GatewayHandler(BaseHTTPRequestHandler):
    server: RevisingGateway

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = urllib.request.Request(
            f"{self.server.upstream.root}{self.path}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as upstream:
            status, answer = upstream.status, json.loads(upstream.read())
        prompt = json.loads(body)["messages"][-1]["content"]
        if prompt in self.server.revised_texts:
            answer["choices"][0]["message"]["content"] += " (revised)"
        if prompt in self.server.fingerprints:
            answer["system_fingerprint"] = self.server.fingerprints[prompt]
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def gateway(fake_server) -> Iterator[RevisingGateway]:
    server = RevisingGateway(fake_server)
    yield server
    server.stop()


def run_once(path: Path, store: Store):
    (result,) = run_probes(load_probe_config(path), Settings(), store, make_provider)
    return result


def test_an_unchanged_backend_reports_no_changed_case(tmp_path, store, gateway):
    path = write_probes(tmp_path, suite_probe(gateway.base_url))
    first = run_once(path, store)
    assert (first.status, first.cases, first.runs, first.failed_runs) == ("complete", 4, 8, 0)
    assert first.previous_experiment_id is None and first.outputs_changed is None
    assert (first.cases_compared, first.cases_changed, first.cases_not_compared) == (
        0,
        [],
        ["c1", "c2", "c3", "c4"],
    )
    assert "first run of this probe" in first.summary_line()
    stored = store.load_experiment(first.experiment_id)
    assert (stored.kind, stored.summary.label, stored.status) == ("suite", "evals", "complete")
    assert {c.case_id for c in stored.completions} == {"c1", "c2", "c3", "c4"}

    second = run_once(path, store)
    assert second.previous_experiment_id == first.experiment_id
    assert (second.cases_compared, second.cases_changed, second.cases_fingerprint_changed) == (
        4,
        [],
        [],
    )
    assert (second.outputs_changed, second.fingerprint_changed, second.drifted) == (
        False,
        False,
        False,
    )
    assert second.cases_not_compared == [] and second.case_rows() == []
    assert "outputs changed in 0 of 4 cases compared" in second.summary_line()
    assert store.list_experiments(kind="suite")[0].id == second.experiment_id


def test_a_revised_backend_reports_exactly_the_changed_cases(tmp_path, store, gateway):
    path = write_probes(tmp_path, suite_probe(gateway.base_url))
    run_once(path, store)
    gateway.revised_texts = {"Name a moon of Mars.", "Name a crater."}  # c2, c4
    gateway.fingerprints = {"Name a rover.": "fp_\x1b[31mnew"}  # c3: an escape sequence
    result = run_once(path, store)
    assert result.cases_changed == ["c2", "c4"]
    assert result.cases_fingerprint_changed == ["c3"]
    assert (result.outputs_changed, result.fingerprint_changed, result.drifted) == (
        True,
        True,
        True,
    )
    assert [(c.case_id, c.outputs_changed, c.fingerprint_changed) for c in result.case_changes] == [
        ("c2", True, False),
        ("c3", False, True),
        ("c4", True, False),
    ]
    line = result.summary_line()
    assert "DRIFT: outputs changed in 2 of 4 cases compared (c2, c4)" in line
    assert "fingerprint changed in 1 (c3)" in line
    c3 = result.case_rows()[1]
    assert c3 == {
        "case": "c3",
        "outputs": "unchanged",
        "fingerprint": "not reported -> fp_\\x1b[31mnew",
    }

    # Back to the previous answers: compared with the revised run, the same cases change back.
    gateway.revised_texts, gateway.fingerprints = set(), {}
    again = run_once(path, store)
    assert again.previous_experiment_id == result.experiment_id
    assert (again.cases_changed, again.cases_fingerprint_changed) == (["c2", "c4"], ["c3"])


def test_edited_and_new_cases_are_not_compared_and_never_drift(tmp_path, store, gateway):
    path = write_probes(tmp_path, suite_probe(gateway.base_url))
    first = run_once(path, store)
    edited = CASES_CSV.replace("Name a rover.", "Name two rovers.") + "c5,Name a volcano.,\n"
    (tmp_path / "suites" / "cases.csv").write_text(edited)
    result = run_once(path, store)
    assert result.previous_experiment_id == first.experiment_id
    assert (result.cases, result.cases_compared) == (5, 3)
    assert result.cases_not_compared == ["c3", "c5"]
    assert result.cases_changed == [] and result.drifted is False
    assert "2 case(s) not compared" in result.summary_line()


def test_a_new_backend_starts_a_new_comparison(tmp_path, store, gateway, fake_server):
    run_once(write_probes(tmp_path, suite_probe(gateway.base_url)), store)
    direct = run_once(write_probes(tmp_path, suite_probe(fake_server.base_url)), store)
    assert direct.previous_experiment_id is None  # another host: other requests
    assert direct.cases_not_compared == ["c1", "c2", "c3", "c4"]


def test_a_restarted_server_with_other_answers_changes_every_case_and_fails_on_drift(
    tmp_path, monkeypatch
):
    """The CLI end to end: JSON, table, and --fail-on-drift, against the fake server restarted
    on the same port with other options (another fingerprint, then other answers)."""
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    path = write_probes(
        tmp_path,
        suite_probe(base_url) + suite_probe(base_url, name="evals-unseeded", seed=""),
    )

    def probe(*server_options: str, table: bool = False) -> tuple[int, str]:
        server = start_fake_server("--port", str(port), *server_options)
        try:
            args = ["probe", "--config", str(path), "--fail-on-drift"]
            out, err = io.StringIO(), io.StringIO()
            status = main([*args] if table else [*args, "--format", "json"], out=out, err=err)
        finally:
            server.stop()
        assert err.getvalue() == ""
        return status, out.getvalue()

    status, out = probe("--fingerprint", "fp_one")
    first, first_unseeded = json.loads(out)
    assert status == 0 and first["cases_changed"] == [] and first["suite"] == "suites/cases.csv"

    status, out = probe("--fingerprint", "fp_two")  # a new build, the same answers: no drift
    seeded, unseeded = json.loads(out)
    assert status == 0
    assert (seeded["cases_changed"], seeded["cases_fingerprint_changed"]) == (
        [],
        ["c1", "c2", "c3", "c4"],
    )
    assert (seeded["fingerprint_changed"], seeded["drifted"]) == (True, False)
    assert seeded["case_changes"][0]["previous_fingerprints"] == ["fp_one"]

    status, out = probe("--fingerprint", "fp_two", "--payload", "echo")  # other answers
    seeded, unseeded = json.loads(out)
    assert status == 1
    assert seeded["cases_changed"] == ["c1", "c2", "c3", "c4"] and seeded["drifted"] is True
    # The unseeded probe (temperature 0 here) changed too, but that is never drift.
    assert unseeded["cases_changed"] == ["c1", "c2", "c3", "c4"] and unseeded["drifted"] is False

    status, out = probe("--fingerprint", "fp_two", "--payload", "words", table=True)
    assert status == 1
    lines = out.splitlines()
    assert lines[0].startswith("evals: openai/fake-model seed 7 t=0, suite suites/cases.csv")
    assert "DRIFT: outputs changed in 4 of 4 cases compared (c1, c2, c3, c4)" in lines[0]
    assert lines[1].split() == ["case", "outputs", "fingerprint"]
    assert lines[2].split() == ["c1", "changed", "unchanged", "(fp_two)"]
    assert first_unseeded["seed"] is None


def test_embedded_model_suite_probe_is_unchanged_between_runs(tmp_path, store):
    path = write_probes(
        tmp_path,
        '[[probe]]\nname = "local-evals"\nsuite = "suites/cases.csv"\nprovider = "local"\n'
        "seed = 42\nruns = 2\nmax_tokens = 3\n",
        cases="id,prompt\nc1,Name a planet.\nc2,Name a colour.\n",
    )
    first = run_once(path, store)
    second = run_once(path, store)
    assert (first.status, second.status) == ("complete", "complete")
    assert second.previous_experiment_id == first.experiment_id
    assert (second.cases_compared, second.cases_changed, second.cases_fingerprint_changed) == (
        2,
        [],
        [],
    )
    assert second.unique_outputs == 2  # one text per case: same seed, same text
    assert second.fingerprints[0].startswith("local-")

"""Arms on different backends in one experiment: the embedded model next to the project's test
server (and two test servers side by side), each backend with its own concurrency limit and
fingerprint, the API key only for the configured base URL, and arm-named refusals before any
call."""

from __future__ import annotations

import io
import json

import pytest
from seedscope.cli import main
from seedscope.providers.arm_backends import Backend, arm_backends, build_arm_router
from seedscope.providers.factory import make_provider
from seedscope.runner import run_spec_sync
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL, validate_spec
from seedscope.store import Store

SECRET = "sk-the-configured-key-0123456789"


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    return tmp_path / "history.db"


def compare(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["compare", *args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_the_embedded_model_and_a_server_in_one_experiment(fake_server_factory, database):
    server = fake_server_factory("--fingerprint", "fp_remote")
    status, out, err = compare(
        "--arm",
        "embedded,provider=local,seed=5,temperature=0,runs=2",
        "--arm",
        f"server,provider=openai,base_url={server.base_url},model=fake-model,seed=5,"
        "temperature=0,runs=2",
        "--max-tokens",
        "8",
        "--format",
        "json",
    )
    assert status == 0, err
    data = json.loads(out)
    embedded, remote = data["arms"]
    host = f"127.0.0.1:{server.port}"
    assert embedded["backend"] == {
        "provider": "local",
        "model": LOCAL_CHAT_MODEL,
        "base_url_host": None,
    }
    assert remote["backend"] == {"provider": "openai", "model": "fake-model", "base_url_host": host}
    assert {run["system_fingerprint"] for run in remote["runs"]} == {"fp_remote"}
    [local_fp] = {run["system_fingerprint"] for run in embedded["runs"]}
    assert local_fp.startswith("local-")
    assert all(run["error"] is None for arm in data["arms"] for run in arm["runs"])
    assert len(server.stats()["chat_log"]) == 2  # only the server's arm went there
    with Store.open(f"sqlite:///{database}") as store:
        series = {(s.provider, s.model, s.base_url_host) for s in store.fingerprint_changes()}
        stored = store.load_experiment(data["experiment_id"])
    # Each backend is its own fingerprint series, and the runs record who answered.
    assert series == {("local", LOCAL_CHAT_MODEL, None), ("openai", "fake-model", host)}
    assert {(c.arm_label, c.provider, c.base_url_host) for c in stored.completions} == {
        ("embedded", "local", None),
        ("server", "openai", host),
    }
    assert stored.spec.arms[1].base_url == server.base_url


def test_each_backend_keeps_its_own_concurrency_limit(fake_server_factory):
    first = fake_server_factory("--latency", "0.3")
    second = fake_server_factory("--latency", "0.3")
    spec = validate_spec(
        {
            "provider": "openai",
            "model": "fake-model",
            "max_tokens": 4,
            "arms": [
                {"label": "a", "temperature": 0, "runs": 6, "base_url": first.base_url},
                {"label": "b", "temperature": 0, "runs": 6, "base_url": second.base_url},
            ],
        }
    )
    settings = Settings(_env_file=None, SEEDSCOPE_REMOTE_CONCURRENCY=2)

    def make(backend: Backend, label: str):
        return make_provider(settings, backend.provider, backend.model, backend.base_url)

    router = build_arm_router(spec, None, settings, make)
    assert router.max_concurrency == 4
    outcome = run_spec_sync(spec, router, concurrency=16)
    assert all(c.ok for c in outcome.completions) and len(outcome.completions) == 12
    # Each server saw at most its backend's 2 calls at once, and got them (not 4, nor 1).
    assert first.stats()["max_in_flight"] == second.stats()["max_in_flight"] == 2


def test_the_key_goes_only_to_the_configured_base_url(fake_server_factory, database, monkeypatch):
    configured = fake_server_factory("--api-key", SECRET)
    other = fake_server_factory("--api-key", "not-needed")  # the placeholder: no key at all
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", configured.base_url)
    status, out, err = compare(
        "--provider",
        "openai",
        "--model",
        "fake-model",
        "--arm",
        "configured,seed=1,temperature=0,runs=1",
        "--arm",
        f"other,base_url={other.base_url},seed=1,temperature=0,runs=1",
        "--max-tokens",
        "4",
        "--format",
        "json",
    )
    assert status == 0, err
    errors = [run["error"] for arm in json.loads(out)["arms"] for run in arm["runs"]]
    assert errors == [None, None]  # each server accepted only what it should get
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("arm", "message"),
    [
        (
            "x,provider=openai,base_url=http://user:pw@127.0.0.1:9/v1,temperature=0,runs=1",
            "--arm 1 ('x'): base_url: base_url may not carry credentials",
        ),
        (
            "x,base_url=http://127.0.0.1:9/v1,temperature=0,runs=1",
            "--arm 1 ('x'): base_url: only an openai arm has a base URL",
        ),
        ("x,provider=local,model=other-model,temperature=0,runs=1", "arm 'x': the embedded"),
        ("x,provider=gemini,temperature=0,runs=1", "--arm 1 ('x'): provider:"),
    ],
)
def test_a_backend_an_arm_cannot_use_is_refused_naming_the_arm(database, arm, message):
    status, out, err = compare("--arm", arm, "--max-tokens", "4")
    assert status == 2
    assert message in err
    with Store.open(f"sqlite:///{database}") as store:
        assert store.count_experiments() == 0  # nothing stored, nothing called


def test_what_an_arm_leaves_out_comes_from_the_experiment():
    spec = validate_spec(
        {
            "provider": "openai",
            "model": "m-exp",
            "arms": [
                {"label": "same", "temperature": 0},
                {"label": "local", "temperature": 0, "provider": "local"},
                {"label": "url", "temperature": 0, "base_url": "http://127.0.0.1:1/v1"},
                {"label": "model", "temperature": 0, "model": "m-arm"},
            ],
        }
    )
    settings = Settings(_env_file=None, OPENAI_MODEL="m-default")
    backends = arm_backends(spec, "http://127.0.0.1:2/v1", settings)
    assert backends == {
        "same": Backend("openai", "http://127.0.0.1:2/v1", "m-exp"),
        "local": Backend("local", None, LOCAL_CHAT_MODEL),
        "url": Backend("openai", "http://127.0.0.1:1/v1", "m-exp"),
        "model": Backend("openai", "http://127.0.0.1:2/v1", "m-arm"),
    }


def test_the_page_runs_an_experiment_whose_arms_name_backends(fake_server_factory):
    """What the page's jobs get for such a spec (from the command line, resumed in the page):
    the router, the server's URL guarded like one typed in the page."""
    from seedscope.ui.launch import _provider

    server = fake_server_factory("--fingerprint", "fp_page")
    spec = validate_spec(
        {
            "max_tokens": 4,
            "arms": [
                {"label": "embedded", "seed": 3, "temperature": 0, "runs": 1},
                {
                    "label": "server",
                    "seed": 3,
                    "temperature": 0,
                    "runs": 1,
                    "provider": "openai",
                    "base_url": server.base_url,
                    "model": "fake-model",
                },
            ],
        }
    )
    # Loopback is allowlisted here, as an operator would for a local server.
    settings = Settings(_env_file=None, SEEDSCOPE_ALLOWED_BASE_URLS=server.base_url)
    router = _provider(settings, spec)
    assert router.provider_of("server").guard is not None  # checked at every request
    outcome = run_spec_sync(spec, router)
    by_arm = {c.arm_label: c for c in outcome.completions}
    assert by_arm["embedded"].provider == "local" and by_arm["embedded"].ok
    assert by_arm["server"].system_fingerprint == "fp_page"

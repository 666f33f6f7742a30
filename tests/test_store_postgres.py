"""PostgreSQL specifics of the store, against a real server on 127.0.0.1 (marker `postgres`).

The shared store and reliability tests already run on PostgreSQL too (their `postgres`
parameter); these cover what only a server has: its set-up script, URL forms,
authentication errors and session time zones.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from seedscope.store import Store, StoreError
from seedscope.store.engine import SETTING
from sqlalchemy.engine import make_url

from tests.store_support import (
    ENSURE_POSTGRES,
    T0,
    fresh_postgres_url,
    make_completion,
    make_spec,
    postgres_server_url,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(request) -> str:
    return fresh_postgres_url(request)


def test_ensure_postgres_is_idempotent_and_prints_the_test_url():
    postgres_server_url()  # skips (saying why) if no server can be started
    for _ in range(2):
        result = subprocess.run(
            ["bash", str(ENSURE_POSTGRES)], capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr
        printed = make_url(result.stdout.strip().splitlines()[-1])
        assert (printed.drivername, printed.host) == ("postgresql+psycopg", "127.0.0.1")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_plain_and_heroku_style_schemes_use_psycopg_3(url, scheme):
    written = make_url(url).set(drivername=scheme).render_as_string(hide_password=False)
    with Store(written) as store:
        assert store.dialect == "postgresql"
        assert store.url_for_display.startswith("postgresql+psycopg://")
        assert "***" in store.url_for_display


def test_wrong_password_and_missing_database_are_clear(url):
    wrong = make_url(url).set(password="not-the-password")
    with pytest.raises(StoreError, match="password authentication failed") as raised:
        Store(wrong.render_as_string(hide_password=False))
    assert SETTING in str(raised.value) and "not-the-password" not in str(raised.value)

    missing = make_url(url).set(database="seedscope_no_such_database")
    with pytest.raises(StoreError, match="does not exist") as raised:
        Store(missing.render_as_string(hide_password=False))
    assert SETTING in str(raised.value)


def test_times_stay_utc_whatever_the_session_time_zone(url):
    spec = make_spec()
    with Store(url) as store:
        experiment_id = store.create_experiment(spec, base_url_host=None)
        store.add_run(experiment_id, make_completion(spec, "seeded", 0, started_at=T0))
    kolkata = make_url(url).update_query_dict({"options": "-c timezone=Asia/Kolkata"})
    with Store(kolkata.render_as_string(hide_password=False)) as store:
        (completion,) = store.load_experiment(experiment_id).completions
        assert completion.started_at == T0
        assert completion.started_at.utcoffset() == timedelta(0)
        assert len(store.timeline_rows(since=T0, until=T0 + timedelta(seconds=1))) == 1
        assert store.timeline_rows(since=T0 + timedelta(microseconds=1)) == []

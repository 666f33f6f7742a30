"""seedscope.budgets on real stores (SQLite and PostgreSQL) with a controlled clock: each limit
refuses with a message naming it and when it frees up, the ledger survives a restart, unpaid
backends do not count against the token budget, and a failed start records nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from seedscope.budgets import HOUR, BudgetExceeded, Budgets, Request, frees_up
from seedscope.settings import Settings
from seedscope.store import Store

from tests.store_support import BACKENDS, database_url

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    """A fresh database on SQLite and on the real PostgreSQL test server."""
    return database_url(request.param, tmp_path, request)


def budgets(url: str, clock: Clock, running: int = 0, **limits) -> Budgets:
    settings = Settings(**limits)
    return Budgets(settings, Store.open(url), active_jobs=lambda owner: running, clock=clock)


def spend(b: Budgets, request: Request, experiment_id: str = "e") -> None:
    with b.spend(request) as record:
        record(experiment_id)


def test_frees_up_at_the_time_the_oldest_needed_spending_leaves_the_window():
    window = [(T0, 4), (T0 + timedelta(minutes=10), 3), (T0 + timedelta(minutes=20), 3)]
    # 10 used, limit 10: 3 more fit once the first 4 have left (at T0 + 1 h).
    assert frees_up(window, 10, 3, 10, HOUR) == T0 + HOUR
    # 5 more need the first two gone: T0 + 10 min + 1 h.
    assert frees_up(window, 10, 5, 10, HOUR) == T0 + timedelta(minutes=70)
    assert frees_up(window, 10, 11, 10, HOUR) is None  # more than the limit never fits


def test_runs_per_hour_per_owner_with_when_it_frees_up(url):
    clock = Clock()
    b = budgets(url, clock, SEEDSCOPE_MAX_RUNS_PER_HOUR=10)
    spend(b, Request("session:a", 6, 60, paid=False))
    clock.now = T0 + timedelta(minutes=10)
    with pytest.raises(BudgetExceeded) as refused:
        b.check(Request("session:a", 5, 50, paid=False))
    message = str(refused.value)
    assert "started 6 runs in the last hour; 5 more would pass" in message
    assert "SEEDSCOPE_MAX_RUNS_PER_HOUR = 10" in message
    assert "frees up at 10:00 UTC (in 50 min)" in message
    b.check(Request("session:b", 5, 50, paid=False))  # another session has its own budget
    b.check(Request("session:a", 4, 40, paid=False))  # what fits still fits
    clock.now = T0 + timedelta(minutes=61)
    b.check(Request("session:a", 10, 100, paid=False))  # the first spending left the window
    with pytest.raises(BudgetExceeded, match=r"Use fewer runs \(at most 10 in an hour\)"):
        b.check(Request("session:c", 11, 110, paid=False))


def test_tokens_per_day_across_the_deployment_count_paid_backends_only_and_survive_a_restart(url):
    clock = Clock()
    b = budgets(url, clock, SEEDSCOPE_MAX_TOKENS_PER_DAY=1000)
    spend(b, Request("session:a", 5, 800, paid=True))
    spend(b, Request("session:b", 50, 50_000, paid=False))  # the embedded model: free
    clock.now = T0 + timedelta(hours=3)
    restarted = budgets(url, clock, SEEDSCOPE_MAX_TOKENS_PER_DAY=1000)  # a new process
    with pytest.raises(BudgetExceeded) as refused:
        restarted.check(Request("session:c", 3, 300, paid=True))
    message = str(refused.value)
    assert "sent up to 800 completion tokens to paid backends in the last 24 hours" in message
    assert "SEEDSCOPE_MAX_TOKENS_PER_DAY = 1,000" in message
    assert "frees up at 09:00 UTC (in 1260 min)" in message
    restarted.check(Request("session:c", 2, 200, paid=True))
    restarted.check(Request("session:c", 99, 99_000, paid=False))


def test_jobs_per_session(url):
    clock = Clock()
    with pytest.raises(BudgetExceeded, match="already runs 2 jobs.*SEEDSCOPE_MAX_JOBS_PER_SESSION"):
        budgets(url, clock, running=2, SEEDSCOPE_MAX_JOBS_PER_SESSION=2).check(
            Request("session:a", 1, 1, paid=False)
        )
    budgets(url, clock, running=1, SEEDSCOPE_MAX_JOBS_PER_SESSION=2).check(
        Request("session:a", 1, 1, paid=False)
    )


def test_no_limits_set_means_no_limit_and_a_failed_start_records_nothing(url):
    clock = Clock()
    b = budgets(url, clock)
    b.check(Request("session:a", 10**6, 10**9, paid=True))
    with (
        pytest.raises(RuntimeError, match="could not start"),
        b.spend(Request("session:a", 5, 50, paid=True)),
    ):
        raise RuntimeError("could not start")
    with Store.open(url) as store:
        assert store.spending_since(T0 - timedelta(days=1)) == []
    spend(b, Request("session:a", 5, 50, paid=True), experiment_id="abc")
    with Store.open(url) as store:
        (row,) = store.spending_since(T0 - timedelta(days=1))
    assert (row.owner, row.experiment_id, row.runs, row.worst_case_tokens, row.paid) == (
        "session:a",
        "abc",
        5,
        50,
        True,
    )

"""Budgets for a deployment that others use: how much one session (or logged-in user) and the
whole deployment may start from the page.

- SEEDSCOPE_MAX_JOBS_PER_SESSION: running jobs at once, per session.
- SEEDSCOPE_MAX_RUNS_PER_HOUR: runs started in the last hour (rolling), per session.
- SEEDSCOPE_MAX_TOKENS_PER_DAY: worst-case completion tokens (runs x max_tokens) sent to paid
  backends in the last 24 hours (rolling), across the deployment.

A limit left unset is no limit. Starts and resumes are counted in the store (`spending`), so a
restart does not reset them. The check and the record happen under one lock (`Budgets.spend`),
so two sessions cannot both squeeze under the same limit; the lock is per process, which is how
the dashboard runs (the command line is the operator's and has no budgets).

"Paid" means the configured OpenAI-compatible backend: the one that gets the operator's key.
The embedded model, and a base URL a visitor typed (no key is sent there), are not paid.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from seedscope.providers.base import utc_now
from seedscope.settings import Settings
from seedscope.store import Spending, Store

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class BudgetExceeded(RuntimeError):
    """A limit would be passed; the message names it and says when it frees up."""


@dataclass(frozen=True)
class Request:
    """What a start or resume would spend."""

    owner: str  # the logged-in user, or the browser session
    runs: int
    worst_case_tokens: int
    paid: bool


def _when(moment: datetime, now: datetime) -> str:
    minutes = max(1, round((moment - now).total_seconds() / 60))
    return f"{moment:%H:%M} UTC (in {minutes} min)"


def frees_up(
    window: Sequence[tuple[datetime, int]], used: int, wanted: int, limit: int, length: timedelta
) -> datetime | None:
    """When enough of `window` (time, amount; oldest first, `used` in total) has left the
    rolling window for `wanted` more to fit under `limit`; None if it never fits."""
    if wanted > limit:
        return None
    for at, amount in window:
        used -= amount
        if used + wanted <= limit:
            return at + length
    return None  # unreachable when used + wanted > limit and wanted <= limit


class Budgets:
    """The deployment's budgets over one store. `active_jobs(owner)` counts running jobs."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        active_jobs: Callable[[str], int],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._active_jobs = active_jobs
        self._clock = clock

    def check(self, request: Request) -> None:
        """Raise BudgetExceeded when `request` would pass a limit; nothing is recorded."""
        now = self._clock()
        self._check_jobs(request)
        self._check_runs(request, now)
        self._check_tokens(request, now)

    def _check_jobs(self, request: Request) -> None:
        limit = self._settings.max_jobs_per_session
        running = self._active_jobs(request.owner)
        if limit is not None and running >= limit:
            raise BudgetExceeded(
                f"This session already runs {running} job{'s' if running != 1 else ''}, the "
                f"most it may run at once (SEEDSCOPE_MAX_JOBS_PER_SESSION = {limit}). It frees "
                "up when one ends: wait, or cancel one."
            )

    def _check_runs(self, request: Request, now: datetime) -> None:
        limit = self._settings.max_runs_per_hour
        if limit is None:
            return
        spent = self._store.spending_since(now - HOUR, owner=request.owner)
        used = sum(s.runs for s in spent)
        if used + request.runs <= limit:
            return
        at = frees_up([(s.at, s.runs) for s in spent], used, request.runs, limit, HOUR)
        head = (
            f"This session started {used} runs in the last hour; {request.runs} more would pass "
            f"SEEDSCOPE_MAX_RUNS_PER_HOUR = {limit}."
        )
        if at is None:
            raise BudgetExceeded(f"{head} Use fewer runs (at most {limit} in an hour).")
        raise BudgetExceeded(f"{head} Enough frees up at {_when(at, now)}, or use fewer runs.")

    def _check_tokens(self, request: Request, now: datetime) -> None:
        limit = self._settings.max_tokens_per_day
        if limit is None or not request.paid:
            return
        spent = self._store.spending_since(now - DAY, paid_only=True)
        used = sum(s.worst_case_tokens for s in spent)
        wanted = request.worst_case_tokens
        if used + wanted <= limit:
            return
        window = [(s.at, s.worst_case_tokens) for s in spent]
        at = frees_up(window, used, wanted, limit, DAY)
        head = (
            f"This deployment sent up to {used:,} completion tokens to paid backends in the "
            f"last 24 hours; {wanted:,} more (runs x max_tokens) would pass "
            f"SEEDSCOPE_MAX_TOKENS_PER_DAY = {limit:,}."
        )
        if at is None:
            raise BudgetExceeded(f"{head} Use fewer runs or a smaller max_tokens.")
        raise BudgetExceeded(
            f"{head} Enough frees up at {_when(at, now)}, or use fewer runs or a smaller "
            "max_tokens."
        )

    @contextmanager
    def spend(self, request: Request) -> Iterator[Callable[[str | None], None]]:
        """Check, then hold the lock while the caller starts the job; the caller calls the
        yielded `record(experiment_id)` once it has started. If the start raises, nothing is
        recorded."""
        with _LOCK:
            self.check(request)
            recorded = False

            def record(experiment_id: str | None) -> None:
                nonlocal recorded
                if not recorded:
                    recorded = True
                    self._store.record_spending(
                        Spending(
                            at=self._clock(),
                            owner=request.owner,
                            experiment_id=experiment_id,
                            runs=request.runs,
                            worst_case_tokens=request.worst_case_tokens,
                            paid=request.paid,
                        )
                    )

            yield record


_LOCK = threading.Lock()  # one check-and-record at a time in this process

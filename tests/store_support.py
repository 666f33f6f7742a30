"""Helpers for the store tests: database URLs per backend, a real PostgreSQL, sample runs.

PostgreSQL: the server on 127.0.0.1 that scripts/ensure_postgres.sh installs/starts (Debian's
`postgresql`), or SEEDSCOPE_TEST_POSTGRES_URL. Each test gets a fresh database, dropped after.
Tests are skipped only when the server truly cannot be started; the reason is printed.
"""

from __future__ import annotations

import functools
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from seedscope.providers.base import Completion
from seedscope.spec import ExperimentSpec, validate_spec
from seedscope.suites import SuiteSpec, validate_suite_spec
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
ENSURE_POSTGRES = ROOT / "scripts" / "ensure_postgres.sh"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://seedscope:seedscope@127.0.0.1:5432/seedscope_test"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _can_connect(url: str) -> str | None:
    """None when a connection works, else the reason."""
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:  # noqa: BLE001 - any failure is a reason to (re)start the server
        return str(error).strip().splitlines()[0]
    finally:
        engine.dispose()


@functools.cache
def postgres_server_url() -> str:
    """URL of a reachable test database, starting the server if needed.

    When it cannot start: fails under CI (which must have it), skips on a developer machine.
    """
    import os

    url = os.environ.get("SEEDSCOPE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    if _can_connect(url) is None:
        return url
    result = subprocess.run(
        ["bash", str(ENSURE_POSTGRES)], capture_output=True, text=True, timeout=600
    )
    problem = _can_connect(url)
    if problem is None:
        return url
    reason = (
        f"PostgreSQL on 127.0.0.1 is unavailable: {problem}; "
        f"{ENSURE_POSTGRES.name} exited {result.returncode}: {result.stderr.strip()[-500:]}"
    )
    print(reason)
    if os.environ.get("CI"):
        # CI installs and starts PostgreSQL itself (make test): a skip there would hide a failure.
        pytest.fail(reason)
    pytest.skip(reason)


def fresh_postgres_url(request: pytest.FixtureRequest) -> str:
    """A new, empty database on the test server, dropped when the test ends."""
    server_url = make_url(postgres_server_url())
    name = f"seedscope_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # From template0: copying template1 fails while any other session (a parallel test
        # run creating its own database, say) is connected to it.
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return server_url.set(database=name).render_as_string(hide_password=False)


def database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return fresh_postgres_url(request)


def make_spec(
    *,
    prompt: str = "Say hi.",
    provider: str = "local",
    model: str = "SmolLM2-135M-Instruct",
    arms: list[dict[str, Any]] | None = None,
    max_tokens: int = 16,
) -> ExperimentSpec:
    arms = arms or [
        {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 3},
        {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 3},
    ]
    return validate_spec(
        {
            "prompt": prompt,
            "provider": provider,
            "model": model,
            "arms": arms,
            "max_tokens": max_tokens,
        }
    )


def make_completion(
    spec: ExperimentSpec,
    arm_label: str,
    run_index: int,
    *,
    text: str = "hello",
    fingerprint: str | None = "fp_a",
    started_at: datetime | None = None,
    error: bool = False,
) -> Completion:
    """A completion as the runner would produce for this spec's arm (fields all filled)."""
    arm = next(arm for arm in spec.arms if arm.label == arm_label)
    return Completion(
        arm_label=arm_label,
        run_index=run_index,
        text="" if error else text,
        system_fingerprint=None if error else fingerprint,
        requested_seed=arm.seed,
        effective_seed=arm.seed if arm.seed is not None else 1000 + run_index,
        temperature=arm.temperature,
        top_p=spec.top_p,
        max_tokens=spec.max_tokens,
        provider=spec.provider,
        model=spec.model,
        prompt_tokens=None if error else 11,
        completion_tokens=None if error else 7,
        latency_s=0.25 + run_index / 100,
        finish_reason=None if error else "stop",
        started_at=started_at or (T0 + timedelta(seconds=run_index)),
        error_type="APITimeoutError" if error else None,
        error_message="the request timed out" if error else None,
    )


def make_suite_spec(
    *,
    cases: list[dict[str, Any]] | None = None,
    provider: str = "openai",
    arms: list[dict[str, Any]] | None = None,
    max_tokens: int = 16,
) -> SuiteSpec:
    cases = cases or [
        {"id": "q1", "prompt": "One?", "expected": "1"},
        {"id": "q2", "prompt": "Two?", "system": "Answer with a digit."},
    ]
    arms = arms or [
        {"label": "unseeded", "seed": None, "temperature": 0.7, "runs": 2},
        {"label": "seeded", "seed": 123, "temperature": 0.0, "runs": 2},
    ]
    return validate_suite_spec(
        {
            "suite": {"name": "tiny", "cases": cases},
            "provider": provider,
            "model": "m",
            "arms": arms,
            "max_tokens": max_tokens,
        }
    )


def make_case_completion(
    spec: SuiteSpec, case_id: str, arm_label: str, run_index: int, **kwargs: Any
) -> Completion:
    plain = make_spec(provider=spec.provider, arms=[a.model_dump() for a in spec.arms])
    completion = make_completion(plain, arm_label, run_index, **kwargs)
    return completion.with_changes(case_id=case_id, model=spec.model, max_tokens=spec.max_tokens)

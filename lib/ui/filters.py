"""Provider / model / date filters shared by History and Fingerprints; History adds prompt text,
status and kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st
from seedscope.store import Store

ALL = "All"
STATUSES = ("complete", "running", "failed", "cancelled", "interrupted")
KINDS = ("experiment", "suite", "import")


@dataclass(frozen=True)
class Filters:
    provider: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    prompt_contains: str | None = None
    status: str | None = None
    kind: str | None = None

    def store_kwargs(self, *, with_prompt: bool = False) -> dict[str, Any]:
        """Keyword filters for the store; `with_prompt`: the experiment filters too (prompt
        text, status, kind), which only experiment listings take."""
        kwargs: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "since": self.since,
            "until": self.until,
        }
        if with_prompt:
            kwargs |= {"prompt_contains": self.prompt_contains, "status": self.status}
            kwargs["kind"] = self.kind
        return kwargs


def date_bounds(chosen: Any) -> tuple[datetime | None, datetime | None]:
    """`since` at the start of the first day and `until` after the end of the last (UTC)."""
    days = [d for d in (chosen if isinstance(chosen, tuple | list) else (chosen,)) if d]
    if not days:
        return None, None
    first: date = days[0]
    last: date = days[-1]
    since = datetime.combine(first, time.min, tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return since, until


def render_filters(store: Store, *, key: str, with_prompt: bool = False) -> Filters:
    pairs = store.providers_and_models()
    providers = sorted({provider for provider, _ in pairs})
    columns = st.columns(4 if with_prompt else 3)
    provider = columns[0].selectbox("Provider", [ALL, *providers], key=f"{key}_provider")
    models = sorted({m for p, m in pairs if provider == ALL or p == provider})
    model = columns[1].selectbox("Model", [ALL, *models], key=f"{key}_model")
    chosen = columns[2].date_input(
        "Dates (UTC)", value=(), key=f"{key}_dates", help="One day, or a first and last day."
    )
    since, until = date_bounds(chosen)
    prompt = status = kind = None
    if with_prompt:
        prompt = columns[3].text_input("Prompt contains", key=f"{key}_prompt").strip() or None
        status_col, kind_col, _ = st.columns([1, 1, 2])
        status = status_col.selectbox("Status", [ALL, *STATUSES], key=f"{key}_status")
        kind = kind_col.selectbox("Kind", [ALL, *KINDS], key=f"{key}_kind")
    return Filters(
        provider=None if provider == ALL else provider,
        model=None if model == ALL else model,
        since=since,
        until=until,
        prompt_contains=prompt,
        status=None if status in (None, ALL) else status,
        kind=None if kind in (None, ALL) else kind,
    )

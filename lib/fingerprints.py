"""Fingerprint series and change events: the records and labels behind the Fingerprints page.

What a change event is, once, for the page's count, tables, event list and chart markers:

- a **series** is the successful runs of one provider, model and host (`base_url_host`), in
  time order;
- a **change event** is a run whose `system_fingerprint` differs from the previous run of its
  series; "not reported" (None) is a value like any other: `fp_a` -> None and None -> `fp_a`
  are changes, None -> None is not;
- the first run of a series (a new host, a new model) starts the series; it is not a change;
- filters apply first: within a date range, the first run in the range starts each series.

The store computes series, spans and events in one SQL query
(`seedscope.store.queries.fingerprint_spans_query`); `Store.fingerprint_history` gives the
spans and these records from it, so a count, a table and a chart built from them agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

NOT_REPORTED = "not reported"


def fingerprint_text(fingerprint: str | None) -> str:
    """A fingerprint as shown: the explicit phrase for a server that reported none."""
    return fingerprint if fingerprint else NOT_REPORTED


def series_label(provider: str, model: str, base_url_host: str | None) -> str:
    """How a series reads: "openai/gpt-4o-mini @ api.openai.com"; no host (the embedded
    model, or one not recorded): "local/SmolLM2-135M-Instruct"."""
    name = f"{provider}/{model}"
    return f"{name} @ {base_url_host}" if base_url_host else name


@dataclass(frozen=True, slots=True)
class FingerprintChange:
    """One change event: the run of a series whose fingerprint differs from the run before.

    `runs_before` counts the runs of the stretch (span) that ended with the previous
    fingerprint, `runs_after` those of the stretch that began here; `previous_seen` is the last
    run with the previous fingerprint (the change happened between it and `started_at`).
    """

    started_at: datetime
    provider: str
    model: str
    base_url_host: str | None
    previous_fingerprint: str | None
    system_fingerprint: str | None
    runs_before: int
    runs_after: int
    previous_seen: datetime

    @property
    def series(self) -> str:
        return series_label(self.provider, self.model, self.base_url_host)

    def describe(self) -> str:
        """ "fp_a → not reported": the change in words."""
        before = fingerprint_text(self.previous_fingerprint)
        return f"{before} → {fingerprint_text(self.system_fingerprint)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }

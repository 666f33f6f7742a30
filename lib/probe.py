"""Drift probes: fixed requests run on a schedule (cron, CI) to feed the fingerprint timeline.

A probes file (TOML) lists probes; each is one fixed request sent N times:

    [defaults]                 # optional, applies to every probe
    provider = "local"
    runs = 3
    max_tokens = 32

    [[probe]]
    name = "mars-news"         # required, unique: a probe is compared with its own history
    prompt = "Generate a short excerpt of news about a journey to Mars."
    seed = 123                 # omit for an unseeded probe (never counts as drift)
    temperature = 0.0

    [[probe]]
    name = "eval-set"
    suite = "cases.csv"        # instead of prompt: every case of a suite file
    seed = 123

Keys of a probe (and of [defaults]): name, prompt or suite, system, provider ("local" |
"openai"), model, base_url (openai only), seed, temperature, top_p, runs, max_tokens. The file
(and every suite file it names) is read and validated (a pydantic model per probe, then the
experiment or suite spec's ranges) in seedscope.probe_config before anything runs.

`run_probes` runs each probe through the one lifecycle (seedscope.experiments), so it is stored
(labelled with the probe name) run by run and ends complete, failed, cancelled or interrupted;
then it is compared with the previous stored run of the same probe and the exact same request:
did the set of output texts change, did the set of fingerprints change? A seeded probe
whose outputs changed has *drifted*.

A suite probe runs every case (an experiment of kind 'suite') and is compared with the previous
suite run of the same probe that shares at least one case request; drift is reported per case
(seedscope.probe_cases): `cases_changed` (outputs), `cases_fingerprint_changed`, and
`cases_not_compared` (new or edited cases, or no successful run on one side).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from seedscope.experiments import ExperimentResult, create_experiment, run_experiment
from seedscope.probe_cases import CaseChange, case_request_keys, compare_suite_runs

# The probes file is read and validated in probe_config; re-exported: callers import it here.
from seedscope.probe_config import (
    PROBE_KEYS,
    Probe,
    ProbeConfig,
    ProbeConfigError,
    ProbeEntry,
    load_probe_config,
    parse_probe_config,
)
from seedscope.providers.base import Completion, Provider, request_key
from seedscope.runner import ProgressEvent
from seedscope.settings import Settings
from seedscope.store import Store
from seedscope.suites import SuiteSpec
from seedscope.terminal import one_line

__all__ = [
    "PROBE_KEYS",
    "Probe",
    "ProbeConfig",
    "ProbeConfigError",
    "ProbeEntry",
    "ProbeResult",
    "load_probe_config",
    "parse_probe_config",
    "run_probe",
    "run_probes",
]

ProviderFactory = Callable[..., Provider]
# How error messages name a base URL from the probes file (make_provider's base_url_origin).
PROBE_BASE_URL_ORIGIN = "set in the probes file"
CASES_NAMED = 10  # a summary line names at most this many changed cases


@dataclass(frozen=True)
class ProbeResult:
    """One probe run, compared with the previous stored run of the same probe and request.

    `outputs_changed` / `fingerprint_changed` compare the sets of output texts / reported
    fingerprints of successful runs; they are None when there is nothing to compare with.
    For a suite probe they say whether *any* compared case changed, and the `cases_*` fields
    (None for a one-prompt probe) name the cases; `case_changes` has the detail of each.
    """

    name: str
    status: str  # complete | failed | cancelled | interrupted | error (nothing ran)
    experiment_id: str | None
    provider: str
    model: str | None
    base_url_host: str | None
    seed: int | None
    temperature: float
    runs: int
    failed_runs: int
    unique_outputs: int
    fingerprints: list[str | None] = field(default_factory=list)
    previous_experiment_id: str | None = None
    previous_fingerprints: list[str | None] = field(default_factory=list)
    outputs_changed: bool | None = None
    fingerprint_changed: bool | None = None
    error: str | None = None
    suite: str | None = None  # the suite file as written in the probes file
    cases: int | None = None
    cases_compared: int | None = None
    cases_changed: list[str] | None = None
    cases_fingerprint_changed: list[str] | None = None
    cases_not_compared: list[str] | None = None
    case_changes: list[CaseChange] | None = None

    @property
    def drifted(self) -> bool:
        """A seeded probe whose outputs differ from its previous run's."""
        return self.seed is not None and self.outputs_changed is True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"drifted": self.drifted}

    def summary_line(self) -> str:
        if self.status == "error":
            return f"{self.name}: not run: {self.error}"
        seed = "unseeded" if self.seed is None else f"seed {self.seed}"
        ok_runs = self.runs - self.failed_runs
        suite = "" if self.suite is None else f" suite {self.suite} ({self.cases} cases),"
        head = (
            f"{self.name}: {self.provider}/{self.model} {seed} t={self.temperature:g},{suite} "
            f"{ok_runs}/{self.runs} runs ok, {self.unique_outputs} distinct output(s)"
        )
        fingerprints = ", ".join(fp or "not reported" for fp in self.fingerprints) or "none"
        if self.status != "complete":
            head += f" [{self.status}]"
        if self.error:
            return f"{head}; {self.error}"
        if self.previous_experiment_id is None:
            return (
                f"{head}; fingerprint {fingerprints}; first run of this probe, nothing to compare"
            )
        if self.suite is not None:
            return f"{head}; {self._suite_comparison()} since {self.previous_experiment_id[:12]}"
        if self.outputs_changed is None:
            return f"{head}; no successful runs to compare"
        if self.drifted:
            outputs = "DRIFT: outputs changed"
        else:
            outputs = "outputs changed" if self.outputs_changed else "outputs unchanged"
        if self.fingerprint_changed:
            previous = ", ".join(fp or "not reported" for fp in self.previous_fingerprints)
            fingerprint = f"fingerprint changed ({previous} -> {fingerprints})"
        else:
            fingerprint = f"fingerprint unchanged ({fingerprints})"
        return f"{head}; {outputs}, {fingerprint} since {self.previous_experiment_id[:12]}"

    def _suite_comparison(self) -> str:
        if not self.cases_compared:
            return "no case could be compared (each is new, edited or without a successful run)"
        changed = self.cases_changed or []
        fingerprint = self.cases_fingerprint_changed or []
        outputs = f"outputs changed in {len(changed)} of {self.cases_compared} cases compared"
        if changed:
            outputs = f"{'DRIFT: ' if self.drifted else ''}{outputs} ({_named(changed)})"
        text = f"{outputs}, fingerprint changed in {len(fingerprint)}"
        if fingerprint:
            text += f" ({_named(fingerprint)})"
        if self.cases_not_compared:
            text += f"; {len(self.cases_not_compared)} case(s) not compared (new, edited or failed)"
        return text

    def case_rows(self) -> list[dict[str, str]]:
        """A row per changed (case, arm) of a suite probe, for a table (escaped, one line)."""

        def shown(fingerprints: list[str | None]) -> str:
            return ", ".join(fp or "not reported" for fp in fingerprints)

        return [
            {
                "case": one_line(change.case_id, 40),
                "outputs": "changed" if change.outputs_changed else "unchanged",
                "fingerprint": one_line(
                    f"{shown(change.previous_fingerprints)} -> {shown(change.fingerprints)}"
                    if change.fingerprint_changed
                    else f"unchanged ({shown(change.fingerprints)})",
                    60,
                ),
            }
            for change in self.case_changes or []
        ]


def _named(case_ids: list[str]) -> str:
    names = ", ".join(one_line(case_id, 40) for case_id in case_ids[:CASES_NAMED])
    more = len(case_ids) - CASES_NAMED
    return names if more <= 0 else f"{names} and {more} more"


def _distinct(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _compare(
    result: dict[str, Any], current: list[Completion], previous: list[Completion]
) -> dict[str, Any]:
    now_ok = [c for c in current if c.ok]
    before_ok = [c for c in previous if c.ok]
    result["previous_fingerprints"] = _distinct([c.system_fingerprint for c in before_ok])
    if now_ok and before_ok:
        result["outputs_changed"] = {c.text for c in now_ok} != {c.text for c in before_ok}
        result["fingerprint_changed"] = set(result["fingerprints"]) != set(
            result["previous_fingerprints"]
        )
    return result


def run_probe(
    probe: Probe,
    settings: Settings,
    store: Store,
    provider_factory: ProviderFactory,
    *,
    on_progress: Callable[[str, ProgressEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> ProbeResult:
    base = {
        "name": probe.name,
        "provider": probe.spec.provider,
        "model": probe.model,
        "base_url_host": None,
        "seed": probe.seed,
        "temperature": probe.spec.arms[0].temperature,
        "runs": probe.spec.total_runs,
    }
    try:
        provider = provider_factory(
            settings,
            probe.spec.provider,
            model=probe.model,
            base_url=probe.base_url,
            base_url_origin=PROBE_BASE_URL_ORIGIN if probe.base_url else None,
        )
    except ValueError as error:  # backend not configured, model file missing, ...
        failed = {"status": "error", "experiment_id": None, "failed_runs": 0, "error": str(error)}
        return ProbeResult(**base, **failed, unique_outputs=0)
    # The stored spec names the model that really answers (e.g. OPENAI_MODEL, a GGUF stem).
    spec = probe.spec.model_copy(update={"model": provider.model})
    base |= {"model": provider.model, "base_url_host": provider.base_url_host}
    experiment_id = create_experiment(store, spec, provider, label=probe.name)
    progress = None if on_progress is None else (lambda event: on_progress(probe.name, event))
    # The one lifecycle: each run stored as it ends; Ctrl-C ends it `cancelled` and re-raises.
    outcome = run_experiment(
        store,
        experiment_id,
        spec,
        provider,
        concurrency=settings.remote_concurrency,
        cancel=cancel,
        on_progress=progress,
    )
    result = base | _outcome_fields(outcome)
    if isinstance(spec, SuiteSpec):
        result |= {"suite": probe.suite_file, "cases": len(spec.cases)}
        return ProbeResult(**_compare_suite(result, store, spec, provider, outcome))
    completions = outcome.completions
    key = request_key(
        provider=spec.provider,
        base_url_host=provider.base_url_host,
        model=provider.model,
        prompt=spec.prompt,
        system=spec.system,
        seed=probe.seed,
        temperature=spec.arms[0].temperature,
        top_p=spec.top_p,
        max_tokens=spec.max_tokens,
    )
    previous_id = store.previous_labelled_experiment(
        label=probe.name, request_key=key, before_id=experiment_id
    )
    if previous_id is not None:
        previous = store.load_experiment(previous_id)
        if previous is not None:
            result["previous_experiment_id"] = previous_id
            result = _compare(result, completions, previous.completions)
    return ProbeResult(**result)


def _outcome_fields(outcome: ExperimentResult) -> dict[str, Any]:
    completions = outcome.completions
    ok = [c for c in completions if c.ok]
    # Distinct outputs per case (a plain probe has one "case", None).
    distinct = {(c.case_id, c.arm_label, c.text) for c in ok}
    return {
        "status": outcome.status,
        "experiment_id": outcome.experiment_id,
        "runs": len(completions),
        "failed_runs": len(completions) - len(ok),
        "unique_outputs": len(distinct),
        "fingerprints": _distinct([c.system_fingerprint for c in ok]),
        "error": None if outcome.problem is None else f"stopped: {outcome.problem}",
    }


def _compare_suite(
    result: dict[str, Any],
    store: Store,
    spec: SuiteSpec,
    provider: Provider,
    outcome: ExperimentResult,
) -> dict[str, Any]:
    """Per-case comparison with the previous suite run of the probe (seedscope.probe_cases)."""
    host = provider.base_url_host
    keys = case_request_keys(spec, host)
    previous_id = store.previous_labelled_suite(
        label=result["name"], request_keys=list(keys.values()), before_id=outcome.experiment_id
    )
    previous = None if previous_id is None else store.load_experiment(previous_id)
    if previous is None or not isinstance(previous.spec, SuiteSpec):  # the first run
        return result | {
            "cases_compared": 0,
            "cases_changed": [],
            "cases_fingerprint_changed": [],
            "cases_not_compared": [case.id for case in spec.cases],
            "case_changes": [],
        }
    drift = compare_suite_runs(
        spec,
        host,
        outcome.completions,
        previous.spec,
        previous.summary.base_url_host,
        previous.completions,
    )
    previous_ok = [c for c in previous.completions if c.ok]
    compared = drift.compared > 0
    return result | {
        "previous_experiment_id": previous.id,
        "previous_fingerprints": _distinct([c.system_fingerprint for c in previous_ok]),
        "outputs_changed": bool(drift.cases_changed) if compared else None,
        "fingerprint_changed": bool(drift.cases_fingerprint_changed) if compared else None,
        "cases_compared": drift.compared,
        "cases_changed": drift.cases_changed,
        "cases_fingerprint_changed": drift.cases_fingerprint_changed,
        "cases_not_compared": drift.not_compared,
        "case_changes": drift.changes,
    }


def run_probes(
    config: ProbeConfig,
    settings: Settings,
    store: Store,
    provider_factory: ProviderFactory | None = None,
    *,
    on_progress: Callable[[str, ProgressEvent], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[ProbeResult]:
    """Run every probe in order, store it and compare it with its previous run.

    A probe whose backend cannot be built is reported with status "error" and the others
    still run. `provider_factory` defaults to seedscope.providers.factory.make_provider.
    """
    if provider_factory is None:
        from seedscope.providers.factory import make_provider

        provider_factory = make_provider
    results = []
    for probe in config.probes:
        if cancel is not None and cancel.is_set():
            break
        results.append(
            run_probe(
                probe, settings, store, provider_factory, on_progress=on_progress, cancel=cancel
            )
        )
    return results

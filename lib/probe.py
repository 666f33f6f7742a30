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

Keys of a probe (and of [defaults]): name, prompt, system, provider ("local" | "openai"),
model, base_url (openai only), seed, temperature, top_p, runs, max_tokens. Every probe is
validated like an experiment spec before anything runs.

`run_probes` runs each probe through seedscope.runner, stores it (labelled with the probe name),
and compares it with the previous stored run of the same probe and the exact same request:
did the set of output texts change, did the set of fingerprints change? A seeded probe
whose outputs changed has *drifted*.
"""

from __future__ import annotations

import contextlib
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seedscope.providers.base import Completion, Provider, request_key
from seedscope.runner import ProgressEvent, RunnerCallbackError, run_spec_sync
from seedscope.spec import DEFAULT_SYSTEM, LOCAL_CHAT_MODEL, ExperimentSpec, Limits, SpecError
from seedscope.spec import validate_spec as validate_experiment
from seedscope.store import Store, StoreError

PROBE_KEYS = (
    "name",
    "prompt",
    "system",
    "provider",
    "model",
    "base_url",
    "seed",
    "temperature",
    "top_p",
    "runs",
    "max_tokens",
)
DEFAULTS = {"provider": "local", "temperature": 0.0, "runs": 3, "max_tokens": 64, "top_p": 1.0}

ProviderFactory = Callable[..., Provider]


class ProbeConfigError(ValueError):
    """The probes file is unusable; one line per problem, each naming the probe and key."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


@dataclass(frozen=True)
class Probe:
    name: str
    spec: ExperimentSpec  # one arm, labelled with the probe name
    model: str | None  # as written; None: the backend's default (OPENAI_MODEL / embedded model)
    base_url: str | None

    @property
    def seed(self) -> int | None:
        return self.spec.arms[0].seed


@dataclass(frozen=True)
class ProbeConfig:
    probes: tuple[Probe, ...]
    source: str = "probes.toml"


def _probe_problems(index: int, entry: Any) -> tuple[str, list[str]]:
    where = f"probe[{index}]"
    if not isinstance(entry, dict):
        return where, [f"{where}: must be a table ([[probe]]) of keys"]
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        where = f"{where} {name.strip()!r}"
    problems = []
    unknown = sorted(set(entry) - set(PROBE_KEYS))
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(PROBE_KEYS)}"
        )
    if not (isinstance(name, str) and name.strip()):
        problems.append(f"{where}.name: missing or empty; give every probe a unique name")
    if not isinstance(entry.get("prompt"), str):
        problems.append(f"{where}.prompt: missing; give the fixed request to send")
    base_url = entry.get("base_url")
    if base_url is not None:
        if entry.get("provider") != "openai":
            problems.append(f'{where}.base_url: only applies to provider = "openai"')
        elif not (isinstance(base_url, str) and base_url.startswith(("http://", "https://"))):
            problems.append(f"{where}.base_url: {base_url!r} is not an http(s) URL")
    return where, problems


def _build_probe(entry: dict[str, Any], where: str, limits: Limits) -> Probe:
    provider = entry["provider"]
    model = entry.get("model")
    placeholder = model if model is not None else LOCAL_CHAT_MODEL  # replaced at run time
    data = {
        "prompt": entry["prompt"],
        "system": entry.get("system", DEFAULT_SYSTEM),
        "provider": provider,
        "model": placeholder,
        "max_tokens": entry["max_tokens"],
        "top_p": entry["top_p"],
        "arms": [
            {
                "label": entry["name"].strip(),
                "seed": entry.get("seed"),
                "temperature": entry["temperature"],
                "runs": entry["runs"],
            }
        ],
    }
    try:
        spec = validate_experiment(data, limits)
    except SpecError as error:
        raise ProbeConfigError(
            [f"{where}: {message.replace('arms[0].', '')}" for message in error.messages]
        ) from None
    return Probe(entry["name"].strip(), spec, model, entry.get("base_url"))


def parse_probe_config(
    data: Mapping[str, Any], limits: Limits | None = None, *, source: str = "probes.toml"
) -> ProbeConfig:
    """Validate the parsed TOML; raises ProbeConfigError listing every problem."""
    limits = limits or Limits()
    problems: list[str] = []
    unknown = sorted(set(data) - {"probe", "defaults"})
    if unknown:
        problems.append(f"{source}: unknown section(s) {', '.join(unknown)}; use [[probe]]")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append(f"{source}: [defaults] must be a table")
        defaults = {}
    bad_defaults = sorted(set(defaults) - (set(PROBE_KEYS) - {"name", "prompt"}))
    if bad_defaults:
        problems.append(f"[defaults]: key(s) {', '.join(bad_defaults)} cannot have defaults")
    entries = data.get("probe", [])
    if not isinstance(entries, list) or not entries:
        problems.append(f"{source}: no probes; add at least one [[probe]] with a name and prompt")
        entries = []
    probes: list[Probe] = []
    for index, raw in enumerate(entries):
        entry = {**DEFAULTS, **defaults, **raw} if isinstance(raw, dict) else raw
        where, entry_problems = _probe_problems(index, entry)
        if entry_problems:
            problems.extend(entry_problems)
            continue
        try:
            probes.append(_build_probe(entry, where, limits))
        except ProbeConfigError as error:
            problems.extend(error.messages)
    names = [probe.name for probe in probes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"{source}: probe names must be unique; repeated: {', '.join(repeated)}")
    if problems:
        raise ProbeConfigError(problems)
    return ProbeConfig(tuple(probes), source)


def load_probe_config(path: Path, limits: Limits | None = None) -> ProbeConfig:
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ProbeConfigError([f"{path}: no such file"]) from None
    except OSError as error:
        raise ProbeConfigError([f"{path}: cannot be read ({error.strerror})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ProbeConfigError([f"{path}: not valid TOML: {error}"]) from None
    return parse_probe_config(data, limits, source=str(path))


@dataclass(frozen=True)
class ProbeResult:
    """One probe run, compared with the previous stored run of the same probe and request.

    `outputs_changed` / `fingerprint_changed` compare the sets of output texts / reported
    fingerprints of successful runs; they are None when there is nothing to compare with.
    """

    name: str
    status: str  # complete | cancelled | interrupted | error (nothing ran)
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
        head = (
            f"{self.name}: {self.provider}/{self.model} {seed} t={self.temperature:g}, "
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
    settings: Any,
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
            settings, probe.spec.provider, model=probe.model, base_url=probe.base_url
        )
    except ValueError as error:  # backend not configured, model file missing, ...
        failed = {"status": "error", "experiment_id": None, "failed_runs": 0, "error": str(error)}
        return ProbeResult(**base, **failed, unique_outputs=0)
    # The stored spec names the model that really answers (e.g. OPENAI_MODEL, a GGUF stem).
    spec = probe.spec.model_copy(update={"model": provider.model})
    base |= {"model": provider.model, "base_url_host": provider.base_url_host}
    experiment_id = store.create_experiment(
        spec, base_url_host=provider.base_url_host, label=probe.name
    )
    progress = None if on_progress is None else (lambda event: on_progress(probe.name, event))
    error = None
    try:
        outcome = run_spec_sync(
            spec,
            provider,
            sink=store.sink(experiment_id),
            on_progress=progress,
            concurrency=getattr(settings, "remote_concurrency", None),
            cancel=cancel,
        )
        completions, status = outcome.completions, "cancelled" if outcome.cancelled else "complete"
    except RunnerCallbackError as failure:  # e.g. the database went away mid-run
        completions, status = failure.outcome.completions, "interrupted"
        error = f"stopped: {failure.__cause__ or failure}"
    except KeyboardInterrupt:
        _finish_quietly(store, experiment_id, "cancelled")  # Ctrl-C: runs so far are kept
        raise
    except BaseException:
        _finish_quietly(store, experiment_id, "interrupted")
        raise
    _finish_quietly(store, experiment_id, status)

    ok = [c for c in completions if c.ok]
    result = base | {
        "status": status,
        "experiment_id": experiment_id,
        "runs": len(completions),
        "failed_runs": len(completions) - len(ok),
        "unique_outputs": len({c.text for c in ok}),
        "fingerprints": _distinct([c.system_fingerprint for c in ok]),
        "error": error,
    }
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


def _finish_quietly(store: Store, experiment_id: str, status: str) -> None:
    # If the database is gone, start-up recovery marks the experiment interrupted later.
    with contextlib.suppress(StoreError):
        store.finish_experiment(experiment_id, status)


def run_probes(
    config: ProbeConfig,
    settings: Any,
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

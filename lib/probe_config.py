"""The probes file (TOML): a pydantic model per probe, one message per problem.

    [defaults]                 # optional, applies to every probe
    provider = "local"
    runs = 3

    [[probe]]
    name = "mars-news"         # required, unique: a probe is compared with its own history
    prompt = "Generate a short excerpt of news about a journey to Mars."
    seed = 123                 # omit for an unseeded probe (never counts as drift)

    [[probe]]
    name = "eval-set"
    suite = "cases.csv"        # instead of prompt: every case of a suite file (path relative
    seed = 123                 # to the probes file); drift is then reported per case

Keys of a probe (and of [defaults], except name, prompt and suite): name, prompt, suite, system,
provider ("local" | "openai"), model, base_url (openai only), seed, temperature, top_p, runs,
max_tokens. A probe has exactly one of prompt and suite. A suite file is loaded and checked (its
own row-numbered messages, prefixed with the probe and `suite`) while the probes file is read.
Types are checked by `ProbeEntry`; ranges (temperature, runs, max_tokens, seed for the backend)
by the experiment spec each probe becomes, so probes and experiments accept the same values.
Every message names the probe (position from 1, and name) and the key, e.g.
"probe 2 ('gateway'): runs: runs 11 is out of range; allowed 1 to 10"; a bad value that came from
[defaults] is reported once, as "[defaults]: ...".
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from seedscope.spec import DEFAULT_SYSTEM, LOCAL_CHAT_MODEL, ExperimentSpec, Limits, SpecError
from seedscope.spec import validate_spec as validate_experiment
from seedscope.suites import SuiteSpec, load_suite_file, validate_suite_spec


class ProbeConfigError(ValueError):
    """The probes file is unusable; one line per problem, each naming the probe and key."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


class ProbeEntry(BaseModel):
    """One [[probe]] table after [defaults] are applied. Strict: TOML has native types."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str
    prompt: str | None = None  # exactly one of prompt and suite
    suite: str | None = None  # a suite file, relative to the probes file
    system: str = DEFAULT_SYSTEM
    provider: Literal["local", "openai"] = "local"
    model: str | None = None  # None: the backend's default (OPENAI_MODEL / embedded model)
    base_url: str | None = None
    seed: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    runs: int = 3
    max_tokens: int = 64

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty; give every probe a unique name")
        return value.strip()

    @field_validator("suite")
    @classmethod
    def _suite_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError('empty; name a suite file, e.g. suite = "cases.csv"')
        return value.strip() if value else value

    @model_validator(mode="after")
    def _prompt_or_suite(self) -> ProbeEntry:
        # A model-level error has no location: the message starts with the key (see
        # _field_message), so it still names the field.
        if self.prompt is not None and self.suite is not None:
            raise ValueError(
                "suite: cannot be used with prompt; a probe sends one prompt or every case of "
                "a suite file: remove one of them"
            )
        if self.prompt is None and self.suite is None:
            raise ValueError(
                'prompt: missing; give the request to send (or suite = "cases.csv" to send '
                "every case of a suite file)"
            )
        return self

    @field_validator("model")
    @classmethod
    def _model_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty; remove it to use the backend's default model")
        return value.strip() if value else value

    @field_validator("base_url")
    @classmethod
    def _base_url_for_openai(cls, value: str | None, info: ValidationInfo) -> str | None:
        # `provider` is declared before `base_url`, so it is in info.data when it was valid.
        if value is None:
            return value
        if info.data.get("provider", "local") != "openai":
            raise ValueError('only applies to provider = "openai"')
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


PROBE_KEYS = tuple(ProbeEntry.model_fields)
_NO_DEFAULT = {
    "name": "give every probe its own name",
    "prompt": "set it in each [[probe]]",
    "suite": "set it in each [[probe]]",
}
DEFAULT_KEYS = tuple(key for key in PROBE_KEYS if key not in _NO_DEFAULT)


@dataclass(frozen=True)
class Probe:
    name: str
    spec: ExperimentSpec | SuiteSpec  # one arm, labelled with the probe name
    model: str | None  # as written; None: the backend's default (OPENAI_MODEL / embedded model)
    base_url: str | None
    suite_file: str | None = None  # as written in the probes file, for a suite probe

    @property
    def seed(self) -> int | None:
        return self.spec.arms[0].seed

    @property
    def is_suite(self) -> bool:
        return isinstance(self.spec, SuiteSpec)


@dataclass(frozen=True)
class ProbeConfig:
    probes: tuple[Probe, ...]
    source: str = "probes.toml"


def _field_message(error: Mapping[str, Any]) -> tuple[str, str]:
    """(key, what is wrong and what to do) for one pydantic error of a ProbeEntry."""
    key = str(error["loc"][0]) if error["loc"] else "probe"
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return key, f"unknown key; allowed: {', '.join(PROBE_KEYS)}"
    if kind == "missing":  # only name is required; prompt / suite: _prompt_or_suite
        return key, "missing; give every probe a unique name"
    if kind in {"int_type", "int_from_float", "int_parsing"}:
        return key, f"{value!r} is not a whole number"
    if kind in {"float_type", "float_parsing", "finite_number"}:
        return key, f"{value!r} is not a number"
    if kind == "string_type":
        return key, f"{value!r} is not text; put it in quotes"
    if kind == "literal_error":
        return key, f'{value!r} is not a backend; use "local" or "openai"'
    text = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a model-level rule: its message starts with the key
        return _spec_key(text)
    return key, text


def _spec_key(message: str) -> tuple[str, str]:
    """Split a SpecError line ("arms[0].runs: runs 11 is ...") into (key, text)."""
    location, _, text = message.partition(": ")
    return location.rsplit(".", 1)[-1], text


def _where(position: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    named = f" ({name.strip()!r})" if isinstance(name, str) and name.strip() else ""
    return f"probe {position}{named}"


def _spec_data(entry: ProbeEntry) -> dict[str, Any]:
    """What the probe's ExperimentSpec or SuiteSpec is built from (without prompt / suite)."""
    return {
        "system": entry.system,
        "provider": entry.provider,
        "model": entry.model or LOCAL_CHAT_MODEL,  # placeholder: replaced at run time
        "max_tokens": entry.max_tokens,
        "top_p": entry.top_p,
        "arms": [
            {
                "label": entry.name,
                "seed": entry.seed,
                "temperature": entry.temperature,
                "runs": entry.runs,
            }
        ],
    }


def _probe_spec(entry: ProbeEntry, base_dir: Path, limits: Limits) -> ExperimentSpec | SuiteSpec:
    """The validated spec a probe runs; SpecError names the key of each problem."""
    data = _spec_data(entry)
    if entry.suite is None:
        return validate_experiment({**data, "prompt": entry.prompt}, limits)
    try:
        # Relative to the probes file; the file's own messages name its row or line and field.
        suite = load_suite_file(base_dir / entry.suite, limits)
    except SpecError as error:
        raise SpecError([f"suite: {message}" for message in error.messages]) from None
    return validate_suite_spec({**data, "suite": suite.model_dump()}, limits)


def _parse_probe(
    raw: Any,
    position: int,
    defaults: dict[str, Any],
    limits: Limits,
    problems: list[str],
    base_dir: Path,
) -> Probe | None:
    where = _where(position, raw)
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a [[probe]] table of keys")
        return None

    def report(key: str, text: str) -> None:
        # A value the probe did not set itself came from [defaults]: say so, once.
        origin = "[defaults]" if key not in raw and key in defaults else where
        problems.append(f"{origin}: {key}: {text}")

    try:
        entry = ProbeEntry.model_validate({**defaults, **raw})
    except ValidationError as exc:
        for error in exc.errors():
            report(*_field_message(error))
        return None
    try:
        spec = _probe_spec(entry, base_dir, limits)
    except SpecError as error:
        for message in error.messages:
            report(*_spec_key(message))
        return None
    return Probe(entry.name, spec, entry.model, entry.base_url, entry.suite)


def _checked_defaults(data: Mapping[str, Any], source: str, problems: list[str]) -> dict[str, Any]:
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append(f"{source}: [defaults] must be a table of keys")
        return {}
    for key in defaults:
        if key in _NO_DEFAULT:
            problems.append(f"[defaults]: {key}: cannot have a default; {_NO_DEFAULT[key]}")
        elif key not in PROBE_KEYS:
            problems.append(f"[defaults]: {key}: unknown key; allowed: {', '.join(DEFAULT_KEYS)}")
    return {key: value for key, value in defaults.items() if key in DEFAULT_KEYS}


def parse_probe_config(
    data: Mapping[str, Any],
    limits: Limits | None = None,
    *,
    source: str = "probes.toml",
    base_dir: Path | None = None,
) -> ProbeConfig:
    """Validate the parsed TOML; raises ProbeConfigError listing every problem.

    Suite files are read relative to `base_dir` (the probes file's folder; default the
    current directory).
    """
    limits = limits or Limits()
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    problems: list[str] = []
    unknown = sorted(set(data) - {"probe", "defaults"})
    if unknown:
        problems.append(
            f"{source}: unknown section(s) {', '.join(unknown)}; use [defaults] and [[probe]]"
        )
    defaults = _checked_defaults(data, source, problems)
    entries = data.get("probe", [])
    if isinstance(entries, dict):
        problems.append(f"{source}: write each probe as [[probe]] (double brackets), not [probe]")
        entries = []
    elif not isinstance(entries, list) or not entries:
        problems.append(f"{source}: no probes; add at least one [[probe]] with a name and prompt")
        entries = []
    probes = [
        probe
        for position, raw in enumerate(entries, start=1)
        if (probe := _parse_probe(raw, position, defaults, limits, problems, base_dir)) is not None
    ]
    names = [probe.name for probe in probes]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"{source}: probe names must be unique; repeated: {', '.join(repeated)}")
    if problems:
        # Each line once: a bad value in [defaults] is found again in every probe.
        raise ProbeConfigError(list(dict.fromkeys(problems)))
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
    return parse_probe_config(data, limits, source=str(path), base_dir=Path(path).parent)

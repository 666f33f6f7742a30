"""What the user asks for: an experiment spec with arms, presets, and validation.

Validation runs before any model call. Limits that depend on configuration (runs per arm,
max_tokens, prompt size) are passed in as `Limits`; seed ranges depend on the provider.
Every message names the field, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from seedscope.settings import Settings
from seedscope.tokens.trace import MAX_TOP_LOGPROBS

DEFAULT_PROMPT = "Generate a short excerpt of news about a journey to Mars."
DEFAULT_SYSTEM = "You are a helpful assistant."
LOCAL_CHAT_MODEL = "SmolLM2-135M-Instruct"
PROVIDERS = ("local", "openai")
PRESETS = ("cookbook", "seed-only", "grid")

REMOTE_SEED_MAX = 2**63 - 1  # Chat Completions `seed` is an int64
# llama.cpp seeds are uint32, and 0xFFFFFFFF (LLAMA_DEFAULT_SEED) makes llama.cpp draw a random
# seed, so the largest seed that really fixes the sampler is 2**32 - 2.
LOCAL_SEED_MAX = 2**32 - 2


@dataclass(frozen=True)
class Limits:
    max_runs_per_arm: int = 100
    max_tokens: int = 1024
    max_prompt_chars: int = 8000
    max_cases: int = 1000  # cases in one suite
    max_suite_runs: int = 20000  # cases x runs of every arm, in one suite experiment

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_runs_per_arm=settings.max_runs_per_arm,
            max_tokens=settings.max_tokens_limit,
            max_prompt_chars=settings.max_prompt_chars,
            max_cases=settings.max_cases,
            max_suite_runs=settings.max_suite_runs,
        )


class SpecError(ValueError):
    """Invalid input. `messages` holds one readable line per problem, each naming its field."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


TEMPERATURE_RANGE = "0 to 2"
TOP_P_RANGE = "greater than 0 up to 1"
TOP_LOGPROBS_RANGE = f"1 to {MAX_TOP_LOGPROBS}"


def _limits(info: ValidationInfo) -> Limits:
    context = info.context or {}
    return context.get("limits") or Limits()


class Arm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    seed: int | None = None
    temperature: float
    runs: int = 5
    # Capture each generated token's logprob and this many alternatives (1-20); None: do not.
    # On the embedded model such an arm runs on a load of its own (its own fingerprint).
    top_logprobs: int | None = None
    # The arm's own backend (None: the experiment's), e.g. the embedded model next to a
    # server: each backend keeps its own concurrency limit, the API key still goes only to the
    # configured OPENAI_BASE_URL. base_url is stored in the spec, so it may not carry
    # credentials.
    provider: Literal["local", "openai"] | None = None
    base_url: str | None = None
    model: str | None = None

    @field_validator("label")
    @classmethod
    def _label_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("label is empty; give every arm a name")
        return value

    @field_validator("temperature")
    @classmethod
    def _temperature_range(cls, value: float) -> float:
        if not 0 <= value <= 2:
            raise ValueError(f"temperature {value} is out of range; allowed {TEMPERATURE_RANGE}")
        return value

    @field_validator("runs")
    @classmethod
    def _runs_range(cls, value: int, info: ValidationInfo) -> int:
        maximum = _limits(info).max_runs_per_arm
        if not 1 <= value <= maximum:
            raise ValueError(f"runs {value} is out of range; allowed 1 to {maximum}")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_form(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"base_url {value!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError(
                "base_url may not carry credentials, a query or a fragment (the spec is "
                "stored); configure a server that needs a key as OPENAI_BASE_URL"
            )
        return value

    @field_validator("model")
    @classmethod
    def _arm_model(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value.strip()

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs_range(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_TOP_LOGPROBS:
            raise ValueError(
                f"top_logprobs {value} is out of range; allowed {TOP_LOGPROBS_RANGE}, "
                "or none to capture no logprobs"
            )
        return value


def check_arms(arms: list[Arm]) -> list[Arm]:
    """At least one arm, and no two with one label."""
    if not arms:
        raise ValueError("no arms; add at least one arm")
    labels = [arm.label for arm in arms]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"arm labels must be unique; repeated: {', '.join(duplicates)}")
    return arms


def _model_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("model is empty; choose a model name")
    return value


def _max_tokens_in_range(value: int, info: ValidationInfo) -> int:
    maximum = _limits(info).max_tokens
    if not 1 <= value <= maximum:
        raise ValueError(
            f"max_tokens {value} is out of range; allowed 1 to {maximum} (SEEDSCOPE_MAX_TOKENS)"
        )
    return value


def _top_p_in_range(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"top_p {value} is out of range; allowed {TOP_P_RANGE}")
    return value


# The request fields experiment and suite specs share, each with its one check.
ModelName = Annotated[str, AfterValidator(_model_name)]
MaxTokens = Annotated[int, AfterValidator(_max_tokens_in_range)]
TopP = Annotated[float, AfterValidator(_top_p_in_range)]
Arms = Annotated[list[Arm], AfterValidator(check_arms)]


class ExperimentSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str = DEFAULT_PROMPT
    system: str = DEFAULT_SYSTEM
    provider: Literal["local", "openai"] = "local"
    model: ModelName = LOCAL_CHAT_MODEL
    max_tokens: MaxTokens = 200
    top_p: TopP = 1.0
    arms: Arms = Field(default_factory=list)

    @field_validator("prompt")
    @classmethod
    def _prompt_size(cls, value: str, info: ValidationInfo) -> str:
        maximum = _limits(info).max_prompt_chars
        if not value.strip():
            raise ValueError("prompt is empty; type the request to send")
        if len(value) > maximum:
            raise ValueError(
                f"prompt has {len(value)} characters; allowed at most {maximum} "
                "(SEEDSCOPE_MAX_PROMPT_CHARS)"
            )
        return value

    @property
    def total_runs(self) -> int:
        return sum(arm.runs for arm in self.arms)


def seed_range(provider: str) -> tuple[int, int, str]:
    """(lowest, highest, why) seed the backend accepts; `why` explains a narrower range."""
    if provider == "local":
        why = (
            " (llama.cpp treats seed 0 as 'use the default seed' and 4294967295 as 'pick a "
            "random seed', so neither fixes the output)"
        )
        return 1, LOCAL_SEED_MAX, why
    return 0, REMOTE_SEED_MAX, ""


def seed_problems(spec: ExperimentSpec, provider: str | None = None) -> list[str]:
    """Seeds out of range for each arm's backend (its own provider, else `provider`, default
    spec.provider) and base URLs on arms that are not openai; the runner re-checks these."""
    problems = []
    for index, arm in enumerate(spec.arms):
        backend = arm.provider or provider or spec.provider  # an arm's own backend decides
        low, high, why = seed_range(backend)
        if arm.seed is not None and not low <= arm.seed <= high:
            problems.append(
                f"arms[{index}].seed: seed {arm.seed} is out of range for the {backend} "
                f"backend; allowed {low} to {high}{why}, or none for an unseeded arm"
            )
        if arm.base_url is not None and backend != "openai":
            problems.append(
                f"arms[{index}].base_url: only an openai arm has a base URL; set provider "
                "openai for this arm or remove base_url"
            )
    return problems


def _allowed(field: str, limits: Limits, provider: Any) -> str:
    """What a field accepts, for messages about a value of the wrong kind or a missing one."""
    if field == "seed":
        low, high, _ = seed_range(provider if provider in PROVIDERS else "local")
        return f"; allowed {low} to {high}, or none for an unseeded arm"
    allowed = {
        "temperature": TEMPERATURE_RANGE,
        "top_p": TOP_P_RANGE,
        "runs": f"1 to {limits.max_runs_per_arm}",
        "max_tokens": f"1 to {limits.max_tokens}",
        "top_logprobs": TOP_LOGPROBS_RANGE,
    }.get(field)
    return f"; allowed {allowed}" if allowed else ""


def _format_error(error: dict[str, Any], limits: Limits, provider: Any) -> str:
    location = ""
    for part in error["loc"]:
        location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else part)
    field = str(error["loc"][-1]) if error["loc"] else ""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in {
        "int_parsing",
        "float_parsing",
        "int_from_float",
        "int_type",
        "float_type",
    }:
        message = (
            f"{error.get('input')!r} is not a valid number ({message})"
            f"{_allowed(field, limits, provider)}"
        )
    elif error["type"] == "missing":
        message = f"missing{_allowed(field, limits, provider)}"
    elif error["type"] == "extra_forbidden":
        known = Arm.model_fields if len(error["loc"]) > 1 else ExperimentSpec.model_fields
        message = f"{field!r} is not a known field; allowed {', '.join(known)}"
    elif error["type"] == "literal_error":
        message = f"{error.get('input')!r} is not allowed; {message}"
    return f"{location or 'spec'}: {message}"


def validate_spec(
    data: dict[str, Any] | ExperimentSpec, limits: Limits | None = None
) -> ExperimentSpec:
    """Build a valid spec or raise SpecError listing every problem."""
    if isinstance(data, ExperimentSpec):
        data = data.model_dump()
    try:
        limits = limits or Limits()
        spec = ExperimentSpec.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        provider = data.get("provider", "local") if isinstance(data, dict) else "local"
        messages = [_format_error(error, limits, provider) for error in exc.errors()]
        raise SpecError(messages) from None
    problems = seed_problems(spec)
    if problems:
        raise SpecError(problems)
    return spec


def preset_arms(
    preset: str,
    *,
    seed: int = 123,
    temperature: float = 0.0,
    unseeded_temperature: float | None = None,
    runs: int = 5,
) -> list[dict[str, Any]]:
    """Arms for a named preset, as plain dicts so they can be edited before validation.

    cookbook:  unseeded at 0.7 vs seed 123 at 0 (OpenAI's cookbook notebook); the explicit
               temperatures override those defaults.
    seed-only: seed vs no seed at one temperature.
    grid:      {no seed, seed} x {unseeded_temperature, temperature}.
    """
    if preset == "cookbook":
        unseeded_t = 0.7 if unseeded_temperature is None else unseeded_temperature
        return [
            {"label": "unseeded", "seed": None, "temperature": unseeded_t, "runs": runs},
            {"label": "seeded", "seed": seed, "temperature": temperature, "runs": runs},
        ]
    if preset == "seed-only":
        return [
            {"label": "unseeded", "seed": None, "temperature": temperature, "runs": runs},
            {"label": "seeded", "seed": seed, "temperature": temperature, "runs": runs},
        ]
    if preset == "grid":
        other_t = 0.7 if unseeded_temperature is None else unseeded_temperature
        arms = []
        for t in (temperature, other_t):
            arms.append(
                {"label": f"unseeded t={t:g}", "seed": None, "temperature": t, "runs": runs}
            )
            arms.append(
                {"label": f"seed {seed} t={t:g}", "seed": seed, "temperature": t, "runs": runs}
            )
        return arms
    raise SpecError([f"preset: {preset!r} is not a preset; choose one of {', '.join(PRESETS)}"])

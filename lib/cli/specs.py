"""The experiment spec that compare's flags describe: a preset, `--arm`s, or a `--spec` file.

Three ways to give the arms, one at a time:
    flags      --preset / --seed / --temperature / --unseeded-temperature / --runs
    --arm      "LABEL,seed=S|none,temperature=T,runs=N", repeatable; replaces the preset's arms
    --spec     FILE (JSON or TOML): the whole request and its arms, as `export --spec` writes it;
               no request or arm flag combines with it (edit the file instead)
Every refusal is a SpecError line naming the flag, the arm and the field, before any call.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedscope.cli.errors import CliError
from seedscope.settings import Settings
from seedscope.spec import (
    DEFAULT_PROMPT,
    DEFAULT_SYSTEM,
    LOCAL_CHAT_MODEL,
    ExperimentSpec,
    Limits,
    SpecError,
    preset_arms,
    validate_spec,
)
from seedscope.spec_files import load_spec_file, write_spec_file

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; parsing flags does not need it
    from seedscope.store.records import StoredExperiment

# Flags whose parser default is None so that "given" can be told from "not given".
ARM_FLAGS = ("preset", "seed", "temperature", "unseeded_temperature", "runs")
REQUEST_FLAGS = ("prompt", "system", "provider", "model", "max_tokens", "top_p")
FLAG_DEFAULTS: dict[str, Any] = {
    "prompt": DEFAULT_PROMPT,
    "system": DEFAULT_SYSTEM,
    "provider": "local",
    "max_tokens": 200,
    "top_p": 1.0,
    "seed": 123,
    "runs": 5,
}
ARM_KEYS = ("seed", "temperature", "runs", "top_logprobs", "provider", "base_url", "model")
ARM_EXAMPLE = '--arm "seeded,seed=123,temperature=0,runs=5"'


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _given(args: argparse.Namespace, dests: tuple[str, ...]) -> list[str]:
    return [_flag(dest) for dest in dests if getattr(args, dest, None) is not None]


def _value(args: argparse.Namespace, dest: str) -> Any:
    value = getattr(args, dest, None)
    return FLAG_DEFAULTS.get(dest) if value is None else value


def parse_arm(text: str, position: int) -> dict[str, Any]:
    """One --arm value as Arm fields (values still text: the spec validates them)."""
    label, *pairs = (part.strip() for part in text.split(","))
    where = f"--arm {position}"
    if not label or "=" in label:
        raise SpecError([f"{where} ({text!r}): start with the arm's label, e.g. {ARM_EXAMPLE}"])
    where = f"{where} ({label!r})"
    arm: dict[str, Any] = {"label": label}
    problems = []
    for pair in pairs:
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep:
            problems.append(f"{where}: {pair!r} is not key=value; e.g. {ARM_EXAMPLE}")
        elif key not in ARM_KEYS:
            problems.append(f"{where}: {key!r} is not an arm key; use {', '.join(ARM_KEYS)}")
        elif key in arm:
            problems.append(f"{where}: {key} is given twice")
        elif key in ("seed", "top_logprobs") and value.lower() == "none":
            arm[key] = None
        else:
            arm[key] = value
    if problems:
        raise SpecError(problems)
    return arm


def _arms_from_flags(args: argparse.Namespace) -> list[dict[str, Any]]:
    preset, seed, runs = args.preset, _value(args, "seed"), _value(args, "runs")
    if preset in ("cookbook", "grid"):
        return preset_arms(
            preset,
            seed=seed,
            temperature=0.0 if args.temperature is None else args.temperature,
            unseeded_temperature=args.unseeded_temperature,
            runs=runs,
        )
    # seed-only, and the default: two arms, `unseeded` and `seeded`.
    if preset == "seed-only" and args.unseeded_temperature is not None:
        raise SpecError(
            [
                "--unseeded-temperature: the seed-only preset uses one temperature for both "
                "arms; set it with --temperature, or use --preset grid"
            ]
        )
    seeded_t = 0.7 if args.temperature is None else args.temperature
    unseeded_t = seeded_t if args.unseeded_temperature is None else args.unseeded_temperature
    return [
        {"label": "unseeded", "seed": None, "temperature": unseeded_t, "runs": runs},
        {"label": "seeded", "seed": seed, "temperature": seeded_t, "runs": runs},
    ]


def _name_the_arms(error: SpecError, arms: list[dict[str, Any]]) -> SpecError:
    """'arms[1].runs: ...' -> "--arm 2 ('hot'): runs: ...": the user typed --arm, not arms[1]."""
    messages = []
    for message in error.messages:
        for index, arm in enumerate(arms):
            prefix = f"arms[{index}]."
            if message.startswith(prefix):
                message = f"--arm {index + 1} ({arm['label']!r}): {message.removeprefix(prefix)}"
                break
        else:
            if message.startswith("arms: "):
                message = "--arm: " + message.removeprefix("arms: ")
        messages.append(message)
    return SpecError(messages)


def arms_from_args(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The arms of compare or suite run: each --arm, or the preset flags; SpecError lists every
    bad --arm (naming it) before anything runs."""
    arm_texts: list[str] = args.arm or []
    if not arm_texts:
        return _arms_from_flags(args)
    clashing = _given(args, ARM_FLAGS)
    if clashing:
        raise SpecError(
            [
                f"--arm replaces the preset's arms, so {', '.join(clashing)} cannot be used "
                f"with it; give seed, temperature and runs in each --arm ({ARM_EXAMPLE})"
            ]
        )
    problems: list[str] = []
    arms = []
    for position, text in enumerate(arm_texts, start=1):
        try:
            arms.append(parse_arm(text, position))
        except SpecError as error:
            problems.extend(error.messages)
    if problems:
        raise SpecError(problems)
    return arms


def spec_from_args(args: argparse.Namespace, settings: Settings) -> ExperimentSpec:
    """The validated spec the flags describe; raises SpecError before anything is called."""
    limits = Limits.from_settings(settings)
    spec_path = getattr(args, "spec", None)
    arm_texts: list[str] = getattr(args, "arm", None) or []
    if spec_path is not None:
        clashing = _given(args, (*REQUEST_FLAGS, *ARM_FLAGS)) + (["--arm"] if arm_texts else [])
        if clashing:
            raise SpecError(
                [
                    f"--spec holds the whole request and its arms, so {', '.join(clashing)} "
                    "cannot be used with it; edit the spec file instead"
                ]
            )
        return load_spec_file(Path(spec_path), limits, settings.openai_model)
    arms = arms_from_args(args)
    provider = _value(args, "provider")
    default_model = LOCAL_CHAT_MODEL if provider == "local" else settings.openai_model
    data = {
        "prompt": _value(args, "prompt"),
        "system": _value(args, "system"),
        "provider": provider,
        "model": default_model if args.model is None else args.model,
        "max_tokens": _value(args, "max_tokens"),
        "top_p": _value(args, "top_p"),
        "arms": arms,
    }
    try:
        return validate_spec(data, limits)
    except SpecError as error:
        raise (_name_the_arms(error, arms) if arm_texts else error) from None


def export_spec_file(stored: StoredExperiment, path: Path) -> Path:
    """Write a stored experiment's spec so that `compare --spec FILE` runs it again exactly."""
    summary = stored.summary
    where = f" at {summary.base_url_host}" if summary.base_url_host else ""
    rerun = f"seedscope compare --spec {path}"
    if stored.spec.provider == "openai":
        rerun += " [--base-url URL]"  # the file keeps no URL: only its host was stored
    comment = (
        f"Seedscope experiment {summary.id}, {summary.created_at:%Y-%m-%d %H:%M} UTC, "
        f"{stored.spec.provider}{where}.\nRun it again with: {rerun}"
    )
    try:
        return write_spec_file(stored.spec, path, comment=comment)
    except OSError as error:
        raise CliError(f"--spec {path}: cannot be written ({error.strerror})") from None

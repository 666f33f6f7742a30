"""Experiment specs as files (JSON or TOML, by extension): `seedscope export ID --spec FILE`
writes one, `seedscope compare --spec FILE` runs it again.

The file holds exactly the fields the store keeps (ExperimentSpec.model_dump()):

    prompt = "Generate a short excerpt of news about a journey to Mars."
    system = "You are a helpful assistant."
    provider = "local"
    model = "SmolLM2-135M-Instruct"
    max_tokens = 200
    top_p = 1.0
    arms = [
        { label = "unseeded", temperature = 0.7, runs = 5 },   # no seed: an unseeded arm
        { label = "seeded", seed = 123, temperature = 0.0, runs = 5 },
    ]

TOML has no null, so an unseeded arm has no `seed` key there (JSON writes `"seed": null`).
Omitted optional fields take the spec defaults, `model` the provider's default model; `prompt`
and `arms` are required so that a file never silently runs the default request.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from seedscope.spec import LOCAL_CHAT_MODEL, ExperimentSpec, Limits, SpecError, validate_spec

SPEC_FORMATS = (".json", ".toml")
REQUIRED_FIELDS = ("prompt", "arms")


def spec_format(path: Path) -> str:
    """'.json' or '.toml'; any other file name is refused with what to use instead."""
    suffix = Path(path).suffix.lower()
    if suffix not in SPEC_FORMATS:
        raise SpecError([f"{path}: a spec file name must end in .json or .toml"])
    return suffix


def read_spec_data(path: Path) -> dict[str, Any]:
    """The file's fields as a dict, not yet validated; SpecError names the file and position."""
    suffix = spec_format(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError([f"{path}: no such file"]) from None
    except OSError as error:
        raise SpecError([f"{path}: cannot be read ({error.strerror})"]) from None
    try:
        data = json.loads(raw) if suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError([f"{path}: not UTF-8 text"]) from None
    except json.JSONDecodeError as error:
        raise SpecError([f"{path}: not valid JSON: {error}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError([f"{path}: not valid TOML: {error}"]) from None
    if not isinstance(data, dict):
        raise SpecError([f"{path}: must hold one object with the spec's fields"])
    return data


def load_spec_file(path: Path, limits: Limits, openai_model: str) -> ExperimentSpec:
    """The validated spec in `path`; every problem is one line naming the file and the field.

    `openai_model` is the model when an openai spec names none (the embedded model for local).
    """
    data = read_spec_data(path)
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise SpecError([f"{path}: {name}: missing; a spec file must set it" for name in missing])
    if "model" not in data:
        data["model"] = openai_model if data.get("provider") == "openai" else LOCAL_CHAT_MODEL
    try:
        return validate_spec(data, limits)
    except SpecError as error:
        raise SpecError([f"{path}: {message}" for message in error.messages]) from None


def spec_file_text(spec: ExperimentSpec, suffix: str, *, comment: str = "") -> str:
    """The spec as JSON or TOML text; reading it back gives the same spec."""
    data = spec.model_dump(mode="json")
    if suffix == ".json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    # TOML has no null: an unseeded arm is one without a seed key.
    data["arms"] = [{k: v for k, v in arm.items() if v is not None} for arm in data["arms"]]
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + tomli_w.dumps(data)


def write_spec_file(spec: ExperimentSpec, path: Path, *, comment: str = "") -> Path:
    """Write `spec` to `path` (JSON or TOML by extension); `comment` heads a TOML file."""
    path = Path(path)
    text = spec_file_text(spec, spec_format(path), comment=comment)
    path.write_text(text, encoding="utf-8")
    return path

"""The experiment spec that compare's flags describe."""

from __future__ import annotations

import argparse

from seedscope.settings import Settings
from seedscope.spec import (
    LOCAL_CHAT_MODEL,
    ExperimentSpec,
    Limits,
    SpecError,
    preset_arms,
    validate_spec,
)


def spec_from_args(args: argparse.Namespace, settings: Settings) -> ExperimentSpec:
    """The validated spec the flags describe; raises SpecError before anything is called."""
    if args.preset == "cookbook":
        seeded_t = 0.0 if args.temperature is None else args.temperature
        arms = preset_arms(
            "cookbook",
            seed=args.seed,
            temperature=seeded_t,
            unseeded_temperature=args.unseeded_temperature,
            runs=args.runs,
        )
    elif args.preset == "grid":
        arms = preset_arms(
            "grid",
            seed=args.seed,
            temperature=0.0 if args.temperature is None else args.temperature,
            unseeded_temperature=args.unseeded_temperature,
            runs=args.runs,
        )
    else:
        # seed-only, and the default: two arms, `unseeded` and `seeded`.
        seeded_t = 0.7 if args.temperature is None else args.temperature
        unseeded_t = seeded_t if args.unseeded_temperature is None else args.unseeded_temperature
        if args.preset == "seed-only" and args.unseeded_temperature is not None:
            raise SpecError(
                [
                    "--unseeded-temperature: the seed-only preset uses one temperature for both "
                    "arms; set it with --temperature, or use --preset grid"
                ]
            )
        arms = [
            {"label": "unseeded", "seed": None, "temperature": unseeded_t, "runs": args.runs},
            {"label": "seeded", "seed": args.seed, "temperature": seeded_t, "runs": args.runs},
        ]
    default_model = LOCAL_CHAT_MODEL if args.provider == "local" else settings.openai_model
    model = default_model if args.model is None else args.model
    data = {
        "prompt": args.prompt,
        "system": args.system,
        "provider": args.provider,
        "model": model,
        "max_tokens": args.max_tokens,
        "top_p": args.top_p,
        "arms": arms,
    }
    return validate_spec(data, Limits.from_settings(settings))

"""Per-case drift of a suite probe: this run of the suite against the probe's previous run.

A (case, arm) is compared only when both runs sent the *same request* for it (same request key:
backend host, model, prompt, system message, seed, temperature, top_p, max_tokens) and both
have at least one successful run; otherwise it is "not compared" (a new or edited case, another
backend, or every run of it failed). A compared case changed output when its set of successful
texts differs, and changed fingerprint when its set of reported fingerprints differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from seedscope.providers.base import Completion, request_key
from seedscope.suites import SuiteSpec

CaseArm = tuple[str, str]  # (case id, arm label)


def case_request_keys(spec: SuiteSpec, base_url_host: str | None) -> dict[CaseArm, str]:
    """The request key of every (case, arm) of the suite, as the store computes it per run."""
    return {
        (case.id, arm.label): request_key(
            provider=spec.provider,
            base_url_host=base_url_host,
            model=spec.model,
            prompt=case.prompt,
            system=spec.system_for(case),
            seed=arm.seed,
            temperature=arm.temperature,
            top_p=spec.top_p,
            max_tokens=spec.max_tokens,
        )
        for case in spec.cases
        for arm in spec.arms
    }


@dataclass(frozen=True)
class _Outputs:
    texts: frozenset[str]
    fingerprints: tuple[str | None, ...]  # distinct, in run order


def _successful_outputs(completions: Sequence[Completion]) -> dict[CaseArm, _Outputs]:
    texts: dict[CaseArm, set[str]] = defaultdict(set)
    fingerprints: dict[CaseArm, dict[str | None, None]] = defaultdict(dict)
    for completion in completions:
        if completion.ok and completion.case_id is not None:
            key = (completion.case_id, completion.arm_label)
            texts[key].add(completion.text)
            fingerprints[key][completion.system_fingerprint] = None
    return {key: _Outputs(frozenset(texts[key]), tuple(fingerprints[key])) for key in texts}


@dataclass(frozen=True)
class CaseChange:
    """One compared (case, arm) whose outputs or fingerprints differ from the previous run."""

    case_id: str
    arm: str
    outputs_changed: bool
    fingerprint_changed: bool
    fingerprints: list[str | None]
    previous_fingerprints: list[str | None]


@dataclass(frozen=True)
class SuiteDrift:
    compared: int  # (case, arm) pairs compared
    changes: list[CaseChange] = field(default_factory=list)  # suite order
    not_compared: list[str] = field(default_factory=list)  # case ids, suite order

    @property
    def cases_changed(self) -> list[str]:
        return list(dict.fromkeys(c.case_id for c in self.changes if c.outputs_changed))

    @property
    def cases_fingerprint_changed(self) -> list[str]:
        return list(dict.fromkeys(c.case_id for c in self.changes if c.fingerprint_changed))


def compare_suite_runs(
    spec: SuiteSpec,
    base_url_host: str | None,
    completions: Sequence[Completion],
    previous_spec: SuiteSpec,
    previous_base_url_host: str | None,
    previous_completions: Sequence[Completion],
) -> SuiteDrift:
    """Which cases of `spec` changed output or fingerprint since the previous run."""
    keys = case_request_keys(spec, base_url_host)
    previous_keys = case_request_keys(previous_spec, previous_base_url_host)
    now = _successful_outputs(completions)
    before = _successful_outputs(previous_completions)
    changes: list[CaseChange] = []
    not_compared: dict[str, None] = {}
    compared = 0
    for case_arm, key in keys.items():
        current, previous = now.get(case_arm), before.get(case_arm)
        if previous_keys.get(case_arm) != key or current is None or previous is None:
            not_compared[case_arm[0]] = None
            continue
        compared += 1
        outputs_changed = current.texts != previous.texts
        fingerprint_changed = set(current.fingerprints) != set(previous.fingerprints)
        if outputs_changed or fingerprint_changed:
            changes.append(
                CaseChange(
                    case_id=case_arm[0],
                    arm=case_arm[1],
                    outputs_changed=outputs_changed,
                    fingerprint_changed=fingerprint_changed,
                    fingerprints=list(current.fingerprints),
                    previous_fingerprints=list(previous.fingerprints),
                )
            )
    return SuiteDrift(compared, changes, list(not_compared))

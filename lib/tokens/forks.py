"""Where an arm's runs fork, in tokens, and how close to a tie its tokens were.

Definitions (the Thinking Machines study counts tokens from 1: "first divergence at token 103"):
- first divergence in tokens of runs a and b: the 1-based position of the first token where
  they differ (compared by id when both runs have ids, else by token string); when one is a
  prefix of the other, the position after the shorter one's last token; None when identical.
- an arm's fork: the earliest first divergence of any run against the arm's first run that has
  tokens (its reference), with the tokens each run has there and their logprobs.
- top-2 margin at a position: the top-1 minus the top-2 alternative's logprob (known only when
  at least two alternatives were captured). At a fork it is read from the reference run: up to
  the fork both runs had the same tokens, so the same distribution.
- knife-edge share of an arm: the share of generated positions, over all its runs with known
  margins, whose top-2 margin is under KNIFE_EDGE_MARGIN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seedscope.tokens.trace import LOGPROB_DECIMALS, TokenTrace

KNIFE_EDGE_MARGIN = 0.01


def _keys(trace: TokenTrace, other: TokenTrace) -> Sequence[object]:
    return trace.ids if trace.ids is not None and other.ids is not None else trace.tokens


def first_divergence_token(a: TokenTrace, b: TokenTrace) -> int | None:
    """1-based position of the first differing token; None when the two are identical."""
    keys_a, keys_b = _keys(a, b), _keys(b, a)
    shortest = min(len(keys_a), len(keys_b))
    for position in range(shortest):
        if keys_a[position] != keys_b[position]:
            return position + 1
    return None if len(keys_a) == len(keys_b) else shortest + 1


@dataclass(frozen=True)
class TokenFork:
    position: int  # 1-based
    run_a: int  # run index of the arm's reference run
    run_b: int  # run index of the run that leaves it first
    token_a: str | None  # None: the run ended before this position
    token_b: str | None
    logprob_a: float | None  # None: not captured, or no token there
    logprob_b: float | None
    margin: float | None  # top-1 minus top-2 logprob at the fork (reference run)


def _at(trace: TokenTrace, index: int) -> tuple[str | None, float | None]:
    if index >= len(trace):
        return None, None
    logprob = trace.logprobs[index] if trace.logprobs is not None else None
    return trace.tokens[index], logprob


def divergences(runs: Sequence[tuple[int, TokenTrace]]) -> list[tuple[int, int | None]]:
    """(run index, first divergence in tokens against the first run) for every later run."""
    if not runs:
        return []
    _, reference = runs[0]
    return [(index, first_divergence_token(reference, trace)) for index, trace in runs[1:]]


def arm_fork(runs: Sequence[tuple[int, TokenTrace]]) -> TokenFork | None:
    """The arm's earliest fork (ties: the lowest run index); None when all runs agree or fewer
    than two runs have tokens. `runs`: (run index, trace) in run order."""
    found = [(position, index) for index, position in divergences(runs) if position is not None]
    if not found:
        return None
    position, run_b = min(found)
    run_a, reference = runs[0]
    other = dict(runs)[run_b]
    token_a, logprob_a = _at(reference, position - 1)
    token_b, logprob_b = _at(other, position - 1)
    margin = reference.margin(position - 1) if position - 1 < len(reference) else None
    if margin is None and position - 1 < len(other):
        margin = other.margin(position - 1)
    return TokenFork(position, run_a, run_b, token_a, token_b, logprob_a, logprob_b, margin)


def knife_edge_share(
    traces: Sequence[TokenTrace], threshold: float = KNIFE_EDGE_MARGIN
) -> float | None:
    """Share of positions with a known top-2 margin under `threshold`; None when none known.

    Margins are compared at the precision logprobs are stored with, so a run reads the same
    before and after it is stored (and 0.11 - 0.1 is not "under 0.01" by a rounding error)."""
    margins = [
        round(margin, LOGPROB_DECIMALS)
        for trace in traces
        for position in range(len(trace))
        if (margin := trace.margin(position)) is not None
    ]
    if not margins:
        return None
    return sum(margin < threshold for margin in margins) / len(margins)

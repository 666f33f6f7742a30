"""seedscope.tokens: the compact trace codec and the token-level fork measures, against values
worked out by hand from the definitions in seedscope.tokens.forks."""

from __future__ import annotations

import math

import pytest
from seedscope.tokens.forks import (
    TokenFork,
    arm_fork,
    divergences,
    first_divergence_token,
    knife_edge_share,
)
from seedscope.tokens.trace import TokenTrace, trace_from_chat_logprobs


def trace(*tokens: str, ids=None, margins=None) -> TokenTrace:
    """A trace whose every position has top-1 logprob -0.1 and top-2 -0.1 - margin."""
    if margins is None:
        return TokenTrace(tokens=tokens, ids=ids)
    top = tuple(((t, -0.1), ("alt", -0.1 - m)) for t, m in zip(tokens, margins, strict=True))
    return TokenTrace(tokens=tokens, ids=ids, logprobs=(-0.1,) * len(tokens), top=top)


def test_first_divergence_is_counted_from_one():
    a = trace("The", " cat", " sat", ".")
    assert first_divergence_token(a, a) is None
    assert first_divergence_token(a, trace("A", " cat", " sat", ".")) == 1
    assert first_divergence_token(a, trace("The", " cat", " ran", ".")) == 3
    # A prefix: the fork is the position after the shorter run's last token.
    assert first_divergence_token(a, trace("The", " cat")) == 3
    assert first_divergence_token(trace("The", " cat"), a) == 3


def test_ids_decide_when_both_runs_have_them():
    # The same strings from different token ids are different tokens (another split).
    a = trace("ab", "c", ids=(1, 2))
    b = trace("ab", "c", ids=(1, 3))
    assert first_divergence_token(a, b) == 2
    # Without ids on one side, the strings are compared.
    assert first_divergence_token(a, trace("ab", "c")) is None


def test_the_arm_fork_is_the_earliest_against_the_first_run():
    runs = [
        (0, trace("A", " B", " C", " D", margins=[1, 1, 0.005, 1])),
        (1, trace("A", " B", " C", " D", margins=[1, 1, 0.005, 1])),
        (2, trace("A", " B", " X", " D", margins=[1, 1, 0.005, 1])),
        (4, trace("A", " B", " Y", margins=[1, 1, 0.005])),
    ]
    assert divergences(runs) == [(1, None), (2, 3), (4, 3)]
    fork = arm_fork(runs)
    # Ties go to the lowest run index; the margin is read at the fork in the reference run.
    assert fork == TokenFork(
        position=3,
        run_a=0,
        run_b=2,
        token_a=" C",
        token_b=" X",
        logprob_a=-0.1,
        logprob_b=-0.1,
        margin=pytest.approx(0.005),
    )


def test_a_run_that_ended_has_no_token_at_the_fork():
    fork = arm_fork([(0, trace("A", " B")), (1, trace("A"))])
    assert (fork.position, fork.token_a, fork.token_b, fork.logprob_b) == (2, " B", None, None)
    assert fork.margin is None  # no logprobs captured


def test_no_fork_when_all_agree_or_fewer_than_two_runs():
    assert arm_fork([(0, trace("A")), (1, trace("A"))]) is None
    assert arm_fork([(0, trace("A"))]) is None
    assert arm_fork([]) is None


def test_knife_edge_share_worked_values():
    # 2 of 6 known margins are under 0.01 (0.009 and 0.0); 0.01 itself is not under it.
    traces = [
        trace("a", "b", "c", margins=[0.009, 0.5, 0.01]),
        trace("d", "e", "f", margins=[0.0, 2.0, 0.02]),
    ]
    assert knife_edge_share(traces) == pytest.approx(2 / 6)
    # Positions with one alternative (top 1) have no margin; no margins at all: undefined.
    one = TokenTrace(tokens=("a",), logprobs=(-0.1,), top=((("a", -0.1),),))
    assert one.margin(0) is None
    assert knife_edge_share([one, trace("x")]) is None


def test_compact_json_round_trip_and_its_shape():
    original = TokenTrace(
        tokens=("Hi", " <b>", "\x00"),
        ids=(5, 6, 7),
        logprobs=(-0.1234567891, -2.0, -math.inf),
        top=((("Hi", -0.12345678), ("Yo", -1.5)), ((" <b>", -2.0),), (("\x00", -50.0),)),
    )
    text = original.to_json()
    assert text.startswith('{"t":["Hi"," <b>","\\u0000"],"i":[5,6,7],"lp":[-0.123457,-2.0,')
    assert '"top":[["Hi",-0.123457,"Yo",-1.5],[" <b>",-2.0],["\\u0000",-50.0]]' in text
    again = TokenTrace.from_json(text)
    assert again.tokens == original.tokens and again.ids == original.ids
    assert again.logprobs[:2] == (-0.123457, -2.0) and again.logprobs[2] == -1e30
    assert again.top[0] == (("Hi", -0.123457), ("Yo", -1.5))
    assert TokenTrace.from_json(TokenTrace(tokens=("a",)).to_json()) == TokenTrace(tokens=("a",))


def test_a_trace_with_mismatched_lengths_is_refused():
    with pytest.raises(ValueError, match="2 ids for 1 tokens"):
        TokenTrace(tokens=("a",), ids=(1, 2))


def test_chat_completions_logprobs_are_read_and_sorted():
    content = [
        {
            "token": "Hi",
            "logprob": -0.2,
            "top_logprobs": [{"token": "Yo", "logprob": -1.0}, {"token": "Hi", "logprob": -0.2}],
        },
        {"token": "!", "logprob": 0, "top_logprobs": []},
    ]
    parsed = trace_from_chat_logprobs(content)
    assert parsed.tokens == ("Hi", "!") and parsed.logprobs == (-0.2, 0.0)
    assert parsed.top == ((("Hi", -0.2), ("Yo", -1.0)), ())
    assert parsed.margin(0) == pytest.approx(0.8)
    # Not the Chat Completions shape: no trace rather than a wrong one.
    assert trace_from_chat_logprobs(None) is None
    assert trace_from_chat_logprobs([]) is None
    assert trace_from_chat_logprobs([{"token": "a", "logprob": "high"}]) is None
    assert trace_from_chat_logprobs([{"token": 3, "logprob": -1}]) is None

"""The tokens one run generated: what they are, and how they are stored compactly.

Token strings are always known when a trace exists; token ids only from the embedded model
(Chat Completions does not return ids); the chosen token's logprob and the top-k alternatives
only when the arm captures logprobs. A run without a trace (`Completion.tokens is None`) is one
whose backend said nothing about its tokens.

Stored as one JSON text per run, short keys and flat alternatives, logprobs rounded to 6
decimals (a margin of 0.01 is what the knife-edge measure resolves):
    {"t": [token, ...], "i": [id, ...], "lp": [logprob, ...], "top": [[tok, lp, tok, lp], ...]}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

LOGPROB_DECIMALS = 6
MAX_TOP_LOGPROBS = 20  # Chat Completions allows 0..20 alternatives per position


@dataclass(frozen=True)
class TokenTrace:
    tokens: tuple[str, ...]
    ids: tuple[int, ...] | None = None
    logprobs: tuple[float, ...] | None = None  # of the chosen token at each position
    top: tuple[tuple[tuple[str, float], ...], ...] | None = None  # per position, best first

    def __post_init__(self) -> None:
        for name in ("ids", "logprobs", "top"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.tokens):
                raise ValueError(f"token trace: {len(values)} {name} for {len(self.tokens)} tokens")

    def __len__(self) -> int:
        return len(self.tokens)

    def margin(self, position: int) -> float | None:
        """Top-1 minus top-2 logprob at a 0-based position; None with fewer than 2 known."""
        if self.top is None or len(self.top[position]) < 2:
            return None
        return self.top[position][0][1] - self.top[position][1][1]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"t": list(self.tokens)}
        if self.ids is not None:
            data["i"] = list(self.ids)
        if self.logprobs is not None:
            data["lp"] = [_rounded(value) for value in self.logprobs]
        if self.top is not None:
            data["top"] = [
                [item for token, logprob in position for item in (token, _rounded(logprob))]
                for position in self.top
            ]
        return data

    @classmethod
    def from_json(cls, text: str) -> TokenTrace:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenTrace:
        top = data.get("top")
        return cls(
            tokens=tuple(data["t"]),
            ids=None if data.get("i") is None else tuple(int(i) for i in data["i"]),
            logprobs=None if data.get("lp") is None else tuple(float(v) for v in data["lp"]),
            top=None
            if top is None
            else tuple(
                tuple((str(flat[k]), float(flat[k + 1])) for k in range(0, len(flat) - 1, 2))
                for flat in top
            ),
        )


def _rounded(value: float) -> float:
    # -inf (a token the model gave no chance) is not JSON; the smallest float stands for it.
    if not math.isfinite(value):
        return -1e30 if value < 0 else 1e30
    return round(value, LOGPROB_DECIMALS)


def trace_from_chat_logprobs(content: Any) -> TokenTrace | None:
    """The trace in a Chat Completions `choices[0].logprobs.content` list; None when absent or
    not of that shape (a server that ignores the request for logprobs)."""
    if not isinstance(content, list) or not content:
        return None
    tokens: list[str] = []
    logprobs: list[float] = []
    top: list[tuple[tuple[str, float], ...]] = []
    for entry in content:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            return None
        logprob = _number(entry.get("logprob"))
        if logprob is None:
            return None
        tokens.append(entry["token"])
        logprobs.append(logprob)
        alternatives = []
        for item in entry.get("top_logprobs") or []:
            value = _number(item.get("logprob")) if isinstance(item, dict) else None
            if value is not None and isinstance(item.get("token"), str):
                alternatives.append((item["token"], value))
        alternatives.sort(key=lambda pair: pair[1], reverse=True)
        top.append(tuple(alternatives))
    return TokenTrace(tokens=tuple(tokens), logprobs=tuple(logprobs), top=tuple(top))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)

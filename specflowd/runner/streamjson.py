"""Incremental reading of the CLI's stream-json stdout. Pure: bytes in, a RunProgress updated.

Cost: the result line's ``total_cost_usd`` is authoritative; before it, each assistant message's usage
times a price table gives a live estimate (used to stop a run that crosses its cap).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_PRICES", "RunProgress", "feed"]

# USD per million tokens: (input, output). Cache writes cost 1.25x input, cache reads 0.1x input.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "haiku": (1.0, 5.0),
    "sonnet": (3.0, 15.0),
    "opus": (15.0, 75.0),
}
_UNKNOWN_MODEL = "opus"  # unknown models are priced as the most expensive: a cap must never be undercounted


@dataclass
class RunProgress:
    session_id: str | None = None
    model: str | None = None
    turns: int = 0
    estimated_cost_usd: float = 0.0
    result: dict[str, Any] | None = None
    tool_calls: list[str] = field(default_factory=list)
    last_texts: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    api_errors: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0
    lines: int = 0
    inits: int = 0
    pending: bytes = b""

    @property
    def cost_usd(self) -> float:
        if self.result is not None and isinstance(self.result.get("total_cost_usd"), int | float):
            return float(self.result["total_cost_usd"])
        return round(self.estimated_cost_usd, 6)


def price_of(model: str | None, usage: dict[str, Any], prices: dict[str, tuple[float, float]]) -> float:
    family = next((k for k in prices if model and k in model.lower()), _UNKNOWN_MODEL)
    price_in, price_out = prices.get(family, prices.get(_UNKNOWN_MODEL, (15.0, 75.0)))

    def tokens(key: str) -> float:
        value = usage.get(key, 0)
        return float(value) if isinstance(value, int | float) else 0.0

    total = (
        tokens("input_tokens") * price_in
        + tokens("cache_creation_input_tokens") * price_in * 1.25
        + tokens("cache_read_input_tokens") * price_in * 0.1
        + tokens("output_tokens") * price_out
    )
    return total / 1_000_000


def _apply(progress: RunProgress, obj: dict[str, Any], prices: dict[str, tuple[float, float]]) -> None:
    kind = obj.get("type")
    if kind == "system":
        if obj.get("subtype") == "init":
            progress.inits += 1
            progress.session_id = obj.get("session_id") or progress.session_id
            progress.model = obj.get("model") or progress.model
            progress.result = None  # a resumed continuation starts a new result
        elif obj.get("subtype") == "api_retry":
            progress.api_errors.append(
                {
                    "status": obj.get("error_status"),
                    "error": str(obj.get("error", ""))[:500],
                    "attempt": obj.get("attempt"),
                }
            )
    elif kind == "assistant":
        raw_message = obj.get("message")
        message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
        progress.turns += 1
        usage = message.get("usage")
        if isinstance(usage, dict):
            progress.estimated_cost_usd += price_of(message.get("model") or progress.model, usage, prices)
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                progress.tool_calls.append(str(block.get("name")))
            elif block.get("type") == "text" and block.get("text"):
                progress.last_texts.append(str(block["text"])[:2000])
    elif kind == "result":
        progress.result = obj
        if isinstance(obj.get("total_cost_usd"), int | float):
            progress.estimated_cost_usd = float(obj["total_cost_usd"])


def feed(progress: RunProgress, data: bytes, prices: dict[str, tuple[float, float]] | None = None) -> int:
    """Consume ``data``; complete lines are parsed, a trailing partial line waits. Returns lines parsed."""
    table = prices or DEFAULT_PRICES
    buffer = progress.pending + data
    *complete, progress.pending = buffer.split(b"\n")
    parsed = 0
    for raw in complete:
        line = raw.strip()
        if not line:
            continue
        progress.lines += 1
        parsed += 1
        try:
            obj = json.loads(line)
        except ValueError:
            progress.bad_lines += 1
            continue
        if isinstance(obj, dict):
            _apply(progress, obj, table)
        else:
            progress.bad_lines += 1
    return parsed

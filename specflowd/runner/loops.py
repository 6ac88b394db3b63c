"""Loop detection for one agent run. Pure: fed each tool call in stream order, no I/O.

A run is ``looping`` when its most recent tool calls are one cycle of calls repeated back to back
``repeats`` times: the same call ``repeats`` times in a row (a cycle of one), or a cycle of several calls —
e.g. Read x → Edit x (failing) → Read x → … — whose repetitions all fit in the last ``window`` calls. Calls
are the same when the tool name and the canonical JSON of the input (keys sorted) are equal. ``repeats`` = 0
switches detection off.

Why repetitions rather than similarity: a healthy session can repeat a call (re-running the tests after
each edit), but the edits in between differ; only an agent that no longer changes anything issues the very
same calls in the very same order again and again (seen with the real CLI: one identical Bash call 385 times
in 40 s until the budget cap stopped it).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from specflowd.vocabulary import LoopCall, ToolLoop

__all__ = ["DEFAULT_REPEATS", "DEFAULT_WINDOW", "LoopDetector", "LoopReport", "ToolCall", "tool_calls"]

DEFAULT_REPEATS = 8  # the same call 8 times in a row: no healthy session does that
DEFAULT_WINDOW = 32  # cycles of up to 4 calls repeated 8 times; longer cycles are rarer than real work
_SUMMARY_CHARS = 300


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: Any

    @property
    def canonical(self) -> str:
        return json.dumps(self.input, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)

    def input_summary(self, limit: int = _SUMMARY_CHARS) -> str:
        """The canonical input, cut to ``limit`` characters."""
        text = self.canonical
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def summary(self, limit: int = _SUMMARY_CHARS) -> str:
        """``Bash {"command":"ls"}``, cut to ``limit`` characters (for the heal prompt and the run record)."""
        text = f"{self.name} {self.canonical}"
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class LoopReport:
    """What repeated: the cycle (one call, or several in order), how often in a row, over how many calls."""

    cycle: tuple[ToolCall, ...]
    repeats: int
    calls: int

    def describe(self) -> str:
        if len(self.cycle) == 1:
            return f"the same tool call {self.repeats} times in a row: {self.cycle[0].summary()}"
        steps = " → ".join(call.summary(120) for call in self.cycle)
        return f"the same {len(self.cycle)} tool calls {self.repeats} times in a row: {steps}"

    def as_loop(self) -> ToolLoop:
        """The report in the run vocabulary (``RunRecord.loop``, ``run.finished``, the heal prompt)."""
        limit = _SUMMARY_CHARS if len(self.cycle) == 1 else 120
        cycle = [LoopCall(tool=call.name, input=call.input_summary(limit)) for call in self.cycle]
        return ToolLoop(cycle=cycle, repeats=self.repeats, calls=self.calls)


def tool_calls(event: Mapping[str, Any]) -> list[ToolCall]:
    """The tool calls of one stream-json line (an ``assistant`` message's ``tool_use`` blocks, in order)."""
    message = event.get("message") if event.get("type") == "assistant" else None
    content = message.get("content") if isinstance(message, Mapping) else None
    calls = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, Mapping) and block.get("type") == "tool_use":
            name = block.get("name")
            calls.append(ToolCall(name if isinstance(name, str) and name else "?", block.get("input")))
    return calls


class LoopDetector:
    def __init__(self, repeats: int = DEFAULT_REPEATS, window: int = DEFAULT_WINDOW) -> None:
        if repeats < 0 or window < 0:
            raise ValueError("repeats and window must not be negative")
        self.repeats = repeats
        self.window = max(window, repeats)  # the same call N times must always fit
        self._keys: deque[str] = deque(maxlen=self.window)
        self._calls: deque[ToolCall] = deque(maxlen=self.window)
        self.report: LoopReport | None = None  # the first loop seen; stays once set

    @property
    def enabled(self) -> bool:
        return self.repeats > 0

    def feed(self, call: ToolCall) -> LoopReport | None:
        """Note one call; the report when the run is looping (from this call on), else None."""
        if not self.enabled:
            return None
        digest = hashlib.blake2b(f"{call.name}\0{call.canonical}".encode(), digest_size=16).hexdigest()
        self._keys.append(digest)
        self._calls.append(call)
        if self.report is None:
            self.report = self._check()
        return self.report

    def _check(self) -> LoopReport | None:
        keys, n = self._keys, self.repeats
        for length in range(1, len(keys) // n + 1):  # shortest cycle first: AAAA is a cycle of one, not of two
            span = length * n
            if all(keys[-i] == keys[-i - length] for i in range(1, span - length + 1)):
                cycle = tuple(list(self._calls)[-length:])
                return LoopReport(cycle=cycle, repeats=n, calls=span)
        return None

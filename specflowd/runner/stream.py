"""Pure parsing of the CLI's stream-json output (one JSON object per line).

``split_complete(buffer)`` cuts bytes into complete lines (a trailing partial line waits for its newline);
``StreamState.feed(line)`` folds one line into the run's live picture: session id, model, turns, tool calls,
last texts, live cost, API retries, the result line, and — when it has a ``LoopDetector`` — whether the
tool calls repeat themselves (``loop``). No I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from specflowd.runner.denials import SandboxDenials
from specflowd.runner.loops import LoopDetector, LoopReport, ToolCall

__all__ = [
    "RATE_LIMIT_STATUSES",
    "ResultInfo",
    "StreamState",
    "estimate_cost",
    "find_rate_limit_reset",
    "looks_rate_limited",
    "missing_command",
    "price_for",
    "readable_items",
    "split_complete",
]

RATE_LIMIT_STATUSES = frozenset({429, 529})
_RATE_LIMIT_TEXT = re.compile(r"rate.?limit|usage limit|overloaded|too many requests|\b429\b|\b529\b", re.I)
_EPOCH_AFTER_PIPE = re.compile(r"\|(\d{10})\b")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_RESETS_TEXT = re.compile(r"resets?(?: at)? ([^.;\n]{1,40})", re.I)
_MAX_TEXTS = 5


def split_complete(buffer: bytes) -> tuple[list[bytes], int]:
    """Complete lines of ``buffer`` (without newline) and how many bytes they span."""
    end = buffer.rfind(b"\n")
    if end < 0:
        return [], 0
    return buffer[:end].split(b"\n"), end + 1


def looks_rate_limited(text: str) -> bool:
    return bool(_RATE_LIMIT_TEXT.search(text))


def find_rate_limit_reset(text: str) -> str | None:
    """The reset time a rate-limit message names: ``…|<epoch>`` (CLI usage-limit format) → ISO, an ISO
    timestamp as given, or the words after "resets" (e.g. "3pm (Europe/Berlin)") verbatim."""
    if m := _EPOCH_AFTER_PIPE.search(text):
        return datetime.fromtimestamp(int(m.group(1)), UTC).isoformat()
    if m := _ISO_TIME.search(text):
        return m.group(0)
    if m := _RESETS_TEXT.search(text):
        return m.group(1).strip()
    return None


def missing_command(prompt: str, slash_commands: Sequence[str] | None) -> str | None:
    """The ``/command`` a prompt starts with when the CLI's init line does not list it (the CLI then passes
    the text to the model verbatim instead of expanding the skill). None when listed or not knowable."""
    if slash_commands is None or not prompt.startswith("/"):
        return None
    name = prompt[1:].split(maxsplit=1)[0] if len(prompt) > 1 else ""
    if not name or name in slash_commands or name.split(":")[-1] in slash_commands:
        return None
    return name


def price_for(model: str | None, prices: Sequence[tuple[str, float, float]]) -> tuple[float, float]:
    name = (model or "").lower()
    for needle, per_in, per_out in prices:
        if needle in name:
            return per_in, per_out
    return (5.0, 25.0)


def estimate_cost(usage: dict[str, Any], model: str | None, prices: Sequence[tuple[str, float, float]]) -> float:
    """USD for one message's usage; cache writes cost 1.25× input, cache reads 0.1× (Anthropic pricing)."""
    per_in, per_out = price_for(model, prices)

    def tokens(key: str) -> float:
        value = usage.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    weighted_in = (
        tokens("input_tokens") + 1.25 * tokens("cache_creation_input_tokens") + 0.1 * tokens("cache_read_input_tokens")
    )
    return (weighted_in * per_in + tokens("output_tokens") * per_out) / 1_000_000


@dataclass(frozen=True)
class ResultInfo:
    subtype: str
    is_error: bool
    text: str
    errors: tuple[str, ...]
    total_cost_usd: float | None
    num_turns: int | None
    api_error_status: int | None
    structured_output: dict[str, Any] | None


@dataclass
class StreamState:
    """Live picture of one invocation's stream. ``feed`` returns True when the line changed something."""

    prices: Sequence[tuple[str, float, float]] = ()
    session_id: str | None = None
    model: str | None = None
    turns: int = 0
    tool_calls: int = 0
    tool_names: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    malformed: int = 0
    lines: int = 0
    api_retries: int = 0
    last_retry_status: int | None = None
    last_retry_error: str | None = None
    result: ResultInfo | None = None
    slash_commands: list[str] | None = None  # from the init line; None = the agent did not say
    loops: LoopDetector | None = None  # fed every tool call, in stream order; None = no loop detection
    denials: SandboxDenials | None = None  # fed every event: what the sandbox refused (runner/denials.py)
    _usage_cost: dict[str, float] = field(default_factory=dict)  # message id → estimate (lines repeat ids)

    @property
    def cost_usd(self) -> float:
        if self.result is not None and self.result.total_cost_usd is not None:
            return self.result.total_cost_usd
        return round(sum(self._usage_cost.values()), 6)

    @property
    def cost_is_estimate(self) -> bool:
        return self.result is None or self.result.total_cost_usd is None

    @property
    def loop(self) -> LoopReport | None:
        """The first loop the tool calls formed (it stays once seen), or None."""
        return self.loops.report if self.loops is not None else None

    @property
    def rate_limit_seen(self) -> bool:
        if self.last_retry_status in RATE_LIMIT_STATUSES:
            return True
        return self.last_retry_error is not None and looks_rate_limited(self.last_retry_error)

    def feed(self, line: bytes) -> bool:
        self.lines += 1
        if not line.strip():
            return False
        try:
            event = json.loads(line)
        except ValueError:
            self.malformed += 1
            return True
        if not isinstance(event, dict):
            self.malformed += 1
            return True
        kind = event.get("type")
        if self.denials is not None:
            self.denials.feed(event)
        if kind == "system":
            self._system(event)
        elif kind == "assistant":
            self._assistant(event)
        elif kind == "result":
            self._result(event)
        return True

    def _system(self, event: dict[str, Any]) -> None:
        if event.get("subtype") == "init":
            self.session_id = _str(event.get("session_id")) or self.session_id
            self.model = _str(event.get("model")) or self.model
            commands = event.get("slash_commands")
            if isinstance(commands, list):
                self.slash_commands = [str(c) for c in commands]
        elif event.get("subtype") == "api_retry":
            self.api_retries += 1
            status = event.get("error_status")
            self.last_retry_status = status if isinstance(status, int) else None
            self.last_retry_error = _text_of(event.get("error"))

    def _assistant(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        if not isinstance(message, dict):
            return
        message_id = _str(message.get("id")) or f"line{self.lines}"
        if message_id not in self._usage_cost:
            self.turns += 1
        usage = message.get("usage")
        if isinstance(usage, dict):
            model = _str(message.get("model")) or self.model
            self._usage_cost[message_id] = estimate_cost(usage, model, self.prices)
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"].strip():
                self.texts = [*self.texts, block["text"]][-_MAX_TEXTS:]
            elif block.get("type") == "tool_use":
                name = _str(block.get("name")) or "?"
                self.tool_calls += 1
                self.tool_names.append(name)
                if self.loops is not None:
                    self.loops.feed(ToolCall(name, block.get("input")))

    def _result(self, event: dict[str, Any]) -> None:
        errors = event.get("errors")
        cost = event.get("total_cost_usd")
        turns = event.get("num_turns")
        status = event.get("api_error_status")
        structured = event.get("structured_output")
        self.result = ResultInfo(
            subtype=_str(event.get("subtype")) or "unknown",
            is_error=bool(event.get("is_error")),
            text=_text_of(event.get("result")),
            errors=tuple(_text_of(e) for e in errors) if isinstance(errors, list) else (),
            total_cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
            num_turns=turns if isinstance(turns, int) else None,
            api_error_status=status if isinstance(status, int) else None,
            structured_output=structured if isinstance(structured, dict) else None,
        )
        if self.result.num_turns is not None:
            self.turns = max(self.turns, self.result.num_turns)
        self.session_id = _str(event.get("session_id")) or self.session_id


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return str(value["message"])
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def readable_items(line: bytes) -> list[tuple[str, str]]:
    """Human-readable (kind, text) items of one line, for ``runs.log``."""
    try:
        event = json.loads(line)
    except ValueError:
        return [("malformed", _one_line(line.decode("utf-8", "replace")))]
    if not isinstance(event, dict):
        return [("malformed", _one_line(line.decode("utf-8", "replace")))]
    kind = event.get("type")
    if kind == "system" and event.get("subtype") == "init":
        return [("system", f"session {event.get('session_id')} model {event.get('model')}")]
    if kind == "system" and event.get("subtype") == "api_retry":
        return [
            (
                "retry",
                f"API retry {event.get('attempt')}/{event.get('max_retries')} "
                f"status {event.get('error_status')}: {_one_line(_text_of(event.get('error')))}",
            )
        ]
    if kind == "assistant" and isinstance(event.get("message"), dict):
        items: list[tuple[str, str]] = []
        content = event["message"].get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                items.append(("text", block["text"]))
            elif block.get("type") == "tool_use":
                args = json.dumps(block.get("input"), ensure_ascii=False, separators=(",", ":"))
                items.append(("tool", _one_line(f"{block.get('name')} {args}")))
        return items
    if kind == "result":
        cost = event.get("total_cost_usd")
        detail = "; ".join(_text_of(e) for e in event.get("errors") or []) or _text_of(event.get("result"))
        return [("result", _one_line(f"{event.get('subtype')} (${cost}) {detail}"))]
    return []

"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code CLI offline.

The CLI honours ``ANTHROPIC_BASE_URL``; pointed at this server it sends its model calls here and really
executes whatever tool calls the script answers with (Bash, Edit, Write, StructuredOutput, ...). A test
scripts the conversation as a list of :class:`Turn` s: each *main-loop* request (one that offers the agent's
tools) consumes the next turn. Side requests the CLI makes on its own (no tools offered, e.g. a title or a
summary with a small model) get a plain text answer and do not consume the script, so the script only has
to describe the agent's real turns.

Every request is recorded (method, path, parsed JSON body) so tests and humans can see what the CLI sends.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "RecordedRequest",
    "ScriptedMessagesAPI",
    "ToolCall",
    "Turn",
    "bash",
    "edit",
    "is_main_loop_request",
    "read",
    "sse_events",
    "structured_output",
    "text",
    "tools",
    "write",
]

SIDE_REQUEST_TEXT = "Scripted side answer."
EXHAUSTED_TEXT = "SCRIPT EXHAUSTED: the scripted model has no more turns."


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class Turn:
    """One assistant message: optional text, then tool calls. Usage is what the CLI prices the turn with."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 1200
    output_tokens: int = 80


def text(message: str, *, input_tokens: int = 1200, output_tokens: int = 80) -> Turn:
    return Turn(text=message, input_tokens=input_tokens, output_tokens=output_tokens)


def tools(*calls: ToolCall, say: str | None = None, input_tokens: int = 1200, output_tokens: int = 80) -> Turn:
    return Turn(text=say, tool_calls=calls, input_tokens=input_tokens, output_tokens=output_tokens)


def bash(command: str, description: str = "scripted command") -> ToolCall:
    return ToolCall("Bash", {"command": command, "description": description})


def read(file_path: str) -> ToolCall:
    return ToolCall("Read", {"file_path": file_path})


def edit(file_path: str, old_string: str, new_string: str) -> ToolCall:
    return ToolCall("Edit", {"file_path": file_path, "old_string": old_string, "new_string": new_string})


def write(file_path: str, content: str) -> ToolCall:
    return ToolCall("Write", {"file_path": file_path, "content": content})


def structured_output(**fields: Any) -> ToolCall:
    return ToolCall("StructuredOutput", fields)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Mapping[str, Any] | None
    main_loop: bool = False

    @property
    def tool_names(self) -> list[str]:
        offered = (self.body or {}).get("tools") or []
        return [str(t.get("name")) for t in offered if isinstance(t, Mapping)]


def is_main_loop_request(body: Mapping[str, Any]) -> bool:
    """The agent's own turn offers its tools; the CLI's side requests (titles, summaries) offer none.

    Why tools and not the model name: the main loop and side calls may use the same model when ``--model``
    is forced, but only the main loop ever lets the model call Bash/Edit/StructuredOutput.
    """
    offered = body.get("tools") or []
    return any(isinstance(t, Mapping) and t.get("name") in {"Bash", "StructuredOutput"} for t in offered)


def _content_blocks(turn: Turn, ids: Iterator[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.text is not None:
        blocks.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        blocks.append({"type": "tool_use", "id": next(ids), "name": call.name, "input": dict(call.input)})
    return blocks


def _stop_reason(turn: Turn) -> str:
    return "tool_use" if turn.tool_calls else "end_turn"


def _message(turn: Turn, model: str, ids: Iterator[str]) -> dict[str, Any]:
    """The non-streaming JSON form of a turn."""
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content_blocks(turn, ids),
        "stop_reason": _stop_reason(turn),
        "stop_sequence": None,
        "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
    }


def sse_events(turn: Turn, model: str, ids: Iterator[str]) -> list[tuple[str, dict[str, Any]]]:
    """The streaming form of a turn as (event name, data) pairs, in the order the real API sends them.

    Text and tool input arrive in two deltas each so the CLI's delta accumulation is exercised.
    """
    events: list[tuple[str, dict[str, Any]]] = []
    start = _message(turn, model, ids)
    blocks = start.pop("content")
    start.update(content=[], stop_reason=None, usage={"input_tokens": turn.input_tokens, "output_tokens": 1})
    events.append(("message_start", {"type": "message_start", "message": start}))
    for index, block in enumerate(blocks):
        empty: dict[str, Any]
        if block["type"] == "text":
            empty = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part} for part in _halves(block["text"])]
        else:
            empty = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _halves(json.dumps(block["input"]))]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}))
        for delta in deltas:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(turn), "stop_sequence": None},
                "usage": {"output_tokens": turn.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _halves(s: str) -> list[str]:
    mid = len(s) // 2
    return [part for part in (s[:mid], s[mid:]) if part] or [""]


@dataclass
class _State:
    script: list[Turn]
    requests: list[RecordedRequest] = field(default_factory=list)
    served_turns: int = 0
    exhausted_hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[str] = field(default_factory=lambda: (f"toolu_{i:04d}{uuid.uuid4().hex[:16]}" for i in itertools.count()))


class ScriptedMessagesAPI:
    """``with ScriptedMessagesAPI([turn, ...]) as api:`` serves on ``api.base_url`` in a daemon thread."""

    def __init__(self, script: Sequence[Turn] = ()) -> None:
        self._state = _State(script=list(script))
        handler = _make_handler(self._state)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="messages-api", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def extend(self, turns: Sequence[Turn]) -> None:
        """Append turns (e.g. for a resumed second invocation against the same server)."""
        with self._state.lock:
            self._state.script.extend(turns)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def remaining_turns(self) -> int:
        with self._state.lock:
            return len(self._state.script) - self._state.served_turns

    @property
    def exhausted_hits(self) -> int:
        """How many main-loop requests came after the script ran out (a test should expect 0)."""
        with self._state.lock:
            return self._state.exhausted_hits

    def __enter__(self) -> ScriptedMessagesAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 semantics: one response per connection, so an SSE body ends when the socket closes.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence stderr; the recorded requests are the log."""

        def _read_json(self) -> Mapping[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None
            try:
                parsed = json.loads(raw)
            except ValueError:
                return None
            return parsed if isinstance(parsed, dict) else None

        def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: Mapping[str, Any] | None, main_loop: bool = False) -> None:
            with state.lock:
                state.requests.append(RecordedRequest(self.command, self.path, body, main_loop))

        def do_HEAD(self) -> None:
            self._record(None)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._record(None)
            # e.g. model listings; an empty page is a harmless answer to anything the CLI probes.
            self._send_json(HTTPStatus.OK, {"data": [], "has_more": False, "first_id": None, "last_id": None})

        def do_POST(self) -> None:
            body = self._read_json() or {}
            path = self.path.split("?", 1)[0]
            if path.endswith("/v1/messages/count_tokens"):
                self._record(body)
                self._send_json(HTTPStatus.OK, {"input_tokens": 100})
                return
            if not path.endswith("/v1/messages"):
                self._record(body)
                self._send_json(HTTPStatus.OK, {})
                return
            main_loop = is_main_loop_request(body)
            self._record(body, main_loop)
            turn = self._next_turn() if main_loop else Turn(text=SIDE_REQUEST_TEXT, input_tokens=10, output_tokens=5)
            model = str(body.get("model") or "claude-scripted")
            if body.get("stream"):
                self._send_stream(turn, model)
            else:
                self._send_json(HTTPStatus.OK, _message(turn, model, state.ids))

        def _next_turn(self) -> Turn:
            with state.lock:
                if state.served_turns < len(state.script):
                    turn = state.script[state.served_turns]
                    state.served_turns += 1
                    return turn
                state.exhausted_hits += 1
            return Turn(text=EXHAUSTED_TEXT)

        def _send_stream(self, turn: Turn, model: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
            self.end_headers()
            for name, data in sse_events(turn, model, state.ids):
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

    return Handler

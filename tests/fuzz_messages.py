"""Fuzz messages for the daemon's socket, and the checks every answer must pass.

Shared by the fuzz tier (tests/fuzz/, seeded, a few seconds) and bench/fuzz.py (100 000 messages). Three
families:
- calls drawn from the JSON schemas ``rpc.discover`` publishes (``x-params-schema`` of every method): valid
  by the document, so the daemon must accept them (any answer but a protocol error or ``internal``);
- malformed JSON-RPC: arbitrary JSON values, wrong member types, odd ids, batches of anything;
- raw bytes: truncated frames, bad headers, huge numbers, deep nesting, invalid UTF-8, surrogates, NULs,
  random binary, each on a fresh connection in either framing.
Every answer must be valid JSON (no ``NaN``), JSON-RPC 2.0 shaped, never ``internal`` nor a traceback.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from specflowd.protocol.framing import FrameDecoder

SKIPPED_METHODS = frozenset({"daemon.shutdown"})  # would end the run under test
PROTOCOL_ERRORS = frozenset({-32700, -32600, -32601, -32602})
TRACEBACK = "Traceback (most recent call last)"  # not just "Traceback": fuzzed text may say that word
_TEXT = st.characters(exclude_categories=["Cs"])  # JSON text cannot carry lone surrogates as characters
_NO_NUL_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(_TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(_TEXT, max_size=8), inner, max_size=4),
    max_leaves=12,
)


# --- strategies from JSON schema (the subset pydantic emits) ------------------------------------------------


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def from_schema(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = resolve(schema, components)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "type" not in schema and "properties" not in schema:
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([from_schema(branch, components) for branch in schema[key]])
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return from_schema(schema["allOf"][0], components)
        return json_values
    kind = schema.get("type", "object")
    if kind == "string":
        alphabet = _NO_NUL_TEXT if "pattern" in schema else _TEXT
        low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
        short = st.text(alphabet, min_size=low, max_size=min(high, max(low, 40)))
        if high > 5000:
            return short
        at_limit = st.text(alphabet, min_size=1, max_size=1).map(lambda c: c * high)  # cheap to draw
        return st.one_of(short, short, short, at_limit)
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(2**70) - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 2**70 + 1) - 1)
        return st.integers(low, high)
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum", schema.get("exclusiveMinimum")),
            max_value=schema.get("maximum", schema.get("exclusiveMaximum")),
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), components), max_size=4)
    return _objects(schema, components)


def _non_null(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(schema, components)
    branches = [b for b in schema.get("anyOf", []) if resolve(b, components).get("type") != "null"]
    return branches[0] if len(branches) == 1 else schema


def _objects(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        extra = schema.get("additionalProperties", True)
        if extra is False:
            return st.just({})
        values = json_values if extra is True or extra == {} else from_schema(extra, components)
        return st.dictionaries(st.text(_TEXT, max_size=12), values, min_size=schema.get("minProperties", 0), max_size=4)
    required = set(schema.get("required", []))
    rule, exclusive = (schema["oneOf"], True) if "oneOf" in schema else (schema.get("anyOf", [{}]), False)
    fields = {name: from_schema(sub, components) for name, sub in properties.items()}
    present = {name: from_schema(_non_null(sub, components), components) for name, sub in properties.items()}

    @st.composite
    def build(draw: Callable[..., Any]) -> dict[str, Any]:
        branch = draw(st.sampled_from(rule))
        needed = set(branch.get("required", []))
        excluded = {n for b in rule for n in b.get("required", [])} - needed if exclusive else set()
        value: dict[str, Any] = {}
        for name in properties:
            if name in needed:
                value[name] = draw(present[name])
            elif name in required or (name not in excluded and draw(st.booleans())):
                value[name] = draw(fields[name])
        return value

    return build()


def method_calls(
    document: dict[str, Any],
    tweak: Callable[[str, dict[str, Any]], st.SearchStrategy[dict[str, Any]]] | None = None,
    only: str | None = None,
) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(method, params) for every method but the disruptive ones (or ``only`` that one), params valid by the
    method's schema. ``tweak(method, params)`` may replace drawn params (e.g. point some at a real project)."""
    components = document["components"]["schemas"]
    per_method = []
    for method in document["methods"]:
        name = method["name"]
        if name in SKIPPED_METHODS or (only is not None and name != only):
            continue
        params = from_schema(method["x-params-schema"], components)
        if tweak is not None:
            params = params.flatmap(partial(tweak, name))
        per_method.append(st.tuples(st.just(name), params))
    return st.one_of(per_method)


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where strings are in a JSON value: a path to each string value, and ``(…, ("key", k))`` for keys."""
    if isinstance(value, str):
        return [path]
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*path, ("key", key)))
            found += _string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _string_paths(item, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], change: Callable[[str], str]) -> Any:
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):  # a key
        return {(change(k) if k == head[1] else k): v for k, v in value.items()}
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, change)}
    return [_replace(v, rest, change) if i == head else v for i, v in enumerate(value)]


def with_lone_surrogate(params: dict[str, Any]) -> st.SearchStrategy[tuple[bool, dict[str, Any]]]:
    """``params`` with a lone surrogate put into one of its strings (or keys): (True, changed), or (False,
    params) when it holds no string. json.dumps sends it as a ``\\udXXX`` escape, which JSON allows."""
    paths = _string_paths(params)
    if not paths:
        return st.just((False, params))
    surrogate = st.integers(0xD800, 0xDFFF).map(chr)
    return st.tuples(st.sampled_from(paths), surrogate, st.integers(0, 50)).map(
        lambda c: (True, _replace(params, c[0], lambda text: text[: c[2]] + c[1] + text[c[2] :]))
    )


# --- malformed JSON-RPC and raw bytes ------------------------------------------------------------------------

ids = st.none() | st.integers() | st.text(_TEXT, max_size=10) | st.floats(allow_nan=False, allow_infinity=False)
odd_ids = ids | st.booleans() | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), ids)


def malformed_requests(method_names: list[str]) -> st.SearchStrategy[Any]:
    """JSON values shaped more or less like requests: every member may be missing, wrong or odd."""
    methods = st.sampled_from(method_names) | st.text(_TEXT, max_size=20) | json_values
    request = st.fixed_dictionaries(
        {},
        optional={
            "jsonrpc": st.sampled_from(["2.0", "1.0", 2.0, None]) | json_values,
            "id": odd_ids,
            "method": methods,
            "params": st.none() | json_values | st.dictionaries(st.text(_TEXT, max_size=12), json_values, max_size=4),
        },
    )
    return request | st.lists(request | json_values, max_size=6) | json_values


def _request_bytes(method: str = "daemon.ping", params: str = "{}", id_: str = "1") -> bytes:
    return b'{"jsonrpc":"2.0","id":%s,"method":"%s","params":%s}' % (id_.encode(), method.encode(), params.encode())


_numbers = st.sampled_from(
    ["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity", "1.7976931348623157e309", "0e99999", "-0"]
) | st.integers(min_value=10**20).map(str) | st.integers(4290, 6000).map(lambda n: "9" * n)
_invalid_utf8 = st.sampled_from([b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf5\x80\x80\x80", b"\x80"])
_escapes = st.sampled_from(["\\ud800", "\\udfff", "\\udc80", "\\ud83d", "\\u0000", "\\ud800\\ud800"])


@st.composite
def raw_payloads(draw: st.DrawFn) -> bytes:
    """One message body of one of the raw classes (framing is added by ``framed``)."""
    kind = draw(st.sampled_from(["truncated", "number", "nesting", "utf8", "surrogate", "nul", "binary", "json"]))
    base = draw(st.sampled_from([_request_bytes(), _request_bytes("projects.status", '{"project":"/x"}'), b"[]"]))
    if kind == "truncated":
        return base[: draw(st.integers(0, max(0, len(base) - 1)))]
    if kind == "number":
        number = draw(_numbers)
        return draw(st.sampled_from([_request_bytes(id_=number), _request_bytes(params=f'{{"delay_ms":{number}}}')]))
    if kind == "nesting":
        depth = draw(st.integers(1, 200_000))
        open_, close = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        inner = open_ * depth + b"1" + close * depth
        return draw(st.sampled_from([inner, _request_bytes(params=inner.decode()) if open_ == b'{"a":' else inner]))
    if kind == "utf8":
        at = draw(st.integers(0, len(base)))
        return base[:at] + draw(_invalid_utf8) + base[at:]
    if kind == "surrogate":
        escape = draw(_escapes)
        return draw(
            st.sampled_from(
                [
                    _request_bytes(method=f"daemon.{escape}"),
                    _request_bytes(id_=f'"{escape}"'),
                    _request_bytes("projects.register", f'{{"path":"/a{escape}","name":"{escape}"}}'),
                    _request_bytes("questions.answer", f'{{"run":"r","answers":{{"{escape}":"x"}}}}'),
                    _request_bytes("projects.status", f'{{"project":"/{escape}"}}'),
                ]
            )
        )
    if kind == "nul":
        at = draw(st.integers(0, len(base)))
        return base[:at] + b"\x00" * draw(st.integers(1, 3)) + base[at:]
    if kind == "binary":
        return bytes(draw(st.binary(max_size=2048)))
    return json.dumps(draw(json_values)).encode()


_bad_headers = st.sampled_from(
    [
        b"Content-Length: -1\r\n\r\n",
        b"Content-Length: abc\r\n\r\n",
        b"Content-Length: 99999999999999999999\r\n\r\n",
        b"Content-Length: 5000000\r\n\r\n",
        b"Content-Type: json\r\n\r\n",
        b"Content-Length 10\r\n\r\n",
        b"Content-Length: 10\r\nContent-Length: 12\r\n\r\n",
        b"Content-Length: 3\n\n",
        b"X" * 9000,
        b"\r\n\r\n",
    ]
)


@st.composite
def framed(draw: st.DrawFn) -> bytes:
    """What one fresh connection sends: raw payloads in newline or Content-Length framing, or broken headers."""
    style = draw(st.sampled_from(["newline", "content-length", "bad-header"]))
    payloads = draw(st.lists(raw_payloads(), min_size=1, max_size=3))
    if style == "bad-header":
        return bytes(draw(_bad_headers)) + payloads[0]
    if style == "newline":
        return b"".join(p + b"\n" for p in payloads)
    cut = draw(st.booleans())  # sometimes the last frame announces more than it sends
    frames = [b"Content-Length: %d\r\n\r\n%s" % (len(p) + (1 if cut and i == len(payloads) - 1 else 0), p)
              for i, p in enumerate(payloads)]
    return b"".join(frames)


# --- checks ------------------------------------------------------------------------------------------------------


def _refuse_constant(word: str) -> Any:
    raise AssertionError(f"the daemon wrote {word}, which is not JSON")


def check_reply(payload: bytes) -> Any:
    """A reply (or batch of replies) the daemon wrote: strict JSON, JSON-RPC 2.0, never internal."""
    text = payload.decode("utf-8")
    assert TRACEBACK not in text, text[:500]
    message = json.loads(text, parse_constant=_refuse_constant)
    for reply in message if isinstance(message, list) else [message]:
        assert isinstance(reply, dict) and reply.get("jsonrpc") == "2.0", text[:300]
        if "method" in reply:  # an event notification (a fuzzed call may have subscribed)
            continue
        assert "id" in reply and ("result" in reply) != ("error" in reply), text[:300]
        if "error" in reply:
            error = reply["error"]
            assert isinstance(error["code"], int) and isinstance(error["message"], str), text[:300]
            assert error.get("data", {}).get("kind") != "internal", text[:500]
    return message


def exchange_raw(sock_path: Path, data: bytes, timeout: float = 60.0) -> list[Any]:
    """Send ``data`` on a fresh connection, end our side, read until the daemon closes; checked replies."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(str(sock_path))
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon already refused the stream (e.g. an oversized header block) and closed
        received = b""
        try:
            while chunk := sock.recv(1 << 16):
                received += chunk
        except ConnectionResetError:
            pass
    decoder = FrameDecoder(max_message_bytes=1 << 30)
    payloads = decoder.feed(received)
    if received.rstrip() and decoder.framing is not None and not payloads:
        raise AssertionError(f"unframed reply bytes: {received[:300]!r}")
    return [check_reply(p) for p in payloads]


class CallClient:
    """One persistent newline connection for schema calls and malformed requests."""

    def __init__(self, sock_path: Path, timeout: float = 60.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(str(sock_path))
        self.buffer = b""
        self.next_id = 0

    def close(self) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            assert chunk, "the daemon closed the connection"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def call(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        payload = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.sock.sendall(json.dumps(payload).encode() + b"\n")
        while True:
            reply = check_reply(self._line())
            if isinstance(reply, dict) and reply.get("id") == self.next_id:
                return reply

    def send_value(self, value: Any) -> None:
        """Any JSON value as one message, followed by a ping: replies up to the ping's are checked."""
        self.next_id += 1
        marker = f"fuzz-{self.next_id}"
        ping = {"jsonrpc": "2.0", "id": marker, "method": "daemon.ping"}
        self.sock.sendall(json.dumps(value).encode() + b"\n" + json.dumps(ping).encode() + b"\n")
        while True:
            reply = check_reply(self._line())
            if isinstance(reply, dict) and reply.get("id") == marker:
                assert reply["result"]["pong"]
                return

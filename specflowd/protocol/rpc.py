"""The JSON-RPC 2.0 endpoint: payload in, payload out. Knows nothing of sockets or framing.

A small dispatcher of our own (it replaced jsonrpcserver 5, whose whole-message validation answered a batch
with one invalid entry with a single error and ran none of its valid calls, answered ``"params": null``
with an Invalid Request whose id was lost, and echoed ``NaN`` ids as non-JSON):
- each request object is checked on its own: a batch answers every entry (JSON-RPC 2.0 §6), and an Invalid
  Request echoes the request's id whenever the id itself was valid;
- ``"params": null`` is the same as absent params;
- params are validated with each method's pydantic model (no per-request JSON-schema pass);
- ``SpecflowError`` becomes an application error (-32000…-32099) with a stable ``data.kind``; any other
  exception becomes a generic internal error; a traceback never reaches the client;
- non-finite numbers are refused on the way in and never written on the way out (``codec``);
- a method may also have a *quick* handler: synchronous, for answers that need no waiting (``daemon.ping``,
  ``daemon.status``). ``Endpoint.answer_now`` runs it where the message was read, without the task, cancel
  scope and scheduling a request otherwise costs (a third of a ping's CPU: bench/rpc.py); it may decline
  (``None``), and batches always take the ordinary path.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError

from specflowd.errors import SpecflowError
from specflowd.protocol import codec

__all__ = ["MAX_BATCH", "EmptyParams", "Endpoint", "Message", "MethodSpec", "Router", "notification"]

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
C = TypeVar("C")

Handler = Callable[[Any, Any], Awaitable[BaseModel]]
QuickHandler = Callable[[Any, Any], BaseModel | None]  # None: cannot answer at once, take the ordinary path

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL = -32000

MAX_BATCH = 100  # entries per batch; every entry counts against the connection's in-flight cap


class Message(BaseModel):
    """Base of the RPC methods' params and results: their validator and serializer are built on first use
    (``defer_build``), like the event payloads' and the engine's actions': many of the daemon's models are
    params, results, events and actions nothing uses before the first calls, so the daemon starts sooner
    (docs/scale.md has the import figures)."""

    model_config = ConfigDict(defer_build=True)


class EmptyParams(Message):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: type[BaseModel]
    result: type[BaseModel]
    handler: Handler
    summary: str
    quick: QuickHandler | None = None

    no_params: BaseModel | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        # a params model without fields (EmptyParams) has nothing to validate in a call without params: one
        # shared instance serves them all (no field to change; extra="forbid" refuses new attributes)
        if not self.params.model_fields and self.params.model_config.get("extra") == "forbid":
            with contextlib.suppress(ValidationError):  # a model-level rule refuses empty params: validate each
                object.__setattr__(self, "no_params", self.params.model_validate({}))

    def validate(self, raw: dict[str, Any] | None) -> BaseModel:
        if not raw and self.no_params is not None:
            return self.no_params
        return self.params.model_validate(raw or {})


class Router(Generic[C]):
    """Collects method specs; one Router per handler module, merged by the daemon."""

    def __init__(self) -> None:
        self.specs: dict[str, MethodSpec] = {}

    def method(
        self, name: str, *, params: type[P], result: type[R], summary: str
    ) -> Callable[[Callable[[C, P], Awaitable[R]]], Callable[[C, P], Awaitable[R]]]:
        def register(func: Callable[[C, P], Awaitable[R]]) -> Callable[[C, P], Awaitable[R]]:
            if name in self.specs:
                raise ValueError(f"method {name} registered twice")
            self.specs[name] = MethodSpec(name, params, result, func, summary)
            return func

        return register

    def quick(self, name: str) -> Callable[[Callable[[C, Any], R | None]], Callable[[C, Any], R | None]]:
        """Give the registered method ``name`` a synchronous handler for the calls it can answer without
        waiting; it returns ``None`` for a call it cannot (the async handler then answers it). It runs on the
        event loop where the request was read: it must not block, and not need a task (no anyio primitives)."""

        def register(func: Callable[[C, Any], R | None]) -> Callable[[C, Any], R | None]:
            spec = self.specs[name]
            if spec.quick is not None:
                raise ValueError(f"method {name} has a quick handler already")
            self.specs[name] = dataclasses.replace(spec, quick=func)
            return func

        return register

    def include(self, other: Router[Any]) -> None:
        for name, spec in other.specs.items():
            if name in self.specs:
                raise ValueError(f"method {name} registered twice")
            self.specs[name] = spec


def _error(request_id: Any, code: int, message: str, data: dict[str, Any]) -> bytes:
    return codec.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message, "data": data}})


def _invalid_request(request_id: Any, detail: str) -> bytes:
    return _error(request_id, INVALID_REQUEST, "Invalid Request", {"kind": "invalid_request", "detail": detail})


def _valid_id(value: Any) -> bool:
    # bool is an int in Python but not a JSON-RPC id; floats here are finite (codec refused the others)
    return value is None or isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))


def _structure_problem(request: dict[str, Any]) -> str | None:
    if request.get("jsonrpc") != "2.0":
        return 'not a JSON-RPC 2.0 request ("jsonrpc" must be "2.0")'
    if not isinstance(request.get("method"), str):
        return '"method" must be a string'
    params = request.get("params")
    if params is not None and not isinstance(params, dict | list):
        return '"params" must be an object, an array, or absent'
    return None


class Endpoint:
    def __init__(self, specs: dict[str, MethodSpec], observe: Callable[[str, float], None] | None = None) -> None:
        self.specs = dict(specs)
        self.observe = observe  # told (method, seconds) for every call a handler answered (daemon.metrics)

    async def handle(self, payload: bytes, context: Any, weigh: Callable[[int], None] | None = None) -> bytes | None:
        """Dispatch one message (request, notification or batch); ``None`` when no reply is due.
        ``weigh(n)`` is told how many requests a batch adds beyond the message itself (flow control)."""
        try:
            message = codec.loads(payload)
        except codec.ParseError as exc:
            return _error(None, PARSE_ERROR, "Parse error", {"kind": "parse_error", "detail": str(exc)})
        if isinstance(message, list):
            return await self._batch(message, context, weigh)
        return await self._request(message, context)

    async def _batch(self, items: list[Any], context: Any, weigh: Callable[[int], None] | None) -> bytes | None:
        if not items:
            return _invalid_request(None, "empty batch")
        if len(items) > MAX_BATCH:
            return _invalid_request(None, f"batch of {len(items)} requests; at most {MAX_BATCH} per batch")
        if weigh is not None and len(items) > 1:
            weigh(len(items) - 1)
        # entries run concurrently, like separate requests; _request never raises, so gather never has to
        # cancel siblings (plain asyncio: the protocol layer does not depend on anyio)
        replies = await asyncio.gather(*(self._request(item, context) for item in items))
        parts = [reply for reply in replies if reply is not None]
        return b"[" + b",".join(parts) + b"]" if parts else None

    def _route(self, request: Any) -> MethodSpec | bytes | None:
        """The method a request object calls, or the reply that ends it here: an Invalid Request, a Method not
        found (``None`` for a notification of an unknown method: no reply)."""
        if not isinstance(request, dict):
            return _invalid_request(None, "a request is a JSON object")
        request_id = request.get("id")
        if not _valid_id(request_id):
            return _invalid_request(None, '"id" must be a string, a number or null')
        problem = _structure_problem(request)
        if problem is not None:
            return _invalid_request(request_id, problem)
        spec = self.specs.get(request["method"])
        if spec is None:
            if "id" not in request:
                return None
            return _error(
                request_id,
                METHOD_NOT_FOUND,
                "Method not found",
                {"kind": "method_not_found", "method": request["method"]},
            )
        return spec

    async def _request(self, request: Any, context: Any) -> bytes | None:
        spec = self._route(request)
        if not isinstance(spec, MethodSpec):
            return spec
        reply = await self._call(spec, request.get("params"), request.get("id"), context)
        return reply if "id" in request else None

    def answer_now(self, payload: bytes, context: Any) -> tuple[bool, bytes | None]:
        """Answer a single request at once when its method has a quick handler that accepts it: ``(True,
        reply)`` (reply ``None`` for a notification). ``(False, None)``: dispatch it with ``handle`` (a batch, a
        parse error, an invalid request, a method without a quick handler, or one that declined). Never raises
        for what the peer sent."""
        try:
            request = codec.loads(payload)
        except codec.ParseError:
            return False, None
        spec = self._route(request)
        if not isinstance(spec, MethodSpec) or spec.quick is None:
            return False, None  # the ordinary path gives the same answer (an error, a batch's, the async handler's)
        request_id = request.get("id")
        params = _params(spec, request.get("params"), request_id)
        if isinstance(params, bytes):
            return False, None  # the ordinary path answers the same error
        began = time.perf_counter()
        try:
            result = spec.quick(context, params)
            if result is None:
                return False, None
            reply = _success(request_id, result)
        except Exception as exc:  # every failure becomes an error reply, as on the ordinary path
            reply = _failure(spec.name, request_id, exc)
        if self.observe is not None:
            self.observe(spec.name, time.perf_counter() - began)
        return True, reply if "id" in request else None

    async def _call(
        self, spec: MethodSpec, raw: dict[str, Any] | list[Any] | None, request_id: Any, context: Any
    ) -> bytes:
        params = _params(spec, raw, request_id)
        if isinstance(params, bytes):
            return params
        began = time.perf_counter()
        try:
            reply = _success(request_id, await spec.handler(context, params))
        except Exception as exc:  # every failure becomes an error reply
            reply = _failure(spec.name, request_id, exc)
        if self.observe is not None:
            self.observe(spec.name, time.perf_counter() - began)
        return reply


def _params(spec: MethodSpec, raw: dict[str, Any] | list[Any] | None, request_id: Any) -> BaseModel | bytes:
    """The call's params validated by the method's model, or the Invalid params reply."""
    if isinstance(raw, list):
        fields = list(spec.params.model_fields)
        if len(raw) > len(fields):
            detail = f"{spec.name} takes at most {len(fields)} positional params"
            return _error(request_id, INVALID_PARAMS, "Invalid params", {"kind": "invalid_params", "detail": detail})
        raw = dict(zip(fields, raw, strict=False))
    try:
        return spec.validate(raw)
    except ValidationError as exc:
        return _error(request_id, INVALID_PARAMS, "Invalid params", _validation_summary(exc))


def _failure(method: str, request_id: Any, exc: Exception) -> bytes:
    """The error reply for a handler's exception (called in its ``except`` block: the traceback is logged)."""
    if isinstance(exc, SpecflowError):
        return _error(request_id, exc.code, exc.message, exc.to_data())
    # a bug, wherever it is: an error reply, never an exception out of the dispatcher, never a traceback out
    log.exception("method %s failed", method)
    return _error(request_id, INTERNAL, "internal error in the daemon (see its log)", {"kind": "internal"})


def _encoded_id(request_id: Any) -> bytes:
    # the common id, an integer, without the JSON encoder's set-up (same digits as json.dumps writes)
    return b"%d" % request_id if type(request_id) is int else codec.dumps(request_id)


def _success(request_id: Any, result: BaseModel) -> bytes:
    try:
        body = result.model_dump_json().encode("utf-8")
    except (PydanticSerializationError, UnicodeEncodeError):
        # text read from disk may hold surrogate-escaped bytes (a non-UTF-8 file name): escape it instead
        body = codec.dumps(result.model_dump(mode="json"))
    return b'{"jsonrpc":"2.0","id":' + _encoded_id(request_id) + b',"result":' + body + b"}"


def _validation_summary(exc: ValidationError) -> dict[str, Any]:
    errors = [
        {"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return {"kind": "invalid_params", "errors": errors}


def notification(method: str, params: dict[str, Any]) -> bytes:
    return codec.dumps({"jsonrpc": "2.0", "method": method, "params": params})

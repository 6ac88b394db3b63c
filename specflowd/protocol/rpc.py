"""The JSON-RPC endpoint: payload in, payload out. Knows nothing of sockets or framing.

Dispatch is jsonrpcserver's (batches, notifications, standard errors); this adapter adds what it lacks:
- params are validated with each method's pydantic model (jsonrpcserver only checks names);
- a cheap structural request check replaces its Draft-4 jsonschema pass (about twice the throughput);
- ``SpecflowError`` becomes an application error (-32000…-32099) with a stable ``data.kind``; any other
  exception becomes a generic internal error; a traceback never reaches the client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from jsonrpcserver import Error, Success
from jsonrpcserver.async_main import dispatch_to_json
from jsonrpcserver.result import InvalidParams
from pydantic import BaseModel, ConfigDict, ValidationError

from specflowd.errors import SpecflowError

__all__ = ["EmptyParams", "Endpoint", "MethodSpec", "Router", "notification"]

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
C = TypeVar("C")

Handler = Callable[[Any, Any], Awaitable[BaseModel]]


class EmptyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: type[BaseModel]
    result: type[BaseModel]
    handler: Handler
    summary: str


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

    def include(self, other: Router[Any]) -> None:
        for name, spec in other.specs.items():
            if name in self.specs:
                raise ValueError(f"method {name} registered twice")
            self.specs[name] = spec


def _check_request(request: Any) -> Any:
    """Structural JSON-RPC 2.0 check; raising makes jsonrpcserver answer Invalid Request."""
    items = request if isinstance(request, list) else [request]
    if not items:
        raise ValueError("empty batch")
    for item in items:
        if not isinstance(item, dict) or item.get("jsonrpc") != "2.0":
            raise ValueError("not a JSON-RPC 2.0 request")
        if not isinstance(item.get("method"), str):
            raise ValueError("method must be a string")
        if "params" in item and not isinstance(item["params"], dict | list):
            raise ValueError("params must be an object or array")
        if "id" in item and not (item["id"] is None or isinstance(item["id"], str | int | float)):
            raise ValueError("bad id")
    return request


def _deserialize(text: str) -> Any:
    return json.loads(text)


class Endpoint:
    def __init__(self, specs: dict[str, MethodSpec]) -> None:
        self.specs = dict(specs)
        self._methods = {name: self._wrap(spec) for name, spec in self.specs.items()}

    def _wrap(self, spec: MethodSpec) -> Callable[..., Awaitable[Any]]:
        async def call(context: Any, /, *args: Any, **kwargs: Any) -> Any:  # params may be named "context"
            if args:
                fields = list(spec.params.model_fields)
                if len(args) > len(fields):
                    return InvalidParams(f"{spec.name} takes at most {len(fields)} positional params")
                kwargs = dict(zip(fields, args, strict=False))
            try:
                params = spec.params.model_validate(kwargs)
            except ValidationError as exc:
                return InvalidParams(_validation_summary(exc))
            try:
                result = await spec.handler(context, params)
            except SpecflowError as exc:
                return Error(exc.code, exc.message, exc.to_data())
            except Exception:
                log.exception("method %s failed", spec.name)
                return Error(-32000, "internal error in the daemon (see its log)", {"kind": "internal"})
            return Success(result.model_dump(mode="json"))

        return call

    async def handle(self, payload: bytes, context: Any) -> bytes | None:
        """Dispatch one message (request, notification or batch); ``None`` when no reply is due."""
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            text = "\x00invalid utf-8"  # makes the deserializer answer Parse error
        reply = await dispatch_to_json(
            text, self._methods, context=context, deserializer=_deserialize, validator=_check_request
        )
        return reply.encode("utf-8") if reply else None


def _validation_summary(exc: ValidationError) -> dict[str, Any]:
    errors = [
        {"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return {"kind": "invalid_params", "errors": errors}


def notification(method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode("utf-8")

"""The JSON-RPC dispatcher in process (pure: payload in, payload out): what its fast paths must not change."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, model_validator

from specflowd.errors import NotFound
from specflowd.protocol.rpc import EmptyParams, Endpoint, Router


class Echo(BaseModel):
    params: str


class Strict(BaseModel):
    """No fields, and a rule that refuses empty params: the dispatcher must run it on every call."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def refuse(cls, data: Any) -> Any:
        raise ValueError("never valid")


seen: list[BaseModel] = []
router: Router[None] = Router()


@router.method("t.empty", params=EmptyParams, result=Echo, summary="")
async def empty(_: None, params: EmptyParams) -> Echo:
    seen.append(params)
    return Echo(params=type(params).__name__)


@router.method("t.strict", params=Strict, result=Echo, summary="")
async def strict(_: None, params: Strict) -> Echo:
    return Echo(params="ran")


def call(message: Any, raw: bytes | None = None) -> Any:
    payload = raw if raw is not None else json.dumps(message).encode()
    reply = asyncio.run(Endpoint(router.specs).handle(payload, None))
    return None if reply is None else json.loads(reply)


@pytest.mark.parametrize(
    ("raw_id", "echoed"),
    [
        (b"7", b'"id":7,'),
        (b"-12", b'"id":-12,'),
        (b"1180591620717411303424", b'"id":1180591620717411303424,'),  # 2^70: beyond 64 bits, kept exact
        (b"1.5", b'"id":1.5,'),
        (b'"\\ud800x\\u00e9"', b'"id":"\\ud800x\\u00e9",'),  # a lone surrogate id is echoed, ASCII-escaped
        (b"null", b'"id":null,'),
    ],
)
def test_ids_are_echoed_exactly(raw_id: bytes, echoed: bytes) -> None:
    payload = b'{"jsonrpc":"2.0","id":%s,"method":"t.empty"}' % raw_id
    reply = asyncio.run(Endpoint(router.specs).handle(payload, None))
    assert reply is not None and echoed in reply and reply.isascii()


def test_calls_without_params_share_one_instance_and_params_are_still_checked() -> None:
    seen.clear()
    params: dict[str, Any] | list[Any] | None
    for params in ({}, None, []):
        message = {"jsonrpc": "2.0", "id": 1, "method": "t.empty", "params": params}
        assert call(message)["result"] == {"params": "EmptyParams"}
    assert call({"jsonrpc": "2.0", "id": 2, "method": "t.empty"})["result"] == {"params": "EmptyParams"}
    assert len(seen) == 4 and all(p is seen[0] for p in seen)
    refused = call({"jsonrpc": "2.0", "id": 3, "method": "t.empty", "params": {"surprise": 1}})
    assert refused["error"]["code"] == -32602 and refused["error"]["data"]["kind"] == "invalid_params"
    assert len(seen) == 4  # the handler never ran


def test_a_model_rule_on_empty_params_runs_on_every_call() -> None:
    assert router.specs["t.strict"].no_params is None
    params: dict[str, Any] | None
    for params in (None, {}):
        reply = call({"jsonrpc": "2.0", "id": 1, "method": "t.strict", "params": params})
        assert reply["error"]["code"] == -32602


# -- quick handlers: answered where the message was read, or declined to the ordinary path ----------------
class Slow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slow: bool = False
    fail: str | None = None


quick_router: Router[None] = Router()


@quick_router.method("q.echo", params=Slow, result=Echo, summary="")
async def echo_later(_: None, params: Slow) -> Echo:
    return Echo(params="async")


@quick_router.quick("q.echo")
def echo_now(_: None, params: Slow) -> Echo | None:
    if params.fail == "not_found":
        raise NotFound("no such thing", thing="x")
    if params.fail == "bug":
        raise RuntimeError("a bug")
    return None if params.slow else Echo(params="quick")


@quick_router.method("q.plain", params=EmptyParams, result=Echo, summary="")
async def plain(_: None, params: EmptyParams) -> Echo:
    return Echo(params="async")


def now(message: Any) -> tuple[bool, Any]:
    answered, reply = Endpoint(quick_router.specs).answer_now(json.dumps(message).encode(), None)
    return answered, None if reply is None else json.loads(reply)


def test_a_quick_handler_answers_a_single_request_at_once() -> None:
    assert now({"jsonrpc": "2.0", "id": 7, "method": "q.echo"}) == (
        True,
        {"jsonrpc": "2.0", "id": 7, "result": {"params": "quick"}},
    )
    assert now({"jsonrpc": "2.0", "method": "q.echo"}) == (True, None)  # a notification: run, no reply


@pytest.mark.parametrize(
    "message",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "q.echo"}],  # batches take the ordinary path
        {"jsonrpc": "2.0", "id": 1, "method": "q.echo", "params": {"slow": True}},  # the quick handler declines
        {"jsonrpc": "2.0", "id": 1, "method": "q.plain"},  # no quick handler
        {"jsonrpc": "2.0", "id": 1, "method": "q.echo", "params": {"surprise": 1}},  # invalid params
        {"jsonrpc": "1.0", "id": 1, "method": "q.echo"},  # invalid request
        {"jsonrpc": "2.0", "id": True, "method": "q.echo"},  # invalid id
        {"jsonrpc": "2.0", "id": 1, "method": "no.such"},
    ],
)
def test_what_a_quick_handler_cannot_answer_goes_the_ordinary_way(message: Any) -> None:
    assert now(message) == (False, None)
    reply = asyncio.run(Endpoint(quick_router.specs).handle(json.dumps(message).encode(), None))
    assert reply is not None and b'"quick"' not in reply  # answered there: by the async handler or an error


def test_unparseable_messages_go_the_ordinary_way() -> None:
    assert Endpoint(quick_router.specs).answer_now(b'{"jsonrpc": "2.0", "id": 1, "meth', None) == (False, None)


def test_a_quick_handler_failing_gets_the_same_error_replies_as_an_async_one(caplog: pytest.LogCaptureFixture) -> None:
    answered, reply = now({"jsonrpc": "2.0", "id": 1, "method": "q.echo", "params": {"fail": "not_found"}})
    assert answered and reply["error"]["data"]["kind"] == "not_found" and reply["error"]["data"]["thing"] == "x"
    answered, reply = now({"jsonrpc": "2.0", "id": 2, "method": "q.echo", "params": {"fail": "bug"}})
    assert answered and reply["error"] == {
        "code": -32000,
        "message": "internal error in the daemon (see its log)",
        "data": {"kind": "internal"},
    }
    assert "method q.echo failed" in caplog.text and "RuntimeError: a bug" in caplog.text


def test_a_method_has_one_quick_handler() -> None:
    with pytest.raises(ValueError, match="quick handler already"):
        quick_router.quick("q.echo")(echo_now)

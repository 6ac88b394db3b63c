"""The JSON-RPC dispatcher in process (pure: payload in, payload out): what its fast paths must not change."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, model_validator

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
    for params in (None, {}):
        reply = call({"jsonrpc": "2.0", "id": 1, "method": "t.strict", "params": params})
        assert reply["error"]["code"] == -32602

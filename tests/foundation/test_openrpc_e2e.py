"""rpc.discover is enough to call every method: a call built from the document alone is accepted."""

from __future__ import annotations

from typing import Any

from tests.openrpc_calls import DISRUPTIVE, call_params, params_schema
from tests.support import Daemon, RawClient


def _discover(daemon: Daemon) -> dict[str, Any]:
    document: dict[str, Any] = daemon.rpc("rpc.discover")
    return document


def test_cross_param_rules_are_in_the_schema(daemon: Daemon) -> None:
    document = _discover(daemon)
    methods = {m["name"]: m for m in document["methods"]}
    for name in ("orchestrate.status", "orchestrate.pause", "orchestrate.resume", "orchestrate.cancel",
                 "orchestrate.merge", "orchestrate.go_back", "orchestrate.recover"):
        schema = params_schema(methods[name], document)
        assert [branch["required"] for branch in schema["anyOf"]] == [["id"], ["project"]], name
    answer = params_schema(methods["questions.answer"], document)
    assert [branch["required"] for branch in answer["oneOf"]] == [["run"], ["orchestration"]]


def test_a_call_generated_from_the_document_is_accepted_for_every_method(daemon: Daemon) -> None:
    """Not -32602 (nor any other protocol error): the document states every rule the daemon checks. The
    calls name things that do not exist, so application errors (not_found, invalid_state, …) are fine."""
    document = _discover(daemon)
    names = [m["name"] for m in document["methods"]]
    assert len(names) >= 28
    ordered = [m for m in document["methods"] if m["name"] not in DISRUPTIVE]
    ordered += [m for m in document["methods"] if m["name"] in DISRUPTIVE]  # shutdown last
    with RawClient(daemon.socket, "content-length") as client:
        for method in ordered:
            params = call_params(method, document)
            reply = client.request(method["name"], params)
            assert reply is not None, method["name"]
            error = reply.get("error")
            if error is not None:
                assert error["code"] not in (-32700, -32600, -32601, -32602), (method["name"], params, error)
                assert error["data"]["kind"] != "internal", (method["name"], params, error)
    assert daemon.proc is not None and daemon.proc.wait(30) == 0  # daemon.shutdown was accepted too

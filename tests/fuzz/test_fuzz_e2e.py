"""The fuzz tier: seeded hypothesis runs against the real daemon's own temp socket, a few seconds each.

Schema-valid calls for every method (from ``rpc.discover``), malformed JSON-RPC, and raw bytes. Every answer
is valid JSON, never ``internal`` nor a traceback; the daemon stays up and answers ``daemon.ping`` after
each run. bench/fuzz.py runs the same messages 100 000 times and reports the daemon's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specflowd.daemon import build_router
from specflowd.domain.config import OrchestrationConfig
from tests.fuzz_messages import (
    PROTOCOL_ERRORS,
    SKIPPED_METHODS,
    TRACEBACK,
    CallClient,
    exchange_raw,
    framed,
    from_schema,
    malformed_requests,
    method_calls,
    with_lone_surrogate,
)
from tests.support import Daemon, running_daemon

CONFIG_SCHEMA = OrchestrationConfig.model_json_schema()
METHODS = sorted(set(build_router().specs) - SKIPPED_METHODS)  # the names rpc.discover lists

SEEDED = {
    "derandomize": True,  # the same examples on every run: a failure in CI reproduces locally
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}


class Target:
    def __init__(self, daemon: Daemon, project: Path, project_id: str) -> None:
        self.daemon = daemon
        self.project = project
        self.document: dict[str, Any] = daemon.rpc("rpc.discover")
        self.refs = [str(project), project_id, str(project / "specs")]
        self.client = CallClient(daemon.socket)

    def tweak(self, method: str, params: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        """Aim some calls at the real project; keep registrations inside the sandbox; keep pings short."""
        if method == "daemon.ping":
            return st.just({**params, "delay_ms": min(int(params.get("delay_ms", 0)), 20)})
        if method == "projects.register" and str(params.get("path", "")).startswith("/"):
            places = [self.project, self.daemon.root, self.project / "specs", self.daemon.root / "nowhere"]
            return st.sampled_from([{**params, "path": str(p)} for p in places])
        if method in ("orchestrate.start", "orchestrate.preview"):  # overrides shaped like the real config
            configs = from_schema(CONFIG_SCHEMA, CONFIG_SCHEMA.get("$defs", {}))
            return st.tuples(configs, st.sampled_from(self.refs)).map(
                lambda c: {**params, "config": c[0], "project": c[1]}
            ) | st.just(params)
        if isinstance(params.get("project"), str) and method != "projects.unregister":
            return st.sampled_from([params] + [{**params, "project": ref} for ref in self.refs])
        return st.just(params)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("fuzz")
    project = root / "project"
    (project / "specs" / "0001-x").mkdir(parents=True)
    (project / "specs" / "0001-x" / "tasks.md").write_text("# Tasks: t\n\n## One\n- [ ] T001 a\n")
    # no agent can ever run: a fuzzed orchestrate.start / runs.start meets agent_unavailable, never a process
    with running_daemon(root, SPECFLOW_CLAUDE=str(root / "no-agent")) as daemon:
        entry = daemon.rpc("projects.register", {"path": str(project)})
        target = Target(daemon, project, entry["id"])
        yield target
        target.client.close()
        assert TRACEBACK not in daemon.log(), daemon.log()[-3000:]


def _still_serving(target: Target) -> None:
    assert target.daemon.proc is not None and target.daemon.proc.poll() is None
    assert target.daemon.rpc("daemon.ping")["pong"]


@pytest.mark.parametrize("method", METHODS)
def test_calls_valid_by_the_published_schema_are_accepted(target: Target, method: str) -> None:
    @settings(max_examples=12, **SEEDED)
    @given(method_calls(target.document, target.tweak, only=method))
    def run(call: tuple[str, dict[str, Any]]) -> None:
        name, params = call
        reply = target.client.call(name, params)
        if "error" in reply:
            assert reply["error"]["code"] not in PROTOCOL_ERRORS, (name, params, reply["error"])

    run()
    _still_serving(target)


def test_text_that_cannot_be_encoded_is_invalid_params_wherever_it_is(target: Target) -> None:
    """A lone surrogate in any string or key of an otherwise valid call: refused before any handler runs."""
    calls = method_calls(target.document, target.tweak).flatmap(
        lambda call: with_lone_surrogate(call[1]).map(lambda changed: (call[0], *changed))
    )

    @settings(max_examples=150, **SEEDED)
    @given(calls)
    def run(call: tuple[str, bool, dict[str, Any]]) -> None:
        method, changed, params = call
        reply = target.client.call(method, params)
        if changed:
            assert reply.get("error", {}).get("code") == -32602, (method, params, reply)

    run()
    _still_serving(target)


def test_malformed_json_rpc_gets_clear_answers(target: Target) -> None:
    names = [m["name"] for m in target.document["methods"] if m["name"] not in SKIPPED_METHODS]

    @settings(max_examples=200, **SEEDED)
    @given(malformed_requests(names))
    def run(value: Any) -> None:
        target.client.send_value(value)

    run()
    _still_serving(target)


def test_raw_bytes_never_hurt_the_daemon(target: Target) -> None:
    @settings(max_examples=150, **SEEDED)
    @given(framed())
    def run(data: bytes) -> None:
        exchange_raw(target.daemon.socket, data)

    run()
    _still_serving(target)

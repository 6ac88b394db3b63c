"""The follower after ``events.lost``: it reads the status again instead of trusting the events it has."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from specflowctl import core
from specflowctl.follow import Follower


class ScriptedEvents:
    """Stands in for the subscribed connection: the events in order, then nothing."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.socket_path = "/nowhere"

    def next_event(self, timeout: float | None) -> dict[str, Any] | None:
        assert self.events, "the follower read past the scripted events"
        return self.events.pop(0)

    def close(self) -> None:
        pass


def test_events_lost_makes_the_follower_read_the_status_and_stop_where_it_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statuses = iter(["running", "paused"])  # paused while the follower was behind: its status event was lost
    calls: list[str] = []

    def call(sock: object, method: str, params: dict[str, Any] | None = None) -> Any:
        calls.append(method)
        assert method == "orchestrate.status"
        return {"record": {"id": "o1", "status": next(statuses), "batches": []}, "progress": None}

    monkeypatch.setattr(core, "call", call)
    lost = {"type": "events.lost", "project": None, "data": {"dropped": 7, "since": "t0"}, "time": "t1"}
    out = io.StringIO()
    follower = Follower(None, ScriptedEvents([lost]), "o1", json_out=True, out=out)  # type: ignore[arg-type]
    assert follower.follow() == core.STOP_CODES["paused"]
    assert calls == ["orchestrate.status", "orchestrate.status"]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["type"] == "events.lost"
    assert lines[-1]["data"] == {"orchestration": "o1", "status": "paused", "exit_code": core.STOP_CODES["paused"]}

"""A subscriber that stops reading is not dropped silently: once it reads again it gets ``events.lost``, then
the events that followed, on the same open connection (real daemon, raw sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import RawClient, running_daemon, wait_until


def test_a_subscriber_that_stopped_reading_gets_events_lost_then_the_next_events(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".specify").mkdir(parents=True)
    with (
        running_daemon(tmp_path, "--event-queue", "5") as d,
        RawClient(d.socket, timeout=60.0) as subscriber,
        RawClient(d.socket, timeout=60.0) as producer,
    ):
        assert subscriber.request("events.subscribe")["result"]["subscribed"] is True
        sent = 0

        def burst() -> bool:
            """Registering the same project again publishes registry.changed each time; go on until the
            daemon says it dropped events for a subscriber (its socket buffers filled first)."""
            nonlocal sent
            batch = [
                {"jsonrpc": "2.0", "id": sent + n, "method": "projects.register", "params": {"path": str(project)}}
                for n in range(50)
            ]
            producer.send(batch)
            replies = producer.read()
            assert isinstance(replies, list) and all("result" in r for r in replies), replies
            sent += len(batch)
            return "events.lost" in d.log()

        wait_until(burst, timeout=240.0, interval=0.0, what="the daemon dropping a subscriber's events")
        producer.request("projects.register", {"path": str(project)})  # published after the loss

        seen: list[dict[str, Any]] = []
        while not any(m.get("params", {}).get("type") == "events.lost" for m in seen):
            message = subscriber.read()
            assert message is not None, "the daemon closed the subscriber's connection"
            seen.append(message)
        lost = seen[-1]["params"]
        assert lost["data"]["dropped"] >= 1 and lost["data"]["since"] <= lost["time"]
        before = [m for m in seen[:-1] if m.get("method") == "event"]
        assert len(before) + lost["data"]["dropped"] <= sent  # nothing counted twice
        after = subscriber.read()  # the events that followed are delivered, on the same connection
        assert after is not None and after["params"]["type"] == "registry.changed"
        assert d.rpc("daemon.status")["subscribers"] == 1

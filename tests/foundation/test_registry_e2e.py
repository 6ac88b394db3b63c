"""The registry file: live edits, corruption, atomic writes that keep unknown keys."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import Daemon, RawClient, wait_until


def _write(path: Path, document: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document))
    tmp.replace(path)


def test_external_registry_edit_is_picked_up_live(daemon: Daemon) -> None:
    registry = daemon.home / "registry.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    project = daemon.root / "p1"
    project.mkdir()
    with RawClient(daemon.socket) as sub:
        sub.request("events.subscribe")
        _write(registry, {"projects": {"abc": {"path": str(project), "name": "one"}}, "config": {"x": 1}})
        event = sub.read()
        assert event["params"]["type"] == "registry.changed"
        assert event["params"]["data"]["added"] == ["abc"]
    names = [p["name"] for p in daemon.rpc("projects.list")["projects"]]
    assert names == ["one"]
    # in-place edit (not a replace) is seen too
    registry.write_text(json.dumps({"projects": {}, "config": {"x": 1}}))
    wait_until(lambda: daemon.rpc("projects.list")["projects"] == [], what="project removed")


def test_corrupt_registry_keeps_last_good_view(daemon: Daemon) -> None:
    registry = daemon.home / "registry.json"
    project = daemon.root / "p2"
    (project / ".specflow").mkdir(parents=True)
    entry = daemon.rpc("projects.register", {"path": str(project), "name": "two"})
    with RawClient(daemon.socket) as sub:
        sub.request("events.subscribe")
        registry.write_text('{"projects": {"half-writ')
        event = sub.read()
        assert event["params"]["type"] == "registry.problem"
    status = daemon.rpc("daemon.status")
    assert status["problems"] and "not valid" in status["problems"][0]
    listed = daemon.rpc("projects.list")
    assert [p["id"] for p in listed["projects"]] == [entry["id"]]  # the last good view
    assert listed["problem"]
    # writing over a corrupt file would lose whatever the user had: refused with a clear error
    with RawClient(daemon.socket) as client:
        refused = client.request("projects.register", {"path": str(project)})
    assert refused["error"]["data"]["kind"] == "project_error"
    assert registry.read_text() == '{"projects": {"half-writ'
    # fixing the file clears the problem
    _write(registry, {"projects": {}})
    wait_until(lambda: daemon.rpc("daemon.status")["problems"] == [], what="problem cleared")


def test_register_keeps_unknown_keys_and_is_atomic(daemon: Daemon) -> None:
    registry = daemon.home / "registry.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    other = daemon.root / "other"
    other.mkdir()
    _write(
        registry,
        {
            "projects": {"keep": {"path": str(other), "name": "o", "color": "red"}},
            "config": {"dev_folders": ["~/dev"]},
            "future_key": [1, 2],
        },
    )
    wait_until(lambda: len(daemon.rpc("projects.list")["projects"]) == 1, what="initial load")
    project = daemon.root / "p3"
    (project / "specs").mkdir(parents=True)
    entry = daemon.rpc("projects.register", {"path": str(project)})
    document = json.loads(registry.read_text())
    assert document["future_key"] == [1, 2]
    assert document["config"] == {"dev_folders": ["~/dev"]}
    assert document["projects"]["keep"]["color"] == "red"
    assert document["projects"][entry["id"]]["path"] == str(project)
    assert not list(registry.parent.glob(".registry.json.*"))  # no temp files left behind
    daemon.rpc("projects.unregister", {"project": str(project)})
    assert entry["id"] not in json.loads(registry.read_text())["projects"]

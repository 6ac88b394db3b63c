"""The run scheduler in the real daemon with real agent processes (the shipped simulated agent, the scriptable
fake claude): a limit held across projects, a rate limit in one project holding the others' admissions until
its reset, the queue's order across a SIGKILL of the daemon, and the groups verbs. Every wait polls a condition
with a deadline; concurrency is judged from the run records' own start and end times."""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from specflowctl.demo import create_demo_project
from tests.engine.common import FAKE, SIM
from tests.support import Daemon, RawClient, sandbox_env, wait_until

CONFIG = {"skip_analyze": True, "auto_merge": True}
DONE = ("completed", "failed", "cancelled", "needs_attention")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    env = sandbox_env(tmp_path)
    env.update({"SPECFLOW_CLAUDE": SIM, "SPECFLOW_SIM_DELAY": "0.02"})
    d = Daemon(tmp_path, env).start()
    yield d
    if d.proc and d.proc.poll() is None:
        for o in d.rpc("orchestrate.list", {})["orchestrations"]:  # no agent outlives the test
            d.raw("orchestrate.cancel", {"id": o["id"]})
        d.stop()


def projects(d: Daemon, n: int) -> list[Path]:
    roots = []
    for i in range(n):
        root = create_demo_project(d.root / f"project-{i}")
        d.rpc("projects.register", {"path": str(root)})
        roots.append(root)
    return roots


def start(d: Daemon, root: Path, **config: Any) -> str:
    return str(d.rpc("orchestrate.start", {"project": str(root), "config": {**CONFIG, **config}})["record"]["id"])


def queue(d: Daemon) -> list[dict[str, Any]]:
    return d.rpc("scheduler.status")["queue"]  # type: ignore[no-any-return]


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def runs_of(d: Daemon, root: Path) -> list[dict[str, Any]]:
    return sorted(d.rpc("runs.list", {"project": str(root)})["runs"], key=lambda r: moment(r["started_at"]))


def settled(d: Daemon, ids: list[str]) -> bool:
    return all(d.rpc("orchestrate.status", {"id": i})["record"]["status"] in DONE for i in ids)


def test_a_limit_of_one_runs_one_agent_at_a_time_across_three_projects_in_queue_order(daemon: Daemon) -> None:
    d = daemon
    roots = projects(d, 3)
    d.ctl("groups", "set-limit", "default", "0")  # paused: all three queue, in the order they asked
    ids = [start(d, root) for root in roots]
    wait_until(lambda: len(queue(d)) == 3, timeout=30, what="three queued runs")
    views = [d.rpc("orchestrate.status", {"id": i})["queued"] for i in ids]
    assert [(v["position"], v["group"], v["reason"]) for v in views] == [(n, "default", "paused") for n in (1, 2, 3)]
    assert d.rpc("projects.status", {"project": str(roots[2])})["queued"]["position"] == 3
    listing = d.ctl("ls").stdout
    assert "Queued #1 (default)" in listing and "queued agent runs:" in listing and "group paused" in listing
    assert "Queued #2 of 3 in group default" in d.ctl("status", str(roots[1])).stdout
    assert d.rpc("daemon.status")["scheduler"]["groups"] == [{"name": "default", "limit": 0, "running": 0, "queued": 3}]

    d.ctl("groups", "set-limit", "default", "1")  # applies at once
    wait_until(lambda: settled(d, ids), timeout=240, interval=0.5, what="three orchestrations settled")
    assert [d.rpc("orchestrate.status", {"id": i})["record"]["status"] for i in ids] == ["completed"] * 3
    every = sorted((r for root in roots for r in runs_of(d, root)), key=lambda r: moment(r["started_at"]))
    assert len(every) >= 9  # batches, verify and merge of each
    for before, after in itertools.pairwise(every):  # never two agents at once
        assert moment(after["started_at"]) >= moment(before["finished_at"]), (before["run_id"], after["run_id"])
    firsts = [runs_of(d, root)[0] for root in roots]
    assert firsts == sorted(firsts, key=lambda r: moment(r["started_at"]))  # admitted in queue order


def write_agent(path: Path, script: list[dict[str, Any]]) -> str:
    (path.parent / "script.json").write_text(json.dumps(script))
    path.write_text(f'#!/bin/sh\nFAKE_CLAUDE_SCRIPT={path.parent / "script.json"} exec {FAKE} "$@"\n')
    path.chmod(0o755)
    return str(path)


def test_a_rate_limit_in_one_project_holds_the_others_admissions_until_its_reset(daemon: Daemon) -> None:
    d = daemon
    limited, *others = projects(d, 3)
    reset = int(time.time()) + 10
    agent = write_agent(d.root / "limited-agent", [{"action": "rate_limit", "reset_epoch": reset}, {"action": "hang"}])
    with RawClient(d.socket, timeout=60) as sub:
        sub.request("events.subscribe")
        first = start(d, limited, agent=agent)
        wait_until(lambda: d.rpc("scheduler.status")["gates"], timeout=30, what="the account's rate-limit gate")
        assert time.time() < reset - 2, "the machine was too slow to start the others before the reset"
        ids = [start(d, root) for root in others]
        def queued() -> list[Any]:
            views = [d.rpc("orchestrate.status", {"id": i})["queued"] for i in ids]
            return views if all(views) else []

        held = wait_until(queued, timeout=30, what="both others queued")
        assert all(h is not None and h["reason"] == "rate_limit" for h in held), held
        assert {moment(h["until"]) for h in held} == {reset}
        gates = d.rpc("daemon.status")["scheduler"]["gates"]
        assert [moment(g["until"]) for g in gates] == [reset]
        wait_until(lambda: all(runs_of(d, root) for root in others), timeout=60, what="the others' first runs")
        types: list[str] = []
        while "scheduler.admitted" not in types or types.count("scheduler.admitted") < 2:
            types.append(sub.read()["params"]["type"])
    for root in others:  # not one agent of the account started before the reset
        assert moment(runs_of(d, root)[0]["started_at"]) >= reset
    assert types.count("scheduler.rate_limited") == 1  # shown once
    assert d.rpc("orchestrate.status", {"id": first})["record"]["status"] in ("waiting_rate_limit", "running")
    wait_until(lambda: settled(d, ids), timeout=180, interval=0.5, what="the others settled")


def test_the_queue_keeps_its_order_across_a_sigkill_of_the_daemon(daemon: Daemon) -> None:
    d = daemon
    roots = projects(d, 3)
    d.ctl("groups", "add", "slow", "--limit", "0")
    ids = [start(d, root, group="slow") for root in roots]
    path = d.home / "scheduler.json"

    def on_disk() -> list[str]:
        try:
            return [e["unit"]["id"] for e in json.loads(path.read_text())["queue"]["queued"]]
        except (OSError, ValueError, KeyError):
            return []

    order = wait_until(lambda: len(on_disk()) == 3 and on_disk(), timeout=30, what="the queue on disk")
    assert [q["run_id"] for q in queue(d)] == order
    d.stop(signal.SIGKILL)
    d.start()
    wait_until(lambda: len(d.rpc("orchestrate.list", {})["orchestrations"]) == 3, timeout=30, what="reloaded")
    assert [(q["run_id"], q["group"], q["position"]) for q in queue(d)] == [(r, "slow", n + 1) for n, r in enumerate(order)]
    for orch in ids:  # each orchestration asks for the same run again: it keeps its place
        assert d.rpc("orchestrate.status", {"id": orch})["queued"]["group"] == "slow"
    d.ctl("groups", "set-limit", "slow", "1")
    wait_until(lambda: all(runs_of(d, root) for root in roots), timeout=120, interval=0.2, what="every first run")
    firsts = [runs_of(d, root)[0] for root in roots]
    assert [r["run_id"] for r in sorted(firsts, key=lambda r: moment(r["started_at"]))] == order


def test_groups_round_trip_through_the_cli(daemon: Daemon) -> None:
    d = daemon
    (root,) = projects(d, 1)
    assert d.ctl_json("groups", "add", "gpu", "--limit", "3") == {"name": "gpu", "limit": 3, "running": 0, "queued": 0}
    assert d.ctl("groups").stdout.splitlines() == [
        "group            running          queued",
        "default          0/2              0",
        "gpu              0/3              0",
    ]  # each word once: the header names the columns
    assert d.ctl_json("groups", "set-limit", "gpu", "1")["limit"] == 1
    assert [g["name"] for g in d.ctl_json("groups")["groups"]] == ["default", "gpu"]
    refused = d.ctl("groups", "set-limit", "gpu", "65", check=False)
    assert refused.returncode != 0 and "64" in refused.stderr
    duplicate = d.ctl("groups", "add", "gpu", check=False)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    unknown = d.ctl("orchestrate", str(root), "--group", "nope", "--yes", "--detach", check=False)
    assert unknown.returncode != 0 and "groups add nope" in unknown.stderr
    assert "groups: gpu" in d.ctl("daemon", "status").stdout
    assert d.ctl_json("groups", "remove", "gpu") == {"group": "gpu", "moved": []}
    assert d.ctl("groups", "remove", "default", check=False).returncode != 0
    assert [g["name"] for g in d.rpc("groups.list")["groups"]] == ["default"]


def test_a_project_assigned_to_a_group_queues_its_runs_there(daemon: Daemon) -> None:
    d = daemon
    (root,) = projects(d, 1)
    registry = d.home / "registry.json"
    document = json.loads(registry.read_text())
    (entry,) = document["projects"].values()
    entry["color"] = "teal"  # another SpecFlow tool's key: kept through the assignment
    registry.write_text(json.dumps(document))
    refused = d.ctl("groups", "assign", "gpu", str(root), check=False)
    assert refused.returncode != 0 and "groups add gpu" in refused.stderr
    d.ctl("groups", "add", "gpu", "--limit", "0")  # paused: what is admitted in it stays queued, visibly
    assert "its runs use group gpu" in d.ctl("groups", "assign", "gpu", cwd=root).stdout  # the cwd's project
    (stored,) = json.loads(registry.read_text())["projects"].values()
    assert stored["group"] == "gpu" and stored["color"] == "teal"
    assert "(group gpu)" in d.ctl("projects", "list").stdout
    orch = start(d, root)
    queued = wait_until(lambda: d.rpc("orchestrate.status", {"id": orch})["queued"], timeout=30, what="queued")
    assert queued["group"] == "gpu" and not runs_of(d, root)
    d.rpc("orchestrate.cancel", {"id": orch})
    assert d.ctl_json("groups", "assign", "default", str(root))["group"] is None
    (stored,) = json.loads(registry.read_text())["projects"].values()
    assert "group" not in stored and stored["color"] == "teal"

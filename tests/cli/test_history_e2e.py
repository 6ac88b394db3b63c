"""History and overview: `ls`, `log` (paged RPC, --json, --follow), `status` outside any project, and short
id prefixes resolved by the daemon (real CLI, real daemon)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.cli.conftest import demo_project
from tests.engine.common import status
from tests.support import SPECFLOWCTL, Daemon, wait_until


def _log_file(root: Path, orch_id: str) -> list[dict[str, object]]:
    path = root / ".specflow" / "workflows" / f"orchestration-{orch_id}.events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ls_log_and_the_overview(sim_daemon: Daemon) -> None:
    d = sim_daemon
    done_root, waiting_root = demo_project(d, "done"), demo_project(d, "waiting")
    done = d.rpc("orchestrate.start", {"project": str(done_root), "config": {"auto_merge": True}})["record"]["id"]
    wait_until(lambda: status(d, done)["status"] == "completed", timeout=60, what="completed")
    waiting = d.rpc("orchestrate.start", {"project": str(waiting_root), "config": {}})["record"]["id"]
    wait_until(lambda: status(d, waiting)["status"] == "waiting_merge", timeout=60, what="merge ready")

    table = d.ctl("ls").stdout.splitlines()
    assert table[0].split() == ["id", "project", "status", "step", "tasks", "spent", "age"]
    assert table[1].startswith(waiting[:8]) and "waiting" in table[1] and "Merge ready" in table[1]  # active first
    assert table[2].startswith(done[:8]) and "Completed" in table[2] and "20/20" in table[2]
    assert re.search(r"\$0\.\d\d +\d+s ago$", table[2])
    def without_age(lines: list[str]) -> list[str]:
        return [line.rsplit(None, 2)[0] for line in lines]

    assert without_age(d.ctl("orchestrations").stdout.splitlines()) == without_age(table)  # the alias

    entries = _log_file(done_root, done)
    pages, since, more = [], 0, True
    while more:  # the RPC pages through the whole log
        page = d.rpc("orchestrate.log", {"id": done[:5], "since": since, "limit": 3})
        pages.append(page["entries"])
        since, more = page["next_offset"], page["more"]
    assert [e for p in pages for e in p] == entries and max(len(p) for p in pages) == 3
    printed = d.ctl("log", done[:8]).stdout.splitlines()
    assert len(printed) == len(entries) and printed[0].split()[2] == "start" and printed[-1].split()[2] == "complete"
    assert [json.loads(x) for x in d.ctl("log", done[:8], "--json").stdout.splitlines()] == entries
    assert d.ctl("log", cwd=waiting_root).stdout.splitlines()[-1].split()[2] == "wait_for_merge"  # this project's
    assert "orchestrate.log" in {m["name"] for m in d.rpc("rpc.discover")["methods"]}

    elsewhere = d.ctl("status", cwd=d.root)  # not inside any registered project: the overview
    assert f"{d.root} is not inside a registered project" in elsewhere.stdout
    assert waiting[:8] in elsewhere.stdout and done[:8] in elsewhere.stdout
    assert d.ctl_json("status", str(waiting_root))["orchestration"]["record"]["id"] == waiting


def test_log_follow_ends_with_the_orchestration(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    d.stop()
    d.env["SPECFLOW_SIM_DELAY"] = "0.1"
    d.start()
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
    follow = subprocess.run([SPECFLOWCTL, "log", "-f", orch_id[:8]], env=d.env, capture_output=True, text=True, timeout=120)
    assert follow.returncode == 0, follow.stderr
    lines = follow.stdout.splitlines()
    assert lines[-1].split()[2] == "complete" and len(lines) == len(_log_file(root, orch_id))


def test_id_prefixes_are_resolved_by_the_daemon(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] == "completed", timeout=60, what="completed")
    assert d.rpc("orchestrate.status", {"id": orch_id[:4]})["record"]["id"] == orch_id
    run = d.rpc("runs.list", {})["runs"][0]["run_id"]
    assert d.rpc("runs.get", {"run": run[:8]})["run_id"] == run
    assert "-- completed" in d.ctl("logs", run[:8]).stdout
    missing = d.raw("runs.get", {"run": "zzzz"})["error"]
    assert missing["data"]["kind"] == "not_found" and "no run 'zzzz'" in missing["message"]

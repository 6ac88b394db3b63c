"""Records the daemon cannot load are reported (daemon.status, the CLI) and left untouched, through the real daemon.
The engine's side of it, and writes that fail, are tested in-process (tests/engine/test_engine_restart.py)."""

from __future__ import annotations

import json
from pathlib import Path

from specflowctl.demo import create_demo_project
from tests.engine.common import SIM, status
from tests.support import Daemon, sandbox_env, wait_until


def test_corrupt_or_newer_records_are_reported_and_left_untouched(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    env.update(SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0")
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        good = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
        wait_until(lambda: status(d, good)["status"] == "completed", timeout=60, what="a finished orchestration")
        d.stop()
        workflows = root / ".specflow" / "workflows"
        corrupt = workflows / "orchestration-badbadbadbad.json"
        corrupt.write_text('{"id": "badbadbadbad", "status": ')  # truncated
        newer = workflows / "orchestration-f00f00f00f00.json"
        newer.write_text(json.dumps({**json.loads((workflows / f"orchestration-{good}.json").read_text()), "id": "f00f00f00f00", "schema_version": 99}))
        before = {p: p.read_bytes() for p in (corrupt, newer)}
        d.start()
        problems = d.rpc("daemon.status")["problems"]
        assert any("orchestration-badbadbadbad.json: cannot load orchestration badbadbadbad" in p for p in problems), problems
        assert any("schema_version 99 is newer than this daemon supports" in p for p in problems), problems
        listed = [o["id"] for o in d.rpc("orchestrate.list", {"include_finished": True})["orchestrations"]]
        assert listed == [good]  # the good one is still there, the others are not guessed at
        assert {p: p.read_bytes() for p in (corrupt, newer)} == before  # nothing rewritten or deleted
        assert "problem: " in d.ctl("daemon", "status").stdout
    finally:
        d.stop()

"""A write that fails (disk full, file too large) stops one orchestration visibly and loses nothing."""

from __future__ import annotations

import json
import resource
from pathlib import Path

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import SIM, decision_log, status
from tests.support import Daemon, RawClient, sandbox_env, wait_until

STOPPED = ("completed", "needs_attention", "failed", "cancelled")

LIMIT = 6656  # bytes any one file of the daemon may reach: the record outgrows it late in the phase


def _limit_file_size() -> None:
    # Python ignores SIGXFSZ, so writing past the limit fails with EFBIG (an OSError) like a full disk would
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_failed_write_stops_the_orchestration_and_a_restart_resumes_from_the_last_good_record(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    env.update(SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0")
    d = Daemon(tmp_path, env).start(preexec_fn=_limit_file_size)
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
        stopped = wait_until(
            lambda: (r := status(d, orch_id))["status"] in ("needs_attention", "completed") and r, timeout=60, what="stop"
        )
        assert stopped["status"] == "needs_attention", "the scenario did not reach the file-size limit"
        assert stopped["attention"]["kind"] == "storage"
        reason = stopped["attention"]["reason"]
        assert "cannot write orchestration" in reason and "File too large" in reason and "intact" in reason
        assert d.rpc("daemon.status")["pid"] > 0  # the daemon lives on
        record_path = root / ".specflow" / "workflows" / f"orchestration-{orch_id}.json"
        on_disk = json.loads(record_path.read_text())  # intact: atomic replace, never half-written
        assert on_disk["id"] == orch_id and on_disk["status"] != "needs_attention"
        with RawClient(d.socket) as client:  # still no room: a clear error, nothing changed
            refused = client.request("orchestrate.recover", {"id": orch_id, "action": "retry"})
        assert refused["error"]["data"]["kind"] == "storage_error"
        assert status(d, orch_id)["status"] == "needs_attention"

        d.stop()
        d.start()  # room again (no limit): the orchestration resumes from the record on disk
        done = wait_until(lambda: (r := status(d, orch_id))["status"] in STOPPED and r, timeout=60, what="done")
        assert done["status"] == "completed", json.dumps(done["attention"])
        assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20
        log = decision_log(root, orch_id)
        spawned = [e["run_id"] for e in log if e["action"] in ("spawn_batch", "spawn_step", "heal")]
        assert len(spawned) == len(set(spawned))  # nothing ran twice
    finally:
        d.stop()


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

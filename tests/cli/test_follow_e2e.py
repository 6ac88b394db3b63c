"""Following an orchestration ends where it stops or waits for the user, with an exit code that says which
(real specflowctl, real daemon, the simulated agent)."""

from __future__ import annotations

import json
import re

from tests.cli.conftest import demo_project
from tests.engine.common import status
from tests.support import SPECFLOWCTL, Daemon, run_in_pty, wait_until


def test_watch_ends_at_once_when_the_stop_happened_before_it(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] == "waiting_merge", timeout=60, what="merge ready")
    ready = d.ctl("status", "--watch", str(root), check=False)  # subscribed after the stop: must still end
    assert ready.returncode == 6, ready.stdout + ready.stderr
    assert "Merge ready" in ready.stdout and f"`specflowctl merge {root}`" in ready.stdout
    d.ctl("merge", str(root))
    wait_until(lambda: status(d, orch_id)["status"] == "completed", timeout=60, what="merged")
    done = d.ctl("status", "--watch", str(root), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    next_phase = (
        "next: open the next phase, 0002 Sync, with SpecFlow's `specflow phase open` (specflow is not on PATH here: "
        "install SpecFlow's CLI first), then `specflowctl orchestrate`"
    )  # the sandbox's PATH has no `specflow`
    assert "Completed" in done.stdout and next_phase in done.stdout
    plain = d.ctl("status", str(root)).stdout.splitlines()  # leads with what was done, then what comes next
    assert plain[0] == str(root)
    assert re.fullmatch(
        rf"phase 0001 Todo CLI merged \d+s ago · orchestration {orch_id[:8]} · tasks 20/20 · spent \$0\.\d\d · took \d+s",
        plain[1],
    ), plain[1]
    assert plain[2] == next_phase and plain[3].startswith(f"orchestration {orch_id[:8]}: Completed")
    assert "not_started" not in "\n".join(plain) and "/flow.verify" not in "\n".join(plain)


def test_foreground_views_exit_with_where_they_stopped(sim_daemon: Daemon) -> None:
    d = sim_daemon
    merge_ready = d.ctl("orchestrate", str(demo_project(d, "a")), "--yes", "--skip-analyze", check=False, timeout=120)
    assert merge_ready.returncode == 6 and "wait_for_merge" in merge_ready.stdout, merge_ready.stdout
    paused = d.ctl(
        "orchestrate", str(demo_project(d, "b")), "--yes", "--pause-between-batches", check=False, timeout=120
    )
    assert paused.returncode == 8 and "`specflowctl resume" in paused.stdout, paused.stdout
    stopped = d.ctl("orchestrate", str(demo_project(d, "c")), "--yes", "--budget-total", "0.01", check=False, timeout=120)
    assert stopped.returncode == 7, stopped.stdout
    assert "needs attention (budget)" in stopped.stdout and "`specflowctl recover retry|abort" in stopped.stdout
    cancelled = d.ctl("cancel", str(d.root / "c")).stdout
    assert "Cancelled" in cancelled and "options:" not in cancelled  # nothing is offered after a cancel
    assert d.ctl("status", "--watch", str(d.root / "c"), check=False).returncode == 4
    assert "options:" not in d.ctl("status", str(d.root / "c")).stdout
    lines = d.ctl("orchestrate", str(demo_project(d, "e")), "--yes", "--auto-merge", "--json", timeout=120).stdout
    events = [json.loads(line) for line in lines.splitlines()]
    assert events[0]["type"] == "orchestration.started"
    assert events[-1] == {"type": "follow.end", "data": {"orchestration": events[0]["data"]["orchestration"],
                                                         "status": "completed", "exit_code": 0}}  # fmt: skip


def test_recover_abort_leaves_no_options(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    config = {"skip_analyze": True, "budget": {"total": 0.01}}
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] == "needs_attention", timeout=60, what="budget stop")
    assert "options: retry" in d.ctl("status", str(root)).stdout
    d.ctl("recover", "abort", str(root))
    shown = d.ctl("status", str(root)).stdout
    assert "Failed" in shown and "options:" not in shown and "failed: " in shown
    assert status(d, orch_id)["attention"] is None
    assert d.ctl("status", "--watch", str(root), check=False).returncode == 1


def test_live_line_between_spawn_and_finish(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    env = dict(d.env, COLUMNS="200")
    d.stop()
    # a batch takes a few seconds: progress events arrive meanwhile, even when the run's first (fsynced) writes
    # delay the start of its supervision by a second on a busy disk (seen once in CI at 0.3 s per task)
    d.env["SPECFLOW_SIM_DELAY"] = "0.6"
    d.start()
    code, out = run_in_pty(
        [SPECFLOWCTL, "orchestrate", str(root), "--yes", "--skip-analyze", "--auto-merge"], env, timeout=180
    )
    assert code == 0, out
    live = re.findall(r"⋯ implement batch (\d)/4 · \d+s · (\d+) tool calls · last Edit · this batch \$(\d+\.\d+) of \$5\.00 cap", out)
    assert {batch for batch, _, _ in live} >= {"1", "4"}, out
    assert any(float(cost) > 0 and int(calls) > 0 for _, calls, cost in live)  # the figure moves
    assert "\r\x1b[K" in out  # the live line is rewritten in place, then cleared
    assert re.search(r"orchestration \w{8}: Completed, step merge", out)

"""Engine latency: a 20-batch orchestration with the instant simulated agent; prints p50/p99 of
"run exited → next run spawned" (run's finished_at → the next spawn's decision-log time).

Run: python bench/transition.py   (target: p99 <= 100 ms)
"""

from __future__ import annotations

import itertools
import json
import shutil
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import Daemon, sandbox_env, wait_until


def make_project(root: Path, batches: int = 20) -> Path:
    feature = root / "specs" / "0001-bench"
    feature.mkdir(parents=True)
    for name in ("spec.md", "plan.md"):
        (feature / name).write_text(f"# {name}\n")
    lines = ["# Tasks: bench", ""]
    for b in range(batches):
        lines += [f"## Phase {b + 1}: Part {b}", f"- [ ] T{2 * b + 1:03d} a", f"- [ ] T{2 * b + 2:03d} b", ""]
    (feature / "tasks.md").write_text("\n".join(lines))
    return root


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="sfbench-"))
    env = sandbox_env(base)
    env.update(SPECFLOW_CLAUDE=str(Path(sys.executable).parent / "specflowd-sim-agent"), SPECFLOW_SIM_DELAY="0")
    daemon = Daemon(base, env).start("--log-level", "WARNING")
    try:
        root = make_project(base / "proj")
        daemon.rpc("projects.register", {"path": str(root)})
        config = {"auto_merge": True, "skip_analyze": True}
        orch = daemon.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
        done = ("completed", "needs_attention", "failed")
        wait_until(lambda: daemon.rpc("orchestrate.status", {"id": orch})["record"]["status"] in done, timeout=300)
        workflows = root / ".specflow" / "workflows"
        log = [json.loads(x) for x in (workflows / f"orchestration-{orch}.events.jsonl").read_text().splitlines()]
        spawns = [e for e in log if e["action"] in ("spawn_batch", "spawn_step", "heal")]
        gaps = []
        for previous, following in itertools.pairwise(spawns):
            meta = json.loads((workflows / previous["run_id"] / "metadata.json").read_text())
            exited = datetime.fromisoformat(meta["finished_at"])
            spawned = datetime.fromisoformat(following["time"])
            gaps.append((spawned - exited).total_seconds() * 1000)
        gaps.sort()
        p99 = gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]
        print(f"{len(spawns)} runs ({sum(e['action'] == 'spawn_batch' for e in spawns)} batches)")
        p50 = statistics.median(gaps)
        print(f"run exited -> next run spawned: p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {gaps[-1]:.1f} ms")
        print("target: p99 <= 100 ms")
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

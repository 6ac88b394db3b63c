"""What one scrape costs the event loop: the state-derived families of a daemon that knows 10 000 runs (50
projects, 6 steps, 4 models), taken and rendered as OpenMetrics text; median of 20 runs.

Run: .venv/bin/python bench/metrics.py [RUNS]   (target: <= 50 ms for 10 000 runs: a 1 s scrape interval then
costs the loop under 5 %).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specflowd.services.metrics import DaemonMetrics, GroupFigures, RunFigures, Snapshot

STEPS = ("design", "analyze", "implement", "verify", "merge", "heal")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", None)
STATUSES = ("completed", "completed", "completed", "failed", "looping", "budget_exceeded")


def snapshot(count: int) -> Snapshot:
    rng = random.Random(25)
    runs = [
        RunFigures(
            project=f"project-{rng.randrange(50)}",
            step=rng.choice(STEPS),
            model=rng.choice(MODELS),
            status=rng.choice(STATUSES),
            final=True,
            cost_usd=rng.uniform(0.0, 3.0),
            duration_s=rng.uniform(5.0, 1800.0),
        )
        for _ in range(count)
    ]
    orchestrations = Counter({(f"project-{n}", "completed"): 3 for n in range(50)})
    return Snapshot(projects=50, runs=runs, orchestrations=orchestrations, groups=[GroupFigures("default", 2, 2, 5)])


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    snap = snapshot(count)
    metrics = DaemonMetrics(lambda: snap)
    for method in ("daemon.status", "orchestrate.status", "runs.list"):
        metrics.observe_rpc(method, 0.001)
    timings = []
    for _ in range(20):
        began = time.perf_counter()
        text = metrics.render()
        timings.append(time.perf_counter() - began)
    print(f"{count} runs: one scrape {statistics.median(timings) * 1000:.1f} ms (median of 20), {len(text)} bytes")


if __name__ == "__main__":
    main()

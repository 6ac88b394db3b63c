"""Parse and plan a generated 10 000-task tasks.md (200 sections); median of 20 runs.

Run: .venv/bin/python bench/parse.py   (target: <= 50 ms). Ids are the SpecFlow CLI's (T000 … T999z). A quarter
of the lines carry a dependency phrase (the slower path of the grammar), a fifth a [P] marker, a third are done.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specflowd.project.planner import plan_batches
from specflowd.project.tasks import parse_tasks


def task_id(number: int) -> str:
    """The CLI's ids are T + exactly three digits + an optional letter: 27 000 of them (T000 … T999z)."""
    letter = "" if number < 1000 else "abcdefghijklmnopqrstuvwxyz"[number // 1000 - 1]
    return f"T{number % 1000:03d}{letter}"


def generate(sections: int = 200, per_section: int = 50) -> str:
    lines = ["# Tasks: Benchmark", ""]
    number = 1
    for s in range(sections):
        lines += [f"## Phase {s + 1}: Section {s}", "", "### Group", ""]
        for i in range(per_section):
            box = "x" if (number % 3 == 0) else " "
            dep = f" (depends on {task_id(number - 1)})" if i and i % 4 == 0 else ""
            marker = " [P]" if i % 5 == 0 else ""
            text = f"Implement part {i} of `src/mod_{s}.py`{dep}"
            lines.append(f"- [{box}] {task_id(number)}{marker} [US{s % 7 + 1}] {text}")
            number += 1
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    text = generate()
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        plan = plan_batches(parse_tasks(text), 15)
        timings.append(time.perf_counter() - started)
    print(f"10000 tasks / 200 sections: {plan.summary}")
    median, best = statistics.median(timings) * 1e3, min(timings) * 1e3
    verdict = "meets" if median <= 50 else "MISSES"
    print(f"parse + plan median {median:.1f} ms, min {best:.1f} ms (20 runs; {verdict} the target <= 50 ms)")


if __name__ == "__main__":
    main()

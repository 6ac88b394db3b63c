"""Back-test of the cost/time forecast (domain/forecast.py): leave-one-orchestration-out.

For every orchestration of a history, its units are forecast from every *other* orchestration (its project's
own first, then all projects', then the prior: exactly what a preview would have shown before it ran), and
compared with what they cost and took. Printed per variant of the features and per history:

- coverage: the share of actual batch (and step) costs and durations at or under the forecast p90 (goal
  80-95 %), and of whole phases under the phase p90;
- median absolute error of the forecast median, in USD / seconds and relative to the actual.

Histories:
- generated, with known spread (``--projects``, ``--orchestrations``; seeded): per project a cost and a speed
  factor, batches of 2-10 tasks whose cost and time are an overhead plus a per-task part, log-normal noise,
  heals (x1.6 cost, x1.7 time, 15 %) and rate-limit waits (+10-30 min, 5 %);
- recorded: every finished orchestration in the workflows directory of each ``--project PATH`` given (by
  default, of the project around the current directory, if it has any).

Variants: ``per task`` (implement batches scale by their task ids: what specflowd uses) and ``flat`` (a batch is
a batch, whatever its size), so the data say whether the task count carries signal.

Run: .venv/bin/python bench/forecast.py [--projects 6] [--orchestrations 8] [--seed 25] [--project PATH ...]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specflowd.domain.config import Budget, Step
from specflowd.domain.forecast import Sample, Unit, forecast_phase, forecast_units
from specflowd.domain.forecast_history import samples_of
from specflowd.domain.record import TERMINAL_STATUSES, load_record
from specflowd.files.workflows import LOG_KEY, workflows_dir

ROOMY = Budget(per_batch=10_000, total=10_000)
STEP_BASE = {Step.ANALYZE: (0.35, 140.0), Step.VERIFY: (0.55, 230.0), Step.MERGE: (0.20, 80.0)}


def generated(projects: int, orchestrations: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    out: list[Sample] = []
    for p in range(projects):
        project = f"/generated/p{p}"
        cost_factor = math.exp(rng.gauss(0, 0.4))  # how expensive this codebase is for the agent
        speed_factor = math.exp(rng.gauss(0, 0.3))
        for o in range(orchestrations):
            orch = f"p{p}o{o}"
            for step, (cost, seconds) in STEP_BASE.items():
                noise = math.exp(rng.gauss(0, 0.3))
                out.append(Sample(project, orch, step, 0, cost * cost_factor * noise, seconds * speed_factor * noise))
            for _ in range(rng.randint(3, 6)):
                tasks = rng.randint(2, 10)
                noise_c, noise_t = math.exp(rng.gauss(0, 0.35)), math.exp(rng.gauss(0, 0.35))
                cost = (0.20 + 0.30 * tasks) * cost_factor * noise_c
                seconds = (60 + 100 * tasks) * speed_factor * noise_t
                if rng.random() < 0.15:  # healed once
                    cost, seconds = cost * 1.6, seconds * 1.7
                if rng.random() < 0.05:  # waited out a rate limit
                    seconds += rng.uniform(600, 1800)
                out.append(Sample(project, orch, Step.IMPLEMENT, tasks, cost, seconds))
    return out


def recorded(paths: list[Path]) -> list[Sample]:
    out: list[Sample] = []
    for root in paths:
        for path in sorted(workflows_dir(root.resolve()).glob("orchestration-*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                document.pop(LOG_KEY, None)  # the journal's bookkeeping, not the record's
                record = load_record(document)
            except (OSError, ValueError) as exc:
                print(f"  skipped {path}: {exc}", file=sys.stderr)
                continue
            if record.status in TERMINAL_STATUSES:
                out += samples_of(record)
    return out


def here() -> list[Path]:
    """The project around the current directory, when it has recorded orchestrations (the default)."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if any(workflows_dir(folder).glob("orchestration-*.json")):
            return [folder]
    return []


def flat(samples: list[Sample]) -> list[Sample]:
    return [replace(s, tasks=0) for s in samples]


def _share(flags: list[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):5.1f} %" if flags else "    -  "


def _mae(errors: list[float]) -> float:
    return statistics.median(errors) if errors else float("nan")


def backtest(samples: list[Sample], label: str) -> None:
    by_orch: dict[str, list[Sample]] = {}
    for s in samples:
        by_orch.setdefault(s.orchestration, []).append(s)
    if len(by_orch) < 2:
        print(f"{label}: {len(by_orch)} finished orchestration(s): nothing to leave one out of")
        return
    rows: dict[str, dict[str, list[float] | list[bool]]] = {}
    phase_cost: list[bool] = []
    phase_time: list[bool] = []
    for orch, mine in by_orch.items():
        rest = [s for s in samples if s.orchestration != orch]
        units = [Unit(s.step, s.tasks, i) for i, s in enumerate(mine)]
        project = mine[0].project
        for s, f in zip(mine, forecast_units(units, rest, project=project), strict=True):
            kind = "batches" if s.step is Step.IMPLEMENT else "steps"
            row = rows.setdefault(kind, {"cc": [], "tc": [], "ce": [], "te": [], "cr": [], "tr": []})
            row["cc"].append(s.cost_usd <= f.cost_usd.p90 + 1e-9)  # type: ignore[arg-type]
            row["tc"].append(s.duration_s <= f.duration_s.p90 + 1e-9)  # type: ignore[arg-type]
            row["ce"].append(abs(f.cost_usd.median - s.cost_usd))  # type: ignore[arg-type]
            row["te"].append(abs(f.duration_s.median - s.duration_s))  # type: ignore[arg-type]
            row["cr"].append(abs(f.cost_usd.median - s.cost_usd) / max(s.cost_usd, 1e-6))  # type: ignore[arg-type]
            row["tr"].append(abs(f.duration_s.median - s.duration_s) / max(s.duration_s, 1e-6))  # type: ignore[arg-type]
        phase = forecast_phase(units, rest, ROOMY, project=project, draws=400, seed=len(phase_cost))
        phase_cost.append(sum(s.cost_usd for s in mine) <= phase.cost_usd.p90 + 1e-9)
        phase_time.append(sum(s.duration_s for s in mine) <= phase.duration_s.p90 + 1e-9)
    print(f"{label}: {len(by_orch)} orchestrations, {len(samples)} units")
    print(f"  {'':<8} {'cost ≤ p90':>10} {'time ≤ p90':>10}   {'cost MAE':<18} {'time MAE':<18}")
    for kind, row in rows.items():
        ce, te, cr, tr = (_mae(row[k]) for k in ("ce", "te", "cr", "tr"))  # type: ignore[arg-type]
        print(
            f"  {kind:<8} {_share(row['cc']):>10} {_share(row['tc']):>10}   "  # type: ignore[arg-type]
            f"${ce:7.4f} ({100 * cr:4.0f} %)  {te:7.1f}s ({100 * tr:4.0f} %)"
        )
    print(f"  {'phase':<8} {_share(phase_cost):>10} {_share(phase_time):>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--orchestrations", type=int, default=8)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument(
        "--project", type=Path, action="append", default=[], help="a project with recorded runs (default: here)"
    )
    args = parser.parse_args()
    history = generated(args.projects, args.orchestrations, args.seed)
    backtest(history, "generated, per task")
    backtest(flat(history), "generated, flat")
    few = [s for s in history if int(s.orchestration.split("o")[-1]) < 2]
    backtest(few, "generated, 2 orchestrations per project, per task")
    projects = args.project or here()
    if projects:
        mine = recorded(projects)
        backtest(mine, "recorded, per task")
        backtest(flat(mine), "recorded, flat")


if __name__ == "__main__":
    main()

"""Cost and duration forecast of a phase, from finished orchestrations (pure: no I/O, no clock; docs/forecast.md).

Each unit of work (a step run, or one implement batch with its heals) is forecast from *samples*: the units of
the same step (and model) that finished before. A sample is normalised by its scale — per task for implement
batches, flat for design, analyze, verify and merge — and the unit's forecast is its scale times a weighted
empirical quantile of the normalised samples. The weights shrink toward the wider pool: this project's own
samples count 1 each and all other projects' together count ``WIDER_WEIGHT``; below ``MIN_OWN`` samples of
its own a unit rests on all projects' (each 1), and below that on the stated prior (``PRIOR``), which then
counts ``PRIOR_WEIGHT``. The phase's total, the chance of a budget stop and where it would stop come from a
seeded Monte-Carlo over the units (each draw takes one sample's cost *and* duration, keeping them paired).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from statistics import NormalDist

from pydantic import BaseModel, Field

from specflowd.domain.config import Budget, Step

__all__ = [
    "DRAWS",
    "MIN_OWN",
    "PRIOR",
    "PhaseForecast",
    "Quantiles",
    "Sample",
    "Unit",
    "UnitForecast",
    "forecast_phase",
    "forecast_units",
    "weighted_quantile",
]

MIN_OWN = 3  # samples of a pool below which the next wider pool carries the unit
WIDER_WEIGHT = 4.0  # what all other projects' samples weigh together beside a project's own
PRIOR_WEIGHT = 3.0  # what the prior weighs beside fewer than MIN_OWN samples of any project
DRAWS = 2000  # Monte-Carlo draws of the whole phase
PRIOR_POINTS = 21  # quantile points of the prior's log-normal

# The stated prior: a median (cost USD, duration s) per run — implement per task — and a log-normal spread
# (sigma of the log). Chosen from the runs Claude Code makes of the /flow.* skills on a mid-sized feature with a
# Sonnet-class model; it is a guess that any history replaces (docs/forecast.md).
PRIOR: dict[Step, tuple[float, float]] = {
    Step.DESIGN: (1.50, 420.0),
    Step.ANALYZE: (0.40, 150.0),
    Step.IMPLEMENT: (0.35, 120.0),
    Step.VERIFY: (0.60, 240.0),
    Step.MERGE: (0.20, 90.0),
}
PRIOR_SIGMA = 0.6


@dataclass(frozen=True, slots=True)
class Sample:
    """One finished unit of work: a step run, or an implement batch (its runs and heals together)."""

    project: str
    orchestration: str
    step: Step
    tasks: int  # the batch's task ids; 0 for a step run
    cost_usd: float
    duration_s: float
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit the phase will run: a step, or an implement batch of ``tasks`` task ids."""

    step: Step
    tasks: int = 0
    batch_index: int | None = None
    label: str = ""


class Quantiles(BaseModel):
    median: float
    p90: float


class UnitForecast(BaseModel):
    step: Step
    batch_index: int | None = None
    label: str
    tasks: int = 0
    cost_usd: Quantiles
    duration_s: Quantiles
    source: str = Field(description="project | all projects | prior: the pool the forecast rests on")
    runs: int = Field(description="finished units of that pool the forecast rests on")


class PhaseForecast(BaseModel):
    units: list[UnitForecast]
    cost_usd: Quantiles
    duration_s: Quantiles
    p_stop: float = Field(description="chance the phase stops on a budget cap (either)")
    p_stop_total: float = Field(description="chance the total cap stops it")
    p_stop_batch: float = Field(description="chance one unit's own cap (budget.per_batch) stops it")
    likely_stop: str | None = Field(None, description="where it would likely stop, when p90 is over a cap")
    total_needed: float | None = Field(None, description="a total cap that carries the phase through at p90")
    batch_needed: float | None = Field(None, description="a per-batch cap that carries every unit through at p90")
    basis: str = Field(description="what the forecast rests on, for people")


def weighted_quantile(points: list[tuple[float, float]], q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total (``points``: (value, weight))."""
    ordered = sorted(points)
    total = sum(w for _, w in ordered)
    reach, seen = q * total, 0.0
    for value, weight in ordered:
        seen += weight
        if seen >= reach - 1e-12:
            return value
    return ordered[-1][0]


def _scale(step: Step, tasks: int) -> float:
    return float(max(1, tasks)) if step is Step.IMPLEMENT else 1.0


def _prior_points(step: Step, weight: float) -> list[tuple[float, float, float]]:
    cost, seconds = PRIOR[step]
    out = []
    for i in range(PRIOR_POINTS):
        z = NormalDist().inv_cdf((i + 0.5) / PRIOR_POINTS)
        factor = math.exp(PRIOR_SIGMA * z)
        out.append((cost * factor, seconds * factor, weight / PRIOR_POINTS))
    return out


@dataclass(frozen=True, slots=True)
class _Pool:
    points: list[tuple[float, float, float]]  # (cost per scale unit, duration per scale unit, weight)
    source: str
    runs: int
    orchestrations: int = 0

    def quantiles(self) -> tuple[float, float, float, float]:
        """Median and p90 of the cost, then of the duration, per scale unit (a unit scales them: k > 0)."""
        costs = [(c, w) for c, _, w in self.points]
        times = [(d, w) for _, d, w in self.points]
        return (
            weighted_quantile(costs, 0.5),
            weighted_quantile(costs, 0.9),
            weighted_quantile(times, 0.5),
            weighted_quantile(times, 0.9),
        )


def _pool(step: Step, model: str | None, project: str, history: list[Sample]) -> _Pool:
    same = [s for s in history if s.step is step and s.model == model]
    own = [s for s in same if s.project == project]
    other = [s for s in same if s.project != project]

    def span(samples: list[Sample]) -> int:
        return len({s.orchestration for s in samples})

    def norm(s: Sample, weight: float) -> tuple[float, float, float]:
        k = _scale(s.step, s.tasks)
        return (s.cost_usd / k, s.duration_s / k, weight)

    if len(own) >= MIN_OWN:
        points = [norm(s, 1.0) for s in own]
        if other:
            points += [norm(s, WIDER_WEIGHT / len(other)) for s in other]
        return _Pool(points, "project", len(own), span(own))
    if len(same) >= MIN_OWN:
        return _Pool([norm(s, 1.0) for s in same], "all projects", len(same), span(same))
    points = [norm(s, 1.0) for s in same] + _prior_points(step, PRIOR_WEIGHT)
    return _Pool(points, "prior", len(same), span(same))


def _forecast_unit(unit: Unit, pool: _Pool, quantiles: tuple[float, float, float, float]) -> UnitForecast:
    k = _scale(unit.step, unit.tasks)
    cost50, cost90, time50, time90 = quantiles
    return UnitForecast(
        step=unit.step,
        batch_index=unit.batch_index,
        label=unit.label or unit.step.value,
        tasks=unit.tasks,
        cost_usd=Quantiles(median=round(cost50 * k, 4), p90=round(cost90 * k, 4)),
        duration_s=Quantiles(median=round(time50 * k, 1), p90=round(time90 * k, 1)),
        source=pool.source,
        runs=pool.runs,
    )


def _forecasts(units: list[Unit], pools: list[_Pool]) -> list[UnitForecast]:
    per_pool: dict[int, tuple[float, float, float, float]] = {}  # units of a step share their pool's quantiles
    out = []
    for u, pool in zip(units, pools, strict=True):
        if id(pool) not in per_pool:
            per_pool[id(pool)] = pool.quantiles()
        out.append(_forecast_unit(u, pool, per_pool[id(pool)]))
    return out


def _basis(pools: list[_Pool]) -> str:
    """Which pools carry the units, each with the most orchestrations one of its steps rests on."""
    by_source: dict[str, int] = {}
    for p in pools:
        by_source[p.source] = max(by_source.get(p.source, 0), p.orchestrations)
    parts = []
    for source in ("project", "all projects", "prior"):
        if source not in by_source:
            continue
        n = by_source[source]
        if source == "prior":
            parts.append("the stated prior" + (f" (and {n} finished orchestration(s))" if n else ""))
        else:
            where = "this project's" if source == "project" else "all projects'"
            parts.append(f"{where} {n} finished orchestration(s)")
    return "; ".join(parts)


def _pools(units: list[Unit], history: list[Sample], project: str, models: dict[Step, str]) -> list[_Pool]:
    cache: dict[Step, _Pool] = {}
    for u in units:
        if u.step not in cache:
            cache[u.step] = _pool(u.step, models.get(u.step), project, history)
    return [cache[u.step] for u in units]


def forecast_units(
    units: list[Unit], history: list[Sample], *, project: str, models: dict[Step, str] | None = None
) -> list[UnitForecast]:
    """Each unit's own forecast (what ``forecast_phase`` gives per unit, without the phase's draws)."""
    return _forecasts(units, _pools(units, history, project, models or {}))


def _round_up(value: float) -> float:
    """A cap to suggest: whole dollars above $5, else cents rounded up to 50."""
    return float(math.ceil(value)) if value >= 5 else math.ceil(value * 2) / 2


def forecast_phase(
    units: list[Unit],
    history: list[Sample],
    budget: Budget,
    *,
    project: str,
    models: dict[Step, str] | None = None,
    seed: int = 0,
    draws: int = DRAWS,
) -> PhaseForecast:
    """The forecast of ``units`` run in order, from ``history`` (every project's finished units)."""
    pools = _pools(units, history, project, models or {})
    forecasts = _forecasts(units, pools)
    if not units:
        zero = Quantiles(median=0.0, p90=0.0)
        return PhaseForecast(
            units=[], cost_usd=zero, duration_s=zero, p_stop=0.0, p_stop_total=0.0, p_stop_batch=0.0,
            basis="nothing to run",
        )  # fmt: skip

    # every unit's draws at once (one bisect per draw on its cumulative weights), then the phases draw by draw
    rng = random.Random(seed)
    drawn: list[tuple[list[float], list[float]]] = []
    for u, pool in zip(units, pools, strict=True):
        k = _scale(u.step, u.tasks)
        picks = rng.choices(pool.points, weights=[w for _, _, w in pool.points], k=draws)
        drawn.append(([c * k for c, _, _ in picks], [d * k for _, d, _ in picks]))
    totals: list[float] = []
    times: list[float] = []
    largest: list[float] = []
    stops: Counter[int] = Counter()
    stop_total = stop_batch = 0
    for n in range(draws):
        spent = elapsed = biggest = 0.0
        stopped_at: int | None = None
        for i, (costs, durs) in enumerate(drawn):
            unit_cost = costs[n]
            spent += unit_cost
            elapsed += durs[n]
            biggest = max(biggest, unit_cost)
            if stopped_at is None and unit_cost > budget.per_batch:
                stopped_at, stop_batch = i, stop_batch + 1
            elif stopped_at is None and spent > budget.total:
                stopped_at, stop_total = i, stop_total + 1
        totals.append(spent)
        times.append(elapsed)
        largest.append(biggest)
        if stopped_at is not None:
            stops[stopped_at] += 1

    def q(values: list[float], p: float) -> float:
        return weighted_quantile([(v, 1.0) for v in values], p)

    total = Quantiles(median=round(q(totals, 0.5), 4), p90=round(q(totals, 0.9), 4))
    big90 = q(largest, 0.9)
    over = total.p90 > budget.total or big90 > budget.per_batch
    likely = None
    if over and stops:
        ordered = sorted(i for i, n in stops.items() for _ in range(n))
        likely = forecasts[ordered[len(ordered) // 2]].label
    return PhaseForecast(
        units=forecasts,
        cost_usd=total,
        duration_s=Quantiles(median=round(q(times, 0.5), 1), p90=round(q(times, 0.9), 1)),
        p_stop=round((stop_total + stop_batch) / draws, 3),
        p_stop_total=round(stop_total / draws, 3),
        p_stop_batch=round(stop_batch / draws, 3),
        likely_stop=likely,
        total_needed=_round_up(total.p90) if total.p90 > budget.total else None,
        batch_needed=_round_up(big90) if big90 > budget.per_batch else None,
        basis=_basis(pools),
    )

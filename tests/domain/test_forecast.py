"""forecast: the estimator on small histories (pure; no clock, no model call)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specflowd.domain.config import Budget, Step
from specflowd.domain.forecast import MIN_OWN, PRIOR, Sample, Unit, forecast_phase, weighted_quantile
from specflowd.domain.forecast_history import SampleCache, samples_of
from specflowd.domain.progress import progress
from specflowd.domain.record import BatchRecord, BatchStatus, Completed, OrchestrationRecord, StepStatus
from tests.domain.builders import NOW, record

MIN = timedelta(minutes=1)
ROOMY = Budget(per_batch=100, total=1000)


def batch(project: str, cost: float, tasks: int = 4, seconds: float = 600.0, orch: str = "o1") -> Sample:
    return Sample(project, orch, Step.IMPLEMENT, tasks, cost, seconds)


def step(project: str, which: Step, cost: float, seconds: float = 60.0, orch: str = "o1") -> Sample:
    return Sample(project, orch, which, 0, cost, seconds)


def test_weighted_quantile_takes_the_smallest_value_reaching_the_share() -> None:
    points = [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (10.0, 1.0)]
    assert weighted_quantile(points, 0.5) == 2.0
    assert weighted_quantile(points, 0.9) == 10.0
    assert weighted_quantile([(1.0, 9.0), (10.0, 1.0)], 0.9) == 1.0  # 90 % of the weight is at 1


def test_implement_scales_per_task_and_other_steps_are_flat() -> None:
    history = [batch("/p", c, tasks=4) for c in (1.0, 2.0, 2.0, 3.0)]  # $0.25-0.75 per task
    history += [step("/p", Step.VERIFY, c) for c in (0.5, 0.5, 0.6)]
    units = [Unit(Step.IMPLEMENT, 8, 0, "batch 1"), Unit(Step.IMPLEMENT, 2, 1, "batch 2"), Unit(Step.VERIFY)]
    f = forecast_phase(units, history, ROOMY, project="/p")
    big, small, verify = f.units
    assert big.cost_usd.median == pytest.approx(4.0) and small.cost_usd.median == pytest.approx(1.0)
    assert big.cost_usd.p90 == pytest.approx(6.0) and big.duration_s.median == pytest.approx(1200.0)
    assert verify.cost_usd.median == pytest.approx(0.5) and verify.source == "project" and verify.runs == 3
    assert big.source == "project" and big.runs == 4


def test_a_project_without_enough_runs_rests_on_all_projects_then_on_the_prior() -> None:
    others = [step("/other", Step.ANALYZE, c, orch="x") for c in (1.0, 1.0, 1.0, 1.0)]
    own = [step("/p", Step.ANALYZE, 9.0)] * (MIN_OWN - 1)
    f = forecast_phase([Unit(Step.ANALYZE), Unit(Step.DESIGN)], others + own, ROOMY, project="/p")
    analyze, design = f.units
    assert analyze.source == "all projects" and analyze.runs == len(others) + len(own)
    assert design.source == "prior" and design.runs == 0
    assert design.cost_usd.median == pytest.approx(PRIOR[Step.DESIGN][0], rel=0.01)
    assert "all projects'" in f.basis and "prior" in f.basis


def test_own_runs_lead_and_the_wider_pool_shrinks_them() -> None:
    own = [step("/p", Step.VERIFY, 1.0)] * 3
    others = [step("/q", Step.VERIFY, 10.0, orch="x")] * 50  # weigh WIDER_WEIGHT (4) together: 4 of 7
    f = forecast_phase([Unit(Step.VERIFY)], own + others, ROOMY, project="/p")
    (verify,) = f.units
    assert verify.source == "project" and verify.cost_usd.p90 == pytest.approx(10.0)
    alone = forecast_phase([Unit(Step.VERIFY)], own * 10, ROOMY, project="/p").units[0]
    assert alone.cost_usd.p90 == pytest.approx(1.0)


def test_another_model_s_runs_do_not_count() -> None:
    opus = [Sample("/p", "o", Step.VERIFY, 0, 5.0, 60, "opus")] * 5
    f = forecast_phase([Unit(Step.VERIFY)], opus, ROOMY, project="/p", models={Step.VERIFY: "haiku"})
    assert f.units[0].source == "prior"
    f = forecast_phase([Unit(Step.VERIFY)], opus, ROOMY, project="/p", models={Step.VERIFY: "opus"})
    assert f.units[0].source == "project" and f.units[0].cost_usd.median == 5.0


def test_the_phase_total_and_no_stop_under_roomy_caps() -> None:
    history = [batch("/p", 1.0, tasks=1)] * 5 + [step("/p", Step.VERIFY, 2.0)] * 5
    units = [Unit(Step.IMPLEMENT, 3, i, f"batch {i + 1}") for i in range(3)] + [Unit(Step.VERIFY)]
    f = forecast_phase(units, history, ROOMY, project="/p")
    assert f.cost_usd.median == pytest.approx(11.0) and f.cost_usd.p90 == pytest.approx(11.0)
    assert f.duration_s.median == pytest.approx(9 * 600 + 60)
    assert f.p_stop == 0 and f.likely_stop is None and f.total_needed is None and f.batch_needed is None


def test_p90_over_the_total_cap_names_where_it_stops_and_the_cap_that_carries_it() -> None:
    history = [batch("/p", c, tasks=1) for c in (1.0, 1.0, 1.5, 2.0, 3.0)]
    units = [Unit(Step.IMPLEMENT, 2, i, f"batch {i + 1}") for i in range(5)]
    f = forecast_phase(units, history, Budget(per_batch=100, total=10), project="/p", seed=7)
    assert f.cost_usd.p90 > 10 and f.total_needed is not None and f.total_needed >= f.cost_usd.p90
    assert f.likely_stop in {"batch 3", "batch 4", "batch 5"}
    assert f.p_stop_total > 0.3 and f.p_stop_batch == 0 and f.p_stop == f.p_stop_total


def test_a_unit_over_the_per_batch_cap_asks_for_a_larger_one() -> None:
    history = [batch("/p", c, tasks=1) for c in (1.0, 1.0, 1.0, 1.0, 4.0)]
    units = [Unit(Step.IMPLEMENT, 1, i, f"batch {i + 1}") for i in range(4)]
    f = forecast_phase(units, history, Budget(per_batch=2, total=1000), project="/p")
    assert f.batch_needed == 4.0 and f.p_stop_batch > 0.4 and f.total_needed is None
    assert f.likely_stop is not None


def test_the_same_seed_gives_the_same_forecast() -> None:
    history = [batch("/p", c, tasks=1) for c in (1.0, 2.0, 3.0, 5.0)]
    units = [Unit(Step.IMPLEMENT, 2, i) for i in range(6)]
    a = forecast_phase(units, history, Budget(total=20), project="/p", seed=3)
    assert a == forecast_phase(units, history, Budget(total=20), project="/p", seed=3)


def _finished_record() -> OrchestrationRecord:
    r = record(Step.MERGE)
    r.state = Completed()
    r.batches = [
        BatchRecord(index=0, name="A", task_ids=["T1", "T2"], status=BatchStatus.HEALED, run_ids=["r1", "h1"],
                    cost_usd=1.5, started_at=NOW, finished_at=NOW + 10 * MIN),
        BatchRecord(index=1, name="B", task_ids=["T3"], status=BatchStatus.SKIPPED, run_ids=["r2"], cost_usd=0.3),
    ]  # fmt: skip
    r.steps[Step.VERIFY] = r.step_record(Step.VERIFY).model_copy(
        update={"status": StepStatus.COMPLETED, "run_ids": ["v"], "started_at": NOW, "finished_at": NOW + 2 * MIN}
    )
    r.totals.per_step = {Step.VERIFY: 0.4, Step.IMPLEMENT: 1.8}
    return r


def test_samples_of_a_record_are_its_finished_batches_and_steps() -> None:
    r = _finished_record()
    samples = samples_of(r)
    assert sorted((s.step.value, s.tasks, s.cost_usd, s.duration_s) for s in samples) == [
        ("implement", 2, 1.5, 600.0),
        ("verify", 0, 0.4, 120.0),
    ]
    cache = SampleCache()
    assert cache.missing(["o", "gone"]) == ["o", "gone"]
    cache.add("o", r)
    cache.add("gone", None)  # unreadable: no samples, and not asked for again
    assert cache.missing(["o", "gone", "new"]) == ["new"]
    assert cache.samples(["o", "gone", "o"]) == samples * 2


def test_live_progress_uses_the_forecast_and_learns_from_its_own_batches() -> None:
    r = record(Step.IMPLEMENT)
    r.batches = [
        BatchRecord(index=0, name="S0", task_ids=["T1", "T2"], status=BatchStatus.COMPLETED, run_ids=["a"],
                    started_at=NOW, finished_at=NOW + 4 * MIN, cost_usd=1.0),
        BatchRecord(index=1, name="S1", task_ids=["T3", "T4"], status=BatchStatus.RUNNING, started_at=NOW + 4 * MIN),
        BatchRecord(index=2, name="S2", task_ids=["T5", "T6"]),
    ]  # fmt: skip
    r.batches_planned = True
    history = [batch("/p", 1.0, tasks=2, seconds=240, orch=f"old{i}") for i in range(4)]
    history += [step("/p", s, 0.2, 60, orch=f"old{i}") for s in (Step.VERIFY, Step.MERGE) for i in range(4)]
    p = progress(r, NOW + 5 * MIN, done_ids=["T1", "T2"], history=history)
    # batch 1: 4 min less the 1 it ran; batch 2: 4 min; verify and merge: 1 min each
    assert p.remaining_s == pytest.approx((3 + 4 + 1 + 1) * 60)
    assert p.remaining_s is not None and p.remaining_p90_s is not None and p.remaining_p90_s >= p.remaining_s
    assert "this project's 5 finished orchestration(s)" in p.basis and "1 unit(s) of this run done" in p.basis
    early = progress(r.model_copy(update={"batches": r.batches[1:]}), NOW + 5 * MIN, done_ids=[], history=[])
    assert early.remaining_s is not None and "prior" in early.basis  # never "estimating…" with the forecast


_samples = st.lists(
    st.builds(
        Sample,
        project=st.sampled_from(["/p", "/q"]),
        orchestration=st.sampled_from(["o1", "o2", "o3"]),
        step=st.sampled_from(list(Step)),
        tasks=st.integers(0, 12),
        cost_usd=st.floats(0, 20),
        duration_s=st.floats(0, 5000),
    ),
    max_size=30,
)
_units = st.lists(st.builds(Unit, step=st.sampled_from(list(Step)), tasks=st.integers(0, 12)), max_size=8)


@settings(max_examples=60, deadline=None)
@given(history=_samples, units=_units, total=st.floats(0.5, 100), per_batch=st.floats(0.5, 20))
def test_forecasts_are_ordered_and_their_advice_consistent(
    history: list[Sample], units: list[Unit], total: float, per_batch: float
) -> None:
    budget = Budget(total=total, per_batch=per_batch)
    f = forecast_phase(units, history, budget, project="/p", draws=200)
    assert len(f.units) == len(units)
    for u in f.units:
        assert 0 <= u.cost_usd.median <= u.cost_usd.p90 and 0 <= u.duration_s.median <= u.duration_s.p90
        assert u.source in ("project", "all projects", "prior")
    assert f.cost_usd.median <= f.cost_usd.p90 and f.duration_s.median <= f.duration_s.p90
    assert 0 <= f.p_stop_total <= f.p_stop <= 1 and f.p_stop == pytest.approx(f.p_stop_total + f.p_stop_batch)
    assert (f.total_needed is not None) == (f.cost_usd.p90 > total)
    if f.total_needed is not None:
        assert f.total_needed >= f.cost_usd.p90
    if f.likely_stop is not None:
        assert f.likely_stop in {u.label for u in f.units} and f.p_stop > 0


def test_before_batches_are_planned_the_open_tasks_count_as_one_implement_unit() -> None:
    r = record(Step.ANALYZE)  # analyze running, implement's batches not planned yet
    r.steps[Step.ANALYZE] = r.step_record(Step.ANALYZE).model_copy(
        update={"status": StepStatus.RUNNING, "started_at": NOW}
    )
    history = [batch("/p", 1.0, tasks=1, seconds=100, orch=f"o{i}") for i in range(3)]
    history += [step("/p", s, 0.1, 60, orch=f"o{i}") for s in (Step.ANALYZE, Step.VERIFY, Step.MERGE) for i in range(3)]
    p = progress(r, NOW + 30 * timedelta(seconds=1), done_ids=[], history=history, open_tasks=10)
    # analyze: 60 s less the 30 it ran; implement: 10 tasks x 100 s; verify and merge: 60 s each
    assert p.remaining_s == pytest.approx(60 + 10 * 100 + 60 + 60 - 30)
    without = progress(r, NOW + 30 * timedelta(seconds=1), done_ids=[], history=history)
    assert without.remaining_s == pytest.approx(60 + 60 + 60 - 30)

"""The forecast's words in specflowctl: the preview block, and the p90 in the live progress line."""

from __future__ import annotations

from typing import Any

from specflowctl import render
from specflowctl.render_forecast import forecast_lines, span

BUDGET = {"per_batch": 2.0, "heal": 2.0, "total": 50.0}


def _unit(label: str, step: str, source: str, runs: int, tasks: int = 0) -> dict[str, Any]:
    q = {"median": 1.0, "p90": 2.5}
    return {"label": label, "step": step, "tasks": tasks, "source": source, "runs": runs,
            "cost_usd": q, "duration_s": {"median": 90, "p90": 4000}}  # fmt: skip


def test_the_p90_shows_beside_the_median_left() -> None:
    p = {"tasks_done": 4, "tasks_total": 20, "elapsed_s": 65, "remaining_s": 120, "remaining_p90_s": 380, "basis": "b"}
    assert render.progress_line(p) == "tasks 4/20 · elapsed 1m 05s · about 2m 00s left (p90 6m 20s; b)"
    assert render.progress_line({**p, "remaining_p90_s": 120}) == "tasks 4/20 · elapsed 1m 05s · about 2m 00s left (b)"


def test_a_prior_unit_says_so_and_a_unit_over_the_batch_cap_asks_for_a_larger_one() -> None:
    forecast = {
        "units": [_unit("design", "design", "prior", 0), _unit("batch 1 Core", "implement", "all projects", 7, 5)],
        "cost_usd": {"median": 2.0, "p90": 5.0}, "duration_s": {"median": 180, "p90": 8000},
        "p_stop": 0.004, "p_stop_total": 0.0, "p_stop_batch": 0.004, "likely_stop": "batch 1 Core",
        "total_needed": None, "batch_needed": 2.5, "basis": "the stated prior",
    }  # fmt: skip
    lines = forecast_lines(forecast, BUDGET)
    assert lines[0] == "forecast (median · p90) from the stated prior:"
    assert lines[2].split() == ["design", "$1.00", "·", "$2.50", "2m", "·", "1h", "07m", "prior"]
    assert lines[3].endswith("all projects, 7 finished") and "batch 1 Core (5 tasks)" in lines[3]
    assert lines[5] == "  chance of a budget stop: <1% (total cap 0%, per-batch cap <1%)"
    assert lines[6:] == [
        "  ! p90 is over a cap: the phase would likely stop at batch 1 Core",
        "    per batch: a unit's p90 over the $2.00 cap; --budget-batch 2.5 carries it through",
    ]
    assert forecast_lines(None, BUDGET) == [] and forecast_lines({**forecast, "units": []}, BUDGET) == []
    assert (span(59.4), span(61), span(3599), span(7170)) == ("59s", "1m", "1h 00m", "2h 00m")


def test_amounts_under_a_cent_keep_four_decimals_as_everywhere() -> None:
    cheap = {**_unit("verify", "verify", "project", 5), "cost_usd": {"median": 0.004, "p90": 0.008}}
    forecast = {
        "units": [cheap], "cost_usd": {"median": 0.004, "p90": 0.008}, "duration_s": {"median": 1, "p90": 2},
        "p_stop": 0.0, "p_stop_total": 0.0, "p_stop_batch": 0.0, "basis": "b",
    }  # fmt: skip
    assert "$0.0040 · $0.0080" in forecast_lines(forecast, BUDGET)[2]

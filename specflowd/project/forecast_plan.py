"""The forecast of a preview's plan: the units it would run, in order, forecast from the history (pure).

Design and analyze count when the plan runs them, every planned batch counts with its task ids, verify and
merge always count (merge waits for the user without ``auto_merge``, but the phase is not done without it).
Before design has written tasks.md there are no batches to forecast: the forecast then says so.
"""

from __future__ import annotations

from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.forecast import PhaseForecast, Sample, Unit, forecast_phase
from specflowd.project.status import OrchestrationPreview

__all__ = ["preview_forecast", "preview_units"]


def preview_units(preview: OrchestrationPreview) -> list[Unit]:
    runs = {s.step: s.runs for s in preview.steps}
    units = [Unit(s, 0, None, s.value) for s in (Step.DESIGN, Step.ANALYZE) if runs.get(s)]
    units += [
        Unit(Step.IMPLEMENT, len(b.task_ids), b.index, f"batch {b.index + 1} {b.name}".strip())
        for b in preview.batches
    ]
    units += [Unit(Step.VERIFY, 0, None, "verify"), Unit(Step.MERGE, 0, None, "merge")]
    return units


def preview_forecast(
    preview: OrchestrationPreview, config: OrchestrationConfig, history: list[Sample]
) -> PhaseForecast:
    forecast = forecast_phase(
        preview_units(preview), history, config.budget, project=preview.project, models=dict(config.models)
    )
    if runs_implement_unplanned(preview):
        forecast.basis += "; implement not included: its batches are planned once design writes tasks.md"
    return forecast


def runs_implement_unplanned(preview: OrchestrationPreview) -> bool:
    return not preview.batches and any(s.step is Step.IMPLEMENT and s.runs for s in preview.steps)

"""Paths of the real SpecFlow samples copied under tests/fixtures (see its README): CI depends on nothing
outside the repository."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "specflow-samples"
TASK_SAMPLES = SAMPLES / "tasks"
STATE_SAMPLE = SAMPLES / "state" / "orchestration-state.json"
ROADMAP_SAMPLES = SAMPLES / "roadmap"

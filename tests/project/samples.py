"""Paths of the reference samples (copies of shared/reference under tests/fixtures: CI must not depend on
files outside the repository)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "specflow-samples"
TASK_SAMPLES = SAMPLES / "tasks"
STATE_SAMPLE = SAMPLES / "state" / "orchestration-state.json"
ROADMAP_SAMPLES = SAMPLES / "roadmap"

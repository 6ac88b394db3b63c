"""Pure parsers of the state file and ROADMAP.md."""

from __future__ import annotations

import json

import pytest

from specflowd.project.problems import ProblemKind
from specflowd.project.roadmap import parse_roadmap
from specflowd.project.state import parse_state
from tests.project.samples import ROADMAP_SAMPLES, STATE_SAMPLE


def test_real_state_file() -> None:
    read = parse_state(STATE_SAMPLE.read_text(encoding="utf-8"), "state.json")
    assert read.problems == [] and read.skill is not None
    s = read.skill
    assert (s.step_current, s.step_index, s.step_status) == ("design", 0, "not_started")
    assert (s.phase_number, s.phase_branch, s.phase_status) == (None, None, "not_started")
    assert s.has_user_gate and s.user_gate_status == "confirmed"


def test_numeric_phase_number_becomes_text() -> None:
    text = json.dumps({"orchestration": {"phase": {"number": 1058, "branch": "1058-x"}, "step": {"index": "2"}}})
    s = parse_state(text, "p").skill
    assert s is not None and s.phase_number == "1058" and s.phase_branch == "1058-x" and s.step_index is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("{ nope", ProblemKind.CORRUPT_JSON),
        ("", ProblemKind.CORRUPT_JSON),
        ("[1, 2]", ProblemKind.BAD_SHAPE),
        ('{"orchestration": 3}', ProblemKind.BAD_SHAPE),
    ],
)
def test_bad_state_files_are_problems(text: str, kind: ProblemKind) -> None:
    read = parse_state(text, "/p/.specflow/orchestration-state.json")
    assert read.skill is None
    assert [(p.kind, p.path) for p in read.problems] == [(kind, "/p/.specflow/orchestration-state.json")]


def test_wrongly_typed_phase_and_step_are_tolerated() -> None:
    read = parse_state('{"orchestration": {"phase": "x", "step": null, "dashboard": {}}}', "p")
    assert read.problems == [] and read.skill is not None and read.skill.step_current is None


def test_roadmap_edge_cases() -> None:
    rows = {r.number: r for r in parse_roadmap((ROADMAP_SAMPLES / "roadmap-edge-cases.md").read_text(encoding="utf-8"))}
    assert rows["0010"].status == "complete" and rows["0010"].status_text == "✅ Complete"
    assert rows["0020"].status == "in_progress" and rows["0030"].status == "not_started"
    assert rows["0030"].user_gate and rows["1010"].user_gate and not rows["0040"].user_gate
    assert rows["0011"].name == "Hotfix: Critical Bug" and rows["0050"].name == "Setup: Node.js & npm"
    assert [rows[n].status for n in ("2010", "2020", "2030", "2040", "2050")] == [
        "complete", "in_progress", "not_started", "blocked", "complete",
    ]  # fmt: skip
    assert rows["0030"].gate == "USER GATE: API works"


def test_real_roadmap_ignores_other_tables() -> None:
    rows = parse_roadmap((ROADMAP_SAMPLES / "specflow-own-ROADMAP.md").read_text(encoding="utf-8"))
    by_number = {r.number: r for r in rows}
    assert len(rows) == 33 and rows[0].number == "0010" and rows[-1].number == "1070"
    assert by_number["1058"].user_gate and by_number["1058"].status == "complete"
    assert not by_number["1046"].user_gate and by_number["1060"].status == "not_started"
    assert by_number["0010"].line == 35


def test_minimal_roadmap_without_gate_column() -> None:
    rows = parse_roadmap((ROADMAP_SAMPLES / "roadmap-minimal.md").read_text(encoding="utf-8"))
    assert [(r.number, r.status, r.gate) for r in rows] == [
        ("0010", "complete", ""), ("0020", "in_progress", ""), ("0030", "not_started", ""),
    ]  # fmt: skip

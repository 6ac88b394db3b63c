"""ROADMAP.md phase tables (pure). Rows ``| Phase | Name | Status | Verification Gate |``; status by emoji
or word; ``USER GATE`` anywhere in the row marks a phase that stops before merge for the user."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PhaseRow", "parse_roadmap"]

_ROW = re.compile(r"^\|\s*(?P<number>\d{3,})\s*\|(?P<cells>.*)\|\s*$")


@dataclass(slots=True, frozen=True)
class PhaseRow:
    number: str
    name: str
    status: str  # complete | in_progress | not_started | blocked | unknown
    user_gate: bool
    gate: str
    line: int


def _status(text: str) -> str:
    lowered = text.lower()
    if "✅" in text or re.search(r"\b(complete|completed|done)\b", lowered):
        return "complete"
    if "🔄" in text or re.search(r"in[ _-]?progress|active|current", lowered):
        return "in_progress"
    if "⬜" in text or re.search(r"not[ _-]?started|pending|planned|todo", lowered):
        return "not_started"
    if "🚫" in text or "blocked" in lowered:
        return "blocked"
    return "unknown"


def parse_roadmap(text: str) -> list[PhaseRow]:
    rows: list[PhaseRow] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ROW.match(line.strip())
        if not match or match["number"] in seen:
            continue
        cells = [c.strip() for c in match["cells"].split("|")]
        name = cells[0] if cells else ""
        status = cells[1] if len(cells) > 1 else ""
        gate = cells[2] if len(cells) > 2 else ""
        seen.add(match["number"])
        rows.append(
            PhaseRow(
                match["number"], name, _status(status), "USER GATE" in line.upper(), gate.replace("**", ""), number
            )
        )
    return rows

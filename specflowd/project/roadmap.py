"""ROADMAP.md phase tables (pure). Rows ``| Phase | Name | Status | Verification Gate |``; status by emoji
or word. ``USER GATE`` in the status or the gate cell marks a phase that stops before merge for the user:
exactly where the SpecFlow CLI reads ``hasUserGate`` (a phase *named* "… USER GATE …" has none)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

__all__ = ["PhaseRow", "parse_roadmap"]

_ROW = re.compile(r"^\|\s*(?P<number>\d{3,})\s*\|(?P<cells>.*)\|\s*$")


class PhaseRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str
    name: str
    status: str  # complete | in_progress | not_started | blocked | unknown
    status_text: str  # the cell as written (emoji and word)
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
                number=match["number"],
                name=name,
                status=_status(status),
                status_text=status,
                user_gate="USER GATE" in status.upper() or "USER GATE" in gate.upper(),
                gate=gate.replace("**", ""),
                line=number,
            )
        )
    return rows

"""What the engine's end-to-end tests share: the agents, and reading an orchestration's record and log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support import Daemon

SIM = str(Path(sys.executable).parent / "specflowd-sim-agent")  # the shipped simulated agent
FAKE = str(Path(__file__).resolve().parents[1] / "fake_claude" / "claude")  # the scriptable fake CLI


def status(d: Daemon, orch_id: str) -> dict[str, Any]:
    return d.rpc("orchestrate.status", {"id": orch_id})["record"]  # type: ignore[no-any-return]


def decision_log(root: Path, orch_id: str) -> list[dict[str, Any]]:
    path = root / ".specflow" / "workflows" / f"orchestration-{orch_id}.events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

"""Named crash points, so every SIGKILL window of the daemon can be reproduced by a test.

``SPECFLOWD_FAULT=<point>[@<n>][,<point>[@<n>]…]`` makes the daemon SIGKILL itself the n-th time (default:
the first) it passes ``<point>``. The daemon reads the variable once at start (``configure``) and removes it
from its environment, so agent runs never inherit it. Unset, ``fault()`` is one falsy check and a return.
The points and what a kill there leaves on disk: docs/faults.md.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping, MutableMapping

__all__ = ["ENV", "POINTS", "configure", "fault", "parse"]

ENV = "SPECFLOWD_FAULT"

POINTS: Mapping[str, str] = {
    "between_record_and_log": "an orchestration record is saved, its decision-log entry not yet appended",
    "after_spawn_decision": "a spawn is recorded (record and log), the runner has not been asked to start it",
    "before_run_dir": "a run's directory is complete under its temporary name, not yet renamed into place",
    "before_fork": "a run's directory and metadata (status starting) exist, no process was forked",
    "after_fork": "the agent was forked and exec'd, its identity not yet taken",
    "before_pid_write": "the agent's identity is known, process.pid not yet written",
    "after_pid_write": "process.pid is written, metadata still says starting",
    "mid_atomic_write": "an atomic write's temporary file is complete, not yet renamed over the target",
}

log = logging.getLogger(__name__)

_armed: dict[str, int] = {}  # point -> the hit that kills
_hits: dict[str, int] = {}


def parse(text: str) -> dict[str, int]:
    """``"a,b@3"`` -> ``{"a": 1, "b": 3}``; ValueError for an unknown point or a bad count."""
    armed: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, count = item.partition("@")
        if name not in POINTS:
            raise ValueError(f"unknown fault point {name!r} (known: {', '.join(POINTS)})")
        if count and (not count.isdigit() or int(count) < 1):
            raise ValueError(f"fault point {name!r}: the hit number must be a positive integer, not {count!r}")
        armed[name] = int(count) if count else 1
    return armed


def configure(environ: MutableMapping[str, str]) -> dict[str, int]:
    """Arm the points named in ``environ[ENV]`` (removed from ``environ``). Raises ValueError when invalid."""
    armed = parse(environ.pop(ENV, ""))
    _armed.clear()
    _armed.update(armed)
    _hits.clear()
    if armed:
        log.warning("%s armed: %s", ENV, ", ".join(f"{p}@{n}" for p, n in armed.items()))
    return armed


def fault(point: str) -> None:
    """Die here (SIGKILL, no cleanup of any kind) when this point is armed for this hit."""
    if not _armed:
        return
    _hit(point)


def _hit(point: str) -> None:
    target = _armed.get(point)
    if target is None:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] == target:
        log.warning("%s: killing the daemon at %s (hit %d)", ENV, point, target)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)

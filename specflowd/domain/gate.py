"""The USER GATE as the skills read it (pure). One definition for the engine (decide) and the preview.

- A phase has a gate when its ROADMAP row says ``USER GATE`` in the status or gate cell (the CLI's
  ``hasUserGate``).
- ``userGateStatus`` ``confirmed`` or ``skipped`` both let merge go on (/flow.verify and /flow.merge accept
  either).
- A value carried over from an earlier phase never counts: ``phase close`` and ``phase open`` keep
  ``userGateStatus``, and the state file keeps no time for it. So the value seen when the orchestration
  started is its baseline, and the gate counts as passed only once the value is confirmed/skipped *and* it
  was seen different from that baseline at some point of the orchestration. Why this holds: only the skills
  (verify, merge, orchestrate) and the user write the key; a value different from the baseline was written
  after the start. A write that leaves the value unchanged (a stale ``confirmed`` written again) cannot be
  told apart, and does not happen through the skills: they ask only when the value is neither confirmed nor
  skipped, and never rewrite a passing one. With a stale passing value merge therefore waits for the user's
  ``merge`` (which passes any gate).
"""

from __future__ import annotations

__all__ = ["PASSING_GATE_STATUSES", "merge_wait_reason", "user_gate_passed"]

PASSING_GATE_STATUSES = frozenset({"confirmed", "skipped"})


def _passing(status: str | None) -> bool:
    return (status or "").strip().lower() in PASSING_GATE_STATUSES


def user_gate_passed(current: str | None, at_start: str | None, changed: bool) -> bool:
    """The gate is passed: a passing value that was written during this orchestration."""
    return _passing(current) and (changed or current != at_start)


def merge_wait_reason(has_gate: bool, gate_passed: bool, auto_merge: bool, current: str | None) -> str | None:
    """Why merge waits for the user (None: it runs). The preview asks with ``gate_passed=False`` (nothing has
    been confirmed during an orchestration that has not started), the engine with what it observed."""
    if has_gate and not gate_passed:
        if _passing(current):
            return (
                f"USER GATE: userGateStatus {current!r} was set before this orchestration started and does not "
                "count (/flow.verify will not ask again): merge waits for `specflowctl merge`"
            )
        return (
            "USER GATE: merge waits until the gate is confirmed or skipped during this orchestration "
            "(/flow.verify asks), or for `specflowctl merge`"
        )
    if not auto_merge:
        return "auto_merge is off: merge waits for `specflowctl merge`"
    return None

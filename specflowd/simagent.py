"""specflowd-sim-agent: a simulated Claude Code for the demo (and for trying specflowd without spending).

It accepts the real CLI's headless flags and prints stream-json shaped like Claude Code 2.1.x: an init
line, assistant/user messages with usage, and a result line with ``total_cost_usd`` and, with
``--json-schema``, ``structured_output``. What it "does" per skill:

- ``/flow.implement … (T004, T005)``: checks off exactly the named task ids in the active tasks.md;
- ``/flow.design``: creates spec.md / plan.md / tasks.md when missing;
- ``/flow.analyze``, ``/flow.verify``: report completion in ``.specflow/orchestration-state.json``;
- ``/flow.merge``: closes the phase (step back to design/not_started, phase not_started, its ROADMAP row
  ``✅ Complete``), as the real ``specflow phase close`` does.

Questions: when the project holds ``.specflow/sim-agent/ask.json`` (a list of questions in the result
schema's shape; ``specflowctl demo --ask`` writes one), the first implement run answers ``needs_input`` with
them, once. ``--resume <session>`` continues the session's first prompt (saved per session under
``.specflow/sim-agent/sessions/``), after noting the answers in ``.specflow/sim-agent/answers.md``.

Pace: ``.specflow/sim-agent/pace`` (seconds between simulated tool calls; ``specflowctl demo --pace`` writes
it) wins over the environment's ``SPECFLOW_SIM_DELAY``, so one demo can be slowed down to try pause, resume
and cancel on a daemon started without it.

Knobs (environment): ``SPECFLOW_SIM_DELAY`` seconds per task (default 0.2);
``SPECFLOW_SIM_FAIL_ONCE`` text: the first batch whose prompt contains it fails half-way, once (so the
demo shows healing); ``SPECFLOW_SIM_COST`` USD per turn (default 0.004).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from specflowd.orchestration_vocabulary import STEPS

__all__ = ["main"]

_TASK_ID = re.compile(r"\bT\d{3,}[a-z]?\b")
_VERSION = "2.1.197 (specflowd simulated agent)"
_MODEL = "claude-sim-1"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="claude", add_help=True)
    p.add_argument("-p", "--print", action="store_true")
    p.add_argument("--output-format", default="text", choices=["text", "json", "stream-json"])
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--session-id")
    p.add_argument("-r", "--resume")
    p.add_argument("--fork-session", action="store_true")
    p.add_argument("--model")
    p.add_argument("--fallback-model")
    p.add_argument("--max-budget-usd", type=float)
    p.add_argument("--json-schema")
    p.add_argument("--permission-mode")
    p.add_argument("--dangerously-skip-permissions", action="store_true")
    p.add_argument("--allowedTools", "--allowed-tools", nargs="+")
    p.add_argument("--disallowedTools", "--disallowed-tools", nargs="+")
    p.add_argument("--tools", nargs="+")
    p.add_argument("--append-system-prompt")
    p.add_argument("--settings")
    p.add_argument("--add-dir", nargs="+")
    p.add_argument("--no-session-persistence", action="store_true")
    p.add_argument("--version", action="version", version=_VERSION)
    p.add_argument("prompt", nargs="?")
    return p


class Stream:
    def __init__(self, session_id: str, cost_per_turn: float) -> None:
        self.session_id = session_id
        self.cost = 0.0
        self.turns = 0
        self.cost_per_turn = cost_per_turn

    def emit(self, obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def init(self, cwd: Path, permission_mode: str | None) -> None:
        self.emit(
            {
                "type": "system",
                "subtype": "init",
                "cwd": str(cwd),
                "session_id": self.session_id,
                "tools": ["Bash", "Edit", "Read", "StructuredOutput", "Write"],
                "mcp_servers": [],
                "model": _MODEL,
                "permissionMode": permission_mode or "default",
                "apiKeySource": "none",
                "claude_code_version": _VERSION,
                "uuid": str(uuid.uuid4()),
            }
        )

    def assistant(self, content: list[dict[str, Any]]) -> None:
        self.turns += 1
        self.cost = round(self.cost + self.cost_per_turn, 6)
        self.emit(
            {
                "type": "assistant",
                "message": {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": _MODEL,
                    "content": content,
                    "stop_reason": None,
                    "usage": {"input_tokens": 400, "output_tokens": 60},
                },
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": str(uuid.uuid4()),
            }
        )

    def tool(self, name: str, tool_input: dict[str, Any], result: str) -> None:
        tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
        self.assistant([{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}])
        self.emit(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": result}],
                },
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": str(uuid.uuid4()),
            }
        )

    def result(
        self, *, ok: bool, structured: dict[str, Any] | None, subtype: str = "success", errors: Any = None
    ) -> None:
        line: dict[str, Any] = {
            "type": "result",
            "subtype": subtype,
            "is_error": not ok,
            "duration_ms": 100,
            "num_turns": self.turns,
            "result": json.dumps(structured) if structured else ("done" if ok else "failed"),
            "session_id": self.session_id,
            "total_cost_usd": self.cost,
            "usage": {"input_tokens": 400 * self.turns, "output_tokens": 60 * self.turns},
            "modelUsage": {
                _MODEL: {"inputTokens": 400 * self.turns, "outputTokens": 60 * self.turns, "costUSD": self.cost}
            },
            "permission_denials": [],
            "terminal_reason": "completed" if ok else "error",
            "uuid": str(uuid.uuid4()),
        }
        if structured is not None:
            line["structured_output"] = structured
        if errors:
            line["errors"] = errors
        self.emit(line)


def _active_feature(root: Path) -> Path | None:
    specs = root / "specs"
    if not specs.is_dir():
        return None
    dirs = sorted(d for d in specs.iterdir() if d.is_dir() and re.match(r"^\d{3,}-", d.name))
    return dirs[-1] if dirs else None


def check_off(tasks_md: Path, task_id: str) -> bool:
    """Mark ``task_id`` done on the one task line whose id is exactly it."""
    pattern = re.compile(rf"^(\s*[-*]\s+\[) (\].*(?<![\w]){re.escape(task_id)}(?![\w]))", re.MULTILINE)
    text = tasks_md.read_text(encoding="utf-8")
    new, count = pattern.subn(r"\1x\2", text, count=1)
    if count:
        tasks_md.write_text(new, encoding="utf-8")
    return bool(count)


def _set_state(root: Path, step: str, status: str, *, close_phase: bool = False) -> None:
    path = root / ".specflow" / "orchestration-state.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            document = {}
    except (OSError, ValueError):
        document = {}
    orch = document.setdefault("orchestration", {})
    phase = orch.setdefault("phase", {})
    if close_phase:  # as `specflow phase close` leaves it (see the reference state file)
        orch["step"] = {"current": "design", "index": 0, "status": "not_started"}
        phase.update(id=None, number=None, name=None, branch=None, status="not_started")
    else:
        index = STEPS.index(step)
        orch["step"] = {"current": step, "index": index, "status": status}
        phase["status"] = "in_progress"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2), encoding="utf-8")
    tmp.replace(path)


def _merge_refusal(root: Path) -> str | None:
    """/flow.merge's first check: the step must say verify/complete (else it blocks, changing nothing)."""
    try:
        step = json.loads((root / ".specflow" / "orchestration-state.json").read_text(encoding="utf-8"))
        step = step["orchestration"]["step"]
        if step.get("current") == "verify" and step.get("status") == "complete":
            return None
        said = f"{step.get('current')}/{step.get('status')}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        said = "unreadable"
    return f"BLOCKED: the step is {said}, not verify/complete: run `/flow.verify` first"


def _sim_dir(root: Path) -> Path:
    return root / ".specflow" / "sim-agent"


def _session_prompt(root: Path, session_id: str, prompt: str, resumed: bool) -> str:
    """The work a session does: its first prompt. A continuation's prompt (answers, "continue") only adds to
    it, as the real CLI's conversation would; the answers are noted so the demo shows they arrived."""
    saved = _sim_dir(root) / "sessions" / f"{session_id}.txt"
    if not resumed or not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(prompt, encoding="utf-8")
        return prompt
    if prompt.startswith("The user answered"):
        with (_sim_dir(root) / "answers.md").open("a", encoding="utf-8") as notes:
            notes.write(prompt)
    return saved.read_text(encoding="utf-8")


def _questions_to_ask(root: Path) -> list[dict[str, Any]] | None:
    """The questions of ``ask.json``, the first time only (a marker file remembers that they were asked)."""
    script, marker = _sim_dir(root) / "ask.json", _sim_dir(root) / "asked"
    if not script.is_file() or marker.exists():
        return None
    try:
        questions = json.loads(script.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    marker.write_text("asked\n")
    return questions if isinstance(questions, list) and questions else None


def _close_roadmap_row(root: Path, number: str | None) -> None:
    """Mark the phase's ROADMAP row complete (the real ``phase close`` writes ``✅ Complete``)."""
    roadmap = root / "ROADMAP.md"
    if number is None or not roadmap.is_file():
        return
    lines = roadmap.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        cells = line.split("|")
        if len(cells) > 4 and cells[1].strip() == number:
            cells[3] = " ✅ Complete "
            lines[i] = "|".join(cells)
    roadmap.write_text("".join(lines), encoding="utf-8")


def _phase_number(root: Path) -> str | None:
    try:
        phase = json.loads((root / ".specflow" / "orchestration-state.json").read_text())["orchestration"]["phase"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    number = phase.get("number") if isinstance(phase, dict) else None
    return str(number) if number is not None else None


def _fail_once(root: Path, prompt: str) -> bool:
    trigger = os.environ.get("SPECFLOW_SIM_FAIL_ONCE")
    if not trigger or trigger not in prompt or "/flow.implement" not in prompt or "Heal" in prompt:
        return False
    marker = root / ".specflow" / "sim-agent" / f"failed-{hashlib.sha1(trigger.encode()).hexdigest()[:12]}"
    if marker.exists():
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("failed once\n")
    return True


def _pace(root: Path) -> float:
    """Seconds between simulated tool calls: the project's pace file, else SPECFLOW_SIM_DELAY, else 0.2."""
    try:
        return max(0.0, float((_sim_dir(root) / "pace").read_text(encoding="utf-8").strip()))
    except (OSError, ValueError):
        return float(os.environ.get("SPECFLOW_SIM_DELAY", "0.2"))


def run(args: argparse.Namespace, prompt: str, root: Path) -> int:
    delay = _pace(root)
    stream = Stream(
        args.resume or args.session_id or str(uuid.uuid4()), float(os.environ.get("SPECFLOW_SIM_COST", "0.004"))
    )
    stream.init(root, args.permission_mode)
    prompt = _session_prompt(root, stream.session_id, prompt, resumed=bool(args.resume))
    first_line = prompt.strip().splitlines()[0] if prompt.strip() else ""
    skill = first_line.split()[0] if first_line.startswith("/") else ""
    budget = args.max_budget_usd

    def over_budget() -> bool:
        return budget is not None and stream.cost > budget

    feature = _active_feature(root)
    if skill == "/flow.design":
        target = feature or (root / "specs" / "0001-feature")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("spec.md", "plan.md", "tasks.md"):
            if not (target / name).exists():
                stream.tool("Write", {"file_path": str(target / name)}, "written")
                (target / name).write_text(
                    f"# {name.removesuffix('.md').title()}\n\n- [ ] T001 First task\n"
                    if name == "tasks.md"
                    else f"# {name}\n"
                )
        _set_state(root, "design", "complete")
    elif skill == "/flow.implement" and (questions := _questions_to_ask(root)) is not None:
        time.sleep(delay)
        stream.assistant([{"type": "text", "text": "Before I start I need a decision from you."}])
        asked = {"status": "needs_input", "message": "I need a decision", "questions": questions}
        stream.assistant([{"type": "tool_use", "id": "toolu_ask", "name": "StructuredOutput", "input": asked}])
        stream.result(ok=True, structured=asked)
        return 0
    elif skill == "/flow.implement":
        ids = list(dict.fromkeys(_TASK_ID.findall(prompt)))
        tasks_md = feature / "tasks.md" if feature else None
        failing = _fail_once(root, prompt)
        todo = ids[: max(1, len(ids) // 2)] if failing else ids
        _set_state(root, "implement", "in_progress")
        for task_id in todo:
            time.sleep(delay)
            done = tasks_md is not None and tasks_md.exists() and check_off(tasks_md, task_id)
            stream.tool("Edit", {"file_path": str(tasks_md), "task": task_id}, "ok" if done else "no such open task")
            if over_budget():
                stream.result(
                    ok=False,
                    structured=None,
                    subtype="error_max_budget_usd",
                    errors=[f"Reached maximum budget (${budget})"],
                )
                return 1
        if failing:
            stream.assistant([{"type": "text", "text": "Simulated failure: the test suite crashed."}])
            stream.result(
                ok=False,
                structured=None,
                subtype="error_during_execution",
                errors=["simulated failure (SPECFLOW_SIM_FAIL_ONCE)"],
            )
            print("Error: simulated failure half-way through the batch", file=sys.stderr)
            return 1
    elif skill in ("/flow.analyze", "/flow.verify"):
        time.sleep(delay)
        stream.assistant([{"type": "text", "text": f"{skill}: all checks passed."}])
        _set_state(root, skill.removeprefix("/flow."), "complete")
    elif skill == "/flow.merge" and (refusal := _merge_refusal(root)) is not None:
        stream.tool("Bash", {"command": "specflow status --json"}, refusal)
        stream.assistant([{"type": "text", "text": refusal}])
    elif skill == "/flow.merge":
        time.sleep(delay)
        stream.tool("Bash", {"command": "specflow phase close"}, "phase closed")
        _close_roadmap_row(root, _phase_number(root))
        _set_state(root, "merge", "complete", close_phase=True)
    else:
        stream.assistant([{"type": "text", "text": "Nothing to do for this prompt."}])
    structured = {"status": "completed", "message": f"{skill or 'prompt'} done"} if args.json_schema else None
    stream.assistant([{"type": "tool_use", "id": "toolu_final", "name": "StructuredOutput", "input": structured or {}}])
    if over_budget():
        stream.result(
            ok=False, structured=None, subtype="error_max_budget_usd", errors=[f"Reached maximum budget (${budget})"]
        )
        return 1
    stream.result(ok=True, structured=structured)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    prompt = args.prompt if args.prompt is not None else ("" if sys.stdin.isatty() else sys.stdin.read())
    if not args.print or args.output_format != "stream-json":
        print(
            "specflowd-sim-agent only simulates headless stream-json runs (-p --output-format stream-json)",
            file=sys.stderr,
        )
        return 2
    return run(args, prompt, Path.cwd())


if __name__ == "__main__":
    sys.exit(main())

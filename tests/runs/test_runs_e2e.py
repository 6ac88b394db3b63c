"""Agent runs through the real daemon and specflowctl: start, logs, questions, kill -9 and re-adoption."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support import SPECFLOWCTL, Daemon, RawClient, running_daemon, wait_until

FAKE_CLAUDE = str(Path(__file__).resolve().parents[1] / "fake_claude" / "claude")
TASKS = "# Tasks: t\n\n## Phase 1: One\n- [ ] T001 a\n- [ ] T002 b\n\n## Phase 2: Two\n- [ ] T003 c\n"


@pytest.fixture
def agent_daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE_CLAUDE, FAKE_CLAUDE_ARGV_LOG=str(tmp_path / "argv.jsonl")) as d:
        yield d


def make_project(d: Daemon) -> Path:
    root = d.root / "proj"
    (root / "specs" / "0001-x").mkdir(parents=True)
    (root / "specs" / "0001-x" / "tasks.md").write_text(TASKS)
    d.rpc("projects.register", {"path": str(root)})
    return root


def set_script(d: Daemon, steps: list[dict[str, object]]) -> None:
    path = d.root / "script.json"
    path.write_text(json.dumps(steps))
    d.env["FAKE_CLAUDE_SCRIPT"] = str(path)


def run_status(d: Daemon, run_id: str) -> str:
    return str(d.rpc("runs.get", {"run": run_id})["status"])


def test_run_verb_logs_and_events(agent_daemon: Daemon) -> None:
    d = agent_daemon
    root = make_project(d)
    with RawClient(d.socket) as sub:
        sub.request("events.subscribe")
        started = d.ctl_json("run", str(root), "verify", "--context", "Check T001.")
        run_id = started["run_id"]
        seen = []
        while "run.finished" not in seen:
            seen.append(sub.read()["params"]["type"])
    assert seen[0] == "run.started"
    assert run_status(d, run_id) == "completed"
    logs = d.ctl("logs", run_id).stdout
    assert "→ Edit" in logs and "-- completed, cost $" in logs
    listed = d.ctl_json("runs", str(root))
    assert [r["run_id"] for r in listed["runs"]] == [run_id]
    assert d.rpc("daemon.status")["runs"] == {"active": 0, "total": 1}
    prompt = json.loads((d.root / "argv.jsonl").read_text().splitlines()[0])["prompt"]
    assert prompt.startswith("/flow.verify") and "Check T001." in prompt


def test_a_long_transcript_comes_in_pages_and_logs_prints_it_all(agent_daemon: Daemon) -> None:
    d = agent_daemon
    # ~0.6 MB of stream-json: three pages. Small usage per turn: at the default (1200/80 tokens, $0.008) the
    # live estimate crosses the $5 cap mid-stream whenever the supervisor reads before the result line arrives,
    # and the daemon rightly stops the run as budget_exceeded
    usage = {"input_tokens": 10, "output_tokens": 1}
    set_script(d, [{"action": "complete", "turns": 4000, "usage": usage}])
    d.stop()
    d.start()
    root = make_project(d)
    run_id = d.ctl_json("run", str(root), "verify")["run_id"]
    wait_until(lambda: run_status(d, run_id) == "completed", timeout=60, what="the run")
    first = d.rpc("runs.log", {"run": run_id, "since": 0})
    assert first["more"] and 0 < len(first["items"]) < 4000
    texts = [line for line in d.ctl("logs", run_id).stdout.splitlines() if "step " in line]
    assert len(texts) == 4000 and texts[0].endswith("step 1") and texts[-1].endswith("step 4000")


def test_missing_binary_is_a_clear_rpc_error(agent_daemon: Daemon) -> None:
    d = agent_daemon
    d.stop()
    d.env["SPECFLOW_CLAUDE"] = "/no/such/claude"
    d.start()
    root = make_project(d)
    result = d.ctl("run", str(root), "verify", check=False)
    assert result.returncode == 1 and "agent_unavailable" in result.stderr and "SPECFLOW_CLAUDE" in result.stderr


def test_questions_answered_from_the_cli(agent_daemon: Daemon) -> None:
    d = agent_daemon
    set_script(
        d,
        [
            {"action": "ask", "questions": [{"question": "Which DB?", "header": "db", "options": [{"label": "pg"}]}]},
            {"action": "complete", "tasks": ["T003"]},
        ],
    )
    d.stop()
    d.start()
    root = make_project(d)
    run_id = d.rpc("runs.start", {"project": str(root), "skill": "implement"})["run_id"]
    wait_until(lambda: run_status(d, run_id) == "waiting_input", what="question asked")
    pending = d.rpc("questions.list", {})
    assert pending["questions"][0]["run_id"] == run_id and pending["questions"][0]["questions"][0]["header"] == "db"
    interactive = subprocess.run(
        [SPECFLOWCTL, "answer", run_id], input="1\n", env=d.env, capture_output=True, text=True, timeout=30
    )
    assert interactive.returncode == 0, interactive.stderr
    wait_until(lambda: run_status(d, run_id) == "completed", what="resumed run completes")
    again = d.ctl("answer", run_id, "--answer", "db=pg", check=False)
    assert again.returncode == 1 and "not waiting" in again.stderr
    assert "[x] T003" in (root / "specs" / "0001-x" / "tasks.md").read_text()
    second = json.loads((d.root / "argv.jsonl").read_text().splitlines()[1])
    assert second["argv"][second["argv"].index("--resume") + 1] == run_id and "pg" in second["prompt"]


def test_daemon_kill_9_mid_run_then_readopt(agent_daemon: Daemon) -> None:
    d = agent_daemon
    set_script(d, [{"action": "complete", "delay": 1.5}])
    d.stop()
    d.start()
    root = make_project(d)
    run_id = d.rpc("runs.start", {"project": str(root), "skill": "implement", "context": "T001 T002"})["run_id"]
    output = root / ".specflow" / "workflows" / run_id / "output.jsonl"
    wait_until(lambda: output.exists() and output.stat().st_size > 0, what="run producing output")
    pid = json.loads((root / ".specflow" / "workflows" / run_id / "process.pid").read_text())["pid"]
    d.stop(signal.SIGKILL)
    assert psutil.pid_exists(pid)  # the agent outlives the daemon
    d.start()
    wait_until(lambda: run_status(d, run_id) == "completed", timeout=20, what="re-adopted run completes")
    assert len((d.root / "argv.jsonl").read_text().splitlines()) == 1  # never spawned twice
    text = (root / "specs" / "0001-x" / "tasks.md").read_text()
    assert "[x] T001" in text and "[x] T002" in text


def test_cancel_from_cli(agent_daemon: Daemon) -> None:
    d = agent_daemon
    set_script(d, [{"action": "hang"}])
    d.stop()
    d.start()
    root = make_project(d)
    run_id = d.rpc("runs.start", {"project": str(root), "skill": "implement"})["run_id"]
    cancelled = d.ctl_json("run-cancel", run_id)
    assert cancelled["status"] == "cancelled"


def test_answers_lost_to_a_kill_before_the_exec_are_asked_again(agent_daemon: Daemon) -> None:
    """SIGKILL after the answered run's continued record is written, before the agent's exec (crash point
    before_fork, 2nd spawn): after the restart the run waits for its answers again, in the same session."""
    d = agent_daemon
    set_script(
        d,
        [
            {"action": "ask", "questions": [{"question": "Which DB?", "header": "db", "options": [{"label": "pg"}]}]},
            {"action": "complete", "tasks": ["T003"]},
        ],
    )
    d.stop()
    d.env["SPECFLOWD_FAULT"] = "before_fork@2"
    d.start()
    root = make_project(d)
    run_id = d.rpc("runs.start", {"project": str(root), "skill": "implement"})["run_id"]
    wait_until(lambda: run_status(d, run_id) == "waiting_input", what="question asked")
    with RawClient(d.socket, timeout=30) as client:
        client.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "questions.answer",
                "params": {"run": run_id, "answers": {"Which DB?": "pg"}},
            }
        )
        assert client.read() is None  # the daemon dies before it answers: the connection just closes
    assert d.proc is not None and d.proc.wait(timeout=30) == -signal.SIGKILL
    del d.env["SPECFLOWD_FAULT"]
    d.start()
    assert run_status(d, run_id) == "waiting_input"
    (pending,) = d.rpc("questions.list", {})["questions"]
    assert pending["run_id"] == run_id and pending["questions"][0]["header"] == "db"
    d.rpc("questions.answer", {"run": run_id, "answers": {"Which DB?": "pg"}})
    wait_until(lambda: run_status(d, run_id) == "completed", what="the answered run completes")
    invocations = [json.loads(line) for line in (d.root / "argv.jsonl").read_text().splitlines()]
    assert len(invocations) == 2  # the killed continuation never ran an agent
    assert invocations[1]["argv"][invocations[1]["argv"].index("--resume") + 1] == run_id

"""What Claude Code's sandbox adds to an agent run: the real CLI, specflowd's own command line, a scripted model.

Run: .venv/bin/python bench/sandbox.py [--runs 7] [--calls 10]
(needs the pinned CLI: .ci/install-claude-cli, or SPECFLOW_E2E_CLAUDE; and bubblewrap and socat).

Each run is a batch-like invocation: ``--calls`` Bash tool calls (a file written in the project, as a batch's
edits and checks are), then the structured result. The same script runs sandboxed (the default: acceptEdits
+ the sandbox settings) and unsandboxed (``sandbox = false``: acceptEdits, ``--allowedTools Bash``, no
settings), interleaved so that load on the machine hits both alike. Prints the median wall time of a run of
each kind, the difference, and the difference per Bash call. The model's own time is zero here (a local
scripted API): a real batch spends minutes in the model, so what matters is the absolute figure per call.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specflowd.runner.argv import build_argv, child_env
from specflowd.runner.sandbox import ProjectSandbox, run_sandbox, run_temp_dir
from specflowd.runner.sandboxcheck import make_temp_dir, sandbox_problem
from specflowd.vocabulary import PermissionMode
from tests.e2e.conftest import cli_env, find_cli
from tests.e2e.messages_api import ScriptedMessagesAPI, bash, structured_output, tools


def one_run(cli: Path, calls: int, sandboxed: bool, base: Path) -> float:
    project, home = base / f"p-{uuid.uuid4().hex[:8]}", base / "home"
    project.mkdir()
    home.mkdir(exist_ok=True)
    session = str(uuid.uuid4())
    temp_dir = run_temp_dir(Path(tempfile.gettempdir()), os.geteuid(), session) if sandboxed else None
    if temp_dir is not None:
        make_temp_dir(temp_dir)
    sandbox = run_sandbox(
        enabled=sandboxed,
        project_root=project,
        temp_dir=temp_dir,
        uid=os.geteuid(),
        permission_mode=PermissionMode.ACCEPT_EDITS,
        settings=ProjectSandbox(),
        limits_enforced=False,
    )
    script = [tools(bash(f"echo step {i} >> progress.txt")) for i in range(calls)]
    script.append(tools(structured_output(status="completed", message="done")))
    try:
        with ScriptedMessagesAPI(script) as api:
            argv = build_argv(str(cli), session_id=session, budget_usd=5, sandbox=sandbox)
            env = child_env(
                cli_env(api.base_url, home),
                {},
                permission_mode=PermissionMode.ACCEPT_EDITS,
                is_root=os.geteuid() == 0,
                sandboxed=sandboxed,
                temp_dir=temp_dir,
            )
            env.pop("IS_SANDBOX", None)
            started = time.perf_counter()
            done = subprocess.run(argv, input="go", capture_output=True, text=True, cwd=project, env=env, check=False)
            elapsed = time.perf_counter() - started
        lines = (project / "progress.txt").read_text().splitlines() if (project / "progress.txt").exists() else []
        if done.returncode != 0 or len(lines) != calls:
            raise SystemExit(f"run failed (exit {done.returncode}, {len(lines)}/{calls} calls): {done.stderr[-500:]}")
        return elapsed
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    cli = find_cli()
    if cli is None:
        raise SystemExit("the real Claude Code CLI is not installed: run .ci/install-claude-cli")
    if problem := sandbox_problem(os.environ):
        raise SystemExit(f"this machine cannot sandbox: {problem}")
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        one_run(cli, 1, True, Path(tmp))  # warm the page cache for both kinds
        for _ in range(args.runs):
            for sandboxed in (False, True):
                times[sandboxed].append(one_run(cli, args.calls, sandboxed, Path(tmp)))
    plain, boxed = statistics.median(times[False]), statistics.median(times[True])
    print(f"cpus {os.cpu_count()} · {args.runs} runs of each kind · {args.calls} Bash calls per run")
    print(f"unsandboxed run   median {plain:6.2f} s   (min {min(times[False]):.2f}, max {max(times[False]):.2f})")
    print(f"sandboxed run     median {boxed:6.2f} s   (min {min(times[True]):.2f}, max {max(times[True]):.2f})")
    per_call = (boxed - plain) / args.calls * 1000
    print(f"sandbox adds      {boxed - plain:+6.2f} s per run, {per_call:+.0f} ms per Bash call")


if __name__ == "__main__":
    main()

"""The sandbox and the resource limits around real child processes (the fake `claude` under a real
RunManager): a machine that cannot sandbox refuses the start, and a systemd user manager gets each run in its
own scope with the limits — the scope's `systemd-run` is a stand-in that execs the agent, as `--scope` does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from specflowd.errors import AgentUnavailable
from specflowd.runner.manager import RunManager
from specflowd.runner.rundir import RunDir
from specflowd.runner.sandbox import ProjectSandbox, SandboxLimits
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, supervising

pytestmark = pytest.mark.anyio


def _path_without(tmp_path: Path, *names: str) -> str:
    shadow = tmp_path / "shadow-bin"
    shadow.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and Path(directory).is_dir():
            for entry in os.scandir(directory):
                target = shadow / entry.name
                if entry.name not in names and not target.exists() and not target.is_symlink():
                    target.symlink_to(entry.path)
    return str(shadow)


async def test_a_machine_that_cannot_sandbox_refuses_the_start(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _path_without(tmp_path, "bwrap"))
    async with supervising(harness.manager()) as manager:
        with pytest.raises(AgentUnavailable, match="apt-get install bubblewrap socat"):
            await manager.start(harness.spec(run_id="11111111-2222-4333-8444-555555555555"))
        assert not RunDir(harness.project, "11111111-2222-4333-8444-555555555555").path.exists()  # nothing written
        assert harness.invocations() == []
        unconfined = await manager.start(harness.spec(sandbox=False))  # asked for: it runs
        record = await manager.wait_final(unconfined.run_id)
    assert record.status == RunStatus.COMPLETED and record.sandbox is not None and not record.sandbox.enabled
    (call,) = harness.invocations()
    assert "--settings" not in call["argv"]


async def test_under_a_systemd_user_manager_each_run_gets_its_own_scope(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, runtime = tmp_path / "bin", tmp_path / "runtime"
    (runtime / "systemd").mkdir(parents=True)
    (runtime / "systemd" / "private").touch()  # where systemd --user listens
    bin_dir.mkdir()
    log = tmp_path / "systemd-run.jsonl"
    stand_in = bin_dir / "systemd-run"
    stand_in.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps({{'argv': sys.argv[1:], 'pid': os.getpid()}}) + '\\n')\n"
        "rest = sys.argv[sys.argv.index('--') + 1:]\n"
        "os.execv(rest[0], rest)\n"
    )
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    limits = SandboxLimits(memory_max="50%", cpu_quota="150%", tasks_max=4096)
    manager = RunManager(
        emit=harness.emit,
        settings=harness.settings(),
        sandbox_settings=lambda _root: ProjectSandbox(limits=limits),
    )
    async with supervising(manager):
        started = await manager.start(harness.spec())
        record = await manager.wait_final(started.run_id)
    assert record.status == RunStatus.COMPLETED, record
    assert record.sandbox is not None and record.sandbox.limits_enforced
    assert record.sandbox.limits == ["MemoryMax=50%", "CPUQuota=150%", "TasksMax=4096"]
    (scope,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert scope["argv"][:6] == ["--user", "--scope", "--quiet", "--collect", f"--unit=specflowd-run-{record.run_id}", "-p"]
    assert "MemoryMax=50%" in scope["argv"] and "TasksMax=4096" in scope["argv"]
    assert record.argv[0] == str(stand_in) and record.argv[record.argv.index("--") + 1] == harness.settings().claude
    # the scope execs the agent: the pid the runner recorded and watched is the agent's own
    identity = RunDir(harness.project, record.run_id).load_identity()
    assert identity is not None and identity.pid == scope["pid"]
    (call,) = harness.invocations()
    assert "--settings" in call["argv"]

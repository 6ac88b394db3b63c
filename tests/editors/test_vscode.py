"""The VS Code extension's daemon side (client/vscode/src/daemon, no `vscode` import) under node's test
runner, against the real daemon with the simulated agent (or the scriptable fake CLI for questions)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.editors.node_support import VSCODE, compile_extension, run_node_test, skip_reason
from tests.editors.scenarios import SIM_AGENT, asking_agent, assert_resumed_with_answers, demo_daemon
from tests.editors.socket_cases import write_cases
from tests.support import SPECFLOWD, can_connect, sandbox_env, set_sim_pace, wait_until

needs_node = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture(scope="module")
def compiled() -> Iterator[None]:
    compile_extension()
    yield


def test_every_contributed_command_is_registered_and_named_like_the_nvim_subcommands() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    contributed = {c["command"] for c in manifest["contributes"]["commands"]}
    registered = set(re.findall(r'"(specflow\.\w+)":', (VSCODE / "src" / "extension.ts").read_text()))
    assert contributed == registered
    lua = (VSCODE.parent / "nvim" / "lua" / "specflow" / "init.lua").read_text()
    assert {c.removeprefix("specflow.") for c in contributed} == set(re.findall(r"^function commands\.(\w+)\(", lua, re.M))
    assert manifest["engines"]["vscode"] == "^" + manifest["devDependencies"]["@types/vscode"]  # vsce requires types <= engine


@needs_node
@pytest.mark.usefixtures("compiled")
def test_pure_parts_and_no_daemon(tmp_path: Path) -> None:
    write_cases(tmp_path / "cases.json")
    env = {**sandbox_env(tmp_path), "SPECFLOW_SOCKET_CASES": str(tmp_path / "cases.json")}
    run_node_test("pure", env, expect_pass=7)


@needs_node
@pytest.mark.usefixtures("compiled")
def test_orchestrate_follow_and_merge(tmp_path: Path) -> None:
    with demo_daemon(tmp_path, SIM_AGENT) as (d, root):
        # The node test sees batch 1 at 0 tasks done: batch 1's agent is paced so that the status bar gets there
        # before its first tick on a loaded machine too; the runs after it are instant again.
        set_sim_pace(root, 0.5)

        def unpace_after_batch_1() -> None:
            def batch_1_done() -> bool:
                reply = d.raw("orchestrate.status", {"project": str(root)})  # not_found until the node test starts it
                batches = reply.get("result", {}).get("record", {}).get("batches") or []
                return bool(batches) and batches[0]["status"] in ("completed", "healed", "skipped")

            wait_until(batch_1_done, 120, interval=0.1, what="batch 1 finished")
            set_sim_pace(root, 0)

        pacer = threading.Thread(target=unpace_after_batch_1, daemon=True)
        pacer.start()
        run_node_test("orchestrate", {**d.env, "SPECFLOW_TEST_PROJECT": str(root)}, expect_pass=1)
        pacer.join(timeout=10)
        record = d.rpc("orchestrate.status", {"project": str(root)})["record"]
    assert record["status"] == "completed" and record["config"]["skip_analyze"] is True


@needs_node
@pytest.mark.usefixtures("compiled")
def test_questions_answered(tmp_path: Path) -> None:
    with demo_daemon(tmp_path, asking_agent(tmp_path)) as (d, root):
        run_node_test("answer", {**d.env, "SPECFLOW_TEST_PROJECT": str(root)}, expect_pass=1)
    assert_resumed_with_answers(tmp_path)


@needs_node
@pytest.mark.usefixtures("compiled")
def test_reconnects_after_a_daemon_restart(tmp_path: Path) -> None:
    with demo_daemon(tmp_path, SIM_AGENT) as (d, root):
        env = {**d.env, "SPECFLOW_TEST_PROJECT": str(root), "SPECFLOWD_BIN": SPECFLOWD}
        run_node_test("reconnect", env, expect_pass=1)
        assert d.proc is not None and d.proc.wait(20) == 0  # the first daemon left through daemon.shutdown
    assert not can_connect(d.socket), "the daemon the node test started is still running"

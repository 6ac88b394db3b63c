"""The VS Code extension's daemon side connected to another host's daemon through `ssh HOST specflowctl bridge`
(a real sshd on a loopback port), under node's test runner (client/vscode/src/test/remote.test.ts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.editors.node_support import compile_extension, run_node_test, skip_reason
from tests.editors.scenarios import asking_agent, assert_resumed_with_answers, demo_daemon
from tests.remote.sshd import Sshd
from tests.support import can_connect, sandbox_env

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture(scope="module")
def compiled() -> Iterator[None]:
    compile_extension()
    yield


@pytest.mark.usefixtures("compiled")
def test_the_extension_through_the_bridge(sshd: Sshd, tmp_path: Path) -> None:
    with demo_daemon(sshd.root / "a", asking_agent(tmp_path)) as (d, root):
        sshd.add_host("hosta", d.env)
        env = {
            **sandbox_env(tmp_path / "editor"),  # no daemon on this side
            "SPECFLOWCTL_HOST": "hosta",
            "SPECFLOWCTL_SSH": sshd.ssh_command,
            "SPECFLOW_TEST_PROJECT": str(root),
        }
        run_node_test("remote", env, expect_pass=3)
        assert d.proc is not None and d.proc.wait(20) == 0  # it left through daemon.shutdown sent over ssh
    assert_resumed_with_answers(tmp_path)
    assert not can_connect(d.socket), "the daemon the bridge started is still running"

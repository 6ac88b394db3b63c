"""The Neovim plugin connected to another host's daemon through `ssh HOST specflowctl bridge` (a real sshd on a
loopback port): the same scenarios as on the local socket (tests/editors), the plugin given only a host."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.editors.nvim_support import run_script, skip_reason
from tests.editors.scenarios import SIM_AGENT, asking_agent, assert_resumed_with_answers, demo_daemon
from tests.remote.sshd import Sshd
from tests.support import can_connect, sandbox_env, wait_until

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def _editor_env(sshd: Sshd, tmp_path: Path) -> dict[str, str]:
    """Neovim's environment: a sandbox of its own (no daemon there), the host and the ssh command."""
    return {**sandbox_env(tmp_path / "editor"), "SPECFLOWCTL_HOST": "hosta", "SPECFLOWCTL_SSH": sshd.ssh_command}


def test_a_question_is_notified_and_answered_through_the_bridge(sshd: Sshd, tmp_path: Path) -> None:
    with demo_daemon(sshd.root / "a", asking_agent(tmp_path)) as (d, root):
        sshd.add_host("hosta", d.env)
        env = _editor_env(sshd, tmp_path)
        seen = run_script("answer", env, root, tmp_path)
        # nvim quit: its ssh child is gone and the far bridge with it, taking the subscription along
        wait_until(lambda: d.rpc("daemon.status")["subscribers"] == 0, timeout=20, what="no subscriber left")
    notice = next(n for n in seen["notifications"] if "asks" in n["message"])
    assert notice["message"] == "specflow demo: the implement run asks: Which storage? (+1 more)  →  :Specflow answer"
    assert seen["choices"] == ["json", "sqlite", "Other…"]
    assert_resumed_with_answers(tmp_path)
    assert not can_connect(Path(env["SPECFLOWD_SOCKET"]))


def test_reconnects_through_the_bridge_which_starts_the_daemon_again(sshd: Sshd, tmp_path: Path) -> None:
    with demo_daemon(sshd.root / "a", SIM_AGENT) as (d, root):
        sshd.add_host("hosta", d.env)
        # the far daemon leaves through daemon.shutdown; nothing here restarts it: the bridge of the plugin's
        # next attempt does (SPECFLOWD_BIN is a no-op for the shared script)
        seen = run_script("reconnect", {**_editor_env(sshd, tmp_path), "SPECFLOWD_BIN": "true"}, root, tmp_path)
        assert d.proc is not None and d.proc.wait(20) == 0
    messages = [n["message"] for n in seen["notifications"]]
    assert any(
        m.startswith("specflow: lost specflowd on hosta: ") and m.endswith("; reconnecting") for m in messages
    ), messages
    assert "specflow: reconnected to specflowd" in messages
    assert seen["generation"] == 2
    assert seen["final_statusline"].startswith("specflow merge (completed) · batch 4/4 · tasks 20/20 · $")
    assert not can_connect(d.socket), "the daemon the bridge started is still running"

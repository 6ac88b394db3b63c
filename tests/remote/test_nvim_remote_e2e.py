"""The Neovim plugin connected to another host's daemon through `ssh HOST specflowctl bridge` (a real sshd on a
loopback port): the same scenarios as on the local socket (tests/editors), the plugin given only a host."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.editors.nvim_support import NVIM, REPO, run_script, skip_reason
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
    assert seen["choices"] == ["json", "sqlite"]  # the demo's question offers no Other choice
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


def test_an_unreachable_host_is_one_line_naming_it(sshd: Sshd, tmp_path: Path) -> None:
    assert NVIM is not None
    result = tmp_path / "down.json"
    env = {
        **sandbox_env(tmp_path),
        "TEST_SSH": sshd.ssh_command,
        "SPECFLOW_REPO": str(REPO),
        "SPECFLOW_NVIM_RESULT": str(result),
    }
    script = Path(__file__).with_name("nvim_down.lua")
    subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {script}"],
        env=env,
        timeout=120,
        check=False,
    )
    seen = json.loads(result.read_text())
    assert not seen.get("error"), seen["error"]
    assert re.fullmatch(
        r"cannot reach down over ssh \(ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused\); .+",
        seen["message"],
    )
    assert seen["connection"] == "offline" and seen["host"] == "down"
    assert seen["argv"] == [
        "ssh",
        "-F",
        "cfg",
        "-o",
        "ConnectTimeout=10",
        "-p",
        "2222",
        "-T",
        "--",
        "me@box",
        "'/opt/my env/specflowctl' bridge",
    ]
    assert seen["ipv6"] == ["::1", 22]
    assert all("host" in why.lower() or "port" in why for why in seen["bad"]), seen["bad"]

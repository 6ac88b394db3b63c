"""specflowctl --host against a stand-in for ssh (tests/remote/fake_ssh.py): one connection per host per
invocation, and a far daemon speaking another protocol refused in one line. No sshd, no daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import SPECFLOWCTL, sandbox_env

FAKE_SSH = Path(__file__).with_name("fake_ssh.py")


def _run(
    tmp_path: Path, *args: str, protocol: int = 2, greeting: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = tmp_path / "ssh.log"
    env = {
        "FAKE_SSH_GREETING": greeting,
        **sandbox_env(tmp_path),
        "SPECFLOWCTL_SSH": f"{sys.executable} {FAKE_SSH}",
        "FAKE_SSH_LOG": str(log),
        "FAKE_SSH_PROTOCOL": str(protocol),
    }
    done = subprocess.run([SPECFLOWCTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    connections = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, connections


def test_a_verb_of_several_calls_opens_one_connection(tmp_path: Path) -> None:
    done, connections = _run(tmp_path, "--host", "me@box:2200", "ls", "--json")  # orchestrate.list + scheduler.status
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["orchestrations"] == []
    assert connections == [["-o", "ConnectTimeout=10", "-p", "2200", "-T", "--", "me@box", "specflowctl bridge"]]


def test_another_protocol_on_the_far_side_is_refused_in_one_line(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, "--host", "box", "ls", protocol=3)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "box speaks protocol 3 (specflowd 9.9.9), this client protocol 2" in done.stderr
    assert "upgrade specflowd on the older side" in done.stderr


def test_a_login_script_printing_on_stdout_is_named_not_a_traceback(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, "--host", "box", "ls", greeting="Welcome to box!")
    assert done.returncode == 3 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "box sent text that is not JSON-RPC (b'Welcome to box!'); a login script there" in done.stderr

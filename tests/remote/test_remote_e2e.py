"""specflowctl against daemons on "other hosts", through a real OpenSSH sshd on a loopback port.

Each simulated host is a second specflowd with its own HOME and socket, reached as ``ssh HOST specflowctl
bridge`` (tests/remote/sshd.py). The client side has a sandbox of its own with no daemon at all: whatever
answers came over ssh.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from tests.remote.sshd import SSH, Sshd
from tests.support import SPECFLOWCTL, VENV_BIN, Daemon, RawClient, can_connect, running_daemon, sandbox_env, wait_until

SIM_AGENT = str(VENV_BIN / "specflowd-sim-agent")


@dataclass
class Remote:
    sshd: Sshd
    daemon: Daemon  # the specflowd "on" hosta
    env: dict[str, str]  # the client's environment: its own HOME and socket, where no daemon runs
    host: str  # hosta as [user@]HOST:PORT

    def ctl(
        self, *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SPECFLOWCTL, *args], env=env or self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def ok(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        result = self.ctl(*args, timeout=timeout)
        assert result.returncode == 0, f"{args} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result


@pytest.fixture
def remote(sshd: Sshd, tmp_path: Path) -> Iterator[Remote]:
    with running_daemon(sshd.root / "a", SPECFLOW_SIM_DELAY="0") as daemon:
        sshd.add_host("hosta", daemon.env)
        env = dict(sandbox_env(tmp_path / "client"), SPECFLOWCTL_SSH=sshd.ssh_command)
        yield Remote(sshd, daemon, env, f"127.0.0.1:{sshd.port}")
        assert not can_connect(Path(env["SPECFLOWD_SOCKET"])), "no daemon may have started on the client side"


def test_a_demo_phase_orchestrated_and_followed_through_host(remote: Remote) -> None:
    root = create_demo_project(remote.daemon.root / "demo")  # a project on that host
    h = ("--host", remote.host)
    assert "registered demo" in remote.ok(*h, "projects", "add", str(root)).stdout
    followed = remote.ctl(*h, "orchestrate", str(root), "--yes", "--auto-merge", "--agent", SIM_AGENT, timeout=180)
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "finish_batch" in followed.stdout and "completed" in followed.stdout
    # the same phase as that host's daemon knows it
    (record,) = remote.daemon.rpc("orchestrate.list", {"include_finished": True})["orchestrations"]
    assert record["status"] == "completed"
    status = remote.ok(*h, "status", str(root)).stdout
    assert "completed" in status and record["id"][:6] in status
    watched = remote.ctl(*h, "status", "--watch", "--json", str(root))
    assert watched.returncode == 0 and json.loads(watched.stdout.splitlines()[-1])["data"]["status"] == "completed"
    assert "complete" in remote.ok(*h, "log", record["id"][:8]).stdout
    runs = remote.ok(*h, "runs", str(root), "--json").stdout
    run_id = json.loads(runs)["runs"][0]["run_id"]
    assert remote.ok(*h, "logs", run_id[:8]).stdout.strip()
    # the environment and the settings file choose the host too; a relative path is refused, not guessed
    by_env = remote.ctl("ls", env={**remote.env, "SPECFLOWCTL_HOST": remote.host})
    assert by_env.returncode == 0 and record["id"][:6] in by_env.stdout
    relative = remote.ctl(*h, "status", "demo/sub")
    assert relative.returncode == 2 and f"absolute path on {remote.host}" in relative.stderr


def test_a_question_answered_remotely(remote: Remote) -> None:
    root = create_demo_project(remote.daemon.root / "asking", ask=True)
    h = ("--host", remote.host)
    remote.ok(*h, "projects", "add", str(root))
    asked = remote.ctl(*h, "orchestrate", str(root), "--yes", "--auto-merge", "--agent", SIM_AGENT, timeout=180)
    assert asked.returncode == 5, asked.stdout + asked.stderr
    run = re.search(r"specflowctl answer ([0-9a-f]{8})", asked.stdout)
    assert run, asked.stdout
    listed = remote.ok(*h, "questions").stdout
    assert "[storage]" in listed and run.group(1) in listed
    assert remote.ok(*h, "answer", run.group(1), "--answer", "storage=sqlite").stdout.startswith("resumed run ")
    followed = remote.ok(*h, "logs", "-f", run.group(1), timeout=120).stdout  # until the resumed run ends
    assert followed.rstrip().splitlines()[-1].startswith("-- completed, cost $"), followed
    done = remote.ctl(*h, "status", "--watch", "--json", str(root), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["data"]["status"] == "completed"
    assert "storage: sqlite" in (root / ".specflow" / "sim-agent" / "answers.md").read_text()


def test_ls_hosts_shows_every_host_and_marks_the_unreachable_one(remote: Remote, sshd: Sshd) -> None:
    root = create_demo_project(remote.daemon.root / "listed")
    remote.ok("--host", "hosta", "projects", "add", str(root))
    remote.ok("--host", "hosta", "orchestrate", str(root), "--yes", "--detach", "--agent", SIM_AGENT)
    # hostb: a second host whose daemon nobody started: its bridge starts it on demand
    hostb_env = sandbox_env(sshd.root / "b")
    sshd.add_host("hostb", hostb_env)
    try:
        table = remote.ctl("ls", "--hosts", "hosta,hostb,down")
        assert table.returncode == 0, table.stdout + table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split()[:3] == ["host", "id", "project"]
        assert any(line.startswith("hosta") and "listed" in line for line in lines), table.stdout
        assert any(line.startswith("hostb") and "no orchestrations" in line for line in lines), table.stdout
        assert any(line.startswith("down") and "UNREACHABLE" in line for line in lines), table.stdout
        assert any(line.startswith("down: cannot reach down over ssh") for line in lines), table.stdout
        assert can_connect(Path(hostb_env["SPECFLOWD_SOCKET"]))  # started on demand by hostb's bridge
        # [client] hosts is the default list; --json says per host what it found
        config = Path(remote.env["XDG_CONFIG_HOME"]) / "specflow" / "specflowd.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('[client]\nhosts = ["hostb", "down", "hosta"]\n')
        hosts = json.loads(remote.ok("ls", "--json").stdout)["hosts"]
        assert [(h["host"], h["ok"]) for h in hosts] == [("hostb", True), ("down", False), ("hosta", True)]
        assert hosts[2]["orchestrations"][0]["project_path"] == str(root)
    finally:
        if can_connect(Path(hostb_env["SPECFLOWD_SOCKET"])):
            with RawClient(Path(hostb_env["SPECFLOWD_SOCKET"])) as client:
                client.request("daemon.shutdown")


def test_an_unreachable_host_or_a_missing_specflowctl_is_one_line_naming_the_host(remote: Remote, sshd: Sshd) -> None:
    down = remote.ctl("--host", "down", "status", "/srv/project")
    assert down.returncode == 3
    assert (
        down.stderr.count("\n") == 1
        and "cannot reach down over ssh" in down.stderr
        and "Connection refused" in down.stderr
    )
    sshd.add_host("bare", sandbox_env(sshd.root / "bare"), path="/usr/bin:/bin")  # no specflowctl on its PATH
    bare = remote.ctl("--host", "bare", "ls")
    assert bare.returncode == 3 and bare.stderr.count("\n") == 1
    assert "specflowctl is not installed on bare" in bare.stderr and "SPECFLOWCTL_REMOTE" in bare.stderr
    # …and SPECFLOWCTL_REMOTE names it where the login's PATH does not reach
    named = remote.ctl("--host", "bare", "ls", env={**remote.env, "SPECFLOWCTL_REMOTE": SPECFLOWCTL})
    assert named.returncode == 0 and "no orchestrations" in named.stdout
    with RawClient(Path(sshd.hosts["bare"].env["SPECFLOWD_SOCKET"])) as client:  # the one it started
        client.request("daemon.shutdown")
    config_verb = remote.ctl("--host", "hosta", "config", "path")
    assert config_verb.returncode == 2 and "works on this machine" in config_verb.stderr


def _bridge(sshd: Sshd) -> subprocess.Popen[bytes]:
    assert SSH is not None
    return subprocess.Popen(
        [SSH, "-F", str(sshd.ssh_config), "hosta", "specflowctl bridge"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _subscribe(bridge: subprocess.Popen[bytes]) -> dict[str, object]:
    assert bridge.stdin is not None and bridge.stdout is not None
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}).encode()
    bridge.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)  # the editors' framing
    bridge.stdin.flush()
    head = bridge.stdout.readline() + bridge.stdout.readline()
    length = int(head.split(b":")[1].split(b"\r")[0])
    return dict(json.loads(bridge.stdout.read(length)))


def test_the_bridge_closes_when_either_side_goes_away(remote: Remote) -> None:
    d = remote.daemon
    baseline = d.rpc("daemon.status")["connections"]
    client_gone = _bridge(remote.sshd)
    assert _subscribe(client_gone)["id"] == 1
    assert d.rpc("daemon.status")["subscribers"] == 1
    client_gone.send_signal(signal.SIGKILL)  # the client vanishes without a goodbye
    client_gone.wait(10)
    # deadlines, not waits: the ssh client's death reaches sshd, the bridge and the daemon in turn, each a
    # process on a machine CI loads with several test workers
    wait_until(lambda: d.rpc("daemon.status")["subscribers"] == 0, timeout=60, what="the subscription to end")
    wait_until(lambda: d.rpc("daemon.status")["connections"] == baseline, timeout=60, what="no connection left")

    daemon_gone = _bridge(remote.sshd)
    assert _subscribe(daemon_gone)["id"] == 1
    d.stop()  # the daemon goes away: the bridge ends and ssh with it
    assert daemon_gone.stdout is not None
    daemon_gone.stdout.read()  # returns at the end of the stream (after a daemon.stopping event, if any)
    assert daemon_gone.wait(20) == 0


def test_the_bridge_answers_what_was_asked_before_its_input_ended(remote: Remote) -> None:
    request = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "daemon.ping"}) + "\n"
    piped = subprocess.run(
        [SPECFLOWCTL, "bridge"], input=request, env=remote.daemon.env, capture_output=True, text=True, timeout=30
    )
    assert piped.returncode == 0 and json.loads(piped.stdout)["id"] == 7 and piped.stderr == ""


def test_ls_hosts_asks_the_hosts_at_the_same_time(remote: Remote, tmp_path: Path) -> None:
    # an ssh wrapper that lets no connection through until all three have started: asked one at a time, the
    # first would give up (ssh-like exit 255) and its host would show as unreachable
    marks = tmp_path / "marks"
    marks.mkdir()
    wrapper = tmp_path / "barrier-ssh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'touch "{marks}/started.$$"\n'
        "i=0\n"
        f'while [ "$(ls "{marks}" | wc -l)" -lt 3 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n'
        f'[ "$(ls "{marks}" | wc -l)" -ge 3 ] || {{ echo "ssh: barrier: the hosts were asked one at a time" >&2; exit 255; }}\n'
        'exec ssh "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {**remote.env, "SPECFLOWCTL_SSH": f"{wrapper} -F {remote.sshd.ssh_config}"}
    hosts = json.loads(remote.ctl("ls", "--json", "--hosts", f"hosta,{remote.host},down", env=env).stdout)["hosts"]
    assert [(h["host"], h["ok"]) for h in hosts] == [("hosta", True), (remote.host, True), ("down", False)], hosts
    assert "Connection refused" in hosts[2]["error"]


def test_steering_and_following_verbs_through_host(remote: Remote) -> None:
    root = create_demo_project(remote.daemon.root / "steered")
    h = ("--host", remote.host)
    remote.ok(*h, "projects", "add", str(root))
    assert "added group held (limit 0)" in remote.ok(*h, "groups", "add", "held", "--limit", "0").stdout
    by_env = remote.ctl("groups", env={**remote.env, "SPECFLOWCTL_HOST": remote.host})  # the fast path goes there too
    assert by_env.returncode == 0 and "held" in by_env.stdout
    started = remote.ok(*h, "orchestrate", str(root), "--yes", "--detach", "--group", "held", "--agent", SIM_AGENT)
    record = remote.daemon.rpc("orchestrate.status", {"project": str(root)})["record"]
    assert f"started orchestration {record['id'][:6]}" in started.stdout
    assert "Queued #1 (held)" in remote.ok(*h, "ls").stdout  # a paused group: its run waits, deterministically
    log = subprocess.Popen(
        [SPECFLOWCTL, *h, "log", "-f", record["id"][:8]],
        env=remote.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(remote.ok(*h, "pause", str(root), "--json").stdout)["record"]["status"] == "paused"
        assert json.loads(remote.ok(*h, "resume", str(root), "--json").stdout)["record"]["status"] != "paused"
        assert json.loads(remote.ok(*h, "cancel", str(root), "--json").stdout)["record"]["status"] == "cancelled"
        out, err = log.communicate(timeout=60)  # log -f ends with the orchestration
    finally:
        if log.poll() is None:
            log.kill()
    assert log.returncode == 0, err
    assert "cancel" in out and "pause" in out

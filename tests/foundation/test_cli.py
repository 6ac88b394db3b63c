"""The real specflowctl against the real daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from specflowctl.core import PROTOCOL_VERSION
from tests.support import SPECFLOWCTL, Daemon, sandbox_env

UNITS = ("specflowd.socket", "specflowd.service")


def test_daemon_status_text_and_json(daemon: Daemon) -> None:
    text = daemon.ctl("daemon", "status").stdout
    assert f"pid {daemon.proc.pid}" in text  # type: ignore[union-attr]
    data = daemon.ctl_json("daemon", "status")
    assert data["pid"] == daemon.proc.pid  # type: ignore[union-attr]
    assert data["version"]


def test_projects_add_list_remove(daemon: Daemon) -> None:
    project = daemon.root / "myproj"
    (project / ".git").mkdir(parents=True)  # a project root holds .specflow, .specify, specs, ROADMAP.md or .git
    added = daemon.ctl_json("projects", "add", str(project), "--name", "Mine")
    assert added["name"] == "Mine"
    listed = daemon.ctl_json("projects", "list")
    assert [p["path"] for p in listed["projects"]] == [str(project.resolve())]
    assert "Mine" in daemon.ctl("projects", "list").stdout
    daemon.ctl("projects", "remove", added["id"])
    assert daemon.ctl_json("projects", "list")["projects"] == []


def test_rpc_errors_exit_1_with_message_on_stderr(daemon: Daemon) -> None:
    result = daemon.ctl("projects", "remove", "nope", check=False)
    assert result.returncode == 1
    assert "not_found" in result.stderr
    assert result.stdout == ""


def test_no_daemon_exit_3_names_what_starts_one_here(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    for args in (["daemon", "status", "--json"], ["projects", "list"], ["projects", "add", str(tmp_path)]):
        result = subprocess.run([SPECFLOWCTL, *args], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 3, args
        assert "`specflowctl daemon start`" in result.stderr
        assert "systemctl" not in result.stderr and "specflowctl daemon install-unit" in result.stderr  # no unit
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1


def test_socket_option_overrides_env(daemon: Daemon, tmp_path: Path) -> None:
    env = dict(daemon.env, SPECFLOWD_SOCKET=str(tmp_path / "nowhere.sock"))
    ok = subprocess.run(
        [SPECFLOWCTL, "daemon", "status", "--json", "--socket", str(daemon.socket)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["pid"] == daemon.proc.pid  # type: ignore[union-attr]


def test_install_unit_and_systemd_verify(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    target = tmp_path / "units"
    out = subprocess.run(
        [SPECFLOWCTL, "daemon", "install-unit", "--target", str(target), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    service = (target / "specflowd.service").read_text()
    assert "Type=notify" in service and "KillMode=process" in service and "WatchdogSec=30" in service
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert Path(exec_line.partition("=")[2]).is_absolute()
    assert "ListenStream=%t/specflowd/specflowd.sock" in (target / "specflowd.socket").read_text()
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    verify = subprocess.run(
        ["systemd-analyze", "--user", "--man=no", "verify", *(str(target / n) for n in UNITS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # systemd-analyze exits 0 even on misspelled keys: any output at all is a failure
    assert verify.returncode == 0 and verify.stdout == "" and verify.stderr == "", verify.stdout + verify.stderr


def test_help_lists_the_verbs() -> None:
    result = subprocess.run([SPECFLOWCTL, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for verb in ("daemon", "projects"):
        assert verb in result.stdout


@pytest.mark.parametrize(
    ("version", "protocol", "warns"),
    [("9.9.9", PROTOCOL_VERSION + 1, True), ("9.9.9", PROTOCOL_VERSION, False)],
    ids=["other-protocol-warns", "other-package-version-only-is-fine"],
)
def test_client_warns_when_the_daemon_speaks_another_protocol(
    tmp_path: Path, version: str, protocol: int, warns: bool
) -> None:
    """A stand-in daemon answers hello with other versions: the verb works; only a protocol mismatch warns."""
    import socket
    import threading

    env = sandbox_env(tmp_path)
    path = Path(env["SPECFLOWD_SOCKET"])
    path.parent.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            batch = json.loads(conn.makefile("rb").readline())
            replies = [
                {"jsonrpc": "2.0", "id": batch[0]["id"], "result": {"version": version, "protocol_version": protocol}},
                {"jsonrpc": "2.0", "id": batch[1]["id"], "result": {"projects": [], "problem": None}},
            ]
            conn.sendall(json.dumps(replies).encode() + b"\n")

    thread = threading.Thread(target=answer)
    thread.start()
    env.pop("SPECFLOWCTL_NO_VERSION_WARNING")
    result = subprocess.run(
        [SPECFLOWCTL, "projects", "list", "--json"], env=env, capture_output=True, text=True, timeout=30
    )
    thread.join(10)
    server.close()
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"projects": [], "problem": None}
    assert (f"the daemon speaks protocol {protocol} (specflowd 9.9.9)" in result.stderr) is warns, result.stderr

"""The pure parts of reaching other hosts: host syntax, the ssh command line, which host a verb talks to,
the one-line errors, and the multi-host table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from specflowctl import multihost, remote
from specflowctl import paths as client_paths
from specflowd import paths as daemon_paths
from specflowd.settings import check_text


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("SPECFLOWCTL_HOST", "SPECFLOWCTL_SSH", "SPECFLOWCTL_REMOTE", "SPECFLOWD_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    remote.select(None)
    yield
    remote.select(None)


def _settings(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config" / "specflow" / "specflowd.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("box", ("box", None)),
        ("me@box", ("me@box", None)),
        ("me@box:2222", ("me@box", 2222)),
        ("10.0.0.5:22", ("10.0.0.5", 22)),
        ("[::1]:2200", ("::1", 2200)),
        ("me@[fe80::1]", ("me@fe80::1", None)),
        ("fe80::1", ("fe80::1", None)),  # a bare IPv6 address has no port
    ],
)
def test_host_syntax(host: str, expected: tuple[str, int | None]) -> None:
    assert remote.parse_host(host) == expected


@pytest.mark.parametrize("host", ["box:0", "box:http", "box:70000", "-oProxyCommand=x", "", "a b", "[::1"])
def test_bad_hosts_are_refused_with_the_syntax(host: str) -> None:
    with pytest.raises(ValueError, match=r"HOST|port|IPv6"):
        remote.parse_host(host)


def test_the_ssh_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = remote.build_target("me@box:2222").argv
    assert plain == ("ssh", "-o", "ConnectTimeout=10", "-p", "2222", "-T", "--", "me@box", "specflowctl bridge")
    monkeypatch.setenv("SPECFLOWCTL_SSH", "ssh -F '/home/me/work config' -o ConnectTimeout=3")
    monkeypatch.setenv("SPECFLOWCTL_REMOTE", "~/.local/bin/specflowctl")
    mine = remote.build_target("box", remote_socket="/run/user/1000/s d.sock").argv
    assert mine[:5] == ("ssh", "-F", "/home/me/work config", "-o", "ConnectTimeout=3")  # the user's timeout wins
    assert "ConnectTimeout=10" not in mine
    assert mine[-1] == "'~/.local/bin/specflowctl' bridge --socket '/run/user/1000/s d.sock'"


def test_which_host_a_verb_talks_to(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert remote.selected_host() is None and remote.target(None) is None
    _settings(tmp_path, '[client]\nhost = "from-file"\nssh = "ssh -F cfg"\nhosts = ["a", "b", "a"]\n')
    assert remote.selected_host() == "from-file"
    assert remote.build_target("x").argv[:3] == ("ssh", "-F", "cfg")
    assert remote.host_list(None) == ["a", "b"] and remote.host_list(" c, ,d") == ["c", "d"]
    monkeypatch.setenv("SPECFLOWCTL_HOST", "from-env")
    assert remote.selected_host() == "from-env"
    remote.select("from-flag")
    assert remote.selected_host() == "from-flag" and remote.host_given()
    remote.select(None, local=True)  # config, demo and bridge act on this machine whatever is configured
    assert remote.selected_host() is None
    remote.select(None)
    monkeypatch.setenv("SPECFLOWCTL_HOST", "")  # an empty variable pins this machine
    assert remote.selected_host() is None


def test_the_local_socket_variable_is_not_sent_to_another_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECFLOWD_SOCKET", "/tmp/local.sock")
    remote.select("box")
    assert "--socket" not in (remote.target("/tmp/local.sock") or remote.SshTarget("")).argv[-1]
    assert (remote.target("/run/there.sock") or remote.SshTarget("")).argv[-1].endswith("--socket /run/there.sock")


def test_the_client_finds_the_settings_file_where_the_daemon_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert client_paths.user_config_path() == daemon_paths.user_config_path()
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert client_paths.user_config_path() == daemon_paths.user_config_path()


@pytest.mark.parametrize(
    ("code", "stderr", "says"),
    [
        (
            255,
            "ssh: Could not resolve hostname nope: Name or service not known\n",
            "cannot reach box over ssh (ssh: Could",
        ),
        (255, "ssh: connect to host 10.1.1.1 port 22: Connection timed out\n", "Connection timed out); check"),
        (127, "bash: line 1: specflowctl: command not found\n", "specflowctl is not installed on box"),
        (2, "Usage: specflowctl [OPTIONS] COMMAND\nError: No such command 'bridge'.\n", "no `bridge` verb"),
        (
            3,
            "specflowctl bridge: specflowd exited with 1; see /x/specflowd.log\n",
            "(specflowctl bridge: specflowd exited",
        ),
    ],
)
def test_failures_are_one_line_naming_the_host_and_what_to_do(code: int, stderr: str, says: str) -> None:
    message = remote.explain_exit(remote.SshTarget("box"), code, "Warning: Permanently added 'box'\n" + stderr)
    assert says in message and "box" in message and "\n" not in message and "Permanently" not in message


def _record(orch: str, project: str, status: str = "running") -> dict[str, object]:
    return {
        "id": orch, "project_path": f"/srv/{project}", "status": status, "step": "implement",
        "created_at": "2026-01-01T00:00:00Z", "totals": {"spent_usd": 0.5},
        "batches": [{"task_ids": ["T1", "T2"], "status": "completed"}, {"task_ids": ["T3"], "status": "pending"}],
    }  # fmt: skip


def test_the_hosts_table() -> None:
    results = [
        {"host": "a", "ok": True, "orchestrations": [_record("aaaa1111", "web", "completed")], "scheduler": {"queue": []}},
        {"host": "bb", "ok": False, "error": "cannot reach bb over ssh (timed out); check …"},
        {"host": "c", "ok": True, "orchestrations": [_record("cccc2222", "api")],
         "scheduler": {"queue": [{"orchestration": "cccc2222", "position": 1, "group": "gpu"}]}},
        {"host": "d", "ok": True, "orchestrations": [], "scheduler": {"queue": []}},
    ]  # fmt: skip
    lines = multihost.hosts_table(results, now_epoch=1767225600 + 90).splitlines()
    assert lines[0].split() == ["host", "id", "project", "status", "step", "tasks", "spent", "age"]
    rows = [line.split() for line in lines[1:5]]
    assert ["bb", "-", "-", "UNREACHABLE"] in rows and ["d", "-", "-", "no", "orchestrations"] in rows
    active = next(r for r in rows if r[0] == "c")
    assert active[:5] == ["c", "cccc2222", "api", "Queued", "#1"] and "2/3" in active
    assert rows.index(active) < rows.index(next(r for r in rows if r[0] == "a"))  # active first
    assert lines[-1] == "bb: cannot reach bb over ssh (timed out); check …"


def test_the_daemon_validates_the_client_section() -> None:
    assert (
        check_text('[client]\nhost = "box"\nhosts = ["a", "b"]\nssh = "ssh -F x"\nremote_specflowctl = "sc"\n') is None
    )
    assert "hostz" in (check_text('[client]\nhostz = "box"\n') or "")
    assert "hosts" in (check_text('[client]\nhosts = "a,b"\n') or "")


def test_a_kept_connection_closed_by_the_other_side_is_not_reused() -> None:
    import socket

    from specflowctl.connection import RpcClient

    ours, theirs = socket.socketpair()
    client = RpcClient(Path("/unused"))
    client._sock = ours  # as after a call: connected, nothing pending
    assert client.alive()
    theirs.close()  # e.g. the daemon's idle timeout ended the far bridge
    assert not client.alive()
    client.close()

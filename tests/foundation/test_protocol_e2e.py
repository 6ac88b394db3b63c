"""The socket protocol, spoken by raw clients to the real daemon, in both framings."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from specflowd.version import PROTOCOL_VERSION
from tests.support import Daemon, RawClient, running_daemon

FRAMINGS = ["newline", "content-length"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the module (a start costs more than most of these tests): each test speaks over its own
    connections and changes no state of the daemon; the test that registers a project has its own."""
    with running_daemon(tmp_path_factory.mktemp("protocol")) as d:
        yield d


@pytest.fixture
def own_daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d


@pytest.mark.parametrize("framing", FRAMINGS)
def test_hello_and_status(daemon: Daemon, framing: str) -> None:
    with RawClient(daemon.socket, framing) as client:
        hello = client.request("daemon.hello")["result"]
        assert hello["name"] == "specflowd"
        assert hello["protocol_version"] == PROTOCOL_VERSION == 2
        assert hello["pid"] == daemon.proc.pid  # type: ignore[union-attr]
        assert "events" in hello["capabilities"]
        status = client.request("daemon.status")["result"]
        assert status["pid"] == daemon.proc.pid  # type: ignore[union-attr]
        assert status["projects"] == 0
        assert status["socket"] == str(daemon.socket)
        assert status["problems"] == []


@pytest.mark.parametrize("framing", FRAMINGS)
def test_concurrent_requests_on_one_connection(daemon: Daemon, framing: str) -> None:
    """A slow call must not block a fast one behind it; replies carry their ids."""
    with RawClient(daemon.socket, framing) as client:
        client.send({"jsonrpc": "2.0", "id": "slow", "method": "daemon.ping", "params": {"delay_ms": 1500}})
        client.send({"jsonrpc": "2.0", "id": "fast", "method": "daemon.ping"})
        first, second = client.read(), client.read()
        assert [first["id"], second["id"]] == ["fast", "slow"]
        assert first["result"]["pong"] and second["result"]["pong"]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_batch_and_notifications(daemon: Daemon, framing: str) -> None:
    with RawClient(daemon.socket, framing) as client:
        client.send(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "daemon.hello"},
                {"jsonrpc": "2.0", "method": "daemon.ping"},  # notification: no reply entry
                {"jsonrpc": "2.0", "id": 2, "method": "no.such.method"},
            ]
        )
        batch = client.read()
        assert isinstance(batch, list)
        by_id = {r["id"]: r for r in batch}
        assert set(by_id) == {1, 2}
        assert by_id[1]["result"]["name"] == "specflowd"
        assert by_id[2]["error"]["code"] == -32601
        # a lone notification gets no reply at all: the next thing read is the reply to the next request
        client.send({"jsonrpc": "2.0", "method": "daemon.ping"})
        assert client.request("daemon.ping")["id"] == client.next_id
        # an all-notification batch gets no reply either; an empty batch is an invalid request
        client.send([{"jsonrpc": "2.0", "method": "daemon.ping"}])
        client.send([])
        reply = client.read()
        assert reply["error"]["code"] == -32600 and reply["id"] is None


@pytest.mark.parametrize("framing", FRAMINGS)
def test_malformed_json_keeps_connection_and_daemon(daemon: Daemon, framing: str) -> None:
    with RawClient(daemon.socket, framing) as client:
        if framing == "newline":
            client.send_raw(b"{not json\n")
        else:
            client.send_raw(b"Content-Length: 9\r\n\r\n{not json")
        reply = client.read()
        assert reply["error"]["code"] == -32700 and reply["id"] is None
        assert "Traceback" not in json.dumps(reply)
        client.send({"jsonrpc": "2.0", "id": 7, "method": "daemon.hello"})  # same connection still works
        assert client.read()["id"] == 7
        # structurally invalid requests
        assert client.request("daemon.status", {"x": 1})["error"]["code"] == -32602
        client.send({"jsonrpc": "1.0", "id": 8, "method": "daemon.hello"})
        assert client.read()["error"]["code"] == -32600


def test_invalid_utf8_is_a_parse_error(daemon: Daemon) -> None:
    with RawClient(daemon.socket) as client:
        client.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}\n')
        assert client.read()["error"]["code"] == -32700
        assert client.request("daemon.ping")["result"]["pong"]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_oversized_message_is_refused_and_connection_closed(daemon: Daemon, framing: str) -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping","params":{"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}}'
    with RawClient(daemon.socket, framing) as client:
        data = big + b"\n" if framing == "newline" else b"Content-Length: %d\r\n\r\n" % len(big) + big

        def sender() -> None:
            with contextlib.suppress(OSError):  # the daemon closes on us mid-send: expected
                client.send_raw(data)

        thread = threading.Thread(target=sender)
        thread.start()
        reply = client.read()
        thread.join()
        assert reply["error"]["code"] == -32600
        assert reply["error"]["data"]["kind"] == "message_too_large"
        assert client.read() is None  # connection closed
    with RawClient(daemon.socket) as other:  # the daemon is fine
        assert other.request("daemon.ping")["result"]["pong"]


def test_unknown_method_and_bad_params(daemon: Daemon) -> None:
    with RawClient(daemon.socket) as client:
        unknown = client.request("projects.explode")
        assert unknown["error"]["code"] == -32601
        bad = client.request("projects.register", {"path": 42})
        assert bad["error"]["code"] == -32602
        assert bad["error"]["data"]["kind"] == "invalid_params"
        assert bad["error"]["data"]["errors"][0]["loc"] == "path"
        positional = client.request("daemon.ping", [5])  # type: ignore[arg-type]
        assert positional["result"]["pong"]


def test_application_errors_have_stable_kind(daemon: Daemon) -> None:
    with RawClient(daemon.socket) as client:
        missing = client.request("projects.unregister", {"project": "no-such-id"})
        assert missing["error"]["code"] == -32001
        assert missing["error"]["data"]["kind"] == "not_found"
        relative = client.request("projects.register", {"path": "relative/dir"})
        assert -32099 <= relative["error"]["code"] <= -32000
        assert relative["error"]["data"]["kind"] == "project_error"


def test_rpc_discover_lists_every_method(daemon: Daemon) -> None:
    from specflowd.daemon import build_router

    doc = daemon.rpc("rpc.discover")
    assert doc["openrpc"].startswith("1.")
    names = {m["name"] for m in doc["methods"]}
    assert names == set(build_router().specs)
    register = next(m for m in doc["methods"] if m["name"] == "projects.register")
    assert {p["name"]: p["required"] for p in register["params"]} == {"path": True, "name": False}


def test_events_subscription_receives_registry_changes(own_daemon: Daemon) -> None:
    daemon = own_daemon
    project = daemon.root / "proj"
    (project / ".specflow").mkdir(parents=True)
    with RawClient(daemon.socket, "content-length") as sub:
        assert sub.request("events.subscribe")["result"]["subscribed"]
        entry = daemon.rpc("projects.register", {"path": str(project)})
        event = sub.read()
        assert event["method"] == "event"
        assert event["params"]["type"] == "registry.changed"
        assert entry["id"] in event["params"]["data"]["added"]
        assert event["params"]["time"]
        assert sub.request("events.subscribe")["error"]["data"]["kind"] == "invalid_state"
        assert sub.request("events.unsubscribe")["result"]["subscribed"] is False


def test_peer_with_other_uid_is_refused(daemon: Daemon) -> None:
    import os

    if os.getuid() != 0:
        pytest.skip("needs root to connect as another uid")
    daemon.socket.chmod(0o666)
    daemon.socket.parent.chmod(0o755)
    daemon.socket.parent.parent.chmod(0o755)
    script = (
        "import os,socket,sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)\n"
        "try:\n"
        '    s.sendall(b\'{"jsonrpc":"2.0","id":1,"method":"daemon.hello"}\\n\')\n'
        "    print(repr(s.recv(100)))\n"
        "except (ConnectionResetError, BrokenPipeError):\n"
        "    print(repr(b''))\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", script, str(daemon.socket)], capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "b''", out.stderr  # closed without a reply
    assert "refused a connection from uid 65534" in daemon.log()


def test_many_clients_at_once(daemon: Daemon) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with RawClient(daemon.socket) as client:
                for _ in range(20):
                    assert client.request("daemon.status")["result"]["pid"]
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert time.monotonic() > 0 and socket is not None

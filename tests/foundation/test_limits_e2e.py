"""Flow control and connection limits of the real daemon: clients that never read, never stop connecting,
or never say anything cost the daemon a bounded amount and never stop it serving the others."""

from __future__ import annotations

import contextlib
import resource
import socket
from pathlib import Path

from tests.support import Daemon, RawClient, running_daemon, sandbox_env, wait_until

PINGS = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"daemon.ping"}\n' % i for i in range(1000))
MB = 1024 * 1024


def _flood_until_stalled(sock: socket.socket, limit: int = 64 * MB, dropped_ok: bool = False) -> int:
    """Write pings without reading a reply until the daemon stops reading from us (or, ``dropped_ok``, drops
    us); bytes sent."""
    sock.settimeout(3.0)
    sent = 0
    stopped = (TimeoutError, BrokenPipeError, ConnectionResetError) if dropped_ok else (TimeoutError,)
    while True:
        try:
            sock.sendall(PINGS)
        except stopped:
            return sent
        sent += len(PINGS)
        assert sent < limit, "the daemon kept reading from a client that reads none of its replies"


def _connections(d: Daemon) -> int:
    return int(d.rpc("daemon.status")["connections"])


def test_a_client_that_never_reads_stalls_itself_not_the_daemon(daemon: Daemon) -> None:
    with socket.socket(socket.AF_UNIX) as hog:
        hog.connect(str(daemon.socket))
        sent = _flood_until_stalled(hog)
        assert sent > 0
        with RawClient(daemon.socket) as other:  # everyone else is served meanwhile
            assert other.request("daemon.ping")["result"]["pong"]
            assert other.request("daemon.status")["result"]["connections"] == 2
        # nothing was dropped: once the hog reads, the daemon goes on with its requests in order of arrival
        hog.settimeout(30)
        received = b""
        while received.count(b"\n") < 2000:
            chunk = hog.recv(1 << 16)
            assert chunk, "the daemon closed the connection"
            received += chunk
        assert b'"error"' not in received
    wait_until(lambda: _connections(daemon) == 1, what="the hog's connection closed")


def test_a_peer_that_stops_reading_is_dropped_after_the_write_timeout(tmp_path: Path) -> None:
    with running_daemon(tmp_path, "--write-timeout", "1") as d, socket.socket(socket.AF_UNIX) as hog:
        hog.connect(str(d.socket))
        _flood_until_stalled(hog, dropped_ok=True)
        wait_until(lambda: _connections(d) == 1, timeout=30, what="the stalled connection dropped")
        assert "has not read its replies for 1 s" in d.log()
        hog.settimeout(30)
        with contextlib.suppress(ConnectionResetError):
            while hog.recv(1 << 16):  # what was written before the drop, then end of stream
                pass
        assert d.rpc("daemon.ping")["pong"]


def test_connections_over_the_cap_get_an_error_frame_in_their_framing(tmp_path: Path) -> None:
    with running_daemon(tmp_path, "--max-connections", "3") as d:
        held = [wait_until(lambda: _served_client(d), timeout=30, what="a connection served") for _ in range(3)]
        for framing in ("newline", "content-length"):
            with RawClient(d.socket, framing) as refused:
                refused.send({"jsonrpc": "2.0", "id": 1, "method": "daemon.ping"})
                error = refused.read()["error"]
                assert error["data"] == {"kind": "too_many_connections", "limit": 3}
                assert refused.read() is None  # then closed
        with RawClient(d.socket, "content-length", timeout=30) as silent:  # says nothing: the documented framing
            assert silent.read()["error"]["data"]["kind"] == "too_many_connections"
        assert d.log().count("refusing connections") == 1  # logged once per episode, not per refusal
        held.pop().sock.close()
        wait_until(lambda: _ping_once(d), timeout=30, what="a slot freed")
        for client in held:
            assert client.request("daemon.ping")["result"]["pong"]  # the held connections never noticed
            client.sock.close()


def _served_client(d: Daemon) -> RawClient | None:
    """A connection the daemon serves (the start-up probe may hold a slot for a moment)."""
    client = RawClient(d.socket)
    reply = client.request("daemon.ping")
    if reply and reply.get("result"):
        return client
    client.sock.close()
    return None


def _ping_once(d: Daemon) -> bool:
    with RawClient(d.socket) as client:
        reply = client.request("daemon.ping")
    return bool(reply and reply.get("result"))


def test_idle_connections_are_closed_but_not_subscribers_nor_pending_requests(tmp_path: Path) -> None:
    with running_daemon(tmp_path, "--idle-timeout", "1") as d:
        plain = RawClient(d.socket, timeout=60)
        subscriber = RawClient(d.socket, timeout=60)
        waiting = RawClient(d.socket, timeout=60)
        assert plain.request("daemon.ping")["result"]["pong"]
        assert subscriber.request("events.subscribe")["result"]["subscribed"]
        waiting.send({"jsonrpc": "2.0", "id": "slow", "method": "daemon.ping", "params": {"delay_ms": 2500}})
        assert plain.read() is None  # closed for idling
        assert waiting.read()["result"]["pong"]  # a request in flight is not idleness
        assert subscriber.request("daemon.ping")["result"]["pong"]  # subscribers wait for events: exempt
        assert "closing a connection idle for 1 s" in d.log()
        for client in (plain, subscriber, waiting):
            client.sock.close()


def test_running_out_of_file_descriptors_is_waited_out(tmp_path: Path) -> None:
    """With 1 088 idle connections against a 1 024 fd limit the daemon used to exit (EMFILE in accept)."""

    def low_fd_limit() -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, hard))

    d = Daemon(tmp_path, sandbox_env(tmp_path)).start(preexec_fn=low_fd_limit)
    try:
        clients = []
        for _ in range(40):  # more than the daemon has descriptors for: the rest wait in the listen backlog
            client = socket.socket(socket.AF_UNIX)
            client.connect(str(d.socket))
            clients.append(client)
        wait_until(lambda: "cannot accept connections" in d.log(), timeout=30, what="accept failing")
        for client in clients:
            client.close()
        wait_until(lambda: _ping_once(d), timeout=30, what="the daemon serving again")
        assert d.proc is not None and d.proc.poll() is None
        log = d.log()
        assert log.count("cannot accept connections") == 1 and "accepting connections again" in log
    finally:
        d.stop()

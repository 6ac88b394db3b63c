"""What one misbehaving client costs the daemon (issue: backpressure).

1. A client that writes ``daemon.ping`` requests and never reads its replies, for at most 15 s / 300 MB:
   the daemon's RSS before, at its peak and after the client leaves; how much the daemon accepted.
2. 300 ``rpc.discover`` calls pipelined on one connection while another client pings every 10 ms:
   the daemon's RSS before/after and the other client's ping latency meanwhile.

Run: python bench/backpressure.py   (targets: a non-reading client costs the daemon < 20 MB and the daemon
stops reading from it; 300 discovers add < 10 MB and never delay another client's ping past 200 ms).
"""

from __future__ import annotations

import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import Daemon, RawClient, sandbox_env, wait_until

MB = 1024 * 1024


def rss(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / MB


class PeakSampler:
    def __init__(self, proc: psutil.Process) -> None:
        self.proc, self.peak, self._stop = proc, rss(proc), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss(self.proc))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def settle(daemon: Daemon) -> None:
    """Wait until the daemon has dropped every other connection (the status call itself is the only one)."""
    wait_until(lambda: daemon.rpc("daemon.status")["connections"] == 1, timeout=60, what="connections closed")


def writer_without_reading(daemon: Daemon, proc: psutil.Process) -> None:
    settle(daemon)
    before = rss(proc)
    sampler = PeakSampler(proc)
    chunk = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"daemon.ping"}\n' % i for i in range(1000))
    sent, stalled = 0, False
    started = time.monotonic()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(daemon.socket))
        sock.settimeout(3.0)
        while time.monotonic() - started < 15 and sent < 300 * MB:
            try:
                sock.sendall(chunk)
            except TimeoutError:  # the daemon stopped reading from us: backpressure
                stalled = True
                break
            sent += len(chunk)
        elapsed = time.monotonic() - started
        during = rss(proc)
    settle(daemon)
    peak = sampler.stop()
    print(
        f"non-reading writer: sent {sent / MB:.1f} MB ({sent // 48:,} requests) in {elapsed:.1f} s, "
        f"{'daemon stopped reading' if stalled else 'daemon kept reading'}; RSS before {before:.1f} MB, "
        f"while connected {during:.1f} MB, peak {peak:.1f} MB, after {rss(proc):.1f} MB"
    )


def discover_flood(daemon: Daemon, proc: psutil.Process, calls: int = 300) -> None:
    settle(daemon)
    before = rss(proc)
    latencies: list[float] = []
    done = threading.Event()

    def pinger() -> None:
        with RawClient(daemon.socket, timeout=120) as client:
            while not done.is_set():
                t0 = time.perf_counter()
                client.request("daemon.ping")
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.01)

    thread = threading.Thread(target=pinger)
    thread.start()
    t0 = time.perf_counter()
    with RawClient(daemon.socket, timeout=120) as client:
        client.send_raw(
            b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"rpc.discover"}\n' % i for i in range(calls))
        )
        for _ in range(calls):
            assert client.read() is not None
    elapsed = time.perf_counter() - t0
    done.set()
    thread.join()
    settle(daemon)
    print(
        f"{calls} rpc.discover pipelined: {elapsed * 1e3:.0f} ms; RSS before {before:.1f} MB, after "
        f"{rss(proc):.1f} MB; another client's ping meanwhile: p50 "
        f"{statistics.median(latencies) * 1e3:.2f} ms, max {max(latencies) * 1e3:.1f} ms ({len(latencies)} pings)"
    )


def main() -> None:
    for scenario in (writer_without_reading, discover_flood):  # each against a fresh daemon
        root = Path(tempfile.mkdtemp(prefix="sfbench-"))
        daemon = Daemon(root, sandbox_env(root)).start("--log-level", "WARNING")
        assert daemon.proc is not None
        try:
            scenario(daemon, psutil.Process(daemon.proc.pid))
        finally:
            daemon.stop()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

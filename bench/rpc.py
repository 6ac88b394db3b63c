"""RPC latency and throughput of the real daemon, and the CLI's cold start.

Run: python bench/rpc.py   (targets: p99 <= 5 ms at 50 clients, >= 3000 req/s, CLI cold start <= 80 ms)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import SPECFLOWCTL, Daemon, RawClient, sandbox_env


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_clients(sock: Path, clients: int, per_client: int, pace_s: float = 0.0) -> tuple[list[float], float]:
    """``clients`` connections, each sending ``per_client`` requests back to back (``pace_s`` = 0, closed
    loop: measures saturation) or one every ``pace_s`` seconds (open loop: latency at a given load)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        with RawClient(sock) as client:
            client.request("daemon.status")  # warm the connection
            barrier.wait()
            next_at = time.perf_counter() + (pace_s * index / clients)
            for _ in range(per_client):
                if pace_s:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    next_at += pace_s
                t0 = time.perf_counter()
                client.request("daemon.status")
                latencies[index].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    return flat, len(flat) / elapsed


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="sfbench-"))
    daemon = Daemon(root, sandbox_env(root)).start("--log-level", "WARNING")
    try:
        runs = (
            ("1 client, back to back", 1, 3000, 0.0),
            ("50 clients, back to back (saturation)", 50, 200, 0.0),
            ("50 clients x 60 req/s (3000 req/s offered)", 50, 120, 1 / 60),
        )
        for label, clients, per_client, pace in runs:
            lat, rate = run_clients(daemon.socket, clients, per_client, pace)
            print(
                f"daemon.status, {label}: p50 {percentile(lat, 0.5) * 1e3:.2f} ms  "
                f"p99 {percentile(lat, 0.99) * 1e3:.2f} ms  {rate:,.0f} req/s"
            )
        env = dict(daemon.env)
        cold = []
        for _ in range(20):
            t0 = time.perf_counter()
            subprocess.run([SPECFLOWCTL, "daemon", "status", "--json"], env=env, check=True, capture_output=True)
            cold.append(time.perf_counter() - t0)
        print(f"specflowctl daemon status --json cold start: median {statistics.median(cold) * 1e3:.1f} ms (20 runs)")
        print("targets: p99 <= 5 ms at 50 clients, >= 3000 req/s, CLI cold start <= 80 ms")
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
        os.environ.pop("SPECFLOWD_SOCKET", None)


if __name__ == "__main__":
    main()

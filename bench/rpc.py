"""RPC latency and throughput of the real daemon, the CLI's cold start, and the request cost against a bare
asyncio server.

Run: python bench/rpc.py [--repo PATH] [--only daemon|compare] [--client native|python]
  targets: p99 <= 5 ms at 50 clients, >= 3000 req/s, CLI cold start <= 80 ms;
  request cost (issue 15): saturated >= 0.25x the bare server, in-step p99 <= 5 ms.

``compare`` runs ``daemon.ping`` side by side against specflowd and a bare asyncio NDJSON server started from
this file (``--bare-server SOCKET``: it parses the same request, checks it is JSON-RPC 2.0 and answers it —
the floor of any Python server). Both get the same load from the same client processes:
- saturated: 50 concurrent clients, each sending its next request when the reply arrives (req/s);
- in step: 50 paced clients all sending at the same tick, 60 ticks/s (3 000 req/s offered): p50/p99 of the
  reply time, which shows how the server copes with 50 requests arriving at once.
``--repo PATH`` measures another checkout's daemon (``PATH/.venv/bin/specflowd``).

The clients are ``bench/loadgen.c`` (``--client native``, the default), compiled once per source version with
the system's ``cc`` into a cache under the temp dir, or, without a C compiler, asyncio processes of this file
(``--client python``, ``--load-worker``). Why a native client: on 2 cores the Python clients' own CPU and
scheduling delay dominated the in-step figure (even the bare server showed p99 7.6–8.4 ms), so they measured
themselves more than the server. Every line of ``compare`` names the client that measured it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tests.support as support
from bench.common import all_at_once, percentile
from tests.support import Daemon, RawClient, can_connect, sandbox_env, wait_until

PING = b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}\n'


def run_clients(sock: Path, clients: int, per_client: int, pace_s: float = 0.0) -> tuple[list[float], float]:
    """``clients`` connections, each sending ``per_client`` requests back to back (``pace_s`` = 0, closed
    loop: measures saturation) or one every ``pace_s`` seconds (open loop: latency at a given load)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]

    def worker(index: int, barrier: threading.Barrier) -> None:
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

    _, elapsed = all_at_once(worker, clients)
    flat = [x for per in latencies for x in per]
    return flat, len(flat) / elapsed


# ------------------------------------------------------------------------------------------ the bare server
def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _bare_reply(line: bytes) -> bytes:
    try:
        request = json.loads(line)
    except ValueError:
        reply = _error(None, -32700, "Parse error")
    else:
        valid = isinstance(request, dict) and request.get("jsonrpc") == "2.0" and isinstance(request.get("method"), str)
        if not valid:
            reply = _error(None, -32600, "Invalid Request")
        elif request["method"] == "daemon.ping":
            result = {"pong": True, "time": datetime.now(UTC).isoformat()}
            reply = {"jsonrpc": "2.0", "id": request.get("id"), "result": result}
        else:
            reply = _error(request.get("id"), -32601, "Method not found")
    return json.dumps(reply).encode() + b"\n"


async def bare_server(path: Path) -> None:
    """One coroutine per connection: read a line, parse, answer. Nothing else."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(_bare_reply(line))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(handle, path=str(path))
    async with server:
        await server.serve_forever()


# ------------------------------------------------------------------------------------------ load processes
async def _load(
    sock: str, mode: str, clients: int, seconds: float, pace: float, start_at: float, depth: int = 1
) -> dict[str, Any]:
    """One client process: ``clients`` connections from ``start_at`` (CLOCK_MONOTONIC, shared by processes)."""
    conns = [await asyncio.open_unix_connection(sock) for _ in range(clients)]
    for reader, writer in conns:  # warm up, and check the server answers a ping at all
        writer.write(PING)
        reply = json.loads(await reader.readline())
        if "result" not in reply:
            raise SystemExit(f"{sock} does not answer daemon.ping: {reply}")
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    end = start_at + seconds
    count = 0
    latencies: list[float] = []
    late = 0

    async def saturate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Closed loop: the next request goes when a reply comes back (``depth`` requests in flight)."""
        nonlocal count
        writer.write(PING * depth)
        while time.monotonic() < end:
            await reader.readline()
            count += 1
            writer.write(PING)

    async def in_step(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal late
        for tick in range(int(seconds / pace)):
            delay = start_at + tick * pace - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -pace:
                late += 1  # the previous reply came after this tick: the server could not keep the pace
            t0 = time.perf_counter()
            writer.write(PING)
            await reader.readline()
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(saturate(r, w) if mode == "saturate" else in_step(r, w) for r, w in conns))
    for _, writer in conns:
        writer.close()
    return {"count": count, "latencies": latencies, "late": late}


# ------------------------------------------------------------------------------------------ the native client
LOADGEN_SOURCE = Path(__file__).resolve().parent / "loadgen.c"
LOADGEN_FLAGS = ("-O2", "-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE")


def _private_cache_dir() -> Path:
    """``$TMP/specflowd-bench-UID``, ours alone: a binary another user could plant is never run."""
    path = Path(tempfile.gettempdir()) / f"specflowd-bench-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return Path(tempfile.mkdtemp(prefix="specflowd-bench-"))  # not ours: build in a fresh one
    return path


def build_loadgen() -> Path | None:
    """The compiled ``loadgen.c``, cached under a name keyed by the source and flags (compiled once per
    version); None when there is no C compiler or the build fails (the reason goes to stderr; so do
    warnings, which another compiler may find)."""
    cc = shutil.which("cc")
    if cc is None:
        return None
    key = hashlib.sha256(LOADGEN_SOURCE.read_bytes() + " ".join(LOADGEN_FLAGS).encode()).hexdigest()[:16]
    binary = _private_cache_dir() / f"loadgen-{key}"
    if binary.exists():
        return binary
    partial = binary.with_name(f"{binary.name}.{os.getpid()}.tmp")  # concurrent runs never see half a file
    build = subprocess.run(
        [cc, *LOADGEN_FLAGS, "-o", str(partial), str(LOADGEN_SOURCE)], capture_output=True, text=True
    )
    if build.returncode != 0:
        print(f"bench/loadgen.c does not compile, using the Python client:\n{build.stderr}", file=sys.stderr)
        partial.unlink(missing_ok=True)
        return None
    if build.stderr.strip():
        print(f"bench/loadgen.c compiled with warnings:\n{build.stderr}", file=sys.stderr)
    partial.replace(binary)
    return binary


@dataclass(frozen=True)
class LoadClient:
    """Which program runs a share of the clients: the native ``loadgen`` or this file's ``--load-worker``."""

    name: str  # "native" | "python"
    binary: Path | None = None  # the compiled loadgen, for "native"
    procs: int = 1  # client processes sharing the clients

    def argv(
        self, sock: Path, mode: str, clients: int, seconds: float, pace: float, start_at: float, depth: int
    ) -> list[str]:
        job = [str(sock), mode, clients, seconds, pace, start_at, depth]
        if self.binary is None:
            return [sys.executable, __file__, "--load-worker", json.dumps(job)]
        return [str(self.binary), *(repr(x) if isinstance(x, float) else str(x) for x in job)]

    def describe(self) -> str:
        plural = "es" if self.procs > 1 else ""
        program = "bench/loadgen.c" if self.binary else "asyncio"
        return f"{self.name} client ({program}, {self.procs} process{plural})"


def choose_client(wanted: str | None, procs: int | None) -> LoadClient:
    """``wanted`` None: native when it compiles, else python. One native process keeps up with any Python
    server; the Python clients need two to saturate one."""
    binary = build_loadgen() if wanted in (None, "native") else None
    if wanted == "native" and binary is None:
        raise SystemExit("--client native needs a C compiler (cc) that builds bench/loadgen.c")
    if binary is not None:
        return LoadClient("native", binary, procs or 1)
    return LoadClient("python", None, procs or 2)


def _cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def drive(
    sock: Path,
    mode: str,
    clients: int,
    client: LoadClient,
    seconds: float,
    pace: float = 0.0,
    depth: int = 1,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """Spread ``clients`` over ``client.procs`` client processes (one Python process cannot saturate a fast
    server). ``server_pid``: also report the server's own CPU time per request (moves little with the
    machine's load)."""
    procs = client.procs
    start_at = time.monotonic() + 1.0 + 0.2 * procs  # time for every process to connect first
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    argvs = [client.argv(sock, mode, n, seconds, pace, start_at, depth) for n in shares if n]
    workers = [subprocess.Popen(argv, stdout=subprocess.PIPE) for argv in argvs]
    cpu_before = _cpu_s(server_pid)
    outputs = [w.communicate()[0] for w in workers]
    if failed := [w.returncode for w in workers if w.returncode != 0]:
        raise SystemExit(f"a {client.name} load client failed (exit status {failed[0]}) against {sock}")
    results = [json.loads(out) for out in outputs]
    cpu = _cpu_s(server_pid) - cpu_before  # includes the connect/warm-up moments: a small overestimate
    latencies = [x for r in results for x in r["latencies"]]
    requests = sum(r["count"] for r in results) + len(latencies)
    return {
        "rate": sum(r["count"] for r in results) / seconds,
        "latencies": latencies,
        "late": sum(r["late"] for r in results),
        "cpu_per_request_us": cpu / requests * 1e6 if requests and server_pid else float("nan"),
    }


def compare(daemon: Daemon, base: Path, args: argparse.Namespace, client: LoadClient) -> None:
    clients, seconds, rate = args.clients, args.seconds, args.rate
    bare_sock = base / "bare.sock"
    bare = subprocess.Popen([sys.executable, __file__, "--bare-server", str(bare_sock)])
    try:
        wait_until(lambda: can_connect(bare_sock), what="the bare server")
        assert daemon.proc is not None
        servers = (("specflowd", daemon.socket, daemon.proc.pid), ("bare asyncio", bare_sock, bare.pid))
        saturated = {
            name: drive(sock, "saturate", clients, client, seconds, depth=args.depth, server_pid=pid)
            for name, sock, pid in servers
        }
        ours, theirs = saturated["specflowd"], saturated["bare asyncio"]
        in_flight = f", {args.depth} in flight each" if args.depth > 1 else ""
        print(
            f"daemon.ping, {clients} clients saturated{in_flight} ({client.describe()}, {seconds:g} s): "
            f"specflowd {ours['rate']:,.0f} req/s | bare asyncio {theirs['rate']:,.0f} req/s "
            f"| specflowd = {ours['rate'] / theirs['rate']:.2f}x the bare server; server CPU per request: "
            f"specflowd {ours['cpu_per_request_us']:.0f} us | bare {theirs['cpu_per_request_us']:.0f} us"
        )
        pace = clients / rate
        for name, sock, pid in servers:
            result = drive(sock, "in_step", clients, client, seconds, pace, server_pid=pid)
            lat = result["latencies"]
            print(
                f"daemon.ping, {clients} clients in step, {1 / pace:.0f} ticks/s ({rate:,.0f} req/s offered, "
                f"{seconds:g} s, {client.describe()}) — {name}: p50 {percentile(lat, 0.5) * 1e3:.2f} ms  "
                f"p99 {percentile(lat, 0.99) * 1e3:.2f} ms  max {max(lat) * 1e3:.2f} ms  "
                f"({len(lat)} requests, {result['late']} sent late; server CPU {result['cpu_per_request_us']:.0f} us"
                " per request)"
            )
        print("targets (issue 15): saturated >= 0.25x the bare server; in-step p99 <= 5 ms")
    finally:
        bare.terminate()
        bare.wait()


def daemon_figures(daemon: Daemon) -> None:
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
    cold = []
    for _ in range(20):
        t0 = time.perf_counter()
        argv = [support.SPECFLOWCTL, "daemon", "status", "--json"]
        subprocess.run(argv, env=daemon.env, check=True, capture_output=True)
        cold.append(time.perf_counter() - t0)
    print(f"specflowctl daemon status --json cold start: median {statistics.median(cold) * 1e3:.1f} ms (20 runs)")
    print("targets: p99 <= 5 ms at 50 clients, >= 3000 req/s, CLI cold start <= 80 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, help="checkout whose daemon to measure (uses REPO/.venv)")
    parser.add_argument("--only", choices=["daemon", "compare"], help="one part only")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--client",
        choices=["native", "python"],
        help="compare's load client: native (bench/loadgen.c; the default when cc builds it) or python (asyncio)",
    )
    parser.add_argument(
        "--client-procs", type=int, help="client processes sharing the clients (default: native 1, python 2)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per compare measurement")
    parser.add_argument("--rate", type=float, default=3000.0, help="offered req/s of the in-step pattern")
    parser.add_argument(
        "--depth", type=int, default=1, help="saturated: requests in flight per client (>1 lightens the clients)"
    )
    parser.add_argument("--bare-server", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--load-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        asyncio.run(bare_server(args.bare_server))
        return
    if args.load_worker:
        print(json.dumps(asyncio.run(_load(*json.loads(args.load_worker)))))
        return
    if args.repo:
        bin_dir = args.repo.resolve() / ".venv" / "bin"
        support.SPECFLOWD, support.SPECFLOWCTL = str(bin_dir / "specflowd"), str(bin_dir / "specflowctl")
    client = choose_client(args.client, args.client_procs) if args.only in (None, "compare") else None
    measured_by = f"; compare's load: {client.describe()}" if client else ""
    print(
        f"daemon: {support.SPECFLOWD}; machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}{measured_by}"
    )
    root = Path(tempfile.mkdtemp(prefix="sfbench-"))
    daemon = Daemon(root, sandbox_env(root)).start("--log-level", "WARNING")
    try:
        if args.only in (None, "daemon"):
            daemon_figures(daemon)
        if client is not None:
            compare(daemon, root, args, client)
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(Path(daemon.env["XDG_RUNTIME_DIR"]), ignore_errors=True)


if __name__ == "__main__":
    main()

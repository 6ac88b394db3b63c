"""100 000 fuzz messages against a real daemon on its own temp socket; its RSS before, during and after.

The messages are the fuzz tier's (tests/fuzz_messages.py), seeded: calls valid by rpc.discover's schemas
(some aimed at a real project), the same with a lone surrogate in one string, malformed JSON-RPC, and raw
bytes on fresh connections. Every answer is checked as in the tests (valid JSON, never ``internal``).

Run: python bench/fuzz.py [TOTAL]   (target: the daemon answers them all and its RSS settles within 20 MB
of where it started).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.test_fuzz_e2e import Target
from tests.fuzz_messages import (
    PROTOCOL_ERRORS,
    SKIPPED_METHODS,
    TRACEBACK,
    exchange_raw,
    framed,
    malformed_requests,
    method_calls,
    with_lone_surrogate,
)
from tests.support import running_daemon

MB = 1024 * 1024
SHARES = {"schema calls": 0.4, "lone surrogates": 0.1, "malformed JSON-RPC": 0.25, "raw bytes": 0.25}


def rss_mb(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / MB


def drive(strategy: st.SearchStrategy[Any], count: int, send: Callable[[Any], None]) -> None:
    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(message: Any) -> None:
        send(message)

    run()


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    root = Path(tempfile.mkdtemp(prefix="sffuzz-"))
    project = root / "project"
    (project / "specs" / "0001-x").mkdir(parents=True)
    (project / "specs" / "0001-x" / "tasks.md").write_text("# Tasks: t\n\n## One\n- [ ] T001 a\n")
    try:
        with running_daemon(root, "--log-level", "WARNING", SPECFLOW_CLAUDE=str(root / "no-agent")) as daemon:
            assert daemon.proc is not None
            proc = psutil.Process(daemon.proc.pid)
            entry = daemon.rpc("projects.register", {"path": str(project)})
            target = Target(daemon, project, entry["id"])
            peak = [rss_mb(proc)]
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.2):
                    try:
                        peak[0] = max(peak[0], rss_mb(proc))
                    except psutil.NoSuchProcess:
                        return

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            before = rss_mb(proc)
            print(f"daemon RSS before: {before:.1f} MB")
            names = [m["name"] for m in target.document["methods"] if m["name"] not in SKIPPED_METHODS]

            def call(message: tuple[str, dict[str, Any]]) -> None:
                reply = target.client.call(*message)
                assert reply.get("error", {}).get("code") not in PROTOCOL_ERRORS, (message, reply)

            def surrogate(message: tuple[str, bool, dict[str, Any]]) -> None:
                reply = target.client.call(message[0], message[2])
                assert not message[1] or reply["error"]["code"] == -32602, (message, reply)

            families: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], None]]] = [
                ("schema calls", method_calls(target.document, target.tweak), call),
                (
                    "lone surrogates",
                    method_calls(target.document, target.tweak).flatmap(
                        lambda c: with_lone_surrogate(c[1]).map(lambda changed: (c[0], *changed))
                    ),
                    surrogate,
                ),
                ("malformed JSON-RPC", malformed_requests(names), target.client.send_value),
                ("raw bytes", framed(), lambda data: exchange_raw(daemon.socket, data)),
            ]
            started = time.monotonic()
            sent = 0
            for label, strategy, send in families:
                count = round(total * SHARES[label])
                t0 = time.monotonic()
                drive(strategy, count, send)
                sent += count
                print(
                    f"{label}: {count:,} messages in {time.monotonic() - t0:.0f} s; daemon RSS now "
                    f"{rss_mb(proc):.1f} MB"
                )
            target.client.close()
            assert daemon.rpc("daemon.ping")["pong"] and daemon.proc.poll() is None
            # state the fuzzed calls legitimately created (it accounts for part of the growth, not a leak)
            orchestrations = daemon.rpc("orchestrate.list", {"include_finished": True})["orchestrations"]
            status = daemon.rpc("daemon.status")
            print(
                f"state created by the fuzz: {len(orchestrations)} orchestrations, {status['runs']['total']} runs, "
                f"{status['projects']} registered projects"
            )
            stop.set()
            sampler.join()
            after = rss_mb(proc)
            print(
                f"{sent:,} fuzz messages in {time.monotonic() - started:.0f} s; daemon RSS before {before:.1f} MB, "
                f"peak {peak[0]:.1f} MB, after {after:.1f} MB ({after - before:+.1f} MB); still answering ping"
            )
            log = daemon.log()
            if TRACEBACK in log:
                at = log.index(TRACEBACK)
                print(f"the daemon logged a traceback:\n{log[max(0, at - 1500) : at + 3000]}")
                raise SystemExit(1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

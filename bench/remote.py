"""The round-trip cost of a remote daemon: ``specflowctl status PROJECT`` on the local socket against the same
verb through ``--host`` (ssh to a real sshd on a loopback port, ``specflowctl bridge`` on the far side), on
the same machine, so the difference is what the ssh hop costs (handshake, session, remote bridge start-up)
and not the network.

Run: python bench/remote.py [-n RUNS]
Variants, run in turn (A B C A B C …) so a drifting machine moves them alike:
- local:       the daemon's Unix socket
- ssh:         --host, a fresh ssh connection per invocation (what a plain ``ssh`` command line costs)
- ssh+mux:     --host with OpenSSH connection sharing (ControlMaster=auto, ControlPersist) in
               SPECFLOWCTL_SSH: the handshake is paid once, each invocation opens a session on it
Prints min / median / max wall milliseconds per variant and the medians' ratio to local.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specflowctl.demo import create_demo_project
from tests.remote.sshd import Sshd, missing, short_root
from tests.support import SPECFLOWCTL, running_daemon, sandbox_env


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} -> {done.returncode}: {done.stderr}")
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--runs", type=int, default=20)
    args = parser.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(f"cannot bench: {reason}")
    root = short_root()
    sshd = Sshd(root).start()
    try:
        with running_daemon(root / "a") as daemon:
            sshd.add_host("hosta", daemon.env)
            project = create_demo_project(root / "a" / "demo")
            daemon.rpc("projects.register", {"path": str(project)})
            client = sandbox_env(root / "client")
            control = root / "mux-%C"
            mux = f"{sshd.ssh_command} -o ControlMaster=auto -o ControlPath={control} -o ControlPersist=60"
            remote = [SPECFLOWCTL, "--host", "hosta", "status", str(project)]
            variants = {
                "local": ([SPECFLOWCTL, "status", str(project)], daemon.env),
                "ssh": (remote, {**client, "SPECFLOWCTL_SSH": sshd.ssh_command}),
                "ssh+mux": (remote, {**client, "SPECFLOWCTL_SSH": mux}),
            }
            times: dict[str, list[float]] = {name: [] for name in variants}
            for argv, env in variants.values():  # warm-up: page cache, the mux master
                _time(argv, env)
            for _ in range(args.runs):
                for name, (argv, env) in variants.items():
                    times[name].append(_time(argv, env))
            subprocess.run(
                ["ssh", "-F", str(sshd.ssh_config), "-o", f"ControlPath={control}", "-O", "exit", "hosta"],
                capture_output=True, check=False, timeout=10,
            )  # fmt: skip
    finally:
        sshd.stop()
        shutil.rmtree(root, ignore_errors=True)
    base = statistics.median(times["local"])
    print(f"specflowctl status PROJECT, {args.runs} runs each, wall ms (min / median / max), same machine:")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:<8} {min(values):7.1f} / {median:7.1f} / {max(values):7.1f}   x{median / base:.2f} of local"
            f"   (+{median - base:.0f} ms)"
        )


if __name__ == "__main__":
    main()

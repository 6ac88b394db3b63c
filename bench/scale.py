"""Many projects at once: what the daemon costs at scale. Prints numbers; never a test.

Builds N registered projects in a temporary HOME, starts the real daemon on a temporary socket, starts M live
orchestrations whose agents sleep, optionally seeds history on disk, then measures:

- ``idle``     daemon RSS, and its idle CPU (% of one core) from the daemon's own CPU time over a window, so
               other load on the machine matters less;
- ``latency``  ``daemon.status`` and ``orchestrate.status {project}`` (by path and by registry id) p50/p99;
- ``restart``  SIGKILL (or SIGTERM) the daemon, start it again, time until it answers and until every live
               run is re-adopted and every orchestration is loaded (polling ``daemon.status``);
- ``burst``    B orchestrations started at once (with the scheduler's limit when the daemon has one): how
               many agents run concurrently at peak, a client's worst stall (a ``daemon.ping`` loop runs in
               parallel), whether all complete. The live orchestrations are cancelled first so they hold no
               agent slots.

``--growth`` instead measures RSS and idle CPU at a few sizes and prints the growth per project, per live
orchestration and per finished run.

History (``--history``): one real orchestration is completed by the simulated agent (one run per batch, then
verify and merge) and its records are cloned, with fresh ids and paths, into the projects: by default 500
finished orchestrations of 20 runs each = 10 000 finished runs. The records are the target daemon's own, so
the seed is realistic for whatever version runs.

Run against another checkout (e.g. the code before a change) with ``--repo PATH``: the daemon, the simulated
agent and the history seeding use ``PATH/.venv``; this script itself needs only psutil and the stdlib.

  python bench/scale.py                              # 500 projects, 50 live, all scenarios, no history
  python bench/scale.py --history                    # the same with 10 000 finished runs on disk
  python bench/scale.py --scenarios idle,latency --projects 100 --live 10
  python bench/scale.py --growth                     # growth per project / live orchestration / run
  python bench/scale.py --repo /path/to/old/checkout # the same figures for other code

Targets (issue 15): RSS <= 100 MB, idle CPU <= 0.5 % of a core over 20 s, restart-to-all-re-adopted <= 1 s,
status p99 <= 5 ms; burst with a limit of 4: never more than 4 agents, no client stall > 100 ms, all complete.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import all_at_once, percentile
from tests.support import RawClient, can_connect, sandbox_env, wait_until

SCENARIOS = ("idle", "latency", "restart", "burst")
TERMINAL = {"completed", "failed", "cancelled"}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------- the code
@dataclass(frozen=True)
class Target:
    """The checkout under test: its daemon, simulated agent and python."""

    repo: Path
    bin: Path

    @classmethod
    def of(cls, repo: Path | None) -> Target:
        if repo is None:
            return cls(Path(__file__).resolve().parent.parent, Path(sys.executable).parent)
        bin_dir = repo.resolve() / ".venv" / "bin"
        if not (bin_dir / "specflowd").exists():
            raise SystemExit(f"{bin_dir}/specflowd not found: make the venv there first (pip install -e '.[dev]')")
        return cls(repo.resolve(), bin_dir)

    @property
    def specflowd(self) -> str:
        return str(self.bin / "specflowd")

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    @property
    def sim_agent(self) -> str:
        return str(self.bin / "specflowd-sim-agent")

    def describe(self) -> str:
        head = subprocess.run(
            ["git", "-C", str(self.repo), "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=False
        ).stdout.strip()
        return f"{self.repo} ({head[:90] or 'not a git checkout'})"


# ---------------------------------------------------------------------------------------------- agents
_SLEEP_INIT = {
    "type": "system",
    "subtype": "init",
    "cwd": "%s",
    "session_id": "%s",
    "tools": ["Bash", "Edit", "Read"],
    "model": "claude-sleep",
    "permissionMode": "bypassPermissions",
    "slash_commands": ["flow.design", "flow.analyze", "flow.implement", "flow.verify", "flow.merge"],
}
_SLEEP_TURN = {
    "type": "assistant",
    "message": {
        "id": "msg_%s",
        "type": "message",
        "role": "assistant",
        "model": "claude-sleep",
        "content": [{"type": "text", "text": "working on it"}],
        "usage": {"input_tokens": 1200, "output_tokens": 10},
    },
    "session_id": "%s",
}
SLEEP_AGENT = f"""#!/bin/sh
# A Claude Code stand-in that starts like the real CLI (init line, one assistant message) and then sleeps.
sid=none
# the daemon asks `--version` before an orchestration starts; a stand-in for the simulated agent needs no skills
[ "$1" = --version ] && {{ echo "sleeping stand-in for the simulated agent"; exit 0; }}
while [ $# -gt 0 ]; do
  case "$1" in
    --version) echo "2.1.197 (Claude Code)"; exit 0 ;;  # the daemon checks the agent before a start
    --session-id|--resume) sid="$2"; shift 2 ;;
    *) shift ;;
  esac
done
printf '{json.dumps(_SLEEP_INIT, separators=(",", ":"))}\\n' "$PWD" "$sid"
printf '{json.dumps(_SLEEP_TURN, separators=(",", ":"))}\\n' "$$" "$sid"
exec sleep infinity
"""

BURST_AGENT = """#!{python}
# The simulated agent, marking its start and end (CLOCK_MONOTONIC) so the bench can count concurrent agents.
import os, sys, time

def mark(sign):
    fd = os.open({log!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, ("%s %.6f %d\\n" % (sign, time.monotonic(), os.getpid())).encode())
    os.close(fd)

os.environ["SPECFLOW_SIM_DELAY"] = {delay!r}
from specflowd.simagent import main

if "--version" in sys.argv:  # the daemon's agent check, not a run: not counted
    sys.exit(main())
mark("+")
try:
    code = main()
finally:
    mark("-")
sys.exit(code)
"""


def write_executable(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def peak_concurrency(log: Path) -> tuple[int, int]:
    """(peak number of agents alive at once, agents started) from the burst agents' marks."""
    if not log.exists():
        return 0, 0
    events = []
    for line in log.read_text().splitlines():
        sign, at, _pid = line.split()
        events.append((float(at), 1 if sign == "+" else -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end and a start at the same instant do not overlap
    alive = peak = 0
    for _, delta in events:
        alive += delta
        peak = max(peak, alive)
    return peak, sum(1 for _, d in events if d > 0)


# ---------------------------------------------------------------------------------------------- projects
def make_project(root: Path, sections: int, tasks_per_section: int = 2) -> Path:
    feature = root / "specs" / "0001-scale"
    feature.mkdir(parents=True)
    for name in ("spec.md", "plan.md"):
        (feature / name).write_text(f"# {name}\n")
    lines, number = ["# Tasks: scale", ""], 1
    for s in range(sections):
        lines.append(f"## Phase {s + 1}: Part {s}")
        for _ in range(tasks_per_section):
            lines.append(f"- [ ] T{number:03d} do part {number}")
            number += 1
        lines.append("")
    (feature / "tasks.md").write_text("\n".join(lines))
    return root


def write_registry(home: Path, roots: list[Path]) -> dict[Path, str]:
    """The shared registry file, as SpecFlow tools write it; returns each project's registry id."""
    ids = {root: str(uuid.uuid4()) for root in roots}
    stamp = "2026-01-01T00:00:00+00:00"
    entries = {ids[r]: {"path": str(r), "name": r.name, "registered_at": stamp, "last_seen": stamp} for r in roots}
    document = {"projects": entries}
    registry = home / ".specflow" / "registry.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(json.dumps(document, indent=2))
    return ids


# ---------------------------------------------------------------------------------------------- the daemon
@dataclass
class Session:
    target: Target
    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def socket(self) -> Path:
        return Path(self.env["SPECFLOWD_SOCKET"])

    def start(self, wait: bool = True) -> Session:
        log = (self.log_dir / f"daemon-{time.monotonic_ns()}.log").open("wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [self.target.specflowd, "--log-level", "WARNING"], env=self.env, stdout=log, stderr=log
        )
        if wait:
            wait_until(lambda: self.alive() and can_connect(self.socket), timeout=120, what="the daemon's socket")
            wait_until(self.answers, timeout=120, what="the daemon to answer")
        return self

    def alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {self.proc.returncode}; logs in {self.log_dir}")
        return True

    def answers(self) -> bool:
        try:
            with RawClient(self.socket, timeout=2) as client:
                return "result" in (client.request("daemon.ping") or {})
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def rpc(self, method: str, params: dict[str, Any] | None = None, timeout: float = 120) -> Any:
        with RawClient(self.socket, timeout=timeout) as client:
            reply = client.request(method, params)
        if reply is None or "error" in reply:
            raise RuntimeError(f"{method} failed: {reply and reply['error']}")
        return reply["result"]

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.rpc("daemon.status")
        return result


def kill_live_agents(roots: Iterable[Path]) -> int:
    """Stop the agent process groups this bench started (the runs still marked live under its projects),
    each by its recorded pgid and only while pid and start time still match."""
    killed = 0
    for root in roots:
        workflows = root / ".specflow" / "workflows"
        if not workflows.is_dir():
            continue
        for pid_file in workflows.glob("*/process.pid"):
            try:
                identity = json.loads(pid_file.read_text())
                proc = psutil.Process(identity["pid"])
                if abs(proc.create_time() - identity["create_time"]) > 0.05:
                    continue
                os.killpg(identity["pgid"], signal.SIGKILL)
                killed += 1
            except (OSError, ValueError, KeyError, psutil.Error):
                continue
    return killed


# ---------------------------------------------------------------------------------------------- history
@dataclass
class Template:
    """One finished orchestration as the target daemon wrote it: files under .specflow/workflows."""

    project: Path
    orchestration_id: str
    run_ids: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to workflows/ → content


def build_template(target: Target, base: Path, runs_per_orchestration: int) -> Template:
    """Complete one orchestration with the simulated agent: batches (runs - 2), verify, merge."""
    batches = max(1, runs_per_orchestration - 2)
    work = base / "template"
    env = {**sandbox_env(work), "SPECFLOW_SIM_DELAY": "0"}
    project = make_project(work / "template-project", batches)
    write_registry(Path(env["HOME"]), [project])
    session = Session(target, env, work).start()
    try:
        config = {"auto_merge": True, "skip_analyze": True, "agent": target.sim_agent}
        orch = session.rpc("orchestrate.start", {"project": str(project), "config": config})["record"]["id"]
        settled = TERMINAL | {"needs_attention"}
        wait_until(
            lambda: session.rpc("orchestrate.status", {"id": orch})["record"]["status"] in settled,
            timeout=600,
            interval=0.5,
            what="the template orchestration",
        )
        record = session.rpc("orchestrate.status", {"id": orch})["record"]
        if record["status"] != "completed":
            raise SystemExit(f"the template orchestration ended {record['status']}; logs in {work}")
    finally:
        session.stop()
        shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)
    workflows = project / ".specflow" / "workflows"
    template = Template(project, orch, sorted(record["runs"]))
    for path in workflows.rglob("*"):
        if path.is_file():
            template.files[str(path.relative_to(workflows))] = path.read_bytes()
    return template


def seed_history(template: Template, roots: list[Path], orchestrations: int) -> int:
    """Clone the template's records into the projects (round robin), with fresh ids; returns runs written."""
    runs = 0
    old_path = str(template.project).encode()
    for n in range(orchestrations):
        root = roots[n % len(roots)]
        new_orch = uuid.uuid4().hex[:12]
        swaps = [(old_path, str(root).encode()), (template.orchestration_id.encode(), new_orch.encode())]
        swaps += [(run.encode(), str(uuid.uuid4()).encode()) for run in template.run_ids]
        workflows = root / ".specflow" / "workflows"
        for rel, content in template.files.items():
            for old, new in swaps:
                content = content.replace(old, new)
            name = rel
            for old, new in swaps[1:]:
                name = name.replace(old.decode(), new.decode())
            dest = workflows / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
        runs += len(template.run_ids)
    return runs


# ---------------------------------------------------------------------------------------------- the setup
@dataclass
class Setup:
    """N projects (M of them with a live orchestration), optional history, the daemon running."""

    target: Target
    base: Path
    projects: list[Path]
    ids: dict[Path, str]
    session: Session
    live: list[str]  # orchestration ids
    history_runs: int
    history_orchestrations: int

    def close(self) -> None:
        self.session.stop()
        kill_live_agents(self.projects)


def build(
    target: Target,
    projects: int,
    live: int,
    history: int,
    template: Template | None,
    burst_sections: int,
) -> Setup:
    base = Path(tempfile.mkdtemp(prefix="sfscale-", dir=os.environ.get("SFSCALE_TMP")))
    env = sandbox_env(base)
    roots = [make_project(base / "projects" / f"p{i:04d}", burst_sections) for i in range(projects)]
    ids = write_registry(Path(env["HOME"]), roots)
    runs = seed_history(template, roots, history) if template and history else 0
    session = Session(target, env, base).start()
    setup = Setup(target, base, roots, ids, session, [], runs, history if runs else 0)
    agent = write_executable(base / "sleeping-agent", SLEEP_AGENT)
    config = {"agent": agent, "stale_after_s": 86_400, "skip_analyze": True, "auto_merge": True}
    method = scheduler_limit_method(session) if live else None
    if method:  # a daemon with a run scheduler: let every live orchestration's agent run (the limit is 0-64)
        session.rpc(method, {"group": "default", "limit": min(max(live, 2), 64)})
    for root in roots[:live]:
        view = session.rpc("orchestrate.start", {"project": str(root), "config": config})
        setup.live.append(view["record"]["id"])
    if live:
        wait_until(
            lambda: session.status()["runs"]["active"] >= live, timeout=300, interval=0.2, what="the live agents"
        )
    return setup


# ---------------------------------------------------------------------------------------------- scenarios
def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure_idle(setup: Setup, seconds: float, settle: float) -> tuple[float, float]:
    """(RSS in MB, daemon CPU in % of one core over ``seconds``) after ``settle`` seconds of quiet."""
    time.sleep(settle)  # not synchronisation: startup work (re-decisions, first writes) is over
    pid = setup.session.pid
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    rss = psutil.Process(pid).memory_info().rss / 2**20
    return rss, 100 * (cpu1 - cpu0) / (t1 - t0)


@dataclass
class Timed:
    samples: list[float]
    cpu_s: float  # the daemon's own CPU time over the calls: less sensitive to a loaded machine than wall time


def timed_calls(session: Session, method: str, params: dict[str, Any] | None, calls: int, budget_s: float) -> Timed:
    """Up to ``calls`` sequential calls; stops after ``budget_s`` seconds once 20 are done (a slow daemon
    would otherwise take minutes per figure)."""
    samples: list[float] = []
    deadline = time.monotonic() + budget_s
    with RawClient(session.socket, timeout=60) as client:
        client.request(method, params)  # warm
        cpu0 = cpu_seconds(session.pid)
        for _ in range(calls):
            t0 = time.perf_counter()
            reply = client.request(method, params)
            samples.append(time.perf_counter() - t0)
            if reply is None or "error" in reply:
                raise RuntimeError(f"{method} {params}: {reply}")
            if len(samples) >= 20 and time.monotonic() > deadline:
                break
    return Timed(samples, cpu_seconds(session.pid) - cpu0)


def report_latency(label: str, timed: Timed) -> None:
    samples = timed.samples
    say(
        f"  {label}: p50 {ms(percentile(samples, 0.5))}  p99 {ms(percentile(samples, 0.99))}  "
        f"max {ms(max(samples))}  ({len(samples)} calls; daemon CPU {ms(timed.cpu_s / len(samples))} per call)"
    )


def scenario_latency(setup: Setup, calls: int, budget_s: float) -> None:
    say("latency (one client, sequential calls):")
    report_latency("daemon.status", timed_calls(setup.session, "daemon.status", None, calls, budget_s))
    root = setup.projects[0]
    has_orchestration = setup.live or setup.history_orchestrations
    if not has_orchestration:
        say("  orchestrate.status {project}: skipped (no orchestration exists)")
        return
    kind = "live" if setup.live else "finished"
    by_path = timed_calls(setup.session, "orchestrate.status", {"project": str(root)}, calls, budget_s)
    report_latency(f"orchestrate.status {{project: path}} ({kind})", by_path)
    by_id = timed_calls(setup.session, "orchestrate.status", {"project": setup.ids[root]}, calls, budget_s)
    report_latency(f"orchestrate.status {{project: registry id}} ({kind})", by_id)


def scenario_restart(setup: Setup, sig: int) -> float:
    """One restart; returns the wall seconds until every live run is re-adopted."""
    session = setup.session
    before = session.status()
    want_orch, want_runs = before["active_orchestrations"], before["runs"]["active"]
    total_runs = before["runs"]["total"]
    session.stop(sig)
    session.start(wait=False)
    t0 = session.started_at
    answered: float | None = None
    while True:
        session.alive()
        try:
            with RawClient(session.socket, timeout=30) as client:
                reply = client.request("daemon.status")
        except OSError:
            time.sleep(0.005)
            continue
        now = time.monotonic()
        if reply is None or "result" not in reply:
            continue
        answered = answered or now
        status = reply["result"]
        if status["active_orchestrations"] >= want_orch and status["runs"]["active"] >= want_runs:
            done = now
            cpu_at_done = cpu_seconds(session.pid)
            break
        if now - t0 > 300:
            raise SystemExit(f"restart: not all re-adopted after 300 s: {status}")
    after = session.status()
    say(f"restart ({signal.Signals(sig).name}, {want_orch} orchestrations, {want_runs} live runs):")
    say(f"  first answer after {ms(answered - t0)}; all re-adopted after {ms(done - t0)} (wall)")
    say(f"  daemon CPU from exec to all re-adopted: {ms(cpu_at_done)} (user + system)")
    spawned = after["runs"]["total"] - total_runs
    say(f"  runs total {total_runs} -> {after['runs']['total']} ({'no new run' if spawned == 0 else f'{spawned} new'})")
    say(f"  RSS after restart {psutil.Process(session.pid).memory_info().rss / 2**20:.1f} MB")
    return done - t0


def scheduler_limit_method(session: Session) -> str | None:
    methods = [m["name"] for m in session.rpc("rpc.discover")["methods"]]
    return next((m for m in methods if m.endswith("set_limit")), None)


class Pinger(threading.Thread):
    """``daemon.ping`` back to back on one connection: the worst gap a client sees."""

    def __init__(self, sock: Path) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.stop = threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        with RawClient(self.sock, timeout=120) as client:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                client.request("daemon.ping")
                self.samples.append(time.perf_counter() - t0)
                time.sleep(0.01)


def scenario_burst(setup: Setup, count: int, limit: int, delay: float, timeout: float) -> None:
    session = setup.session
    free = setup.projects[len(setup.live) :]
    if len(free) < count:
        say(f"burst: skipped (needs {count} projects without a live orchestration, have {len(free)})")
        return
    for orch in setup.live:  # they would hold agent slots; the burst is about new work
        session.rpc("orchestrate.cancel", {"id": orch})
    setup.live = []
    method = scheduler_limit_method(session)
    if method:
        session.rpc(method, {"group": "default", "limit": limit})
        limit_text = f"limit {limit} via {method}"
    else:
        limit_text = "no scheduler in this daemon: no limit"
    marks = setup.base / "burst-agents.log"
    agent = write_executable(
        setup.base / "burst-agent", BURST_AGENT.format(python=setup.target.python, log=str(marks), delay=str(delay))
    )
    config = {"agent": agent, "skip_analyze": True, "auto_merge": True}
    pinger = Pinger(session.socket)
    pinger.start()
    time.sleep(1.0)  # a baseline of pings before the burst
    started: dict[int, str] = {}
    start_latency: list[float] = []
    errors: list[str] = []

    def start_one(index: int, barrier: threading.Barrier) -> None:
        with RawClient(session.socket, timeout=600) as client:
            barrier.wait()
            t0 = time.perf_counter()
            reply = client.request("orchestrate.start", {"project": str(free[index]), "config": config})
            start_latency.append(time.perf_counter() - t0)
        if reply and "result" in reply:
            started[index] = reply["result"]["record"]["id"]
        else:
            errors.append(str(reply))

    cpu0 = cpu_seconds(session.pid)
    t0, _ = all_at_once(start_one, count)
    ids = set(started.values())

    def all_done() -> bool:
        active = session.rpc("orchestrate.list", {})["orchestrations"]
        return not any(o["id"] in ids for o in active)

    try:
        wait_until(all_done, timeout=timeout, interval=1.0, what="the burst to finish")
        elapsed = time.monotonic() - t0
        finished = f"all settled in {elapsed:.1f} s"
    except AssertionError:
        finished = f"NOT settled after {timeout:.0f} s"
    cpu = cpu_seconds(session.pid) - cpu0
    pinger.stop.set()
    pinger.join()
    records = session.rpc("orchestrate.list", {"include_finished": True})["orchestrations"]
    outcome: dict[str, int] = {}
    for record in records:
        if record["id"] in ids:
            outcome[record["status"]] = outcome.get(record["status"], 0) + 1
    peak, agents = peak_concurrency(marks)
    pings = pinger.samples
    say(f"burst ({count} orchestrations started at once, {limit_text}; agent sim delay {delay} s/task):")
    say(f"  started {len(ids)} (errors {len(errors)}); {finished}; outcomes {outcome}; daemon CPU {cpu:.1f} s")
    say(f"  agents run {agents}; peak concurrent agents {peak}")
    say(f"  orchestrate.start latency: p50 {ms(percentile(start_latency, 0.5))}  max {ms(max(start_latency))}")
    say(
        f"  client stall (daemon.ping loop, {len(pings)} pings): p50 {ms(percentile(pings, 0.5))}  "
        f"p99 {ms(percentile(pings, 0.99))}  max {ms(max(pings))}  over 100 ms: {sum(p > 0.1 for p in pings)}"
    )
    if errors:
        say(f"  first error: {errors[0][:300]}")


# ---------------------------------------------------------------------------------------------- growth
def linear_slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else float("nan")


def growth(args: argparse.Namespace, target: Target, template: Template | None) -> None:
    def point(projects: int, live: int, history: int) -> tuple[float, float]:
        setup = build(target, projects, live, history, template, args.burst_sections)
        try:
            rss, cpu = measure_idle(setup, args.idle_seconds, args.settle)
        finally:
            setup.close()
            shutil.rmtree(setup.base, ignore_errors=True)
        runs = history * args.runs_per_orchestration
        sizes = f"projects {projects:5d}  live {live:3d}  finished runs {runs:6d}"
        say(f"  {sizes}:  RSS {rss:6.1f} MB  idle CPU {cpu:5.2f} %")
        return rss, cpu

    dims: list[tuple[str, str, list[tuple[int, int, int]], Callable[[tuple[int, int, int]], int]]] = [
        ("project", "registered projects, none live", [(p, 0, 0) for p in args.growth_projects], lambda c: c[0]),
        (
            "live orchestration",
            f"{args.projects} projects",
            [(args.projects, m, 0) for m in args.growth_live],
            lambda c: c[1],
        ),
    ]
    if template is not None:
        sizes = [(args.projects, 0, h) for h in args.growth_history]
        dims.append(
            (
                "finished run",
                f"{args.projects} projects, {args.runs_per_orchestration} runs per finished orchestration",
                sizes,
                lambda c: c[2] * args.runs_per_orchestration,
            )
        )
    cache: dict[tuple[int, int, int], tuple[float, float]] = {}
    for unit, what, configs, x_of in dims:
        say(f"growth per {unit} ({what}; idle {args.idle_seconds:.0f} s each):")
        rows = []
        for c in configs:
            if c not in cache:
                cache[c] = point(*c)
            else:
                say(f"  (same as above: RSS {cache[c][0]:.1f} MB, idle CPU {cache[c][1]:.2f} %)")
            rows.append((x_of(c), *cache[c]))
        rss_slope = linear_slope([(x, r) for x, r, _ in rows])
        cpu_slope = linear_slope([(x, c) for x, _, c in rows])
        say(f"  => per {unit}: RSS {rss_slope * 1024:+.1f} KB, idle CPU {cpu_slope:+.4f} % of a core")


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", type=Path, help="checkout to measure (uses REPO/.venv); default: this one")
    p.add_argument("--projects", type=int, default=500, help="registered projects (N)")
    p.add_argument("--live", type=int, default=50, help="live orchestrations with sleeping agents (M)")
    p.add_argument("--history", action="store_true", help="seed finished orchestrations and runs on disk")
    p.add_argument("--history-orchestrations", type=int, default=500, help="finished orchestrations to seed")
    p.add_argument("--runs-per-orchestration", type=int, default=20, help="finished runs per seeded orchestration")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
    p.add_argument("--idle-seconds", type=float, default=20.0, help="idle CPU window")
    p.add_argument("--settle", type=float, default=5.0, help="quiet time before the idle window")
    p.add_argument("--calls", type=int, default=300, help="calls per latency figure")
    p.add_argument("--latency-budget", type=float, default=60.0, help="seconds per latency figure (>= 20 calls)")
    p.add_argument("--restart-signal", choices=["KILL", "TERM"], default="KILL")
    p.add_argument("--restarts", type=int, default=1, help="restart this many times in a row (wall times vary)")
    p.add_argument("--burst", type=int, default=200, help="orchestrations started at once")
    p.add_argument("--burst-limit", type=int, default=4, help="the scheduler's limit during the burst, if any")
    p.add_argument("--burst-delay", type=float, default=0.2, help="simulated agent seconds per task")
    p.add_argument("--burst-sections", type=int, default=1, help="batches per burst orchestration")
    p.add_argument("--burst-timeout", type=float, default=900.0)
    p.add_argument("--growth", action="store_true", help="measure RSS and idle CPU at several sizes instead")
    p.add_argument("--growth-projects", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000])
    p.add_argument("--growth-live", type=lambda s: [int(x) for x in s.split(",")], default=[0, 25, 50])
    p.add_argument(
        "--growth-history",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[0, 250, 500],
        help="finished orchestrations (x runs per orchestration)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}")
    return args


def conditions() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}, "
        f"{psutil.virtual_memory().available / 2**30:.1f} GiB available"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    target = Target.of(args.repo)
    say(f"code: {target.describe()}")
    say(f"machine: {conditions()} (CPU figures are the daemon's own CPU time)")
    scratch = Path(tempfile.mkdtemp(prefix="sfscale-tpl-", dir=os.environ.get("SFSCALE_TMP")))
    template = None
    try:
        if args.history or (args.growth and any(args.growth_history)):
            t0 = time.monotonic()
            template = build_template(target, scratch, args.runs_per_orchestration)
            say(
                f"history template: one orchestration of {len(template.run_ids)} runs completed by the simulated "
                f"agent in {time.monotonic() - t0:.1f} s ({sum(map(len, template.files.values())) / 1024:.0f} KB "
                "of records)"
            )
        if args.growth:
            growth(args, target, template)
            return
        run_scenarios(args, target, template if args.history else None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_scenarios(args: argparse.Namespace, target: Target, template: Template | None) -> None:
    t0 = time.monotonic()
    history = args.history_orchestrations if template else 0
    setup = build(target, args.projects, args.live, history, template, args.burst_sections)
    try:
        say(
            f"setup: {args.projects} projects, {len(setup.live)} live orchestrations (sleeping agents), history: "
            f"{setup.history_orchestrations} finished orchestrations / {setup.history_runs} finished runs; "
            f"ready in {time.monotonic() - t0:.1f} s"
        )
        if "idle" in args.scenarios:
            rss, cpu = measure_idle(setup, args.idle_seconds, args.settle)
            say(f"idle: RSS {rss:.1f} MB; CPU {cpu:.2f} % of a core over {args.idle_seconds:.0f} s")
        if "latency" in args.scenarios:
            scenario_latency(setup, args.calls, args.latency_budget)
        if "restart" in args.scenarios:
            sig = getattr(signal, f"SIG{args.restart_signal}")
            walls = [scenario_restart(setup, sig) for _ in range(args.restarts)]
            if len(walls) > 1:
                say(
                    f"restart -> all re-adopted over {len(walls)} restarts: median {ms(percentile(walls, 0.5))}, "
                    f"min {ms(min(walls))}, max {ms(max(walls))}"
                )
        if "burst" in args.scenarios:
            scenario_burst(setup, args.burst, args.burst_limit, args.burst_delay, args.burst_timeout)
        say(f"machine after: {conditions()}")
    finally:
        setup.close()
        if args.keep:
            say(f"kept {setup.base}")
        else:
            shutil.rmtree(setup.base, ignore_errors=True)
            runtime = Path(setup.session.env["XDG_RUNTIME_DIR"])
            shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    main()

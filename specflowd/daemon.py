"""specflowd: wiring, lifecycle, signals. Foreground process; systemd (or the user) supervises it."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.abc

from specflowd import faults
from specflowd.engine.adapters import engine_ports
from specflowd.engine.orchestrator import Orchestrator
from specflowd.event_catalogue import DaemonStarted, DaemonStopping, RegistryChanged, RegistryProblem
from specflowd.files.leftovers import sweep_temp
from specflowd.handlers import daemon as daemon_handlers
from specflowd.handlers import events as events_handlers
from specflowd.handlers import groups as groups_handlers
from specflowd.handlers import orchestrate as orchestrate_handlers
from specflowd.handlers import projects as projects_handlers
from specflowd.handlers import questions as questions_handlers
from specflowd.handlers import rpc as rpc_handlers
from specflowd.handlers import runs as runs_handlers
from specflowd.handlers import scheduler as scheduler_handlers
from specflowd.handlers import settings as settings_handlers
from specflowd.notify import Notifier
from specflowd.paths import default_socket_path, lock_path_for, registry_path, scheduler_path, user_config_path
from specflowd.project.registry import Registry
from specflowd.protocol.rpc import Endpoint, Router
from specflowd.run_spec import RunTicket
from specflowd.runner.manager import RunManager
from specflowd.runner.records import RunnerSettings
from specflowd.runner.sandbox import ProjectSandbox
from specflowd.services.context import Call, Services
from specflowd.services.events import DEFAULT_QUEUE_LIMIT, Event, EventBus
from specflowd.services.launcher import RunLauncher
from specflowd.services.metrics import DaemonMetrics, on_loop
from specflowd.services.metrics_sources import count_event, snapshot
from specflowd.services.scheduling import RunScheduler, account_key
from specflowd.settings import listen_address, load_settings
from specflowd.transport import systemd
from specflowd.transport.lock import AlreadyRunning, DaemonLock
from specflowd.transport.server import Connection, Limits, SocketServer, Weigh
from specflowd.version import __version__
from specflowd.watch import watch_path

__all__ = ["HANDLERS", "build_router", "main"]

log = logging.getLogger("specflowd")

T = TypeVar("T", int, float)


# Every RPC namespace and the one handler module that serves it (the module is named after it): the whole
# method table is here, and tests/foundation/test_handlers.py holds it equal to the package's modules.
HANDLERS: dict[str, Router[Call]] = {
    "daemon": daemon_handlers.router,
    "rpc": rpc_handlers.router,
    "projects": projects_handlers.router,
    "orchestrate": orchestrate_handlers.router,
    "runs": runs_handlers.router,
    "questions": questions_handlers.router,
    "settings": settings_handlers.router,
    "events": events_handlers.router,
    "groups": groups_handlers.router,
    "scheduler": scheduler_handlers.router,
}


def build_router() -> Router[Call]:
    router: Router[Call] = Router()
    for handlers in HANDLERS.values():
        router.include(handlers)
    return router


async def _open_listener(sock_path: Path, activated: socket.socket | None) -> anyio.abc.SocketListener:
    if activated is not None:
        return await anyio.abc.SocketListener.from_socket(activated)
    directory = sock_path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        os.chmod(directory, 0o700)
    if sock_path.exists() or sock_path.is_symlink():
        log.info("removing stale socket %s", sock_path)
        sock_path.unlink()
    return await anyio.create_unix_listener(sock_path, mode=0o600)


async def _watch_registry(services: Services) -> None:
    registry, bus = services.registry, services.bus
    last_problem = registry.problem

    async def reload() -> None:
        nonlocal last_problem
        before = {p.id for p in registry.projects()}
        changed = await anyio.to_thread.run_sync(registry.load)
        after = {p.id for p in registry.projects()}
        if changed:
            bus.emit(None, RegistryChanged(added=sorted(after - before), removed=sorted(before - after)))
        if registry.problem and registry.problem != last_problem:
            log.warning("%s", registry.problem)
            bus.emit(None, RegistryProblem(problem=registry.problem))
        last_problem = registry.problem

    await watch_path(registry.path, reload, initial=registry.loaded_fingerprint)  # a change since the load counts


def _loop_limits() -> tuple[int, int]:
    """``[agent] loop_repeats`` and ``loop_window`` as the settings file says now (read at each run's start, like
    the agent binary: a change applies to the next run without a restart; a broken file gives the defaults)."""
    agent = load_settings(user_config_path()).agent
    return agent.loop_repeats, agent.loop_window


def _exit_grace() -> float:
    """``[agent] exit_grace_s`` as the settings file says now (read when a run's supervision starts)."""
    return load_settings(user_config_path()).agent.exit_grace_s


def _sandbox_settings(root: Path) -> ProjectSandbox:
    """``[sandbox]`` for a project's run as the settings file says now (read at each invocation's start)."""
    settings = load_settings(user_config_path())
    return settings.sandbox.for_project(root, settings.agent.settings)


async def _watchdog(interval: float) -> None:
    while True:
        systemd.notify("WATCHDOG=1")
        await anyio.sleep(interval)


async def _signals(stop: anyio.Event, bus: EventBus) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("received %s, stopping", signal.Signals(signum).name)
            bus.emit(None, DaemonStopping(reason=signal.Signals(signum).name))
            await bus.flush()  # subscribers are written the event before their connections close
            stop.set()


async def serve(
    sock_path: Path,
    activated: socket.socket | None,
    limits: Limits | None = None,
    event_queue: int = DEFAULT_QUEUE_LIMIT,
) -> None:
    registry = Registry(registry_path())
    for leftover in sweep_temp(registry.path.parent, targets={registry.path.name}).removed:
        log.info("removed %s, left by a write a crash interrupted", leftover)
    registry.load()
    if registry.problem:
        log.warning("%s", registry.problem)
    bus = EventBus(queue_limit=event_queue)
    stop = anyio.Event()
    settings = load_settings(user_config_path())
    if settings.problem:
        log.warning("%s", settings.problem)
    bus.listeners.append(Notifier(user_config_path(), os.environ))  # desktop and [agent] on_event
    agent = settings.agent
    runner_settings = RunnerSettings(
        claude=agent.claude,
        loop_repeats=agent.loop_repeats,
        loop_window=agent.loop_window,
        exit_grace_s=agent.exit_grace_s,
    )
    runs = RunManager(
        emit=bus.emit,
        settings=runner_settings,
        loop_limits=_loop_limits,
        exit_grace=_exit_grace,
        sandbox_settings=_sandbox_settings,
    )
    scheduler = RunScheduler(scheduler_path(), bus.emit, account=account_key(os.environ))
    bus.listeners.append(lambda event: scheduler.notice(event.project, event.payload))  # slots follow the runs

    def project_group(root: Path) -> str | None:
        where = str(root)
        return next((p.group for p in registry.projects() if p.path == where), None)

    def project_id(root: Path) -> str:
        where = str(root)
        return next((p.id for p in registry.projects() if p.path == where), where)

    launcher = RunLauncher(runs, scheduler, project_group)
    orchestrator = Orchestrator(engine_ports(launcher, bus, project_id))
    scheduler.on_admitted(orchestrator.wake)
    bus.listeners.append(lambda event: orchestrator.notice(event.payload))  # the runner's events wake the engine
    router = build_router()
    endpoint = Endpoint(router.specs)

    async def handle(payload: bytes, conn: Connection, weigh: Weigh) -> bytes | None:
        return await endpoint.handle(payload, Call(services, conn), weigh)

    def quick(payload: bytes, conn: Connection) -> tuple[bool, bytes | None]:
        return endpoint.answer_now(payload, Call(services, conn))

    server = SocketServer(handle, limits=limits, quick=quick)
    services = Services(
        socket_path=sock_path,
        socket_activated=activated is not None,
        registry=registry,
        bus=bus,
        stop=stop,
        specs=router.specs,
        orchestrations=orchestrator,
        runs=runs,
        scheduler=scheduler,
        launcher=launcher,
        connection_count=lambda: server.connections,
    )
    metrics = services.metrics = DaemonMetrics(on_loop(lambda: snapshot(services)))
    endpoint.observe = metrics.observe_rpc
    bus.listeners.append(lambda event: count_event(services, metrics, event))
    listener = await _open_listener(sock_path, activated)
    if settings.metrics.listen:  # read at start: a change takes a restart (docs/metrics.md)
        metrics.listen(*listen_address(settings.metrics.listen))
        if metrics.problem:
            log.warning("%s", metrics.problem)
        else:
            log.info("serving /metrics on http://%s:%d", *(metrics.address or ("?", 0)))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_signals, stop, bus)
            tg.start_soon(_watch_registry, services)
            tg.start_soon(runs.run)
            await runs.reconcile(registry.resolved_roots(), resolved=True)  # runs first, then their owners
            scheduler.adopt_live(_live_runs(runs))  # re-adopted runs hold their slots before anything is admitted
            tg.start_soon(scheduler.run)
            tg.start_soon(orchestrator.run, [Path(p.path) for p in registry.projects()])

            def adopt_new_projects(event: Event) -> None:
                # a project registered while the daemon runs may hold runs of an earlier daemon
                if isinstance(event.payload, RegistryChanged) and event.payload.added:
                    added = event.payload.added
                    roots = [Path(p.path) for p in registry.projects() if p.id in added]
                    tg.start_soon(adopt, roots)

            async def adopt(roots: list[Path]) -> None:
                await runs.reconcile(roots)  # runs first: an orchestration must see its live run, not a missing one
                scheduler.adopt_live(_live_runs(runs))
                for root in roots:
                    orchestrator.load_project(root)

            bus.listeners.append(adopt_new_projects)
            interval = systemd.watchdog_interval()
            if interval:
                tg.start_soon(_watchdog, interval)
            log.info("specflowd %s listening on %s (pid %d)", __version__, sock_path, os.getpid())
            systemd.notify(f"READY=1\nSTATUS=serving {len(registry.projects())} projects on {sock_path}")
            bus.emit(None, DaemonStarted(pid=os.getpid(), version=__version__))
            await server.serve(listener, stop)
            systemd.notify("STOPPING=1\nSTATUS=stopping")
            tg.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(metrics.close)
        if activated is None:
            with contextlib.suppress(FileNotFoundError):
                sock_path.unlink()


def _live_runs(runs: RunManager) -> list[RunTicket]:
    live = runs.live()
    return [RunTicket(project_root=r.project_root, run_id=r.run_id, orchestration_id=r.orchestration_id) for r in live]


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(text: str) -> T:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="specflowd", description="SpecFlow orchestration daemon")
    parser.add_argument("--socket", type=Path, help="socket path (default: $SPECFLOWD_SOCKET or the runtime dir)")
    parser.add_argument("--log-level", default=os.environ.get("SPECFLOWD_LOG_LEVEL", "INFO"))
    defaults = Limits()
    parser.add_argument(
        "--max-connections",
        type=_positive(int),
        default=defaults.max_connections,
        help=f"concurrent client connections; one more is refused with an error (default {defaults.max_connections})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive(float),
        default=defaults.idle_timeout_s,
        metavar="SECONDS",
        help="close a connection that sends nothing and waits for nothing this long; event subscriptions are "
        f"exempt (default {defaults.idle_timeout_s:.0f})",
    )
    parser.add_argument(
        "--write-timeout",
        type=_positive(float),
        default=defaults.write_timeout_s,
        metavar="SECONDS",
        help=f"close a connection whose peer reads no reply for this long (default {defaults.write_timeout_s:.0f})",
    )
    parser.add_argument(
        "--event-queue",
        type=_positive(int),
        default=DEFAULT_QUEUE_LIMIT,
        metavar="EVENTS",
        help="events queued for a subscriber that does not read; beyond, they are dropped and it is sent "
        f"events.lost (default {DEFAULT_QUEUE_LIMIT})",
    )
    parser.add_argument("--version", action="version", version=f"specflowd {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        faults.configure(os.environ)  # test builds of crash windows; removed so agent runs never see it
    except ValueError as exc:
        print(f"specflowd: {faults.ENV}: {exc}", file=sys.stderr)
        return 2
    sock_path: Path = (args.socket or default_socket_path()).expanduser().absolute()
    try:
        activated = systemd.activation_socket()
    except OSError as exc:
        print(f"specflowd: LISTEN_FDS is set but fd 3 is not a usable socket: {exc.strerror}", file=sys.stderr)
        return 1
    if activated is not None:
        with contextlib.suppress(OSError):
            sock_path = Path(activated.getsockname())
    lock = DaemonLock(lock_path_for(sock_path))
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"specflowd: {exc}; not starting a second one.", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"specflowd: cannot take the lock {lock.path}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        limits = Limits(
            max_connections=args.max_connections, idle_timeout_s=args.idle_timeout, write_timeout_s=args.write_timeout
        )
        # The objects the imports made (modules, classes, pydantic's schemas) live as long as the daemon: out of
        # the collector's sight, a full collection scans only what serving made since, so it cannot stall every
        # client for long during a burst (figures: bench/ and docs/scale.md).
        gc.freeze()
        anyio.run(serve, sock_path, activated, limits, args.event_queue, backend="asyncio")
    except KeyboardInterrupt:
        pass
    finally:
        lock.release()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

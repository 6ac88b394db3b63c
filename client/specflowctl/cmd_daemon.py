"""specflowctl daemon status|metrics|start|stop|install-unit."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import typer

from specflowctl import render
from specflowctl.app import JsonOpt, SocketOpt, emit, fail, rpc

app = typer.Typer(help="The daemon itself.", no_args_is_help=True)


@app.command("status")
def status(json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Show whether the daemon runs, its version, uptime and counters."""
    emit(json_out, rpc(sock, "daemon.status"), render.daemon_status)


@app.command("metrics")
def metrics(json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Print the daemon's Prometheus metrics (OpenMetrics text, what a scrape of [metrics] listen reads)."""
    emit(json_out, rpc(sock, "daemon.metrics"), lambda d: str(d["text"]).rstrip("\n"))


def ensure_daemon(sock: Path | None, timeout: float = 15.0) -> tuple[dict[str, Any], bool]:
    """The daemon's status, starting specflowd in the background first when none answers. Through --host
    the remote bridge starts that host's daemon on demand: here it is only asked."""
    from specflowctl import autostart, core

    try:
        where = core.target(sock)
        if not isinstance(where, Path):
            return core.call(sock, "daemon.status"), False
        return autostart.ensure_daemon(where, timeout)
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)


@app.command("start")
def start(
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
    timeout: float = typer.Option(
        15.0, "--timeout", metavar="SECONDS", help="How long to wait for the daemon to answer"
    ),
) -> None:
    """Start specflowd in the background (for systems without systemd) and wait until it answers."""
    from specflowctl.paths import specflow_home

    data, started = ensure_daemon(sock, timeout)
    log_path = specflow_home() / "specflowd.log"
    if started:
        emit(json_out, data, lambda d: f"started specflowd (pid {d['pid']}), log: {log_path}")
    else:
        emit(json_out, data, render.daemon_status)


@app.command("stop")
def stop(json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Ask the daemon to stop gracefully (agent runs keep running and are re-adopted at next start)."""
    emit(json_out, rpc(sock, "daemon.shutdown"), lambda _: "specflowd is stopping")


def _unit_sources() -> Path:
    from importlib.util import find_spec

    # The unit files ship beside the daemon's package; find it without importing daemon code.
    spec = find_spec("specflowd")
    if spec is None or spec.origin is None:
        fail("the specflowd package is not installed")
    package = Path(spec.origin).parent
    for candidate in (package / "_systemd", package.parent / "systemd"):
        if (candidate / "specflowd.service").is_file():
            return candidate
    fail("the systemd unit files are not installed with this package")


@app.command("install-unit")
def install_unit(
    json_out: JsonOpt = False,
    target: Path | None = typer.Option(
        None, "--target", metavar="DIR", help="Directory for the user units [default: ~/.config/systemd/user]"
    ),
) -> None:
    """Copy specflowd.service and specflowd.socket into ~/.config/systemd/user/."""
    source = _unit_sources()
    if target is None:
        target = Path.home() / ".config" / "systemd" / "user"
    target.mkdir(parents=True, exist_ok=True)
    daemon_bin = Path(sys.executable).parent / "specflowd"
    if not daemon_bin.exists():
        daemon_bin = Path(shutil.which("specflowd") or "specflowd")
    written = []
    for name in ("specflowd.service", "specflowd.socket"):
        text = (source / name).read_text()
        text = text.replace("ExecStart=specflowd", f"ExecStart={daemon_bin}")
        (target / name).write_text(text)
        written.append(str(target / name))
    emit(
        json_out,
        {"written": written},
        lambda d: (
            "\n".join(d["written"])
            + "\nNext: systemctl --user daemon-reload && systemctl --user enable --now specflowd.socket"
        ),
    )

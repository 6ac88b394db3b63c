"""Following an orchestration in the foreground (``orchestrate``, ``status --watch``, ``demo``).

Subscribe first, then read the status, then follow: a stop that happened before the subscription is seen
in the status, and nothing after it is missed. The view ends where the orchestration stops or waits for the
user, with the exit code that says which (``core.STOP_CODES``, the same for every verb). While a run works,
a TTY shows one live line (elapsed, tool calls, last tool, spend against the run's cap) that ticks every
second; pipes get the decisions only.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from specflowctl import core, render
from specflowctl.connection import DaemonUnavailable, RpcClient, RpcError

__all__ = ["Follower", "subscribe"]

_TICK_S = 1.0
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT


def subscribe(sock: Path | str | None, project: str | None) -> RpcClient:
    """A connection subscribed to ``project``'s events (all events when None), before anything is read."""
    path = core.target(sock)
    client = RpcClient(path, timeout=None)
    try:
        client.subscribe(project)
    except DaemonUnavailable as exc:
        if not isinstance(path, Path):  # through ssh: the bridge's own one line names the host
            raise core.VerbFailed(exc.reason, core.EXIT_NO_DAEMON) from None
        from specflowctl.paths import not_answering

        raise core.VerbFailed(not_answering(path), core.EXIT_NO_DAEMON) from None
    except RpcError as exc:  # e.g. an unknown project
        detail = f" [{exc.kind}]" if exc.kind else ""
        raise core.VerbFailed(f"{exc.message}{detail}", core.EXIT_RPC_ERROR, exc.kind) from None
    return client


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Follower:
    def __init__(
        self,
        sock: Path | str | None,
        events: RpcClient,
        orch_id: str,
        *,
        json_out: bool = False,
        project_hint: str | None = None,
        out: TextIO | None = None,
        inline_answers: bool = False,
    ) -> None:
        self.sock = sock
        self.events = events
        self.orch_id = orch_id
        self.json_out = json_out
        self.project_hint = project_hint  # how the user named the project, for the commands we suggest
        self.inline_answers = inline_answers  # the caller asks the questions itself: no "answer with" view
        self.out = out or sys.stdout
        self.tty = self.out.isatty() and not json_out
        self.run: dict[str, Any] | None = None  # the live run's last progress
        self.live_shown = False
        self.batches_total = 0

    # -- output ------------------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        self._clear_live()
        self.out.write(text + "\n")
        self.out.flush()

    def _clear_live(self) -> None:
        if self.live_shown:
            self.out.write("\r\x1b[K")
            self.live_shown = False

    def _draw_live(self) -> None:
        if not self.tty or self.run is None:
            return
        started = _epoch(self.run.get("started_at"))
        elapsed = max(0.0, time.time() - started) if started else 0.0
        line = render.live_line(self.run, elapsed, self.batches_total)
        width = shutil.get_terminal_size((100, 20)).columns
        self.out.write("\r\x1b[K" + line[: max(20, width - 1)])
        self.out.flush()
        self.live_shown = True

    def _view(self) -> dict[str, Any]:
        view: dict[str, Any] = core.call(self.sock, "orchestrate.status", {"id": self.orch_id})
        self.batches_total = len(view["record"].get("batches") or [])
        return view

    # -- the loop ----------------------------------------------------------------------------------------
    def follow(self) -> int:
        """Print until the orchestration stops or waits for the user; returns the exit code."""
        try:
            return self._follow()
        except KeyboardInterrupt:  # the user stops watching, not the orchestration: say so, and how to come back
            self._clear_live()
            target = f" {self.project_hint}" if self.project_hint else ""
            sys.stderr.write(
                f"\nstopped following; orchestration {self.orch_id[: render.ORCH_ID_LEN]} goes on in the daemon. "
                f"Follow it again with `specflowctl status --watch{target}`; "
                f"stop it with `specflowctl pause{target}` or `specflowctl cancel{target}`.\n"
            )
            return EXIT_INTERRUPTED
        except DaemonUnavailable:
            self._clear_live()
            raise core.VerbFailed(f"lost the daemon on {self.events.socket_path}", core.EXIT_NO_DAEMON) from None
        finally:
            self._clear_live()
            self.events.close()

    def _follow(self) -> int:
        view = self._view()  # read after subscribing: a stop that already happened is seen here
        record = view["record"]
        if record["status"] in core.STOP_CODES:
            return self._finish(view)
        if not self.json_out:
            self._write(render.orchestration_line(record, view.get("queued")))
        self._show_current_run(record)
        while True:
            event = self.events.next_event(_TICK_S if self.tty else None)
            if event is None:
                self._draw_live()  # the elapsed time ticks between events
                continue
            if event.get("type") == "events.lost":  # we read too slowly and the daemon dropped events
                view = self._resync(event)
                if view["record"]["status"] in core.STOP_CODES:
                    return self._finish(view)
                continue
            if not self._mine(event):
                continue
            if self.json_out:
                self.out.write(json.dumps(event) + "\n")
                self.out.flush()
            stop = self._on_event(event)
            if stop:
                view = self._view()
                if view["record"]["status"] in core.STOP_CODES:
                    return self._finish(view)

    def _show_current_run(self, record: dict[str, Any]) -> None:
        """A run is already working: show it at once, before its next progress event."""
        run_id = record.get("current_run_id")
        self.run = None
        if run_id:
            try:
                self.run = dict(core.call(self.sock, "runs.get", {"run": run_id}))
            except core.VerbFailed:
                self.run = None
            self._draw_live()

    def _resync(self, event: dict[str, Any]) -> dict[str, Any]:
        """After ``events.lost``: what was missed is read from the status, and following goes on."""
        if self.json_out:
            self.out.write(json.dumps(event) + "\n")
            self.out.flush()
        view = self._view()
        if not self.json_out:
            dropped = (event.get("data") or {}).get("dropped", "some")
            self._write(f"  {'(resync)':<16} {dropped} events were missed; status read again")
            self._write(render.orchestration_line(view["record"], view.get("queued")))
        self._show_current_run(view["record"])
        return view

    def _mine(self, event: dict[str, Any]) -> bool:
        data = event.get("data") or {}
        return bool(data.get("orchestration") == self.orch_id)  # every event names its orchestration so (protocol 2)

    def _on_event(self, event: dict[str, Any]) -> bool:
        """Show the event; True when it may have stopped the orchestration."""
        kind, data = event["type"], event.get("data") or {}
        if kind == "run.progress" or kind == "run.started":
            if kind == "run.started" or self.run is None or self.run.get("run_id") != data.get("run_id"):
                self.run = {"started_at": event.get("time"), **data}
            else:
                self.run.update(data)
            self._draw_live()
            return False
        if kind == "scheduler.queued" and not self.json_out:
            self._write(f"  {'queued':<16} {render.queued_event(data)}")
            return False
        if kind == "scheduler.admitted" and not self.json_out:
            self._write(f"  {'admitted':<16} a slot of group {data['group']} after {render.duration(data['waited_s'])}")
            return False
        if kind in ("run.finished", "question.asked"):
            self.run = None
            self._clear_live()
            return False
        if kind.startswith("orchestration.") and "action" in data and data["action"] != "wait":
            if not self.json_out:
                self._write(f"  {data['action']:<16} {data.get('reason', '')}")
            if data["action"] in ("finish_batch", "replan"):
                view = self._view()
                if data["action"] == "finish_batch" and not self.json_out:
                    self._write(f"  {'':<16} {render.progress_line(view['progress'], view['record']['status'])}")
            self._draw_live()
        return str(data.get("status")) in core.STOP_CODES  # orchestration.status, and actions that carry it

    def _finish(self, view: dict[str, Any]) -> int:
        record = view["record"]
        code = core.STOP_CODES[record["status"]]
        if self.json_out:
            end = {"orchestration": record["id"], "status": record["status"], "exit_code": code}
            self.out.write(json.dumps({"type": "follow.end", "data": end}) + "\n")
            self.out.flush()
            return code
        if record["status"] == "waiting_input" and self.inline_answers:
            self._write(f"  {'question':<16} the agent asks; answer here and it goes on")
            return code
        self._write(render.orchestration(record, [], view.get("progress"), view.get("queued")))
        hint = render.what_now(record, self.project_hint)
        if hint:
            self._write(hint)
        if record["status"] == "completed":
            try:
                project = core.call(self.sock, "projects.status", {"project": record["project_path"]})
                self._write(render.next_after_phase(project, bool(shutil.which("specflow"))))
            except core.VerbFailed:
                pass
        return code

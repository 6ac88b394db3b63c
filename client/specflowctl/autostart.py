"""Start specflowd in the background when none answers (stdlib only: the bridge uses it on its fast path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from specflowctl import core

__all__ = ["ensure_daemon"]


def ensure_daemon(path: Path, timeout: float = 15.0) -> tuple[dict[str, Any], bool]:
    """The daemon's status on ``path``, starting specflowd (beside this specflowctl) first when none answers;
    (status, started). Raises core.VerbFailed when it cannot."""
    from specflowctl.paths import specflow_home

    try:
        return core.call(path, "daemon.status"), False
    except core.VerbFailed as exc:
        if exc.code != core.EXIT_NO_DAEMON:
            raise
    daemon_bin = Path(sys.executable).parent / "specflowd"
    log_path = specflow_home() / "specflowd.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(daemon_bin if daemon_bin.exists() else "specflowd"), "--socket", str(path)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=dict(os.environ),
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            return core.call(path, "daemon.status"), True
        except core.VerbFailed as exc:
            if proc.poll() is not None:
                raise core.VerbFailed(f"specflowd exited with {proc.returncode}; see {log_path}", exc.code) from None
            if time.monotonic() > deadline:
                raise core.VerbFailed(
                    f"specflowd did not answer within {timeout:.0f}s: {exc.message}", exc.code
                ) from None
            time.sleep(0.05)

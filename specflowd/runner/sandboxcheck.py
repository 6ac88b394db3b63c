"""Can this machine sandbox an agent run, and can it limit one's resources? (I/O: PATH lookups, one probe.)

Claude Code's sandbox needs bubblewrap and socat on Linux (Seatbelt, built in, on macOS) and a kernel that
lets bubblewrap make its namespaces. With ``failIfUnavailable`` the CLI itself refuses to run without them;
this check says so at preview and start, with what to install, before any run is tried (docs/sandbox.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["INSTALL_HINT", "make_temp_dir", "sandbox_problem", "systemd_run_path"]

INSTALL_HINT = (
    "install bubblewrap and socat (Debian/Ubuntu: apt-get install bubblewrap socat; "
    "Fedora: dnf install bubblewrap socat)"
)
PROBE_TIMEOUT_S = 10.0
_probed: dict[tuple[str, int], None] = {}  # bwrap binaries that made a sandbox once: asked once per (path, mtime)


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", os.defpath))


def _probe(bwrap: str, environ: Mapping[str, str]) -> str | None:
    """Make the namespaces the CLI's sandbox makes (new user/pid/net namespaces, a read-only root); the
    reason when the kernel or the container refuses."""
    try:
        key = (bwrap, os.stat(bwrap).st_mtime_ns)
    except OSError as exc:
        return f"{bwrap} cannot be read: {exc.strerror}"
    if key in _probed:
        return None
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    try:
        done = subprocess.run(
            [*argv, "--", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            env=dict(environ),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not be run: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {done.returncode}"
        return (
            f"bubblewrap cannot create a sandbox here ({reason}): the kernel or the container does not allow "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            "kernel.apparmor_restrict_unprivileged_userns=0)"
        )
    _probed[key] = None
    return None


def sandbox_problem(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why Claude Code could not sandbox a run on this machine, with what to do about it; None when it can."""
    if platform == "darwin":
        return None if Path("/usr/bin/sandbox-exec").exists() else "sandbox-exec (Seatbelt) is missing"
    if not platform.startswith("linux"):
        return f"Claude Code has no sandbox on {platform}; set sandbox = false to run without one"
    missing = [name for name, binary in (("bubblewrap", "bwrap"), ("socat", "socat")) if not _which(binary, environ)]
    if missing:
        return f"the sandbox needs {' and '.join(missing)}, not found on PATH: {INSTALL_HINT}"
    bwrap = _which("bwrap", environ)
    assert bwrap is not None
    return _probe(bwrap, environ)


def systemd_run_path(environ: Mapping[str, str]) -> str | None:
    """``systemd-run`` when a systemd user manager answers for this user (its private socket exists under
    ``$XDG_RUNTIME_DIR``), so ``systemd-run --user --scope`` can limit a run; None elsewhere."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if not runtime or not Path(runtime, "systemd", "private").exists():
        return None
    return _which("systemd-run", environ)


def make_temp_dir(path: Path) -> None:
    """The run's temp dir and its per-user parent, private (0700); OSError when the parent is not this user's
    (a directory planted in a shared /tmp must not receive a run's files)."""
    parent = path.parent
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if parent.stat().st_uid != os.geteuid():
        raise OSError(f"{parent} belongs to another user")
    path.mkdir(mode=0o700, exist_ok=True)

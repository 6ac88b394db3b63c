"""Where specflowd keeps things (docs/daemon.md#files-on-disk). Stdlib only.

The client applies the same socket rule in its own ``specflowctl.paths`` (it imports no daemon code); a test
holds the two equal."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "default_socket_path",
    "lock_path_for",
    "registry_path",
    "scheduler_path",
    "specflow_home",
    "user_config_path",
]


def specflow_home() -> Path:
    configured = os.environ.get("SPECFLOW_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".specflow"


def registry_path() -> Path:
    return specflow_home() / "registry.json"


def scheduler_path() -> Path:
    """The run scheduler's groups, queue and rate-limit gates (docs/scheduler.md)."""
    return specflow_home() / "scheduler.json"


def default_socket_path() -> Path:
    """``SPECFLOWD_SOCKET``, else ``$XDG_RUNTIME_DIR/specflowd/specflowd.sock``, else under SPECFLOW_HOME."""
    override = os.environ.get("SPECFLOWD_SOCKET")
    if override:
        return Path(override).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "specflowd" / "specflowd.sock"
    return specflow_home() / "run" / "specflowd.sock"


def lock_path_for(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".lock")


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "specflow" / "specflowd.toml"

"""Where the daemon listens and keeps its log, as the client finds them. Stdlib only.

The client imports no daemon code, so it applies the socket rule itself; the rule is a public contract
(README, docs/daemon.md#files-on-disk) that the editor plugins implement too, and a test holds this copy to the
daemon's (``specflowd.paths``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_socket_path", "not_answering", "specflow_home", "user_config_path", "user_unit_installed"]


def specflow_home() -> Path:
    configured = os.environ.get("SPECFLOW_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".specflow"


def default_socket_path() -> Path:
    """``SPECFLOWD_SOCKET``, else ``$XDG_RUNTIME_DIR/specflowd/specflowd.sock``, else under SPECFLOW_HOME."""
    override = os.environ.get("SPECFLOWD_SOCKET")
    if override:
        return Path(override).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "specflowd" / "specflowd.sock"
    return specflow_home() / "run" / "specflowd.sock"


def user_unit_installed() -> bool:
    """Whether ``specflowctl daemon install-unit`` (or the user) put specflowd's systemd user units where
    ``systemctl --user`` finds them."""
    configured = os.environ.get("XDG_CONFIG_HOME")
    dirs = {Path(configured) if configured else Path.home() / ".config", Path.home() / ".config"}
    return any((d / "systemd" / "user" / "specflowd.socket").is_file() for d in dirs)


def not_answering(socket: Path) -> str:
    """The one line a user reads when nothing answers: only commands that work on this machine (the editor
    plugins say the same words)."""
    if user_unit_installed():
        how = "`specflowctl daemon start` or `systemctl --user start specflowd.socket`"
    else:
        how = "`specflowctl daemon start` (or `specflowctl daemon install-unit` once, so systemd starts it on use)"
    return f"no specflowd is answering on {socket}. Start one with {how}."


def user_config_path() -> Path:
    """The settings file; its ``[client]`` table is the client's (docs/remote.md)."""
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "specflow" / "specflowd.toml"

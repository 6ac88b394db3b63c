"""specflowctl bridge, and ls across several hosts (docs/remote.md)."""

from __future__ import annotations

import typer

from specflowctl.app import SocketOpt, emit

__all__ = ["bridge", "ls_hosts"]


def bridge(sock: SocketOpt = None) -> None:
    """Join standard input/output to this machine's daemon socket, byte for byte (starting the daemon when
    none answers), so that `ssh HOST specflowctl bridge` is a connection to HOST's daemon; what --host uses."""
    from specflowctl import bridge as bridge_module

    raise typer.Exit(bridge_module.main(["--socket", str(sock)] if sock else []))


def ls_hosts(hosts: list[str], json_out: bool) -> None:
    """`ls --hosts a,b,c`: every host's orchestrations in one table, the hosts asked concurrently."""
    from specflowctl import multihost

    results = multihost.gather(hosts)
    emit(json_out, {"hosts": results}, lambda d: multihost.hosts_table(d["hosts"]))

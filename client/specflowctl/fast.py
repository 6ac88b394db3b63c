"""Fast path for the read-only verbs scripts and editors poll (``daemon status --json`` and friends).

Importing typer costs ~100 ms here (it loads pydantic for parameter coercion), more than the whole call
budget. When argv is exactly one of these verbs with only ``--json``/``--socket``, answer without typer;
anything else (help, other options, mistakes) falls through to the typer app, so behaviour is identical.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from specflowctl import core, render

__all__ = ["try_fast_path"]

_VERBS: dict[tuple[str, ...], tuple[str, Callable[[Any], str]]] = {
    ("daemon", "status"): ("daemon.status", render.daemon_status),
    ("projects", "list"): ("projects.list", render.project_list),
    ("groups",): ("groups.list", render.groups_table),
}


def try_fast_path(argv: list[str]) -> int | None:
    """Exit code when handled, None to let typer handle ``argv``."""
    if argv == ["--version"]:
        print(f"specflowctl {core.client_version()}")
        return 0
    if argv[:1] == ["bridge"] and not any(a in ("--help", "-h") for a in argv):
        from specflowctl import bridge

        return bridge.main(argv[1:])
    words: list[str] = []
    as_json = False
    sock: str | None = os.environ.get("SPECFLOWD_SOCKET") or None
    args = iter(argv)
    for arg in args:
        if arg == "--json":
            as_json = True
        elif arg == "--socket":
            sock = next(args, None)
            if sock is None:
                return None
        elif arg.startswith("--socket="):
            sock = arg.partition("=")[2]
        elif arg.startswith("-"):
            return None
        else:
            words.append(arg)
    verb = _VERBS.get(tuple(words))
    if verb is None:
        return None
    method, renderer = verb
    try:
        core.emit(as_json, core.call(sock, method), renderer)
    except core.VerbFailed as exc:
        print(f"specflowctl: {exc.message}", file=sys.stderr)
        return exc.code
    return 0

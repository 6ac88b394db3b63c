"""Plain-text renderings of RPC results (stdlib only, shared by the fast path and typer commands)."""

from __future__ import annotations

from typing import Any

__all__ = ["daemon_status", "project_list"]


def daemon_status(s: dict[str, Any]) -> str:
    lines = [
        f"specflowd {s['version']}  pid {s['pid']}  up {s['uptime_s']:.0f}s  socket {s['socket']}",
        f"projects {s['projects']}  active orchestrations {s['active_orchestrations']}  "
        f"runs {s['runs']['active']} active / {s['runs']['total']} known  subscribers {s['subscribers']}",
    ]
    lines += [f"problem: {p}" for p in s.get("problems", [])]
    return "\n".join(lines)


def project_list(data: dict[str, Any]) -> str:
    rows = [f"{p['id'][:8]}  {p['name']:<24} {p['path']}" for p in data["projects"]]
    if not rows:
        rows = ["no projects registered (add one with `specflowctl projects add PATH`)"]
    if data.get("problem"):
        rows.append(f"problem: {data['problem']}")
    return "\n".join(rows)

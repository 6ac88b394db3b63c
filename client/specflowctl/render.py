"""Plain-text renderings of RPC results (stdlib only, shared by the fast path and typer commands)."""

from __future__ import annotations

from typing import Any

__all__ = ["batch_table", "daemon_status", "log_entry", "project_list", "project_status", "run_table"]


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


def project_status(s: dict[str, Any]) -> str:
    t = s["tasks"]
    phase = " ".join(x for x in (s.get("phase_number"), s.get("phase_name")) if x) or "?"
    artifacts = " ".join(f"{name}{'✓' if ok else '✗'}" for name, ok in s["artifacts"].items())
    lines = [
        f"{s['project']}",
        f"phase {phase} ({s.get('phase_status') or 'unknown'})  feature {s.get('feature') or '-'}"
        + ("  USER GATE" if s.get("user_gate") else ""),
        f"step {s.get('step') or '-'} ({s.get('step_status') or '-'})  artifacts {artifacts}",
        f"tasks {t['done']}/{t['total']} done, {t['open']} open, {t['blocked']} blocked, {t['deferred']} deferred"
        + (f"  current section: {s['current_section']}" if s.get("current_section") else ""),
        f"next: {s['next_action']}",
    ]
    lines += [
        f"problem: {p['path']}{':' + str(p['line']) if p.get('line') else ''}: {p['message']}" for p in s["problems"]
    ]
    return "\n".join(lines)


def batch_table(p: dict[str, Any]) -> str:
    lines = [p["summary"]]
    if p["batches"]:
        width = max(len(b["name"]) for b in p["batches"])
        lines.append(f"{'#':>3}  {'batch':<{width}}  tasks  ids")
        for b in p["batches"]:
            ids = ", ".join(b["task_ids"])
            lines.append(f"{b['index'] + 1:>3}  {b['name']:<{width}}  {len(b['task_ids']):>5}  {ids}")
    for held in p.get("held", []):
        lines.append(f"held: {held['id']} {held['state']}" + (f" ({held['reason']})" if held.get("reason") else ""))
    lines += [f"warning: {w}" for w in p["warnings"]]
    return "\n".join(lines)


def run_table(data: dict[str, Any]) -> str:
    rows = data["runs"]
    if not rows:
        return "no runs"
    lines = [f"{'run':<36}  {'step':<10} {'status':<15} {'cost':>8}  started"]
    for r in rows:
        lines.append(
            f"{r['run_id']:<36}  {r['step']:<10} {r['status']:<15} ${r['cost_usd']:>7.4f}  {r.get('started_at') or '-'}"
        )
    return "\n".join(lines)


def log_entry(entry: dict[str, Any]) -> str:
    kind, text = str(entry["kind"]), str(entry["text"])
    if kind == "tool":
        return f"  → {text}"
    if kind == "text":
        return text
    return f"[{kind}] {text}"

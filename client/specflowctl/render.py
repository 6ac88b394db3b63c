"""Plain-text renderings of RPC results (stdlib only, shared by the fast path and typer commands)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "batch_table",
    "daemon_status",
    "log_entry",
    "orchestration",
    "orchestration_line",
    "preview",
    "project_list",
    "project_status",
    "run_table",
]


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
        f"next: {s['next_action']}"
        + (f"  (specflow status: {s['cli_next_action']})" if s.get("cli_next_action") else ""),
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


STEPS = ("design", "analyze", "implement", "verify", "merge")
STATE_WORDS = {
    "running": "Running", "paused": "Paused", "healing": "Healing", "waiting_input": "Waiting for answers",
    "waiting_merge": "Merge ready", "waiting_user_gate": "Waiting at the USER GATE",
    "waiting_rate_limit": "Waiting for the rate limit", "needs_attention": "Needs attention",
    "completed": "Completed", "failed": "Failed", "cancelled": "Cancelled",
}  # fmt: skip


def preview(p: dict[str, Any]) -> str:
    lines = [f"{p['project']}  ({p.get('feature') or 'no feature directory'})"]
    for step in p["steps"]:
        mark = "●" if step["runs"] else "○"
        lines.append(f"  {mark} {step['step']:<10} {step['reason']}")
    lines.append(batch_table(p))
    b = p["budget"]
    lines.append(f"budget: ${b['per_batch']:.2f}/batch, ${b['heal']:.2f}/heal, ${b['total']:.2f} total")
    return "\n".join(lines)


def prompts(p: dict[str, Any]) -> str:
    lines = []
    if p.get("system_prompt"):
        lines += ["--- system prompt (appended to every run) ---", p["system_prompt"]]
    for item in p.get("prompts", []):
        batch = f" batch {item['batch_index'] + 1}" if item.get("batch_index") is not None else ""
        lines += [f"--- prompt: {item['step']}{batch} ---", item["prompt"]]
    if lines:
        lines.append("--- (a healing run's prompt is built from its batch's failure) ---")
    return "\n".join(lines)


def step_bar(record: dict[str, Any]) -> str:
    current = STEPS.index(record["step"]) if record["step"] in STEPS else 0
    done_all = record["status"] == "completed"
    parts = []
    for index, step in enumerate(STEPS):
        mark = "●" if done_all or index < current else ("◐" if index == current else "○")
        parts.append(f"{step.title()} {mark}")
    return " ".join(parts)


def orchestration_line(record: dict[str, Any]) -> str:
    return f"orchestration {record['id']}: {STATE_WORDS.get(record['status'], record['status'])}, step {record['step']}"


def duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def progress_line(p: dict[str, Any]) -> str:
    parts = [f"tasks {p['tasks_done']}/{p['tasks_total']}", f"elapsed {duration(p['elapsed_s'])}"]
    if p["remaining_s"] is None:
        parts.append(f"remaining: estimating… ({p['basis']})")
    elif p["remaining_s"] > 0:
        parts.append(f"about {duration(p['remaining_s'])} left ({p['basis']})")
    return " · ".join(parts)


def _ticks_and_unrun(record: dict[str, Any]) -> list[str]:
    """Ids a run ticked without being asked for them (`specflow mark` ticks every line that mentions an id),
    and batches that never ran because all their ids were ticked that way."""
    observed = record.get("observed") or {}
    unasked = sorted(((i, t) for i, t in (observed.get("ticks") or {}).items() if not t.get("asked")),
                     key=lambda pair: str(pair[1].get("at")))  # fmt: skip
    lines = [f"ticked by a run not asked for it: {i} by {t.get('by')}" for i, t in unasked]
    for b in record.get("batches") or []:
        if b["status"] == "completed" and not b.get("run_ids"):
            lines.append(f"batch {b['index'] + 1} '{b['name']}' did not run: its tasks were ticked outside it")
    return lines


def orchestration(
    record: dict[str, Any], decisions: list[dict[str, Any]], progress: dict[str, Any] | None = None
) -> str:
    batches = record.get("batches") or []
    lines = [orchestration_line(record), step_bar(record)]
    if batches:
        done = sum(1 for b in batches if b["status"] in ("completed", "healed", "skipped"))
        current = next((b for b in batches if b["status"] not in ("completed", "healed", "skipped")), None)
        if current is not None and record["step"] == "implement":
            lines.append(f"Implementing batch {current['index'] + 1} of {len(batches)}: {current['name']}")
        lines.append(f"batches {done}/{len(batches)} done")
    if progress is not None:
        lines.append(progress_line(progress))
    totals, budget = record["totals"], record["config"]["budget"]
    spend = f"spent ${totals['spent_usd']:.4f} of ${budget['total']:.2f}"
    running = next((b for b in batches if b["status"] == "running"), None)
    if running is not None:
        cap = budget["heal"] if record["status"] == "healing" else budget["per_batch"]
        spend += f" · this batch ${running.get('cost_usd', 0.0):.4f} (cap ${cap:.2f} per run)"
    if totals.get("helper_usd"):
        spend += f" · helper ${totals['helper_usd']:.4f}"
    lines.append(spend)
    lines += _ticks_and_unrun(record)
    if record.get("attention"):
        att = record["attention"]
        lines.append(f"needs attention ({att['kind']}): {att['reason']}  options: {', '.join(att.get('options', []))}")
    for entry in decisions:
        lines.append(f"  {str(entry.get('time', ''))[11:19]} {entry.get('action', ''):<16} {entry.get('reason', '')}")
    return "\n".join(lines)

"""Plain-text renderings of RPC results (stdlib only, shared by the fast path and typer commands)."""

from __future__ import annotations

from typing import Any

from specflowctl.money import money
from specflowctl.render_forecast import forecast_lines
from specflowctl.shared_facts import STEPS, TERMINAL_STATUSES

__all__ = [
    "ORCH_ID_LEN",
    "RUN_ID_LEN",
    "agent_lines",
    "answer_command",
    "batch_table",
    "completed_phase",
    "daemon_status",
    "decision_line",
    "flatten",
    "live_line",
    "log_entry",
    "money",
    "next_after_phase",
    "orchestration",
    "orchestration_line",
    "orchestration_table",
    "preview",
    "project_list",
    "project_status",
    "questions_block",
    "run_table",
    "short_ids",
    "toml_value",
    "what_now",
]

# Short ids (pueue/git style): the daemon accepts any unique prefix; these are the lengths shown
SHORT_ID_LEN = 8  # one length for orchestrations and runs, in every client (the editors' SHORT_ID_LEN)
ORCH_ID_LEN = RUN_ID_LEN = SHORT_ID_LEN


def short_ids(ids: list[str], minimum: int) -> dict[str, str]:
    """Each id's shortest prefix (at least ``minimum`` long) that no other id in ``ids`` shares."""
    out: dict[str, str] = {}
    for one in ids:
        n = minimum
        while n < len(one) and any(o != one and o.startswith(one[:n]) for o in ids):
            n += 1
        out[one] = one[:n]
    return out


_WAIT_WORDS = {"slot": "waiting for a slot", "paused": "group paused (limit 0)", "rate_limit": "rate limit"}


def _clock_time(iso: str | None) -> str:
    return str(iso or "")[11:19]


def queued_text(q: dict[str, Any]) -> str:
    """Where a queued run stands: `#2 of 3 in group default, waiting for a slot (2/2 running)`."""
    why = _WAIT_WORDS.get(q["reason"], q["reason"])
    if q["reason"] == "rate_limit" and q.get("until"):
        why += f" until {_clock_time(q['until'])} UTC"
    elif q["reason"] == "slot":
        why += f" ({q['running']}/{q['limit']} running)"
    return f"#{q['position']} of {q['queued_in_group']} in group {q['group']}, {why}"


def queued_event(data: dict[str, Any]) -> str:
    """A `scheduler.queued` event's data: `#3 in group default, waiting for a slot`."""
    why = _WAIT_WORDS.get(data["reason"], data["reason"])
    if data["reason"] == "rate_limit" and data.get("until"):
        why += f" until {_clock_time(data['until'])} UTC"
    return f"#{data['position']} in group {data['group']}, {why}"


def group_lines(groups: list[dict[str, Any]], gates: list[dict[str, Any]]) -> list[str]:
    lines = []
    for g in groups:
        state = "paused" if g["limit"] == 0 else f"{g['running']}/{g['limit']} running"
        lines.append(f"{g['name']:<16} {state:<14} {g['queued']} queued")
    lines += [f"rate limit: account {gate['account']} waits until {_clock_time(gate['until'])} UTC" for gate in gates]
    return lines


def groups_table(data: dict[str, Any]) -> str:
    """`specflowctl groups`: the header names each column once, the cells hold only numbers (or paused)."""
    lines = [f"{'group':<16} {'running':<16} queued"]
    for g in data["groups"]:
        running = "paused (limit 0)" if g["limit"] == 0 else f"{g['running']}/{g['limit']}"
        lines.append(f"{g['name']:<16} {running:<16} {g['queued']}")
    return "\n".join(lines)


def queue_table(status: dict[str, Any]) -> str:
    """`specflowctl ls`: the run scheduler's queue, in admission order per group."""
    rows = [
        (
            str(q["position"]),
            q["group"],
            q["project"].rstrip("/").rsplit("/", 1)[-1],
            (q.get("orchestration") or "run")[:ORCH_ID_LEN],
            q["kind"],
            _WAIT_WORDS.get(q["reason"], q["reason"])
            + (f" until {_clock_time(q['until'])} UTC" if q["reason"] == "rate_limit" and q.get("until") else ""),
        )
        for q in status["queue"]
    ]
    if not rows:
        return ""
    head = ("#", "group", "project", "id", "run", "waiting for")
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = ["queued agent runs:"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *rows]]
    return "\n".join(lines)


def daemon_status(s: dict[str, Any]) -> str:
    lines = [
        f"specflowd {s['version']}  pid {s['pid']}  up {s['uptime_s']:.0f}s  socket {s['socket']}",
        f"projects {s['projects']}  active orchestrations {s['active_orchestrations']}  "
        f"runs {s['runs']['active']} active / {s['runs']['total']} known  subscribers {s['subscribers']}",
    ]
    if s.get("scheduler"):
        lines += ["groups: " + line for line in group_lines(s["scheduler"]["groups"], s["scheduler"]["gates"])]
    if s.get("sandbox"):
        lines.append(daemon_sandbox_line(s["sandbox"]))
    lines += [f"problem: {p}" for p in s.get("problems", [])]
    return "\n".join(lines)


def daemon_sandbox_line(sb: dict[str, Any]) -> str:
    """``sandbox: on by default · network: pypi.org · limits: not enforced`` — or what this machine lacks."""
    if not sb["enabled"]:
        head = "sandbox: OFF by default (sandbox = false): runs are not confined"
    elif not sb["available"]:
        head = f"sandbox: on by default, but this machine cannot sandbox: {sb.get('problem')} (runs are refused)"
    else:
        head = "sandbox: on by default (Claude Code's)"
    domains = ", ".join(sb.get("allowed_domains") or []) or "none"
    limits = " ".join(sb.get("limits") or []) if sb.get("limits_enforced") else "not enforced"
    return f"{head} · network: {domains} · limits: {limits}"


def sandbox_line(sb: dict[str, Any] | None) -> list[str]:
    """One status line: how the orchestration's next run is confined."""
    if not sb:
        return []
    if not sb["enabled"]:
        return ["sandbox: OFF (sandbox = false): shell commands can write anywhere you can"]
    domains = ", ".join(sb.get("allowed_domains") or []) or "none"
    line = f"sandbox: writes {', '.join(sb.get('write_paths') or [])} · network: {domains}"
    if not sb.get("edit_tools_confined", True):
        line += " · Write/Edit NOT confined (bypassPermissions)"
    return [line]


def project_list(data: dict[str, Any]) -> str:
    rows = [
        f"{p['id'][:8]}  {p['name']:<24} {p['path']}" + (f"  (group {p['group']})" if p.get("group") else "")
        for p in data["projects"]
    ]
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


def run_table(data: dict[str, Any], *, with_project: bool = False) -> str:
    """`specflowctl runs`; ``with_project``: the listing covers several projects, so name each run's."""
    rows = data["runs"]
    if not rows:
        return "no runs"
    short = short_ids([r["run_id"] for r in rows], RUN_ID_LEN)
    width = max(len(v) for v in short.values())
    names = {r["run_id"]: str(r["project_root"]).rstrip("/").rsplit("/", 1)[-1] for r in rows}
    pwidth = max([len("project"), *(len(n) for n in names.values())])
    project_head = f"{'project':<{pwidth}}  " if with_project else ""
    lines = [f"{'run':<{width}}  {project_head}{'step':<10} {'status':<15} {'cost':>8}  started"]
    for r in rows:
        started = (r.get("started_at") or "-")[:19].replace("T", " ")
        project = f"{names[r['run_id']]:<{pwidth}}  " if with_project else ""
        cost = money(r["cost_usd"])
        lines.append(f"{short[r['run_id']]:<{width}}  {project}{r['step']:<10} {r['status']:<15} {cost:>8}  {started}")
    return "\n".join(lines)


def log_entry(entry: dict[str, Any]) -> str:
    kind, text = str(entry["kind"]), str(entry["text"])
    if kind == "tool":
        return f"  → {text}"
    if kind == "text":
        return text
    return f"[{kind}] {text}"


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
    lines.append(f"budget: {money(b['per_batch'])}/batch, {money(b['heal'])}/heal, {money(b['total'])} total")
    lines += forecast_lines(p.get("forecast"), b)
    lines += agent_lines(p.get("agent"), p.get("config") or {})
    lines += sandbox_lines(p.get("sandbox"))
    lines += _settings_lines(p)
    return "\n".join(lines)


def agent_lines(check: dict[str, Any] | None, config: dict[str, Any]) -> list[str]:
    """The agent the orchestration would run: binary, version, models, permission mode, skills."""
    if not check:
        return []
    lines = [f"agent: {check.get('path') or check['binary']}  (from {check['source']})"]
    if not check["ok"]:
        lines.append(f"  ✗ {check.get('problem')}")
        return lines
    models = config.get("models") or {}
    shown = ", ".join(f"{step}={model}" for step, model in models.items()) or "the CLI's default"
    fallback = f", fallback {config['fallback_model']}" if config.get("fallback_model") else ""
    lines.append(f"  version {check.get('version')} · permission mode {config.get('permission_mode', '?')}")
    lines.append(f"  models: {shown}{fallback}")
    if check.get("skills_missing"):
        lines.append(f"  ! skills not found: {', '.join(check['skills_missing'])}")
        lines.append(f"    looked in {' and '.join(check.get('skills_dirs') or [])}")
        if check.get("skills_note"):
            lines.append(f"    {check['skills_note']}")
    elif check.get("skills_note"):
        lines.append(f"  skills: {check['skills_note']}")
    else:
        lines.append("  skills: /flow.* found")
    return lines


def sandbox_lines(sandbox: dict[str, Any] | None) -> list[str]:
    """How the runs are confined (docs/sandbox.md): write paths, network domains, limits, what is not."""
    if not sandbox:
        return []
    if not sandbox["enabled"]:
        lines = ["sandbox: OFF — shell commands can write anywhere you can (sandbox = false)"]
    else:
        domains = ", ".join(sandbox.get("allowed_domains") or []) or "none ([sandbox] allowed_domains)"
        lines = ["sandbox: Claude Code's, on every run", f"  writes: {', '.join(sandbox.get('write_paths') or [])}"]
        lines.append(f"  network: {domains}")
    limits = sandbox.get("limits") or []
    lines.append(f"  limits: {' '.join(limits)}" if sandbox.get("limits_enforced") else "  limits: not enforced")
    if sandbox.get("note"):
        lines.append(f"  ! {sandbox['note']}")
    return lines


def _settings_lines(p: dict[str, Any]) -> list[str]:
    settings = p.get("settings")
    if not settings:
        return []
    sources: dict[str, str] = settings.get("sources") or {}
    if not sources:
        return [f"config: built-in defaults (no changes in {settings['file']})"]
    effective = flatten(p.get("config") or {})
    lines = ["config (not the defaults):"]
    for key, source in sorted(sources.items()):
        value = effective.get(key, "")
        lines.append(f"  {key} = {toml_value(value)}  ({source})")
    return lines


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value and key != "models":
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


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


def pending_pause(record: dict[str, Any]) -> str | None:
    """ "after batch 2 ends" while a pause without --now waits for the running run; None otherwise."""
    if not record.get("pause_requested") or record["status"] not in ("running", "healing"):
        return None
    running = next((b for b in record.get("batches") or [] if b["status"] == "running"), None)
    if running is not None and record["step"] == "implement":
        what = f"batch {running['index'] + 1}" + (" (healing)" if record["status"] == "healing" else "")
    else:
        what = f"the {record['step']} run"
    return f"after {what} ends"


def orchestration_line(record: dict[str, Any], queued: dict[str, Any] | None = None) -> str:
    word = STATE_WORDS.get(record["status"], record["status"])
    pausing = pending_pause(record)
    if pausing:  # a pause waits for the running run: say so until it takes effect
        word = f"Pausing {pausing}"
    if queued:  # its next agent run waits in the run scheduler's queue
        word = f"Queued {queued_text(queued)}"
    return f"orchestration {record['id'][:ORCH_ID_LEN]}: {word}, step {record['step']}"


def duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


_ESTIMATING = frozenset({"running", "healing"})  # while paused or waiting for someone, no estimate is true


def progress_line(p: dict[str, Any], status: str = "running") -> str:
    parts = [f"tasks {p['tasks_done']}/{p['tasks_total']}"] if p["tasks_total"] else []
    parts.append(f"elapsed {duration(p['elapsed_s'])}")
    if status not in _ESTIMATING:
        pass
    elif p["remaining_s"] is None:
        parts.append(f"remaining: estimating… ({p['basis']})")
    elif p["remaining_s"] > 0:
        p90 = p.get("remaining_p90_s")
        spread = f"p90 {duration(p90)}; " if p90 and p90 > p["remaining_s"] else ""
        parts.append(f"about {duration(p['remaining_s'])} left ({spread}{p['basis']})")
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


def _heal_causes(batches: list[dict[str, Any]]) -> list[str]:
    """Why each batch needed healing (a failure, a loop the daemon stopped): it stays visible after the heal."""
    lines = []
    for b in batches:
        if b.get("heal_attempts") and b.get("last_error"):
            cause = " ".join(str(b["last_error"]).split())
            cause = cause if len(cause) <= 240 else cause[:239] + "…"
            lines.append(f"batch {b['index'] + 1} '{b['name']}' {b['status']} after: {cause}")
    return lines


def orchestration(
    record: dict[str, Any],
    decisions: list[dict[str, Any]],
    progress: dict[str, Any] | None = None,
    queued: dict[str, Any] | None = None,
    sandbox: dict[str, Any] | None = None,
) -> str:
    batches = record.get("batches") or []
    lines = [orchestration_line(record, queued), step_bar(record)]
    if batches:
        done = sum(1 for b in batches if b["status"] in ("completed", "healed", "skipped"))
        current = next((b for b in batches if b["status"] not in ("completed", "healed", "skipped")), None)
        if current is not None and record["step"] == "implement":
            lines.append(f"Implementing batch {current['index'] + 1} of {len(batches)}: {current['name']}")
        lines.append(f"batches {done}/{len(batches)} done")
    if progress is not None:
        lines.append(progress_line(progress, record["status"]))
    totals, budget = record["totals"], record["config"]["budget"]
    spend = f"spent {money(totals['spent_usd'])} of {money(budget['total'])}"
    running = next((b for b in batches if b["status"] == "running"), None)
    if running is not None:
        cap = budget["heal"] if record["status"] == "healing" else budget["per_batch"]
        spend += f" · this batch {money(running.get('cost_usd', 0.0))} (cap {money(cap)} per run)"
    if totals.get("helper_usd"):
        spend += f" · helper {money(totals['helper_usd'])}"
    lines.append(spend)
    lines += sandbox_line(sandbox)
    lines += _ticks_and_unrun(record)
    lines += _heal_causes(batches)
    status = record["status"]
    if status == "needs_attention" and record.get("attention"):  # only then are options on offer
        att = record["attention"]
        lines.append(f"needs attention ({att['kind']}): {att['reason']}  options: {', '.join(att.get('options', []))}")
    elif status == "failed" and record.get("last_error"):
        lines.append(f"failed: {record['last_error']}")
    if status == "waiting_input" and record.get("pending_questions"):
        lines.append(questions_block(record["pending_questions"], record.get("questions_run_id") or ""))
    for entry in decisions:
        lines.append(f"  {str(entry.get('time', ''))[11:19]} {entry.get('action', ''):<16} {entry.get('reason', '')}")
    return "\n".join(lines)


def answer_command(run_id: str, questions: list[dict[str, Any]]) -> str:
    """The exact command that answers these questions (the first option of each as the example)."""
    import shlex

    parts = ["specflowctl", "answer", run_id[:RUN_ID_LEN]]
    for q in questions:
        options = q.get("options") or []
        example = options[0]["label"] if options else "…"
        parts += ["--answer", shlex.quote(f"{q.get('header') or q['question']}={example}")]
    return " ".join(parts)


def questions_block(questions: list[dict[str, Any]], run_id: str) -> str:
    """Each question with its options, then the command to type."""
    lines = [f"waiting for your answer{'s' if len(questions) > 1 else ''} (run {run_id[:RUN_ID_LEN]}):"]
    for q in questions:
        key = f"[{q['header']}] " if q.get("header") else ""
        lines.append(f"  {key}{q['question']}")
        for number, option in enumerate(q.get("options") or [], 1):
            note = f" — {option['description']}" if option.get("description") else ""
            lines.append(f"    {number}. {option['label']}{note}")
        if q.get("options") and q.get("allowOther"):  # else only the options are taken
            lines.append("    or your own words")
    lines.append(f"  answer: {answer_command(run_id, questions)}")
    lines.append(f"      or: specflowctl answer {run_id[:RUN_ID_LEN]}   (asks each question)")
    return "\n".join(lines)


def decision_line(entry: dict[str, Any]) -> str:
    """One decision-log entry, as `specflowctl log` prints it."""
    when = str(entry.get("time", ""))[:19].replace("T", " ")
    extra = ""
    if entry.get("source"):
        extra = f"  [{entry['source']}" + (f" {money(entry['cost_usd'])}" if entry.get("cost_usd") else "") + "]"
    return f"{when}  {entry.get('action', ''):<18} {entry.get('reason', '')}{extra}"


def live_line(run: dict[str, Any], elapsed_s: float, batches_total: int = 0) -> str:
    """The line a foreground view keeps rewriting while a run works (from ``run.progress`` events)."""
    step = run.get("step") or "run"
    if run.get("batch") is not None and step in ("implement", "heal"):
        what = f"{step} batch {int(run['batch']) + 1}" + (f"/{batches_total}" if batches_total else "")
        spend = "this batch"
    else:
        what, spend = step, "this run"
    parts = [f"  ⋯ {what}", duration(elapsed_s), f"{run.get('tool_calls', 0)} tool calls"]
    if run.get("last_tool"):
        parts.append(f"last {run['last_tool']}")
    cap = f" of {money(run['budget_usd'])} cap" if run.get("budget_usd") else ""
    parts.append(f"{spend} {money(run.get('cost_usd', 0.0))}{cap}")
    return " · ".join(parts)


_AGE_UNITS = ((86400, "d"), (3600, "h"), (60, "m"))


def age(seconds: float) -> str:
    for size, unit in _AGE_UNITS:
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


_SETTLED = ("completed", "healed", "skipped")
_TERMINAL = frozenset(TERMINAL_STATUSES)


def orchestration_table(
    records: list[dict[str, Any]], now_epoch: float, queued: dict[str, dict[str, Any]] | None = None
) -> str:
    """`specflowctl ls`: active first (newest first within each group); ``queued``: orchestration id → its
    queued run (the status column then says so)."""
    from datetime import datetime

    if not records:
        return "no orchestrations yet (start one with `specflowctl orchestrate`)"

    def created(r: dict[str, Any]) -> float:
        return datetime.fromisoformat(str(r["created_at"]).replace("Z", "+00:00")).timestamp()

    ordered = sorted(records, key=lambda r: (r["status"] in _TERMINAL, -created(r)))
    short = short_ids([r["id"] for r in records], ORCH_ID_LEN)
    rows = []
    for r in ordered:
        batches = r.get("batches") or []
        total = sum(len(b["task_ids"]) for b in batches)
        done = sum(len(b["task_ids"]) for b in batches if b["status"] in _SETTLED[:2])
        rows.append(
            (
                short[r["id"]],
                r["project_path"].rstrip("/").rsplit("/", 1)[-1],
                f"Queued #{queued[r['id']]['position']} ({queued[r['id']]['group']})"
                if queued and r["id"] in queued
                else STATE_WORDS.get(r["status"], r["status"]),
                r["step"],
                f"{done}/{total}" if total else "-",
                money(r["totals"]["spent_usd"]),
                age(now_epoch - created(r)),
            )
        )
    head = ("id", "project", "status", "step", "tasks", "spent", "age")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *rows]
    )


def what_now(record: dict[str, Any], project: str | None) -> str:
    """After a foreground view stops: what the user can do (the exact commands)."""
    target = f" {project}" if project else ""
    status = record["status"]
    if status == "waiting_merge":
        return f"merge ready: `specflowctl merge{target}` merges the phase (or `go-back verify`)"
    if status == "waiting_user_gate":
        return f"the phase has a USER GATE: check it, then `specflowctl merge{target}`"
    if status == "needs_attention" and record.get("attention"):
        options = "|".join(record["attention"].get("options") or [])
        return f"then `specflowctl recover {options}{target}`"
    if status == "paused":
        return f"paused: `specflowctl resume{target}` continues"
    if status == "waiting_input":
        return f"after answering, follow again with `specflowctl status --watch{target}`"
    return ""


def _iso_epoch(iso: str | None) -> float | None:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp() if iso else None
    except ValueError:
        return None


def completed_phase(record: dict[str, Any], project: dict[str, Any], now_epoch: float, specflow_found: bool) -> str:
    """`status` after an orchestration completed its phase: what was done (merged, when, tasks, spend), then
    what comes next, naming SpecFlow's own command as SpecFlow's (and whether it is on PATH here)."""
    batches = record.get("batches") or []
    total = sum(len(b["task_ids"]) for b in batches)
    done = sum(len(b["task_ids"]) for b in batches if b["status"] in _SETTLED[:2])
    merge = (record.get("steps") or {}).get("merge") or {}
    merged = merge.get("status") == "completed"
    ended = _iso_epoch(merge.get("finished_at") or record.get("updated_at"))
    began = _iso_epoch(record.get("created_at"))
    phase = record.get("phase_number") or project.get("phase_number") or "?"
    name = f" {project['phase_name']}" if project.get("phase_name") and project.get("phase_number") == phase else ""
    facts = [f"orchestration {record['id'][:ORCH_ID_LEN]}"]
    facts += [f"tasks {done}/{total}"] if total else []
    facts.append(f"spent {money(record['totals']['spent_usd'])}")
    facts += [f"took {duration(ended - began)}"] if ended is not None and began is not None else []
    when = f" {age(max(0.0, now_epoch - ended))}" if ended is not None else ""
    lines = [f"phase {phase}{name} {'merged' if merged else 'completed'}{when} · {' · '.join(facts)}"]
    lines.append(next_after_phase(project, specflow_found))
    return "\n".join(lines)


def next_after_phase(project: dict[str, Any], specflow_found: bool) -> str:
    """The `next:` line once a phase is done: opening the next one is SpecFlow's own command, said so."""
    upcoming = project.get("next_phase")
    if not str(project.get("next_action", "")).startswith("start_phase"):
        return f"next: {project['next_action']}"
    which = f"the next phase, {upcoming}," if upcoming else "the next phase"
    where = "" if specflow_found else " (specflow is not on PATH here: install SpecFlow's CLI first)"
    return f"next: open {which} with SpecFlow's `specflow phase open`{where}, then `specflowctl orchestrate`"

// Pure renderings of the daemon's replies and events: status bar text, status lines, notices. No I/O.
import { forecastLines } from "./forecast";
import type {
  DaemonEvent,
  Decision,
  OrchestrationRecord,
  OrchestrationView,
  Preview,
  ProjectStatus,
  Question,
  RunSandbox,
} from "./protocol";
import type { ConnectionState } from "./client";
import { STEPS } from "./shared_facts";

export const STATE_WORDS: Record<string, string> = {
  running: "running",
  paused: "paused",
  healing: "healing",
  waiting_input: "answer needed",
  waiting_merge: "merge ready",
  waiting_user_gate: "USER GATE",
  waiting_rate_limit: "rate limited",
  needs_attention: "needs attention",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

/** One short id length for orchestrations and runs, in every client (specflowctl's SHORT_ID_LEN). */
export const SHORT_ID_LEN = 8;
export const shortId = (id: string | null | undefined): string => (id ?? "").slice(0, SHORT_ID_LEN);

/** The state word, "pausing" while a pause waits for the running run to end (`pause_requested`). */
export function stateWord(record: OrchestrationRecord): string {
  if (record.pause_requested && (record.status === "running" || record.status === "healing")) {
    return "pausing";
  }
  return STATE_WORDS[record.status] ?? record.status;
}

export function basename(path: string | null | undefined): string {
  const parts = (path ?? "").split("/").filter(Boolean);
  return parts[parts.length - 1] ?? "?";
}

/** specflowctl's money rule: cents from a cent up, four decimals below one (`$0.0080`). */
export const money = (usd: number | undefined): string => {
  const value = usd ?? 0;
  return `$${value.toFixed(value >= 0.01 || value === 0 ? 2 : 4)}`;
};

/** "batch N/M": the batch being worked on while implementing, else how many are done. */
function batchPosition(view: OrchestrationView): string | undefined {
  const total = view.progress?.batches_total ?? view.record.batches?.length ?? 0;
  if (total === 0) {
    return undefined;
  }
  const done = view.progress?.batches_done ?? 0;
  const current = view.record.step === "implement" ? Math.min(done + 1, total) : done;
  return `batch ${current}/${total}`;
}

/** The status bar text: "implement · batch 2/4 · tasks 9/20 · $0.05", the state in parentheses when it is not
 * plain running. Empty when there is nothing to show; "offline" once a daemon seen before is gone. */
export function statusText(
  view: OrchestrationView | undefined,
  connection: ConnectionState,
  everConnected: boolean,
): string {
  if (connection !== "connected") {
    return everConnected ? "offline" : "";
  }
  if (!view) {
    return "";
  }
  const record = view.record;
  let head = record.step;
  const word = stateWord(record);
  if (word !== "running") {
    head += ` (${word})`;
  }
  const items = [head];
  const position = batchPosition(view);
  if (position) {
    items.push(position);
  }
  if ((view.progress?.tasks_total ?? 0) > 0) {
    items.push(`tasks ${view.progress.tasks_done}/${view.progress.tasks_total}`);
  }
  items.push(money(record.totals?.spent_usd));
  return items.join(" · ");
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  }
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function stepBar(record: OrchestrationRecord): string {
  const current = Math.max(STEPS.indexOf(record.step), 0);
  return STEPS.map((step, index) => {
    const done = record.status === "completed" || index < current;
    return `${step} ${done ? "●" : index === current ? "◐" : "○"}`;
  }).join("  ");
}

export function orchestrationLine(record: OrchestrationRecord): string {
  return `orchestration ${shortId(record.id)}: ${stateWord(record)}, step ${record.step}`;
}

export function decisionLine(entry: Decision, project?: string | null): string {
  const time = String(entry.time ?? "").slice(11, 19);
  const where = project ? `${basename(project)}  ` : "";
  return `${time} ${where}${(entry.action ?? "").padEnd(16)} ${entry.reason ?? ""}`.trimEnd();
}

/** The decision-log line of an `orchestration.<action>` event, or undefined for events that are not decisions. */
export function eventDecision(event: DaemonEvent): string | undefined {
  const label = /^orchestration\.(.+)$/.exec(event.type)?.[1];
  if (!label || label === "status") {
    return undefined;
  }
  const data = (event.data ?? {}) as { action?: string; reason?: string };
  return decisionLine({ time: event.time, action: data.action ?? label, reason: data.reason ?? "" }, event.project);
}

/** Lines of the status command: the project (projects.status) and its orchestration (orchestrate.status). */
export function statusLines(project: ProjectStatus | undefined, view: OrchestrationView | undefined): string[] {
  const lines: string[] = [];
  if (project) {
    const phase = [project.phase_number, project.phase_name].filter(Boolean).join(" ") || "?";
    lines.push(`${project.project}  phase ${phase} (${project.phase_status ?? "unknown"})`);
    lines.push(
      `tasks ${project.tasks.done}/${project.tasks.total} done, ${project.tasks.open} open · next: ${project.next_action}`,
    );
  }
  if (!view) {
    lines.push("no orchestration yet (start one with “Specflow: Orchestrate the phase”)");
    return lines;
  }
  const { record, progress } = view;
  lines.push(orchestrationLine(record), stepBar(record));
  const position = batchPosition(view);
  if (position) {
    const batches = record.batches ?? [];
    const current = batches[Math.min(progress.batches_done, batches.length - 1)];
    lines.push(position + (current && record.step === "implement" ? `: ${current.name}` : ""));
  }
  const left = (progress.remaining_s ?? 0) > 0 ? ` · about ${duration(progress.remaining_s ?? 0)} left` : "";
  lines.push(`tasks ${progress.tasks_done}/${progress.tasks_total} · elapsed ${duration(progress.elapsed_s)}${left}`);
  const total = record.config?.budget?.total;
  lines.push(`spent ${money(record.totals?.spent_usd)}${total === undefined ? "" : ` of ${money(total)}`}`);
  if (view.sandbox) {
    lines.push(sandboxLine(view.sandbox));
  }
  if (record.attention) {
    const a = record.attention;
    lines.push(`needs attention (${a.kind}): ${a.reason} · options: ${(a.options ?? []).join(", ")}`);
  }
  lines.push(...view.decisions.map((entry) => `  ${decisionLine(entry)}`));
  return lines;
}

export function previewLines(preview: Preview): string[] {
  const lines = [`${preview.project} (${preview.feature ?? "no feature directory"})`];
  for (const step of preview.steps) {
    lines.push(`${step.runs ? "●" : "○"} ${step.step.padEnd(10)} ${step.reason}`);
  }
  lines.push(preview.summary, ...preview.warnings.map((w) => `warning: ${w}`));
  const b = preview.budget;
  lines.push(`budget: ${money(b.per_batch)}/batch, ${money(b.heal)}/heal, ${money(b.total)} total`);
  if (preview.sandbox) {
    lines.push(sandboxLine(preview.sandbox));
  }
  lines.push(...forecastLines(preview.forecast, b));
  return lines;
}

/** One line, as specflowctl says it: whether runs are sandboxed, where they may write, what they may reach. */
export function sandboxLine(sandbox: RunSandbox): string {
  if (!sandbox.enabled) {
    return "sandbox: OFF (sandbox = false): shell commands can write anywhere you can";
  }
  const domains = (sandbox.allowed_domains ?? []).join(", ") || "none";
  const edits = sandbox.edit_tools_confined === false ? " · Write/Edit NOT confined (bypassPermissions)" : "";
  return `sandbox: writes ${(sandbox.write_paths ?? []).join(", ")} · network: ${domains}${edits}`;
}

export type NoticeKind = "answer" | "merge" | "attention" | "finished";
export type NoticeAction = "Answer" | "Merge" | "Recover" | "Open log";

export interface Notice {
  kind: NoticeKind;
  message: string;
  severity: "info" | "warning" | "error";
  /** buttons, in order */
  actions: NoticeAction[];
  project: string | null;
  orchestration?: string;
  runId?: string;
}

/** What an event asks of the user, if anything. */
export function noticeKind(event: DaemonEvent): NoticeKind | undefined {
  if (event.type === "question.asked") {
    return "answer";
  }
  if (event.type !== "orchestration.status") {
    return undefined;
  }
  switch (((event.data ?? {}) as { status?: string }).status) {
    case "waiting_merge":
    case "waiting_user_gate":
      return "merge";
    case "needs_attention":
      return "attention";
    case "completed":
    case "failed":
      return "finished";
    default:
      return undefined;
  }
}

/** The notification for an event of that kind; `record` is its orchestration's (undefined for a standalone run). */
export function notice(kind: NoticeKind, event: DaemonEvent, record: OrchestrationRecord | undefined): Notice {
  const where = `specflow ${basename(event.project)}`;
  const data = (event.data ?? {}) as { orchestration?: string; run_id?: string; step?: string; questions?: Question[] };
  const base = { kind, project: event.project, orchestration: data.orchestration ?? record?.id };
  if (kind === "answer") {
    const questions = data.questions ?? [];
    const more = questions.length > 1 ? ` (+${questions.length - 1} more)` : "";
    return {
      ...base,
      runId: data.run_id,
      message: `${where}: the ${data.step ?? "agent"} run asks: ${questions[0]?.question ?? "a question"}${more}`,
      severity: "warning",
      actions: ["Answer", "Open log"],
    };
  }
  if (kind === "merge") {
    const message =
      record?.status === "waiting_user_gate"
        ? `${where}: waiting at the USER GATE; check it, then merge`
        : `${where}: phase verified, ready to merge`;
    return { ...base, message, severity: "warning", actions: ["Merge", "Open log"] };
  }
  if (kind === "attention") {
    const a = record?.attention;
    return {
      ...base,
      message: `${where}: needs attention (${a?.kind ?? "?"}): ${a?.reason ?? "see Specflow: Status"}`,
      severity: "error",
      actions: ["Recover", "Open log"],
    };
  }
  if (record?.status === "failed") {
    return { ...base, message: `${where}: orchestration failed`, severity: "error", actions: ["Open log"] };
  }
  return {
    ...base,
    message: `${where}: phase complete, ${money(record?.totals?.spent_usd)} spent`,
    severity: "info",
    actions: ["Open log"],
  };
}

/** The answers key of a question, as specflowctl sends it: its header, else its text. */
export function answerKey(question: Question): string {
  return question.header ? question.header : question.question;
}

/** Whether a question takes the user's own words: no options, or the "Other" choice (`allowOther`). */
export function acceptsFreeText(question: Question): boolean {
  return (question.options ?? []).length === 0 || question.allowOther === true;
}

/** Why the daemon would refuse `value` for `question` (its rule, domain/answers.py), or undefined. */
export function answerProblem(question: Question, value: string): string | undefined {
  if (value.trim() === "") {
    return "the answer is empty";
  }
  if (acceptsFreeText(question)) {
    return undefined;
  }
  const labels = (question.options ?? []).map((o) => o.label);
  const picked = question.multiSelect ? value.split(",").map((p) => p.trim()) : [value.trim()];
  const unknown = picked.filter((p) => !labels.some((l) => l.toLowerCase() === p.toLowerCase()));
  if (unknown.length === 0) {
    return undefined;
  }
  const several = question.multiSelect ? "one or more of" : "one of";
  return `${unknown.map((u) => `'${u}'`).join(", ")} is not an option: answer ${several} ${labels.map((l) => `'${l}'`).join(", ")}`;
}

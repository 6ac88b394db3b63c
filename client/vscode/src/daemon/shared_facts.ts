// GENERATED from the daemon's rpc.discover document (x-shared; specflowd/handlers/rpc.py): do not edit.
// Regenerate: python -m specflowd.clientgen
/** Steps, statuses, wait reasons, attention kinds and config defaults, as the daemon defines them. */

export const STEPS: readonly string[] = ["design", "analyze", "implement", "verify", "merge"];
export const ORCHESTRATION_STATUSES: readonly string[] = ["running", "paused", "waiting_input", "waiting_merge", "waiting_user_gate", "waiting_rate_limit", "healing", "needs_attention", "completed", "failed", "cancelled"];
export const TERMINAL_STATUSES: readonly string[] = ["cancelled", "completed", "failed"];
export const ATTENTION_KINDS: readonly string[] = ["budget", "heal_exhausted", "batch_failed", "step_attempts", "no_tasks", "tasks_held", "tasks_reopened", "rate_limit", "run_cancelled", "phase_changed", "tasks_unparsed", "storage", "step_failed", "stale_run", "skill_verdict", "state_write", "agent_unavailable", "merge_blocked", "unknown_state"];
export const RECOVERY_OPTIONS: readonly string[] = ["retry", "skip", "abort"];
export const RUN_STATUSES: readonly string[] = ["starting", "running", "waiting_input", "completed", "failed", "budget_exceeded", "rate_limited", "stale", "looping", "cancelled", "interrupted", "not_started"];
export const FINAL_RUN_STATUSES: readonly string[] = ["budget_exceeded", "cancelled", "completed", "failed", "interrupted", "looping", "not_started", "rate_limited", "stale"];
export const WAIT_REASONS: readonly string[] = ["slot", "paused", "rate_limit"];
export const CONFIG_DEFAULTS: Readonly<Record<string, boolean | number | string | null>> = {
  "additional_context": "",
  "agent": null,
  "auto_heal": true,
  "auto_merge": false,
  "batch_size_fallback": 15,
  "budget.heal": 2.0,
  "budget.helper_call": 0.5,
  "budget.per_batch": 5.0,
  "budget.total": 50.0,
  "fallback_model": null,
  "group": null,
  "max_heal_attempts": 1,
  "max_step_attempts": 2,
  "pause_between_batches": false,
  "permission_mode": "acceptEdits",
  "priority": 0,
  "resume_after_rate_limit": true,
  "sandbox": true,
  "skip_analyze": false,
  "skip_design": false,
  "stale_after_s": 600.0,
};

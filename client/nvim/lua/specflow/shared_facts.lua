-- GENERATED from the daemon's rpc.discover document (x-shared; specflowd/handlers/rpc.py): do not edit.
-- Regenerate: python -m specflowd.clientgen
-- Steps, statuses, wait reasons, attention kinds and config defaults, as the daemon defines them.
local M = {}

M.steps = { "design", "analyze", "implement", "verify", "merge" }
M.orchestration_statuses = { "running", "paused", "waiting_input", "waiting_merge", "waiting_user_gate", "waiting_rate_limit", "healing", "needs_attention", "completed", "failed", "cancelled" }
M.terminal_statuses = { "cancelled", "completed", "failed" }
M.attention_kinds = { "budget", "heal_exhausted", "batch_failed", "step_attempts", "no_tasks", "tasks_held", "tasks_reopened", "rate_limit", "run_cancelled", "phase_changed", "tasks_unparsed", "storage", "step_failed", "stale_run", "skill_verdict", "state_write", "agent_unavailable", "merge_blocked", "unknown_state" }
M.recovery_options = { "retry", "skip", "abort" }
M.run_statuses = { "starting", "running", "waiting_input", "completed", "failed", "budget_exceeded", "rate_limited", "stale", "looping", "cancelled", "interrupted", "not_started" }
M.final_run_statuses = { "budget_exceeded", "cancelled", "completed", "failed", "interrupted", "looping", "not_started", "rate_limited", "stale" }
M.wait_reasons = { "slot", "paused", "rate_limit" }
-- a nil default (no value: the daemon decides) leaves its key out
M.config_defaults = {
  ["additional_context"] = "",
  ["auto_heal"] = true,
  ["auto_merge"] = false,
  ["batch_size_fallback"] = 15,
  ["budget.heal"] = 2.0,
  ["budget.helper_call"] = 0.5,
  ["budget.per_batch"] = 5.0,
  ["budget.total"] = 50.0,
  ["max_heal_attempts"] = 1,
  ["max_step_attempts"] = 2,
  ["pause_between_batches"] = false,
  ["permission_mode"] = "acceptEdits",
  ["priority"] = 0,
  ["resume_after_rate_limit"] = true,
  ["sandbox"] = true,
  ["skip_analyze"] = false,
  ["skip_design"] = false,
  ["stale_after_s"] = 600.0,
}

return M

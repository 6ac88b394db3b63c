// The parts of the daemon's replies and events the extension reads (the OpenRPC document, `rpc.discover`,
// is the full contract).

/** An `event` notification's params. `data` is the payload of `type` (rpc.discover's `x-events`); every payload
 * that names an orchestration calls its id `orchestration` (run and question events too). */
export interface DaemonEvent {
  type: string;
  project: string | null;
  data: Record<string, unknown>;
  time: string;
}

export interface Attention {
  kind: string;
  reason: string;
  options?: string[];
}

export interface BatchRecord {
  index: number;
  name: string;
  status: string;
  task_ids: string[];
}

export interface OrchestrationRecord {
  id: string;
  /** a pause without --now waits for the running run to end */
  pause_requested?: boolean;
  project_path: string;
  status: string;
  step: string;
  batches?: BatchRecord[];
  steps?: Record<string, { status: string; run_ids?: string[] }>;
  totals?: { spent_usd?: number };
  config?: { budget?: { total?: number; per_batch?: number; heal?: number } } & Record<string, unknown>;
  attention?: Attention | null;
}

export interface Progress {
  elapsed_s: number;
  remaining_s: number | null;
  basis: string;
  batches_done: number;
  batches_total: number;
  tasks_done: number;
  tasks_total: number;
}

export interface Decision {
  time?: string;
  action?: string;
  reason?: string;
}

/** How an agent run is confined (docs/sandbox.md): Claude Code's sandbox, its write paths and domains. */
export interface RunSandbox {
  enabled: boolean;
  write_paths?: string[];
  allowed_domains?: string[];
  edit_tools_confined?: boolean;
  note?: string | null;
}

export interface OrchestrationView {
  record: OrchestrationRecord;
  decisions: Decision[];
  progress: Progress;
  sandbox?: RunSandbox | null;
}

export interface QuestionOption {
  label: string;
  description?: string;
}

export interface Question {
  question: string;
  header?: string;
  options?: QuestionOption[];
  multiSelect?: boolean;
  /** the "Other" choice: the user's own words besides the options */
  allowOther?: boolean;
}

export interface PendingQuestion {
  run_id: string;
  project_root: string;
  orchestration_id?: string | null;
  step: string;
  questions: Question[];
}

export interface ProjectStatus {
  project: string;
  phase_number?: string | null;
  phase_name?: string | null;
  phase_status?: string | null;
  tasks: { done: number; total: number; open: number };
  next_action: string;
}

export interface Preview {
  project: string;
  feature?: string | null;
  steps: { step: string; runs: boolean; reason: string }[];
  summary: string;
  warnings: string[];
  budget: Record<string, number>;
  sandbox?: RunSandbox;
  forecast?: Forecast | null;
}

// orchestrate.preview's `forecast` (docs/forecast.md)
export interface Forecast {
  units: {
    step: string;
    batch_index?: number | null;
    label: string;
    tasks: number;
    cost_usd: { median: number; p90: number };
    duration_s: { median: number; p90: number };
    source: string;
    runs: number;
  }[];
  cost_usd: { median: number; p90: number };
  duration_s: { median: number; p90: number };
  p_stop: number;
  p_stop_total: number;
  p_stop_batch: number;
  likely_stop?: string | null;
  total_needed?: number | null;
  batch_needed?: number | null;
  basis: string;
}

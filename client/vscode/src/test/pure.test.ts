// The pure parts and the no-daemon case: no daemon needed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { SpecflowClient } from "../daemon/client";
import type { DaemonEvent, OrchestrationView } from "../daemon/protocol";
import { notAnswering, socketPath } from "../daemon/socket";
import { forecastLines, span } from "../daemon/forecast";
import { answerKey, answerProblem, eventDecision, orchestrationLine, notice, noticeKind, sandboxLine, statusText } from "../daemon/view";

test("the socket is found exactly as specflowctl finds it", { skip: !process.env.SPECFLOW_SOCKET_CASES && "cases come from pytest" }, () => {
  const cases = JSON.parse(readFileSync(String(process.env.SPECFLOW_SOCKET_CASES), "utf8")) as {
    env: Record<string, string>;
    expected: string;
  }[];
  assert.ok(cases.length >= 5);
  for (const { env, expected } of cases) {
    assert.equal(socketPath(env), expected, JSON.stringify(env));
  }
});

test("no daemon: one line saying how to start one, and a quiet status bar", async () => {
  const missing = "/nonexistent/specflowd-test.sock";
  const client = new SpecflowClient({ socketPath: () => missing });
  await assert.rejects(client.request("daemon.status"), (error: Error) => {
    assert.ok(error.message.startsWith(notAnswering(missing)), error.message);
    assert.ok(!error.message.includes("\n"));
    return true;
  });
  assert.equal(client.state, "offline");
  assert.equal(statusText(undefined, client.state, false), "");
});

const view = (status: string, step: string, done: number): OrchestrationView => ({
  record: { id: "o1", project_path: "/p/demo", status, step, totals: { spent_usd: 0.054 }, batches: [] },
  decisions: [],
  progress: { elapsed_s: 1, remaining_s: null, basis: "", batches_done: done, batches_total: 4, tasks_done: 9, tasks_total: 20 },
});

test("status bar text: step, batch N/M, tasks x/y, spend; the state when it is not plain running", () => {
  assert.equal(statusText(view("running", "implement", 1), "connected", true), "implement · batch 2/4 · tasks 9/20 · $0.05");
  assert.equal(statusText(view("waiting_merge", "merge", 4), "connected", true), "merge (merge ready) · batch 4/4 · tasks 9/20 · $0.05");
  assert.equal(statusText(view("running", "implement", 1), "offline", true), "offline");
  const pausing = view("running", "implement", 1);
  pausing.record.pause_requested = true; // a pause without --now waits for the running run
  assert.equal(statusText(pausing, "connected", true), "implement (pausing) · batch 2/4 · tasks 9/20 · $0.05");
  assert.equal(orchestrationLine(pausing.record), `orchestration ${pausing.record.id.slice(0, 8)}: pausing, step implement`);
  assert.equal(statusText(undefined, "connected", true), "");
});

test("events: which ask for the user, and how the decision log reads them", () => {
  const event = (type: string, data: Record<string, unknown>): DaemonEvent => ({ type, project: "/p/demo", data, time: "2025-01-02T03:04:05.678+00:00" });
  assert.equal(noticeKind(event("orchestration.status", { status: "waiting_merge" })), "merge");
  assert.equal(noticeKind(event("orchestration.status", { status: "running" })), undefined);
  assert.equal(noticeKind(event("run.progress", {})), undefined);
  const asked = event("question.asked", { run_id: "r1", step: "implement", questions: [{ question: "Which DB?" }] });
  assert.deepEqual(notice("answer", asked, undefined), {
    kind: "answer",
    project: "/p/demo",
    orchestration: undefined,
    runId: "r1",
    message: "specflow demo: the implement run asks: Which DB?",
    severity: "warning",
    actions: ["Answer", "Open log"],
  });
  // a run of an orchestration names it with the same key as every other event: the notice can act on it
  const ofOrchestration = event("question.asked", { run_id: "r2", orchestration: "o1", step: "verify", questions: [{ question: "Ship?" }] });
  assert.equal(notice("answer", ofOrchestration, undefined).orchestration, "o1");
  const stuck = notice("attention", event("orchestration.status", { status: "needs_attention", orchestration: "o1" }), {
    ...view("needs_attention", "implement", 1).record,
    attention: { kind: "budget", reason: "the budget is spent", options: ["retry", "abort"] },
  });
  assert.equal(stuck.message, "specflow demo: needs attention (budget): the budget is spent");
  assert.deepEqual(stuck.actions, ["Recover", "Open log"]);
  assert.equal(
    eventDecision(event("orchestration.spawn_batch", { action: "spawn_batch", reason: "implement 'Setup'" })),
    "03:04:05 demo  spawn_batch      implement 'Setup'",
  );
  assert.equal(eventDecision(event("orchestration.status", { status: "running" })), undefined);
  assert.equal(answerKey({ question: "Which DB?", header: "db" }), "db");
  assert.equal(answerKey({ question: "Which DB?", header: "" }), "Which DB?");
});

test("the preview's forecast: a line per unit, the phase, the chance of a stop, the cap that carries it", () => {
  const q = (median: number, p90: number) => ({ median, p90 });
  const unit = { step: "implement", label: "batch 1 A very long section heading indeed", tasks: 5, cost_usd: q(1, 2.5), duration_s: q(90, 4000), source: "all projects", runs: 7 };
  const forecast = {
    units: [unit], cost_usd: q(2, 60), duration_s: q(180, 8000), p_stop: 0.3, p_stop_total: 0.3, p_stop_batch: 0.004,
    likely_stop: "batch 1 A very long section heading indeed", total_needed: 61, batch_needed: null, basis: "all projects' 3 finished orchestration(s)",
  };
  assert.deepEqual(forecastLines(forecast, { total: 50, per_batch: 5 }), [
    "forecast (median · p90) from all projects' 3 finished orchestration(s):",
    "  batch 1 A very long sec… (5 tasks) $1.00 · $2.50  2m · 1h 07m  all projects, 7 finished",
    "  phase                              $2.00 · $60.00  3m · 2h 13m",
    "  chance of a budget stop: 30% (total cap 30%, per-batch cap <1%)",
    "  ! p90 is over a cap: the phase would likely stop at batch 1 A very long section heading indeed",
    "    total: p90 $60.00 over the $50.00 cap; a total budget of $61.00 carries it through",
  ]);
  assert.deepEqual(forecastLines(undefined, {}), []);
  assert.deepEqual([span(59.4), span(3599), span(7170)], ["59s", "1h 00m", "2h 00m"]);
});

test("answers: options only, unless the question offers the Other choice (the daemon's rule)", () => {
  const storage = { question: "Which storage?", header: "storage", options: [{ label: "json" }, { label: "sqlite" }] };
  assert.equal(answerProblem(storage, "postgres"), "'postgres' is not an option: answer one of 'json', 'sqlite'");
  assert.equal(answerProblem(storage, "SQLite"), undefined);
  assert.equal(answerProblem({ ...storage, allowOther: true }, "postgres"), undefined);
  assert.equal(answerProblem({ ...storage, multiSelect: true }, "json, redis"), "'redis' is not an option: answer one or more of 'json', 'sqlite'");
  assert.equal(answerProblem({ question: "Name?" }, "anything"), undefined);
  assert.equal(answerProblem({ question: "Name?" }, "  "), "the answer is empty");
});

test("the sandbox line says where runs may write and what they may reach, or that they are not confined", () => {
  const on = { enabled: true, write_paths: ["/p/demo", "/tmp/specflowd-0/ab/claude-0"], allowed_domains: ["pypi.org"] };
  assert.equal(sandboxLine(on), "sandbox: writes /p/demo, /tmp/specflowd-0/ab/claude-0 · network: pypi.org");
  assert.match(sandboxLine({ ...on, allowed_domains: [], edit_tools_confined: false }), /network: none · Write\/Edit NOT confined/);
  assert.equal(sandboxLine({ enabled: false }), "sandbox: OFF (sandbox = false): shell commands can write anywhere you can");
});

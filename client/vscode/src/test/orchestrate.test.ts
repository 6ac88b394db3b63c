// A whole phase through the session against the real daemon with the simulated agent: the status bar text
// follows the batches, a notice with a Merge button asks for the merge, the decision log streams.
import assert from "node:assert/strict";
import { test } from "node:test";
import { previewLines } from "../daemon/view";
import { recordedSession, needsDaemon, waitFor } from "./support";

const project = process.env.SPECFLOW_TEST_PROJECT;

test("orchestrate, follow, merge", { skip: needsDaemon("SPECFLOW_TEST_PROJECT") }, async () => {
  const { client, session, seen } = recordedSession(project);
  session.start();
  try {
    await waitFor("subscribed", 20_000, () => session.subscribedGeneration === 1);
    assert.equal(session.statusText(), ""); // no orchestration yet

    // 50 concurrent calls on the one connection, answered by id
    const pings = await Promise.all(Array.from({ length: 50 }, () => client.request<{ pong: boolean }>("daemon.ping")));
    assert.equal(pings.length, 50);

    const preview = await session.preview({ skip_analyze: true });
    assert.equal(preview.summary, "4 batches from tasks.md sections (20 tasks)");
    const lines = previewLines(preview); // no finished phase yet: the forecast rests on the prior
    assert.ok(lines.includes("forecast (median · p90) from the stated prior:"), lines.join("\n"));
    assert.ok(lines.some((l) => l.startsWith("  batch 1 Phase 1: Setup (4 tasks) ") && l.endsWith("  prior")), lines.join("\n"));
    assert.match(lines.find((l) => l.startsWith("  phase ")) ?? "", /^ {2}phase +\$\d+\.\d\d · \$\d+\.\d\d {2}\d+m · /);
    const started = await session.orchestrate({ skip_analyze: true, budget: { total: 5 } });
    assert.equal(started.record.config?.budget?.total, 5);

    const merge = await waitFor("the merge notice", 60_000, () => seen.notices.find((n) => n.kind === "merge"));
    assert.equal(merge.message, "specflow demo: phase verified, ready to merge");
    assert.deepEqual(merge.actions, ["Merge", "Open log"]);
    assert.equal(merge.orchestration, started.record.id);
    const waiting = await waitFor("the status bar shows it", 10_000, () =>
      session.statusText().startsWith("merge (merge ready)") ? session.statusText() : undefined,
    );
    assert.match(waiting, /^merge \(merge ready\) · batch 4\/4 · tasks 20\/20 · \$\d+\.\d\d$/);

    await session.merge(); // what the Merge button does
    const done = await waitFor("the completion notice", 60_000, () => seen.notices.find((n) => n.kind === "finished"));
    assert.match(done.message, /^specflow demo: phase complete, \$\d+\.\d\d spent$/);
    await waitFor("the status bar shows completed", 10_000, () => session.statusText().startsWith("merge (completed)"));

    assert.ok(seen.statuses.some((s) => /^implement · batch 1\/4 · tasks 0\/20 · \$/.test(s)), seen.statuses.join("\n"));
    assert.ok(seen.statuses.some((s) => s.startsWith("implement · batch 4/4 ")), seen.statuses.join("\n"));
    const actions = seen.decisions.map((line) => line.split(/\s+/)[2]);
    assert.equal(seen.decisions[0], `orchestration ${started.record.id.slice(0, 8)} · ${started.record.project_path}`);
    assert.equal(actions.filter((a) => a === "spawn_batch").length, 4, seen.decisions.join("\n"));
    assert.deepEqual(actions.slice(-3), ["merge_requested", "spawn_step", "complete"], seen.decisions.join("\n"));
  } finally {
    session.stop();
  }
});

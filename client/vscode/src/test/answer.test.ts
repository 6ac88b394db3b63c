// A batch run asks questions: a notice with an Answer button names the run; answering resumes it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { answerKey } from "../daemon/view";
import { recordedSession, needsDaemon, waitFor } from "./support";

const project = process.env.SPECFLOW_TEST_PROJECT;

test("questions: notice, list, answer, resume", { skip: needsDaemon("SPECFLOW_TEST_PROJECT") }, async () => {
  const { session, seen } = recordedSession(project);
  session.start();
  try {
    await waitFor("subscribed", 20_000, () => session.subscribedGeneration === 1);
    await session.orchestrate({ skip_analyze: true });
    const asked = await waitFor("the question notice", 60_000, () => seen.notices.find((n) => n.kind === "answer"));
    assert.equal(asked.message, "specflow demo: the implement run asks: Which storage? (+1 more)");
    assert.deepEqual(asked.actions, ["Answer", "Open log"]);
    await waitFor("the status bar shows it", 10_000, () => session.statusText().startsWith("implement (answer needed)"));

    const [pending] = await session.questions();
    assert.ok(pending);
    assert.equal(pending.run_id, asked.runId);
    assert.deepEqual(pending.questions.map(answerKey), ["storage", "Which table?"]);
    const resumed = await session.answer(pending.run_id, { storage: "sqlite", "Which table?": "todos" });
    assert.equal(resumed.run_id, pending.run_id);
    await waitFor("batch 1 done", 60_000, () => (session.view?.progress.batches_done ?? 0) >= 1);
  } finally {
    session.stop();
  }
});

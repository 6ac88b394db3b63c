// The daemon goes away and comes back: the session says so, reconnects, subscribes again and follows an
// orchestration started after the restart through a budget stop to its end.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { recordedSession, needsDaemon, waitFor } from "./support";

const project = process.env.SPECFLOW_TEST_PROJECT;

test("reconnect and resubscribe after a daemon restart", { skip: needsDaemon("SPECFLOW_TEST_PROJECT", "SPECFLOWD_BIN") }, async () => {
  const { client, session, seen } = recordedSession(project, 500);
  session.start();
  const daemon = { child: undefined as ReturnType<typeof spawn> | undefined };
  try {
    await waitFor("subscribed", 20_000, () => session.subscribedGeneration === 1);
    await client.request("daemon.shutdown");
    await waitFor("the loss noticed", 20_000, () => client.state !== "connected");
    assert.equal(session.statusText(), "offline");
    daemon.child = spawn(String(process.env.SPECFLOWD_BIN), [], { stdio: "ignore" });
    await waitFor("subscribed again", 30_000, () => session.subscribedGeneration === 2);
    assert.equal(client.generation, 2);
    assert.match(seen.connection[0] ?? "", /^specflow: lost specflowd on .*: connection closed by the daemon; reconnecting$/);
    assert.equal(seen.connection[1], "specflow: reconnected to specflowd");

    // followed after the restart: a budget stop is notified, resuming with more budget completes the phase
    await session.orchestrate({ skip_analyze: true, auto_merge: true, budget: { total: 0.01 } });
    const stuck = await waitFor("the attention notice", 60_000, () => seen.notices.find((n) => n.kind === "attention"));
    assert.match(stuck.message, /^specflow demo: needs attention \(budget\): /);
    assert.deepEqual(stuck.actions, ["Recover", "Open log"]);
    await waitFor("the status bar shows it", 10_000, () => session.statusText().startsWith("implement (needs attention)"));
    const resumed = await session.resume(20);
    assert.equal(resumed.record.config?.budget?.total, 20);
    await waitFor("the completion notice", 60_000, () => seen.notices.find((n) => n.kind === "finished"));
    await waitFor("the status bar shows it", 10_000, () => session.statusText().startsWith("merge (completed)"));
    assert.match(session.statusText(), /^merge \(completed\) · batch 4\/4 · tasks 20\/20 · \$\d+\.\d\d$/);

    const exited = once(daemon.child, "exit");
    await client.request("daemon.shutdown");
    const [code] = await exited;
    assert.equal(code, 0);
    daemon.child = undefined;
  } finally {
    session.stop();
    daemon.child?.kill();
  }
});

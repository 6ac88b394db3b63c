// Another host's daemon through `ssh HOST specflowctl bridge` (pytest's tests/remote starts a real sshd and
// sets SPECFLOWCTL_HOST / SPECFLOWCTL_SSH): a question answered through the bridge, the far daemon lost and
// found again (its bridge starts it on demand), and an unreachable host in one line.
import assert from "node:assert/strict";
import { test } from "node:test";
import { explainExit, parseHost, remoteTarget, sshArgv } from "../daemon/bridge";
import { SpecflowClient } from "../daemon/client";
import type { Notice } from "../daemon/view";
import { SpecflowSession } from "../daemon/session";
import { waitFor } from "./support";

const project = process.env.SPECFLOW_TEST_PROJECT;
const fromPytest = process.env.SPECFLOWCTL_HOST && project ? false : "run from pytest (tests/remote/test_vscode_remote_e2e.py)";

function remoteSession(host?: string) {
  // no socket at all: whatever answers came over ssh
  const client = new SpecflowClient({
    socketPath: () => "/nonexistent/specflowd.sock",
    remote: () => remoteTarget({ host }),
    retryMaxMs: 500,
  });
  const session = new SpecflowSession(client, { projectRef: () => project });
  const seen = { notices: [] as Notice[], connection: [] as string[] };
  session.onNotice((notice) => seen.notices.push(notice));
  session.onConnection(({ message }) => seen.connection.push(message));
  return { client, session, seen };
}

test("host syntax and the ssh command line", () => {
  assert.deepEqual(parseHost("me@box:2222"), { destination: "me@box", port: 2222 });
  assert.deepEqual(parseHost("[::1]:22"), { destination: "::1", port: 22 });
  assert.deepEqual(parseHost("fe80::1"), { destination: "fe80::1", port: undefined });
  for (const bad of ["box:0", "box:http", "-oProxyCommand=x", "", "a b"]) {
    assert.throws(() => parseHost(bad), /HOST|port/);
  }
  assert.deepEqual(sshArgv("me@box:2222"), ["ssh", "-o", "ConnectTimeout=10", "-p", "2222", "-T", "--", "me@box", "specflowctl bridge"]);
  assert.deepEqual(sshArgv("box", "ssh -F cfg -o ConnectTimeout=3", "/opt/my env/specflowctl").slice(-6), [
    "-o", "ConnectTimeout=3", "-T", "--", "box", "'/opt/my env/specflowctl' bridge",
  ]);
  assert.equal(remoteTarget({}, {}), undefined);
  assert.equal(remoteTarget({}, { SPECFLOWCTL_HOST: "box", SPECFLOWCTL_SSH: "ssh -F c" })?.argv[2], "c");
  assert.match(explainExit("box", 127, "bash: specflowctl: command not found\n"), /^specflowctl is not installed on box /);
});

test("through the bridge: a question answered, the far daemon lost and found again", { skip: fromPytest }, async () => {
  const { client, session, seen } = remoteSession();
  session.start();
  try {
    await waitFor("subscribed", 20_000, () => session.subscribedGeneration === 1);
    await session.orchestrate({ skip_analyze: true });
    const asked = await waitFor("the question notice", 60_000, () => seen.notices.find((n) => n.kind === "answer"));
    assert.equal(asked.message, "specflow demo: the implement run asks: Which storage? (+1 more)");
    const [pending] = await session.questions();
    assert.ok(pending);
    await session.answer(pending.run_id, { storage: "sqlite", "Which table?": "todos" });
    await waitFor("batch 1 done", 60_000, () => (session.view?.progress.batches_done ?? 0) >= 1);

    await client.request("daemon.shutdown");
    await waitFor("subscribed again", 30_000, () => session.subscribedGeneration === 2);
    assert.match(seen.connection[0] ?? "", /^specflow: lost specflowd on hosta: .*; reconnecting$/);
    assert.equal(seen.connection[1], "specflow: reconnected to specflowd");
    await client.request("daemon.shutdown"); // the daemon the bridge started
  } finally {
    session.stop();
  }
});

test("an unreachable host is one line naming it", { skip: fromPytest }, async () => {
  const { client, session } = remoteSession("down");
  try {
    await assert.rejects(client.request("daemon.status"), (error: Error) => {
      assert.match(error.message, /^cannot reach down over ssh \(ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused\); /);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  } finally {
    session.stop();
  }
});

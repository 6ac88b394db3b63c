// Shared by the node tests: the environment pytest sets up, polling with a deadline, recording a session.
import { SpecflowClient } from "../daemon/client";
import type { Notice } from "../daemon/view";
import { SpecflowSession } from "../daemon/session";

/** Why a test that needs the real daemon cannot run, or false (pytest's tests/editors sets these). */
export function needsDaemon(...names: string[]): string | false {
  const missing = ["SPECFLOWD_SOCKET", ...names].filter((name) => !process.env[name]);
  return missing.length > 0 ? `run from pytest (tests/editors/test_vscode.py); missing ${missing.join(", ")}` : false;
}

/** Poll `condition` until it holds; fail after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, condition: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = condition();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A session on the daemon of $SPECFLOWD_SOCKET following `project`, recording what the user would see. */
export function recordedSession(project: string | undefined, retryMaxMs = 5000) {
  const client = new SpecflowClient({ socketPath: () => String(process.env.SPECFLOWD_SOCKET), retryMaxMs });
  const session = new SpecflowSession(client, { projectRef: () => project });
  const seen = { statuses: [] as string[], notices: [] as Notice[], decisions: [] as string[], connection: [] as string[] };
  session.onStatus((text) => seen.statuses.push(text));
  session.onNotice((notice) => seen.notices.push(notice));
  session.onDecision((line) => seen.decisions.push(line));
  session.onConnection(({ message }) => seen.connection.push(message));
  return { client, session, seen };
}

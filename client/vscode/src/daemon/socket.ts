// Where the daemon listens, found exactly as specflowctl finds it (pure: the environment is passed in), and
// what to say when nothing answers there.
import { existsSync } from "node:fs";
import { homedir } from "node:os";

export type Env = Record<string, string | undefined>;

function value(env: Env, name: string): string | undefined {
  const found = env[name];
  return found === undefined || found === "" ? undefined : found;
}

/** A path spelled as Python's pathlib spells it: no empty or "." parts, no trailing slash, ".." kept, and a
 * leading "//" (exactly two) kept as POSIX allows. */
function clean(...parts: string[]): string {
  const joined = parts.join("/");
  const kept = joined.split("/").filter((part) => part !== "" && part !== ".");
  const root = /^\/\/(?!\/)/.test(joined) ? "//" : joined.startsWith("/") ? "/" : "";
  return root + kept.join("/") || root || ".";
}

function expandUser(p: string, home: string): string {
  return p === "~" || p.startsWith("~/") ? home + p.slice(1) : p;
}

/** `SPECFLOWD_SOCKET`, else `$XDG_RUNTIME_DIR/specflowd/specflowd.sock`, else `$SPECFLOW_HOME/run/specflowd.sock`
 * (SPECFLOW_HOME defaulting to ~/.specflow). An empty variable counts as unset. */
export function socketPath(env: Env = process.env): string {
  const home = value(env, "HOME") ?? homedir();
  const override = value(env, "SPECFLOWD_SOCKET");
  if (override) {
    return clean(expandUser(override, home));
  }
  const runtime = value(env, "XDG_RUNTIME_DIR");
  if (runtime) {
    return clean(runtime, "specflowd", "specflowd.sock");
  }
  const specflowHome = value(env, "SPECFLOW_HOME");
  return clean(specflowHome ? expandUser(specflowHome, home) : clean(home, ".specflow"), "run", "specflowd.sock");
}

/** Whether specflowd's systemd user units are where `systemctl --user` finds them (as specflowctl checks). */
export function userUnitInstalled(env: Env = process.env): boolean {
  const home = value(env, "HOME") ?? homedir();
  const dirs = [value(env, "XDG_CONFIG_HOME") ?? clean(home, ".config"), clean(home, ".config")];
  return dirs.some((dir) => existsSync(clean(dir, "systemd", "user", "specflowd.socket")));
}

/** The one line a user reads when nothing answers (the same words as specflowctl's): only commands that work
 * on this machine. */
export function notAnswering(socket: string, unitInstalled: boolean = userUnitInstalled()): string {
  const how = unitInstalled
    ? "`specflowctl daemon start` or `systemctl --user start specflowd.socket`"
    : "`specflowctl daemon start` (or `specflowctl daemon install-unit` once, so systemd starts it on use)";
  return `no specflowd is answering on ${socket}. Start one with ${how}.`;
}

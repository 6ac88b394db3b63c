// Another host's daemon: `ssh HOST specflowctl bridge` as a child process whose stdin/stdout carry the
// Content-Length frames, exactly as `specflowctl --host` reaches it (docs/remote.md). Pure helpers (the host
// syntax, the ssh command line, the one-line error) and the child. No `vscode` import.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import type { Env } from "./socket";

export interface RemoteTarget {
  host: string;
  argv: string[];
}

/** "[user@]HOST[:PORT]" (IPv6 as "[addr]:PORT") → destination and port; throws an Error saying the syntax. */
export function parseHost(host: string): { destination: string; port?: number } {
  if (!host || /\s/.test(host)) {
    throw new Error(`"${host}" is not a host: write [user@]HOST[:PORT]`);
  }
  const at = host.lastIndexOf("@");
  const user = at >= 0 ? host.slice(0, at + 1) : "";
  let rest = at >= 0 ? host.slice(at + 1) : host;
  let portText: string | undefined;
  if (rest.startsWith("[")) {
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
    if (!match) {
      throw new Error(`${host}: an IPv6 host is written [ADDRESS] or [ADDRESS]:PORT`);
    }
    rest = match[1] ?? "";
    portText = match[2];
  } else if (rest.split(":").length === 2) {
    [rest, portText] = rest.split(":") as [string, string];
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new Error(`${host}: the port must be a number from 1 to 65535`);
    }
  }
  if (!rest || rest.startsWith("-")) {
    throw new Error(`"${host}" is not a host: write [user@]HOST[:PORT]`);
  }
  return { destination: user + rest, port };
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** The whole ssh command line: the user's ssh command (split on blanks), a connect timeout unless it sets one,
 * the port, no terminal, the destination and `specflowctl bridge`. */
export function sshArgv(host: string, ssh = "ssh", remoteSpecflowctl = "specflowctl"): string[] {
  const { destination, port } = parseHost(host);
  const argv = ssh.split(/\s+/).filter((word) => word !== "");
  if (argv.length === 0) {
    argv.push("ssh");
  }
  if (!argv.some((word) => word.toLowerCase().includes("connecttimeout"))) {
    argv.push("-o", "ConnectTimeout=10");
  }
  if (port !== undefined) {
    argv.push("-p", String(port));
  }
  argv.push("-T", "--", destination, `${quote(remoteSpecflowctl)} bridge`);
  return argv;
}

/** The host from the setting, else $SPECFLOWCTL_HOST; undefined = the local socket. */
export function remoteTarget(setting: { host?: string; ssh?: string; remoteSpecflowctl?: string }, env: Env = process.env): RemoteTarget | undefined {
  const host = setting.host || env.SPECFLOWCTL_HOST;
  if (!host) {
    return undefined;
  }
  const ssh = setting.ssh || env.SPECFLOWCTL_SSH || "ssh";
  return { host, argv: sshArgv(host, ssh, setting.remoteSpecflowctl || env.SPECFLOWCTL_REMOTE || "specflowctl") };
}

/** Why the connection ended, in specflowctl's words: one line naming the host and what to do. */
export function explainExit(host: string, code: number | null, stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith("Warning:"));
  const last = lines[lines.length - 1] ?? "";
  if (code === 255) {
    return `cannot reach ${host} over ssh (${last || "ssh exited 255"}); check the host name, its sshd and your ssh settings (specflow.ssh)`;
  }
  if (code === 127 || last.includes("not found")) {
    return `specflowctl is not installed on ${host} or not on its login PATH (${last || "exit 127"}); install specflowd there or set specflow.remoteSpecflowctl`;
  }
  if (stderr.includes("No such command")) {
    return `the specflowctl on ${host} has no \`bridge\` verb (an older release): upgrade specflowd on ${host}`;
  }
  return `the connection to ${host} closed (${last || `exit ${code}`})`;
}

/** The running bridge: its streams, and a promise of why it ended (once ssh has exited). */
export interface Bridge {
  child: ChildProcessWithoutNullStreams;
  ended: Promise<string>;
  kill(): void;
}

export function startBridge(target: RemoteTarget): Bridge {
  const [command, ...args] = target.argv;
  const child = spawn(command ?? "ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-65536);
  });
  const ended = new Promise<string>((resolve) => {
    child.once("error", (error) => resolve(`cannot run ${command} (${error.message}): set specflow.ssh`));
    child.once("close", (code) => resolve(explainExit(target.host, code, stderr)));
  });
  child.stdin.on("error", () => undefined); // a write after ssh ended: reported through `ended`
  return {
    child,
    ended,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM"); // the far bridge sees its channel close and ends its daemon connection
      }
    },
  };
}

// JSON-RPC 2.0 over the daemon's Unix socket with vscode-jsonrpc (Content-Length framing), or, with a host,
// over the stdio of `ssh HOST specflowctl bridge` (./bridge), the same frames. Once started it
// keeps itself connected: when the daemon goes away it retries with a capped backoff and fires onConnect
// again, so the owner can resubscribe. No `vscode` import: tested with node's test runner.
import * as net from "node:net";
import {
  createMessageConnection,
  Emitter,
  type Event,
  type MessageConnection,
  ResponseError,
  SocketMessageReader,
  SocketMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node";
import { type RemoteTarget, startBridge } from "./bridge";
import type { DaemonEvent } from "./protocol";
import { notAnswering } from "./socket";

/** vscode-jsonrpc's codes for a write/read failure, a disposed connection, an inactive one. */
const LIBRARY_CODES = [-32099, -32096] as const;

export type ConnectionState = "idle" | "connecting" | "connected" | "offline";

/** What a failed call tells the user: the daemon's message and stable `kind`, or why nothing answered. */
export class SpecflowError extends Error {
  constructor(
    message: string,
    readonly kind?: string,
    readonly code?: number,
  ) {
    super(kind ? `${message} [${kind}]` : message);
    this.name = "SpecflowError";
  }
}

export interface ClientOptions {
  socketPath: () => string;
  /** another host's daemon through ssh (undefined: the socket); throws when the host cannot be written */
  remote?: () => RemoteTarget | undefined;
  /** first reconnect delay; doubles up to retryMaxMs */
  retryMs?: number;
  retryMaxMs?: number;
}

/** One connection: vscode-jsonrpc still delivers replies it read before the socket closed (its queue runs on
 * setImmediate after the close), so a closed link is disposed only once its calls have settled. */
interface Link {
  connection: MessageConnection;
  destroy: () => void;
  outstanding: number;
  closed: boolean;
}

/** How long a closed link waits for replies already read before failing the calls still waiting. */
const DRAIN_MS = 1000;

export class SpecflowClient {
  private link: Link | undefined;
  private connecting: Promise<Link> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private wanted = false;
  private stopped = false;

  state: ConnectionState = "idle";
  /** connections made so far */
  generation = 0;

  private readonly eventEmitter = new Emitter<DaemonEvent>();
  private readonly connectEmitter = new Emitter<number>();
  private readonly disconnectEmitter = new Emitter<string>();
  /** every `event` notification (after events.subscribe) */
  readonly onEvent: Event<DaemonEvent> = this.eventEmitter.event;
  /** a connection is up; the argument is its generation (1 = the first) */
  readonly onConnect: Event<number> = this.connectEmitter.event;
  /** an established connection was lost; the argument says why */
  readonly onDisconnect: Event<string> = this.disconnectEmitter.event;

  constructor(private readonly options: ClientOptions) {
    this.retryMs = options.retryMs ?? 250;
  }

  /** Where the daemon is, as messages name it: the socket path, or the host. */
  get path(): string {
    try {
      return this.options.remote?.()?.host ?? this.options.socketPath();
    } catch {
      return this.options.socketPath();
    }
  }

  /** Connect now and stay connected. */
  start(): void {
    this.wanted = true;
    this.stopped = false;
    this.connect().catch(() => undefined); // failures are retried; calls report them
  }

  /** Disconnect for good: later calls are refused until start(). */
  stop(): void {
    this.wanted = false;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const link = this.link;
    this.link = undefined;
    if (link) {
      this.close(link);
    }
    this.state = "idle";
  }

  /** One call; connects first when needed. Rejects with a SpecflowError. Params undefined = no params. */
  async request<R>(method: string, params?: object): Promise<R> {
    const link = await this.connect();
    link.outstanding += 1;
    try {
      return params === undefined
        ? await link.connection.sendRequest<R>(method)
        : await link.connection.sendRequest<R>(method, params);
    } catch (error) {
      if (error instanceof ResponseError) {
        const kind = (error.data as { kind?: string } | undefined)?.kind;
        if (!kind && error.code >= LIBRARY_CODES[0] && error.code <= LIBRARY_CODES[1]) {
          // vscode-jsonrpc's own codes (the daemon's always carry data.kind): the connection ended under the call
          throw new SpecflowError(`lost specflowd on ${this.path}: ${error.message}`);
        }
        throw new SpecflowError(error.message, kind, error.code);
      }
      throw new SpecflowError(`lost specflowd on ${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      link.outstanding -= 1;
      if (link.closed && link.outstanding === 0) {
        this.dispose(link);
      }
    }
  }

  private connect(): Promise<Link> {
    if (this.stopped) {
      return Promise.reject(new SpecflowError("the specflowd client is stopped"));
    }
    if (this.link) {
      return Promise.resolve(this.link);
    }
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private open(): Promise<Link> {
    clearTimeout(this.retryTimer);
    this.state = "connecting";
    let remote: RemoteTarget | undefined;
    try {
      remote = this.options.remote?.();
    } catch (error) {
      return this.failed(error instanceof Error ? error.message : String(error));
    }
    if (remote) {
      return this.openBridge(remote);
    }
    const path = this.path;
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      const refused = (error: NodeJS.ErrnoException) => {
        socket.destroy();
        this.state = "offline";
        this.retryLater();
        reject(new SpecflowError(`${notAnswering(path)} (${error.code ?? error.message})`));
      };
      socket.once("error", refused);
      socket.once("connect", () => {
        socket.off("error", refused);
        if (this.stopped) {
          socket.destroy();
          reject(new SpecflowError("the specflowd client is stopped"));
          return;
        }
        const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
        socket.on("error", () => undefined); // reported through the reader as onError/onClose
        connection.listen();
        resolve(this.established(connection, () => socket.destroy()));
      });
    });
  }

  private failed(reason: string): Promise<Link> {
    this.state = "offline";
    this.retryLater();
    return Promise.reject(new SpecflowError(reason));
  }

  /** A started ssh proves nothing (the host may be down): connected once the daemon answered a ping through
   * it; an ssh that ends before is the one-line reason, retried like a daemon not answering. */
  private openBridge(target: RemoteTarget): Promise<Link> {
    const bridge = startBridge(target);
    const connection = createMessageConnection(
      new StreamMessageReader(bridge.child.stdout),
      new StreamMessageWriter(bridge.child.stdin),
    );
    connection.onError(() => undefined); // before the ping's reply, `ended` says why
    connection.listen();
    return new Promise((resolve, reject) => {
      let settled = false;
      void bridge.ended.then((reason) => {
        if (!settled) {
          settled = true;
          connection.dispose();
          this.failed(reason).catch(reject);
        }
      });
      connection.sendRequest("daemon.ping").then(
        () => {
          if (settled) {
            return;
          }
          settled = true;
          if (this.stopped) {
            connection.dispose();
            bridge.kill();
            reject(new SpecflowError("the specflowd client is stopped"));
            return;
          }
          // a loss names what ssh said once it has exited (a moment after its output ended)
          const why = (fallback: string) =>
            Promise.race([bridge.ended, new Promise<string>((done) => setTimeout(() => done(fallback), 1000).unref())]);
          resolve(this.established(connection, () => bridge.kill(), why));
        },
        () => undefined, // the bridge ended: reported through `ended`
      );
    });
  }

  private established(
    connection: MessageConnection,
    destroy: () => void,
    why?: (fallback: string) => Promise<string>,
  ): Link {
    const link: Link = { connection, destroy, outstanding: 0, closed: false };
    const lose = (reason: string) => {
      if (why) {
        void why(reason).then((explained) => this.lost(link, explained));
      } else {
        this.lost(link, reason);
      }
    };
    connection.onNotification("event", (params: DaemonEvent) => this.eventEmitter.fire(params));
    connection.onClose(() => lose("connection closed by the daemon"));
    connection.onError(([error]) => lose(error.message));
    this.link = link;
    this.state = "connected";
    this.generation += 1;
    this.retryMs = this.options.retryMs ?? 250;
    this.connectEmitter.fire(this.generation);
    return link;
  }

  private lost(link: Link, reason: string): void {
    if (this.link !== link) {
      return; // already given up
    }
    this.link = undefined;
    this.close(link);
    this.state = "offline";
    this.disconnectEmitter.fire(`lost specflowd on ${this.path}: ${reason}`);
    this.retryLater();
  }

  private close(link: Link): void {
    link.closed = true;
    link.destroy();
    if (link.outstanding === 0) {
      this.dispose(link);
    } else {
      setTimeout(() => this.dispose(link), DRAIN_MS).unref();
    }
  }

  private dispose(link: Link): void {
    link.connection.dispose(); // fails the calls still waiting; idempotent
  }

  private retryLater(): void {
    if (!this.wanted) {
      return;
    }
    clearTimeout(this.retryTimer);
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.options.retryMaxMs ?? 5000);
    this.retryTimer = setTimeout(() => {
      if (this.wanted && this.state === "offline") {
        this.connect().catch(() => undefined);
      }
    }, delay);
    this.retryTimer.unref();
  }
}

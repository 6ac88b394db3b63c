// Everything the extension does with the daemon, without `vscode`: keeps the current project's
// orchestration fresh from events, turns events into notices and decision-log lines, and carries out the
// commands. extension.ts only maps this onto VS Code's UI.
import { Emitter, type Event } from "vscode-jsonrpc/node";
import { type SpecflowClient, SpecflowError } from "./client";
import type {
  DaemonEvent,
  OrchestrationView,
  PendingQuestion,
  Preview,
  ProjectStatus,
} from "./protocol";
import { decisionLine, eventDecision, type Notice, notice, noticeKind, shortId, statusText } from "./view";

export interface SessionOptions {
  /** the project to follow: a registry id or a path inside it (undefined: no workspace open) */
  projectRef: () => string | undefined;
  /** emit notices (the `specflow.notifications` setting) */
  notify?: () => boolean;
}

export class SpecflowSession {
  /** the current project's orchestrate.status reply */
  view: OrchestrationView | undefined;
  /** that project's root, to tell its events from others' */
  private root: string | undefined;
  private everConnected = false;
  /** the connection generation events.subscribe last succeeded on */
  subscribedGeneration = 0;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private readonly logged = new Set<string>();

  private readonly statusEmitter = new Emitter<string>();
  private readonly noticeEmitter = new Emitter<Notice>();
  private readonly decisionEmitter = new Emitter<string>();
  private readonly connectionEmitter = new Emitter<{ message: string; severity: "info" | "warning" }>();
  /** the status bar text changed */
  readonly onStatus: Event<string> = this.statusEmitter.event;
  /** the user should hear about something (a question, a merge, attention, the end) */
  readonly onNotice: Event<Notice> = this.noticeEmitter.event;
  /** a line for the decision log */
  readonly onDecision: Event<string> = this.decisionEmitter.event;
  /** the daemon went away or came back */
  readonly onConnection: Event<{ message: string; severity: "info" | "warning" }> = this.connectionEmitter.event;

  constructor(
    readonly client: SpecflowClient,
    private readonly options: SessionOptions,
  ) {
    client.onConnect((generation) => void this.subscribe(generation));
    client.onDisconnect((reason) => {
      this.view = undefined;
      this.announceStatus();
      this.connectionEmitter.fire({ message: `specflow: ${reason}; reconnecting`, severity: "warning" });
    });
    client.onEvent((event) => this.handle(event));
  }

  /** Connect and stay connected. */
  start(): void {
    this.client.start();
  }

  stop(): void {
    this.client.stop();
  }

  statusText(): string {
    return statusText(this.view, this.client.state, this.everConnected);
  }

  /** The project changed (another folder, another editor): forget the old one and look again. */
  projectChanged(): Promise<void> {
    this.root = undefined;
    this.view = undefined;
    return this.refresh();
  }

  /** Fetch the current project's orchestration; calls made while one is in flight are coalesced. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = this.fetch().finally(() => {
      this.refreshing = undefined;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private async fetch(): Promise<void> {
    const project = this.options.projectRef();
    try {
      this.view = project ? await this.client.request<OrchestrationView>("orchestrate.status", { project }) : undefined;
    } catch {
      this.view = undefined; // no orchestration for this project (or no daemon): nothing to show
    }
    if (this.view) {
      this.root = this.view.record.project_path;
      this.logBacklog(this.view);
    }
    this.announceStatus();
  }

  /** The decisions made before we looked, once per orchestration. */
  private logBacklog(view: OrchestrationView): void {
    if (this.logged.has(view.record.id)) {
      return;
    }
    this.logged.add(view.record.id);
    this.decisionEmitter.fire(`orchestration ${shortId(view.record.id)} · ${view.record.project_path}`);
    for (const entry of view.decisions) {
      this.decisionEmitter.fire(decisionLine(entry, view.record.project_path));
    }
  }

  private lastStatus: string | undefined;
  private announceStatus(): void {
    const text = this.statusText();
    if (text !== this.lastStatus) {
      this.lastStatus = text;
      this.statusEmitter.fire(text);
    }
  }

  private async subscribe(generation: number): Promise<void> {
    try {
      await this.client.request("events.subscribe");
    } catch {
      return; // the connection went again; the next one subscribes
    }
    this.subscribedGeneration = generation;
    if (generation > 1) {
      this.connectionEmitter.fire({ message: "specflow: reconnected to specflowd", severity: "info" });
    }
    this.everConnected = true;
    await this.refresh();
  }

  private concernsUs(event: DaemonEvent): boolean {
    return this.root ? event.project === this.root : event.type === "orchestration.started";
  }

  private handle(event: DaemonEvent): void {
    if (typeof event?.type !== "string") {
      return; // not an event this client understands
    }
    if (event.type === "events.lost") {
      // we read too slowly and the daemon dropped events: what they said is read again from the status
      void this.refresh();
      return;
    }
    const line = eventDecision(event);
    const id = ((event.data ?? {}) as { orchestration?: string }).orchestration;
    const started = event.type === "orchestration.started";
    if (line && id && started && !this.logged.has(id)) {
      // a new orchestration, logged from its start (unless a refresh saw it first and logged its backlog)
      this.logged.add(id);
      this.decisionEmitter.fire(`orchestration ${shortId(id)} · ${event.project ?? ""}`);
      this.decisionEmitter.fire(line);
    } else if (line && id && !started && this.logged.has(id)) {
      this.decisionEmitter.fire(line);
    }
    if (/^(orchestration|batch|run|question)\./.test(event.type) && this.concernsUs(event)) {
      void this.refresh();
    }
    void this.announce(event);
  }

  private async announce(event: DaemonEvent): Promise<void> {
    const kind = noticeKind(event);
    if (!kind || !(this.options.notify?.() ?? true)) {
      return;
    }
    const id = ((event.data ?? {}) as { orchestration?: string }).orchestration;
    let record;
    if (kind !== "answer" && id) {
      record = await this.client
        .request<OrchestrationView>("orchestrate.status", { id })
        .then((view) => view.record)
        .catch(() => undefined);
    }
    this.noticeEmitter.fire(notice(kind, event, record));
  }

  // Commands ---------------------------------------------------------------------------------------------

  private project(): string {
    const project = this.options.projectRef();
    if (!project) {
      throw new SpecflowError("open a folder of a registered SpecFlow project first");
    }
    return project;
  }

  async projectStatus(): Promise<{ project: ProjectStatus; view: OrchestrationView | undefined }> {
    const project = this.project();
    const status = await this.client.request<ProjectStatus>("projects.status", { project });
    const view = await this.client.request<OrchestrationView>("orchestrate.status", { project }).catch(() => undefined);
    return { project: status, view };
  }

  preview(config: Record<string, unknown>): Promise<Preview> {
    return this.client.request<Preview>("orchestrate.preview", { project: this.project(), config });
  }

  async orchestrate(config: Record<string, unknown>): Promise<OrchestrationView> {
    return this.control("orchestrate.start", { config });
  }

  pause(now = false): Promise<OrchestrationView> {
    return this.control("orchestrate.pause", { now });
  }

  resume(budget?: number): Promise<OrchestrationView> {
    return this.control("orchestrate.resume", budget === undefined ? {} : { budget });
  }

  cancel(): Promise<OrchestrationView> {
    return this.control("orchestrate.cancel", {});
  }

  merge(): Promise<OrchestrationView> {
    return this.control("orchestrate.merge", {});
  }

  recover(action: string, budget?: number): Promise<OrchestrationView> {
    return this.control("orchestrate.recover", budget === undefined ? { action } : { action, budget });
  }

  private async control(method: string, params: object): Promise<OrchestrationView> {
    const view = await this.client.request<OrchestrationView>(method, { project: this.project(), ...params });
    await this.refresh();
    return view;
  }

  /** Questions waiting for answers, the current project's first. */
  async questions(): Promise<PendingQuestion[]> {
    const { questions } = await this.client.request<{ questions: PendingQuestion[] }>("questions.list", {});
    const mine = (q: PendingQuestion) => (q.project_root === this.root ? 0 : 1);
    return [...questions].sort((a, b) => mine(a) - mine(b));
  }

  answer(runId: string, answers: Record<string, string>): Promise<{ run_id: string }> {
    return this.client.request("questions.answer", { run: runId, answers });
  }
}

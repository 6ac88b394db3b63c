// The VS Code side: status bar item, commands, notifications with buttons, the decision-log output channel.
// Everything that talks to the daemon lives in ./daemon (no `vscode` import there; tested under node).
import * as vscode from "vscode";
import { SpecflowClient } from "./daemon/client";
import type { PendingQuestion } from "./daemon/protocol";
import { SpecflowSession } from "./daemon/session";
import { remoteTarget } from "./daemon/bridge";
import { socketPath } from "./daemon/socket";
import { acceptsFreeText, answerKey, answerProblem, shortId, type Notice, type NoticeAction, orchestrationLine, previewLines, statusLines } from "./daemon/view";

const OTHER = "Other…";

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("specflow");
}

/** The project to follow: the active editor's workspace folder, else the first one. */
function projectRef(): string | undefined {
  const document = vscode.window.activeTextEditor?.document;
  const folder = (document && vscode.workspace.getWorkspaceFolder(document.uri)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.fsPath;
}

export function activate(context: vscode.ExtensionContext): void {
  const client = new SpecflowClient({
    socketPath: () => settings().get<string>("socket") || socketPath(),
    remote: () =>
      remoteTarget({
        host: settings().get<string>("host"),
        ssh: settings().get<string>("ssh"),
        remoteSpecflowctl: settings().get<string>("remoteSpecflowctl"),
      }),
  });
  const session = new SpecflowSession(client, {
    projectRef,
    notify: () => settings().get<boolean>("notifications", true),
  });
  const log = vscode.window.createOutputChannel("specflowd");
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  item.command = "specflow.status";
  item.tooltip = "specflowd: show the status";
  context.subscriptions.push(log, item, { dispose: () => session.stop() });

  session.onStatus((text) => {
    item.text = `$(tasklist) ${text}`;
    if (text) {
      item.show();
    } else {
      item.hide();
    }
  });
  session.onDecision((line) => log.appendLine(line));
  session.onConnection(({ message, severity }) =>
    severity === "warning" ? vscode.window.showWarningMessage(message) : vscode.window.showInformationMessage(message),
  );
  session.onNotice((notice) => void showNotice(notice));

  async function guarded(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      void vscode.window.showErrorMessage(`specflow: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async function showNotice(notice: Notice): Promise<void> {
    const show =
      notice.severity === "error"
        ? vscode.window.showErrorMessage
        : notice.severity === "warning"
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    const choice = await show(notice.message, ...notice.actions);
    const handlers: Record<NoticeAction, () => Promise<unknown>> = {
      Answer: () => answer(notice.runId),
      Merge: () => session.merge().then(report),
      Recover: recover,
      "Open log": async () => log.show(true),
    };
    if (choice) {
      await guarded(handlers[choice]);
    }
  }

  const report = (view: { record: Parameters<typeof orchestrationLine>[0] }) =>
    vscode.window.showInformationMessage(`specflow: ${orchestrationLine(view.record)}`);

  async function status(): Promise<void> {
    const { project, view } = await session.projectStatus();
    const [first, ...rest] = statusLines(project, view);
    await vscode.window.showInformationMessage(first ?? "", { modal: true, detail: rest.join("\n") });
  }

  async function orchestrate(): Promise<void> {
    const options = [
      { label: "auto_merge", description: "merge when verify passes" },
      { label: "skip_design" },
      { label: "skip_analyze" },
      { label: "no_auto_heal", description: "stop instead of healing a failed batch" },
      { label: "pause_between_batches" },
    ];
    const picked = await vscode.window.showQuickPick(options, {
      canPickMany: true,
      title: "Orchestrate the phase: options (none is fine)",
    });
    if (!picked) {
      return;
    }
    const config: Record<string, unknown> = {};
    for (const option of picked) {
      if (option.label === "no_auto_heal") {
        config.auto_heal = false;
      } else {
        config[option.label] = true;
      }
    }
    const preview = await session.preview(config);
    const [first, ...rest] = previewLines(preview);
    const start = await vscode.window.showInformationMessage(
      first ?? "",
      { modal: true, detail: `${rest.join("\n")}\n\nStart this orchestration?` },
      "Start",
    );
    if (start === "Start") {
      const view = await session.orchestrate(config);
      log.show(true);
      await report(view);
    }
  }

  async function pause(): Promise<void> {
    const when = await vscode.window.showQuickPick(["after the current run", "now (stop the running run)"], {
      title: "Pause the orchestration",
    });
    if (when) {
      await report(await session.pause(when.startsWith("now")));
    }
  }

  async function resume(): Promise<void> {
    const budget = await vscode.window.showInputBox({
      prompt: "New total budget in USD (empty: keep the current one)",
      validateInput: (text) => (text === "" || Number(text) > 0 ? undefined : "a positive number, or empty"),
    });
    if (budget !== undefined) {
      await report(await session.resume(budget === "" ? undefined : Number(budget)));
    }
  }

  async function cancel(): Promise<void> {
    const sure = await vscode.window.showWarningMessage(
      "Cancel the orchestration? The running run is stopped.",
      { modal: true },
      "Cancel orchestration",
    );
    if (sure) {
      await report(await session.cancel());
    }
  }

  async function recover(): Promise<void> {
    await session.refresh();
    const attention = session.view?.record.attention;
    if (!attention) {
      await vscode.window.showInformationMessage("specflow: the orchestration does not need attention");
      return;
    }
    const action = await vscode.window.showQuickPick(attention.options ?? ["retry", "abort"], { title: attention.reason });
    if (action) {
      await report(await session.recover(action));
    }
  }

  async function answer(runId?: string): Promise<void> {
    let pending = await session.questions();
    if (runId) {
      pending = pending.filter((item) => item.run_id === runId);
    }
    if (pending.length === 0) {
      await vscode.window.showInformationMessage("specflow: no questions are waiting");
      return;
    }
    const chosen = pending.length === 1 ? pending[0] : await pickRun(pending);
    const answers = chosen && (await ask(chosen));
    if (chosen && answers) {
      const record = await session.answer(chosen.run_id, answers);
      await vscode.window.showInformationMessage(`specflow: answered; run ${shortId(record.run_id)} resumes`);
    }
  }

  async function pickRun(pending: PendingQuestion[]): Promise<PendingQuestion | undefined> {
    const picked = await vscode.window.showQuickPick(
      pending.map((item) => ({
        label: item.questions[0]?.question ?? item.run_id,
        description: `${item.project_root} · ${item.step}`,
        item,
      })),
      { title: "Which run to answer?" },
    );
    return picked?.item;
  }

  /** Every question of one run; undefined when the user dismissed one (then nothing is sent). */
  async function ask(pending: PendingQuestion): Promise<Record<string, string> | undefined> {
    const answers: Record<string, string> = {};
    for (const question of pending.questions) {
      const options = question.options ?? [];
      let reply: string | undefined;
      // free text only where the question takes it: the daemon refuses anything else (questions.answer)
      const validateInput = (value: string): string | undefined => answerProblem(question, value);
      if (options.length > 0 && !question.multiSelect) {
        const items = options.map((o) => ({ label: o.label, description: o.description ?? "" }));
        const picked = await vscode.window.showQuickPick(
          acceptsFreeText(question) ? [...items, { label: OTHER, description: "your own words" }] : items,
          { title: question.question },
        );
        reply =
          picked?.label === OTHER ? await vscode.window.showInputBox({ prompt: question.question, validateInput }) : picked?.label;
      } else {
        const hint = options.length > 0 ? ` (${options.map((o) => o.label).join(", ")}; several: comma-separated)` : "";
        reply = await vscode.window.showInputBox({ prompt: question.question + hint, validateInput });
      }
      if (!reply) {
        return undefined;
      }
      answers[answerKey(question)] = reply;
    }
    return answers;
  }

  const commands: Record<string, () => Promise<unknown>> = {
    "specflow.status": status,
    "specflow.orchestrate": orchestrate,
    "specflow.pause": pause,
    "specflow.resume": resume,
    "specflow.cancel": cancel,
    "specflow.merge": () => session.merge().then(report),
    "specflow.recover": recover,
    "specflow.answer": () => answer(),
    "specflow.logs": async () => log.show(true),
  };
  for (const [name, run] of Object.entries(commands)) {
    context.subscriptions.push(vscode.commands.registerCommand(name, () => guarded(run)));
  }

  let followed = projectRef();
  const projectMaybeChanged = () => {
    const now = projectRef();
    if (now !== followed) {
      followed = now;
      void session.projectChanged();
    }
  };
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(projectMaybeChanged),
    vscode.workspace.onDidChangeWorkspaceFolders(projectMaybeChanged),
    vscode.workspace.onDidChangeConfiguration((change) => {
      if (["socket", "host", "ssh", "remoteSpecflowctl"].some((name) => change.affectsConfiguration(`specflow.${name}`))) {
        session.stop();
        session.start();
      }
    }),
  );
  session.start();
}

export function deactivate(): void {
  // disposing the context's subscriptions stops the session
}

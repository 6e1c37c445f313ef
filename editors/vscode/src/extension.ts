/**
 * The VS Code side of tactful: starts `tactful serve`, sends the user's settings, VS Code's
 * workspace trust (in initializationOptions, then `tactful/workspaceTrusted` when it is granted)
 * and the interpreter selected in the Python extension (the project's Python, for validation),
 * lists code actions again when the server announces new verdicts, shows what the server is
 * doing in the status bar, and shows next edits.
 *
 * Boundary: everything that speaks to VS Code lives here; the decisions (which settings to send,
 * which executable to start, what the status bar says, when to ask for inline suggestions again,
 * what a next edit shows and where it leaves the cursor) are plain functions in `settings.ts`,
 * `serverPath.ts`, `status.ts`, `inline.ts` and `nextEdits.ts`. Inline completions, diagnostics
 * and code actions are vscode-languageclient's own features: an accepted inline item runs its
 * `tactful.acceptSuggestion` command, which the client forwards to the server. Next edits
 * (`tactful/nextEdits`) are shown by `NextEditView`: a decoration at the target line, and
 * "tactful: Apply Next Edit" on Tab while one shows.
 */

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  State,
  type LanguageClientOptions,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from "vscode-languageclient";
import { LanguageClient, type Executable } from "vscode-languageclient/node";
import {
  WORKSPACE_TRUSTED,
  changeableSettings,
  clientSettings,
  configurationSection,
  serverSettings,
  type ServerSetting,
  type SettingsTree,
} from "./settings";
import { findServer, type Candidate } from "./serverPath";
import { shouldAskAgain, type InlineCompletionReady } from "./inline";
import {
  cursorAfter,
  decoration,
  itemsOf,
  PAUSE_MS,
  SHOWN_CONTEXT,
  stillCurrent,
  type DocumentAt,
  type NextEditItem,
} from "./nextEdits";
import { Activity, statusView, type ServerState, type ServerStatus } from "./status";
import { SELECTED_PYTHON, selectedPython, VERDICTS_CHANGED, VerdictRefresh } from "./verdicts";

/** Language ids the server understands (its tree-sitter grammars). */
const LANGUAGES = [
  "python",
  "javascript",
  "javascriptreact",
  "typescript",
  "typescriptreact",
  "go",
  "rust",
  "java",
];

interface PythonEnvironmentApi {
  environments: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(
      environment: { path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

/**
 * The next edit shown in the active editor: asked for after a pause in editing, decorated at its
 * line, applied by "tactful: Apply Next Edit" (Tab while `tactful.nextEditShown`), turned down by
 * "tactful: Dismiss Next Edit" (Escape). Accepting and dismissing run the server's
 * `tactful.acceptSuggestion` / `tactful.rejectSuggestion`; one hidden by a change is left to the
 * server, which counts it as passed by.
 */
class NextEditView implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private asking: vscode.CancellationTokenSource | undefined;
  private shown: { editor: vscode.TextEditor; at: DocumentAt; items: NextEditItem[]; index: number } | undefined;
  private readonly after = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor("editorGhostText.foreground"), margin: "0 0 0 2em" },
    overviewRulerColor: new vscode.ThemeColor("editorGhostText.foreground"),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  private readonly replaced = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
  });

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  private offered(): LanguageClient | undefined {
    const client = this.client();
    if (client?.state !== State.Running) {
      return undefined;
    }
    const experimental = client.initializeResult?.capabilities.experimental as { tactfulNextEdits?: boolean } | undefined;
    return experimental?.tactfulNextEdits === true ? client : undefined;
  }

  /** A document changed: what shows is hidden, and next edits are asked for after a pause. */
  changed(event: vscode.TextDocumentChangeEvent): void {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || event.document !== editor.document || event.contentChanges.length === 0) {
      return;
    }
    if (!LANGUAGES.includes(event.document.languageId) || event.document.uri.scheme !== "file") {
      return;
    }
    this.hide();
    this.schedule(editor);
  }

  private schedule(editor: vscode.TextEditor): void {
    clearTimeout(this.timer);
    this.asking?.cancel();
    this.timer = setTimeout(() => {
      if (vscode.window.activeTextEditor === editor) {
        void this.ask(editor);
      }
    }, PAUSE_MS);
  }

  /** Ask for next edits at the editor's cursor now; the answer shows unless the text moved on. */
  async ask(editor: vscode.TextEditor): Promise<void> {
    const client = this.offered();
    if (client === undefined) {
      return;
    }
    clearTimeout(this.timer);
    this.asking?.cancel();
    const asking = new vscode.CancellationTokenSource();
    this.asking = asking;
    const document = editor.document;
    const at: DocumentAt = { uri: document.uri.toString(), version: document.version };
    const position = editor.selection.active;
    let items: NextEditItem[];
    try {
      const result = await client.sendRequest(
        "tactful/nextEdits",
        { textDocument: { uri: at.uri }, position: { line: position.line, character: position.character } },
        asking.token,
      );
      items = itemsOf(result);
    } catch (error) {
      if (!asking.token.isCancellationRequested) {
        this.log.warn(`next edits: ${error}`);
      }
      return;
    }
    const now = vscode.window.activeTextEditor;
    if (asking.token.isCancellationRequested || now !== editor) {
      return;
    }
    if (!stillCurrent(at, { uri: now.document.uri.toString(), version: now.document.version })) {
      return;
    }
    this.show(editor, at, items, 0);
  }

  private show(editor: vscode.TextEditor, at: DocumentAt, items: NextEditItem[], index: number): void {
    this.hide();
    const item = items[index];
    if (item === undefined) {
      return;
    }
    const target = vscode.Uri.parse(item.uri);
    const here = target.toString() === editor.document.uri.toString();
    const { start, end } = item.range;
    if (here && end.line >= editor.document.lineCount) {
      return;
    }
    let text: string;
    let line: number;
    if (here) {
      const lines = [];
      for (let row = start.line; row <= end.line; row++) {
        lines.push(editor.document.lineAt(row).text);
      }
      text = decoration(item, lines);
      line = start.line;
      editor.setDecorations(this.replaced, [new vscode.Range(start.line, start.character, end.line, end.character)]);
    } else {
      text = decoration(item, undefined, vscode.workspace.asRelativePath(target));
      line = editor.selection.active.line;
    }
    const endOfLine = editor.document.lineAt(line).range.end;
    editor.setDecorations(this.after, [
      {
        range: new vscode.Range(endOfLine, endOfLine),
        renderOptions: { after: { contentText: text } },
        hoverMessage: new vscode.MarkdownString().appendText(
          `tactful next edit: ${item.label}. Tab applies it, Escape dismisses it.`,
        ),
      },
    ]);
    this.shown = { editor, at, items, index };
    void vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, true);
  }

  /** Hide what shows (without telling the server). */
  hide(): void {
    const shown = this.shown;
    this.shown = undefined;
    if (shown !== undefined) {
      shown.editor.setDecorations(this.after, []);
      shown.editor.setDecorations(this.replaced, []);
      void vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, false);
    }
  }

  private async run(command: string, id: string): Promise<unknown> {
    const client = this.client();
    if (client?.state !== State.Running) {
      return undefined;
    }
    try {
      return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [id] });
    } catch (error) {
      this.log.warn(`${command}: ${error}`);
      return undefined;
    }
  }

  /** "tactful: Apply Next Edit": jump to the edit shown, apply it, report it, ask again. */
  async apply(): Promise<boolean> {
    const shown = this.shown;
    if (shown === undefined) {
      return false;
    }
    const item = shown.items[shown.index];
    this.hide();
    const target = vscode.Uri.parse(item.uri);
    const { start, end } = item.range;
    const edit = new vscode.WorkspaceEdit();
    edit.replace(target, new vscode.Range(start.line, start.character, end.line, end.character), item.newText);
    if (!(await vscode.workspace.applyEdit(edit))) {
      this.log.warn(`next edit ${item.id} could not be applied`);
      return false;
    }
    const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(target));
    const cursor = cursorAfter(item);
    const position = new vscode.Position(cursor.line, cursor.character);
    editor.selection = new vscode.Selection(position, position);
    editor.revealRange(new vscode.Range(position, position));
    await this.run("tactful.acceptSuggestion", item.id);
    // The next one, from where this one left the cursor.
    await this.ask(editor);
    return true;
  }

  /** "tactful: Dismiss Next Edit": report it turned down and show the next item, if any. */
  async dismiss(): Promise<boolean> {
    const shown = this.shown;
    if (shown === undefined) {
      return false;
    }
    const item = shown.items[shown.index];
    this.hide();
    await this.run("tactful.rejectSuggestion", item.id);
    const editor = vscode.window.activeTextEditor;
    if (editor === shown.editor && stillCurrent(shown.at, { uri: editor.document.uri.toString(), version: editor.document.version })) {
      this.show(editor, shown.at, shown.items, shown.index + 1);
    }
    return true;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.asking?.cancel();
    this.hide();
    this.after.dispose();
    this.replaced.dispose();
  }
}

class Tactful implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private server: Candidate | undefined;
  private state: ServerState = "starting";
  private serverStatus: ServerStatus | undefined;
  private readonly activity = new Activity();
  private readonly item: vscode.StatusBarItem;
  private readonly log: vscode.LogOutputChannel;
  private readonly settings: ServerSetting[];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly nextEdits: NextEditView;
  private python: string | undefined;
  private readonly verdicts = new VerdictRefresh(
    (uri) => this.refreshCodeActions(uri),
    (run, delay) => setTimeout(run, delay),
  );

  constructor(context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel("tactful", { log: true });
    this.item = vscode.window.createStatusBarItem("tactful.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "tactful";
    this.item.command = "tactful.menu";
    const properties = context.extension.packageJSON?.contributes?.configuration?.properties ?? {};
    this.settings = serverSettings(properties);
    this.nextEdits = new NextEditView(() => this.client, this.log);
    this.disposables.push(this.log, this.item, this.nextEdits);
    this.render();
    this.item.show();
  }

  /** The server's initializationOptions, as VS Code has them now. */
  private settingsNow(): SettingsTree {
    const config = vscode.workspace.getConfiguration("tactful");
    return clientSettings(this.settings, (key) => config.inspect(key), vscode.workspace.isTrusted);
  }

  /** The settings a workspace may change while the server runs. */
  private changeableNow(): SettingsTree {
    const config = vscode.workspace.getConfiguration("tactful");
    return changeableSettings(this.settings, (key) => config.inspect(key));
  }

  /** Whether a configuration change touches a setting the server takes only at start. */
  private affectsUserOnly(event: vscode.ConfigurationChangeEvent): boolean {
    return (
      event.affectsConfiguration("tactful.path") ||
      this.settings.some((s) => s.userOnly && event.affectsConfiguration(`tactful.${s.key}`))
    );
  }

  private render(): void {
    const config = vscode.workspace.getConfiguration("tactful");
    const view = statusView({
      state: this.state,
      engineSetting: config.get<string>("completion.engine", "auto"),
      filterSetting: config.get<boolean>("filter.enabled", true),
      trusted: vscode.workspace.isTrusted,
      server: this.serverStatus,
      running: this.activity.running,
    });
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.warning
      ? new vscode.ThemeColor("statusBarItem.warningBackground")
      : undefined;
  }

  private async pythonExecutable(): Promise<string | undefined> {
    const extension = vscode.extensions.getExtension<PythonEnvironmentApi>("ms-python.python");
    if (extension === undefined) {
      return undefined;
    }
    try {
      const api = extension.isActive ? extension.exports : await extension.activate();
      this.followPythonEnvironment(api);
      const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(active);
      this.python = resolved?.executable.uri?.fsPath;
      return this.python;
    } catch (error) {
      this.log.warn(`could not ask the Python extension for the selected environment: ${error}`);
      return undefined;
    }
  }

  private async locate(): Promise<Candidate | undefined> {
    return findServer({
      configured: vscode.workspace.getConfiguration("tactful").get<string>("path", ""),
      pythonExecutable: await this.pythonExecutable(),
      pathEnv: process.env.PATH,
      platform: process.platform,
      workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      trusted: vscode.workspace.isTrusted,
    });
  }

  async start(): Promise<void> {
    this.state = "starting";
    this.render();
    this.server = await this.locate();
    if (this.server === undefined) {
      this.state = "missing";
      this.render();
      const where = vscode.workspace.isTrusted
        ? ""
        : " (executables inside an untrusted workspace are never started)";
      const choice = await vscode.window.showErrorMessage(
        `tactful: no \`tactful\` executable found in the selected Python environment or on PATH${where}. ` +
          "Install it with `pip install tactful` or set `tactful.path`.",
        "Open Settings",
      );
      if (choice === "Open Settings") {
        await vscode.commands.executeCommand("workbench.action.openSettings", "tactful.path");
      }
      return;
    }
    this.log.info(`starting ${this.server.file} serve (from ${this.server.source})`);
    const executable: Executable = {
      command: this.server.file,
      args: ["serve"],
      options: { cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
      initializationOptions: this.settingsNow(),
      outputChannel: this.log,
      middleware: {
        handleWorkDoneProgress: (token, params, next) => {
          this.onProgress(token, params);
          next(token, params);
        },
        workspace: {
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) {
              return answers;
            }
            const tree = this.changeableNow();
            return params.items.map((item, index) => {
              const ours = configurationSection(item.section, tree);
              return ours === undefined ? answers[index] : ours;
            });
          },
        },
      },
    };
    const client = new LanguageClient("tactful", "tactful", executable, clientOptions);
    this.client = client;
    client.onDidChangeState((event) => {
      this.state = event.newState === State.Running ? "running" : event.newState === State.Starting ? "starting" : "stopped";
      if (this.state !== "running") {
        this.activity.clear();
      }
      this.render();
    });
    client.onNotification("tactful/status", (params: ServerStatus) => {
      this.serverStatus = params;
      this.render();
    });
    client.onNotification(VERDICTS_CHANGED, (params: unknown) => this.verdicts.changed(params));
    // The LLM answered in the background while the local answer showed: ask again where the
    // cursor still is, and VS Code shows the LLM's answer in its place.
    client.onNotification("tactful/inlineCompletionReady", (params: InlineCompletionReady) => {
      const editor = vscode.window.activeTextEditor;
      const at = editor && {
        uri: editor.document.uri.toString(),
        version: editor.document.version,
        line: editor.selection.active.line,
        character: editor.selection.active.character,
        caret: editor.selection.isEmpty,
      };
      if (shouldAskAgain(params, at)) {
        void vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
      }
    });
    try {
      await client.start();
      await client.sendNotification(SELECTED_PYTHON, selectedPython(this.python));
    } catch (error) {
      this.log.error(`the tactful server did not start: ${error}`);
      this.state = "stopped";
      this.render();
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.serverStatus = undefined;
    this.activity.clear();
    if (client !== undefined) {
      await client.dispose();
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private onProgress(
    token: string | number,
    params: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd,
  ): void {
    if (params.kind === "begin") {
      this.activity.begin(token, params.message ? `${params.title}: ${params.message}` : params.title);
    } else if (params.kind === "report") {
      this.activity.report(token, params.message);
    } else {
      this.activity.end(token);
    }
    this.render();
  }

  /** Send the settings a workspace may change again: the user changed them. */
  sendSettings(): void {
    if (this.client?.state !== State.Running) {
      return;
    }
    void this.client.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { tactful: this.changeableNow() },
    });
    this.render();
  }

  /** VS Code's workspace trust was granted: tell the server on its own channel. */
  sendTrust(): void {
    this.render();
    if (this.client?.state !== State.Running) {
      return;
    }
    void this.client.sendNotification(WORKSPACE_TRUSTED, { trusted: vscode.workspace.isTrusted });
  }

  async review(): Promise<void> {
    if (this.client?.state !== State.Running) {
      void vscode.window.showWarningMessage("tactful: the server is not running.");
      return;
    }
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "tactful: reviewing changes" },
      () => this.client!.sendRequest(ExecuteCommandRequest.type, { command: "tactful.reviewChanges", arguments: [] }),
    );
    await vscode.commands.executeCommand("workbench.actions.view.problems");
  }

  async stats(): Promise<void> {
    const server = this.server ?? (await this.locate());
    if (server === undefined) {
      void vscode.window.showErrorMessage("tactful: no `tactful` executable found; set `tactful.path`.");
      return;
    }
    const output = await new Promise<string>((resolve) => {
      execFile(
        server.file,
        ["stats", "--format", "text"],
        { cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, timeout: 30_000 },
        (error, stdout, stderr) => resolve(error && !stdout ? `tactful stats failed: ${stderr || error.message}` : stdout),
      );
    });
    const document = await vscode.workspace.openTextDocument({ content: output, language: "plaintext" });
    await vscode.window.showTextDocument(document, { preview: true });
  }

  async trust(): Promise<void> {
    if (vscode.workspace.isTrusted) {
      void vscode.window.showInformationMessage(
        "tactful: this workspace is trusted, so fixes are validated by running its tests in a sandbox.",
      );
      return;
    }
    // VS Code's own trust decides: granting it fires onDidGrantWorkspaceTrust, which sends it on.
    await vscode.commands.executeCommand("workbench.trust.manage");
  }

  async menu(): Promise<void> {
    const choices: (vscode.QuickPickItem & { command: string })[] = [
      { label: "$(checklist) Review changes", command: "tactful.review" },
      { label: "$(graph) Show acceptance statistics", command: "tactful.stats" },
      { label: "$(shield) Trust this workspace", command: "tactful.trust" },
      { label: "$(debug-restart) Restart the server", command: "tactful.restart" },
      { label: "$(output) Show the log", command: "tactful.showLog" },
    ];
    const picked = await vscode.window.showQuickPick(choices, { placeHolder: "tactful" });
    if (picked !== undefined) {
      await vscode.commands.executeCommand(picked.command);
    }
  }

  register(): void {
    const command = (name: string, run: () => unknown) =>
      this.disposables.push(vscode.commands.registerCommand(name, run));
    command("tactful.review", () => this.review());
    command("tactful.stats", () => this.stats());
    command("tactful.trust", () => this.trust());
    command("tactful.restart", () => this.restart());
    command("tactful.showLog", () => this.log.show());
    command("tactful.menu", () => this.menu());
    command("tactful.applyNextEdit", () => this.nextEdits.apply());
    command("tactful.dismissNextEdit", () => this.nextEdits.dismiss());
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((event) => this.nextEdits.changed(event)),
      vscode.window.onDidChangeActiveTextEditor(() => this.nextEdits.hide()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.sendTrust()),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (this.affectsUserOnly(event)) {
          // The server takes these from initializationOptions only: start it again with them.
          void this.restart();
        } else if (event.affectsConfiguration("tactful")) {
          this.sendSettings();
        }
      }),
    );
  }

  private followingPython = false;

  /**
   * Another Python environment was selected: restart when the server itself came from the
   * environment (its `tactful` executable changes), else tell the server, whose validation
   * runs the project's tests with that interpreter.
   */
  private followPythonEnvironment(api: PythonEnvironmentApi): void {
    if (this.followingPython) {
      return;
    }
    this.followingPython = true;
    this.disposables.push(
      api.environments.onDidChangeActiveEnvironmentPath(async () => {
        if (this.server?.source === "Python environment") {
          void this.restart();
          return;
        }
        const python = await this.pythonExecutable();
        if (this.client?.state === State.Running) {
          void this.client.sendNotification(SELECTED_PYTHON, selectedPython(python));
        }
      }),
    );
  }

  /**
   * New verdicts for a document's fixes. VS Code computes its light bulb again when the set of
   * code action providers changes, so a provider that offers nothing comes and goes for the
   * documents on screen.
   */
  private refreshCodeActions(uri: string): void {
    const shown = vscode.window.visibleTextEditors.some((editor) => editor.document.uri.toString() === uri);
    if (!shown) {
      return;
    }
    const nudge = vscode.languages.registerCodeActionsProvider(
      { scheme: "file", pattern: vscode.Uri.parse(uri).fsPath },
      { provideCodeActions: () => [] },
    );
    nudge.dispose();
  }

  dispose(): void {
    void this.stop();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }
}

let tactful: Tactful | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  tactful = new Tactful(context);
  context.subscriptions.push(tactful);
  tactful.register();
  await tactful.start();
}

export async function deactivate(): Promise<void> {
  await tactful?.stop();
  tactful = undefined;
}

/**
 * What the status bar item says: the engine in use, whether the acceptance filter is on, trust,
 * and the long work (test validation, indexing) the server is doing right now.
 *
 * Boundary: pure state and text; never imports `vscode`. Long work is reported by the server
 * with `$/progress`; the engine and filter come from the optional `tactful/status` notification
 * and, until the server sends one, from the settings the user chose.
 */

/** The configured LLM as the server sees it (`llm` in `tactful/status`). */
export interface LlmStatus {
  model?: string;
  /** `starting`, `ready`, `down` (the provider fails; the local engine answers) or `failed`. */
  state?: string;
  /** What went wrong, as `tactful doctor` labels it (`connection refused`, `timeout`, ...). */
  label?: string | null;
  /** The label, the HTTP status and the provider's words. */
  problem?: string | null;
  /** Seconds until a provider that is down is asked again. */
  retryInS?: number;
}

/** Params of the server's `tactful/status` notification (every field optional). */
export interface ServerStatus {
  /** The engine answering now: `local` or `llm`. */
  engine?: string;
  /** The LLM model in use, when the engine is `llm`. */
  model?: string;
  /** The configured LLM, or null when none is configured (or `completion.engine` is `local`). */
  llm?: LlmStatus | null;
  filter?: { enabled?: boolean; threshold?: number };
  trusted?: boolean;
  validation?: { enabled?: boolean };
}

export type ServerState = "starting" | "running" | "stopped" | "missing";

export interface StatusInput {
  state: ServerState;
  /** `completion.engine` as set (`auto`, `local`, `llm`). */
  engineSetting: string;
  filterSetting: boolean;
  trusted: boolean;
  server?: ServerStatus;
  /** Titles of the long tasks running now, oldest first. */
  running: readonly string[];
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** True when the item should look like a warning (server missing or stopped). */
  warning: boolean;
}

/** Long tasks in flight, keyed by their `$/progress` token. */
export class Activity {
  private readonly tasks = new Map<string | number, string>();

  begin(token: string | number, title: string): void {
    this.tasks.set(token, title);
  }

  report(token: string | number, message: string | undefined): void {
    const title = this.tasks.get(token);
    if (title !== undefined && message) {
      this.tasks.set(token, `${title.split(": ")[0]}: ${message}`);
    }
  }

  end(token: string | number): void {
    this.tasks.delete(token);
  }

  clear(): void {
    this.tasks.clear();
  }

  get running(): string[] {
    return [...this.tasks.values()];
  }
}

export function statusView(input: StatusInput): StatusView {
  if (input.state === "missing") {
    return {
      text: "$(error) tactful",
      tooltip: "tactful is not installed where this extension looks: set `tactful.path`.",
      warning: true,
    };
  }
  if (input.state === "stopped") {
    return { text: "$(debug-stop) tactful", tooltip: "The tactful server is stopped.", warning: true };
  }
  if (input.state === "starting") {
    return { text: "$(loading~spin) tactful", tooltip: "The tactful server is starting.", warning: false };
  }
  const server = input.server ?? {};
  const engine = server.engine ?? input.engineSetting;
  const filterOn = server.filter?.enabled ?? input.filterSetting;
  const trusted = server.trusted ?? input.trusted;
  const busy = input.running.length > 0;
  const llm = server.llm ?? undefined;
  const llmDown = llm?.state === "down" || llm?.state === "failed";
  const icon = busy ? "$(sync~spin)" : llmDown ? "$(warning)" : "$(sparkle)";
  const llmNote = llmDown ? ` · LLM ${llm?.state}` : "";
  const text = `${icon} tactful: ${engine}${llmNote}${filterOn ? "" : " · unfiltered"}`;
  const lines = [
    `Engine: ${engine}${server.model ? ` (${server.model})` : ""}`,
    ...(llm ? [llmLine(llm)] : []),
    filterOn
      ? `Filter: on${server.filter?.threshold !== undefined ? ` (threshold ${server.filter.threshold})` : ""}`
      : "Filter: off, every suggestion is shown",
    trusted
      ? server.validation?.enabled === false
        ? "Validation: off"
        : "Validation: fixes are checked by running the tests"
      : "Validation: off until the workspace is trusted",
    ...input.running.map((title) => `Running: ${title}`),
  ];
  return { text, tooltip: lines.join("\n"), warning: llmDown };
}

/** The tooltip's line about the configured LLM: what it does now, and why not when it fails. */
function llmLine(llm: LlmStatus): string {
  const model = llm.model ?? "the LLM";
  switch (llm.state) {
    case "ready":
      return `LLM: ${model} answers`;
    case "starting":
      return `LLM: ${model} is starting; the local engine answers meanwhile`;
    case "down": {
      const retry = llm.retryInS !== undefined ? `, asked again in ${Math.round(llm.retryInS)} s` : "";
      return `LLM: ${model} does not answer (${llm.problem ?? llm.label ?? "unknown"}); the local engine answers${retry}`;
    }
    case "failed":
      return `LLM: ${model} could not start (${llm.problem ?? "see the log"}); the local engine answers`;
    default:
      return `LLM: ${model}`;
  }
}

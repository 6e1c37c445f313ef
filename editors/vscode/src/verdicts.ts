/**
 * Verdicts and the project's interpreter, between the server and VS Code.
 *
 * Boundary: plain logic; never imports `vscode`, so node's test runner can exercise it.
 *
 * - `tactful/verdictsChanged {uri, version}` (server → client): the tests gave a verdict on a fix
 *   of that document. Its code actions, whose titles carry the verdicts, are worth listing
 *   again; `VerdictRefresh` turns a burst of these into one refresh per document.
 * - `tactful/selectedPython {python}` (client → server): the interpreter selected in the Python
 *   extension, which validation uses unless `validation.command` or `validation.python` names one.
 */

export const VERDICTS_CHANGED = "tactful/verdictsChanged";
export const SELECTED_PYTHON = "tactful/selectedPython";

export interface VerdictsChanged {
  uri: string;
  version?: number;
}

export type Schedule = (run: () => void, delayMs: number) => unknown;

/** One refresh per document for the verdicts that arrive within `delayMs` of each other. */
export class VerdictRefresh {
  private readonly pending = new Set<string>();

  constructor(
    private readonly refresh: (uri: string) => void,
    private readonly schedule: Schedule,
    private readonly delayMs = 150,
  ) {}

  changed(params: unknown): void {
    const uri = typeof params === "object" && params !== null ? (params as VerdictsChanged).uri : undefined;
    if (typeof uri !== "string" || uri === "" || this.pending.has(uri)) {
      return;
    }
    this.pending.add(uri);
    this.schedule(() => {
      this.pending.delete(uri);
      this.refresh(uri);
    }, this.delayMs);
  }
}

/** What the extension tells the server about the Python extension's selection. */
export function selectedPython(executable: string | undefined): { python: string | null } {
  return { python: executable && executable.trim() !== "" ? executable : null };
}

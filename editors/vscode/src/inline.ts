/**
 * Whether to ask VS Code for inline suggestions again when the server says an answer it worked
 * on in the background is ready (`tactful/inlineCompletionReady`): LSP 3.18 has no refresh for
 * inline completions, so the server tells the extension, and the extension runs VS Code's
 * "trigger inline suggestion" action while the editor is still at that moment.
 *
 * Boundary: pure decision; never imports `vscode`.
 */

/** Params of `tactful/inlineCompletionReady`. */
export interface InlineCompletionReady {
  textDocument: { uri: string; version: number };
  position: { line: number; character: number };
}

/** The active editor as far as the decision needs it (positions in UTF-16, as VS Code's). */
export interface EditorAt {
  uri: string;
  version: number;
  line: number;
  character: number;
  /** True when nothing is selected (the cursor is a caret). */
  caret: boolean;
}

/** True when the editor is still at the version and cursor the answer was computed for. */
export function shouldAskAgain(ready: InlineCompletionReady, editor: EditorAt | undefined): boolean {
  if (editor === undefined || !editor.caret) {
    return false;
  }
  return (
    editor.uri === ready.textDocument.uri &&
    editor.version === ready.textDocument.version &&
    editor.line === ready.position.line &&
    editor.character === ready.position.character
  );
}

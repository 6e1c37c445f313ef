/**
 * Next edits (`tactful/nextEdits`): what the extension shows of the first item the server
 * answers, where applying it leaves the cursor, and when an answer is too late to show.
 *
 * After a pause in editing the extension asks the server for the follow-up edits of the edits
 * just made, decorates the target line with the line as the edit leaves it and the server's
 * label, and sets the context key `tactful.nextEditShown`, under which Tab runs
 * "tactful: Apply Next Edit" (and Escape "tactful: Dismiss Next Edit").
 *
 * Boundary: pure decisions; never imports `vscode` (extension.ts does the talking).
 */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** One item of a `tactful/nextEdits` answer. */
export interface NextEditItem {
  id: string;
  uri: string;
  range: Range;
  newText: string;
  label: string;
}

/** The context key that says a next edit shows (the keybindings' `when`). */
export const SHOWN_CONTEXT = "tactful.nextEditShown";

/** The pause after the last change before asking, in milliseconds. */
export const PAUSE_MS = 500;

const MARK = "»";

/** The items of an answer that have what an item needs (others are left out). */
export function itemsOf(result: unknown): NextEditItem[] {
  const items = (result as { items?: unknown } | null | undefined)?.items;
  if (!Array.isArray(items)) {
    return [];
  }
  return items.filter(
    (item): item is NextEditItem =>
      typeof item === "object" &&
      item !== null &&
      typeof item.id === "string" &&
      typeof item.uri === "string" &&
      typeof item.newText === "string" &&
      typeof item.range?.start?.line === "number" &&
      typeof item.range?.end?.line === "number",
  );
}

/** What the line(s) an item changes read after it: `lines` are the lines it touches now. */
export function linesAfter(item: NextEditItem, lines: string[]): string[] {
  const { start, end } = item.range;
  const text = item.newText;
  const wholeLines =
    start.character === 0 && end.character === 0 && end.line > start.line && (text === "" || text.endsWith("\n"));
  if (wholeLines) {
    return text === "" ? [] : text.slice(0, -1).split("\n");
  }
  const first = lines[0] ?? "";
  const last = lines[lines.length - 1] ?? "";
  return (first.slice(0, start.character) + text + last.slice(end.character)).split("\n");
}

/**
 * The text shown at the end of the target line: the line as the edit leaves it and the label;
 * for an edit in another file, that file's name and line instead (shown at the cursor).
 */
export function decoration(item: NextEditItem, lines: string[] | undefined, otherFile?: string): string {
  const label = item.label ? `  ${item.label}` : "";
  if (otherFile !== undefined || lines === undefined) {
    return `${MARK} ${otherFile ?? item.uri}:${item.range.start.line + 1}${label}`;
  }
  const after = linesAfter(item, lines);
  if (after.length === 0) {
    const count = item.range.end.line - item.range.start.line;
    return `${MARK} ${count === 1 ? "delete this line" : `delete ${count} lines`}${label}`;
  }
  const more = after.length > 1 ? ` (+${after.length - 1} lines)` : "";
  return `${MARK} ${after[0].trim()}${more}${label}`;
}

/** Where the cursor goes once the item is applied: the end of the text it inserts. */
export function cursorAfter(item: NextEditItem): Position {
  const inserted = item.newText.split("\n");
  const line = item.range.start.line + inserted.length - 1;
  const character = (inserted.length === 1 ? item.range.start.character : 0) + inserted[inserted.length - 1].length;
  return { line, character };
}

/** A document as far as freshness goes. */
export interface DocumentAt {
  uri: string;
  version: number;
}

/** True when the answer asked for `asked` may still be shown in `now` (nothing changed since). */
export function stillCurrent(asked: DocumentAt, now: DocumentAt | undefined): boolean {
  return now !== undefined && now.uri === asked.uri && now.version === asked.version;
}

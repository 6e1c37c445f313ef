import * as assert from "node:assert/strict";
import { test } from "node:test";
import { shouldAskAgain, type EditorAt, type InlineCompletionReady } from "../inline";

const ready: InlineCompletionReady = {
  textDocument: { uri: "file:///p/m.py", version: 7 },
  position: { line: 4, character: 14 },
};
const there: EditorAt = { uri: "file:///p/m.py", version: 7, line: 4, character: 14, caret: true };

test("asks again while the editor is at the moment the answer is for", () => {
  assert.equal(shouldAskAgain(ready, there), true);
});

test("does not ask once the developer typed on, moved, selected or left the file", () => {
  assert.equal(shouldAskAgain(ready, { ...there, version: 8 }), false);
  assert.equal(shouldAskAgain(ready, { ...there, character: 15 }), false);
  assert.equal(shouldAskAgain(ready, { ...there, line: 5 }), false);
  assert.equal(shouldAskAgain(ready, { ...there, caret: false }), false);
  assert.equal(shouldAskAgain(ready, { ...there, uri: "file:///p/other.py" }), false);
  assert.equal(shouldAskAgain(ready, undefined), false);
});

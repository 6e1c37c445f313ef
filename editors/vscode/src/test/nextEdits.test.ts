import * as assert from "node:assert/strict";
import { test } from "node:test";
import { cursorAfter, decoration, itemsOf, linesAfter, stillCurrent, type NextEditItem } from "../nextEdits";

const repeat: NextEditItem = {
  id: "3f2a9c0d1e4b5a67",
  uri: "file:///p/mod.py",
  range: { start: { line: 3, character: 7 }, end: { line: 3, character: 26 } },
  newText: "k in defaults",
  label: "`d.has_key(k)` → `k in d` (1 more)",
};

test("the answer's items are kept when they have what an item needs", () => {
  assert.deepEqual(itemsOf({ items: [repeat, { id: 3 }, null] }), [repeat]);
  assert.deepEqual(itemsOf({ items: "no" }), []);
  assert.deepEqual(itemsOf(null), []);
});

test("the decoration shows the line as the edit leaves it, then the label", () => {
  assert.equal(
    decoration(repeat, ["    if defaults.has_key(k):"]),
    "» if k in defaults:  `d.has_key(k)` → `k in d` (1 more)",
  );
});

test("whole lines deleted or added say so", () => {
  const deleted: NextEditItem = {
    ...repeat,
    range: { start: { line: 2, character: 0 }, end: { line: 4, character: 0 } },
    newText: "",
    label: "",
  };
  assert.deepEqual(linesAfter(deleted, ["a", "b", "c"]), []);
  assert.equal(decoration(deleted, ["a", "b", "c"]), "» delete 2 lines");
  const added: NextEditItem = { ...repeat, range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, newText: "x = 1\ny = 2\n" };
  assert.deepEqual(linesAfter(added, ["z = 3"]), ["x = 1", "y = 2", "z = 3"]);
  assert.match(decoration(added, ["z = 3"]), /^» x = 1 \(\+2 lines\)/);
});

test("an edit in another file shows its file and line", () => {
  const other: NextEditItem = {
    ...repeat,
    uri: "file:///p/app.py",
    range: { start: { line: 4, character: 21 }, end: { line: 4, character: 24 } },
    newText: "",
    label: "remove `retries` in the call to `fetch`",
  };
  assert.equal(decoration(other, undefined, "app.py"), "» app.py:5  remove `retries` in the call to `fetch`");
});

test("the cursor goes to the end of what the edit inserts", () => {
  assert.deepEqual(cursorAfter(repeat), { line: 3, character: 20 });
  assert.deepEqual(cursorAfter({ ...repeat, newText: "a\nbc" }), { line: 4, character: 2 });
});

test("an answer is shown only while the document is at the version it was asked for", () => {
  const at = { uri: "file:///p/mod.py", version: 4 };
  assert.equal(stillCurrent(at, { ...at }), true);
  assert.equal(stillCurrent(at, { ...at, version: 5 }), false);
  assert.equal(stillCurrent(at, { ...at, uri: "file:///p/other.py" }), false);
  assert.equal(stillCurrent(at, undefined), false);
});

import * as assert from "node:assert/strict";
import { test } from "node:test";
import { selectedPython, VerdictRefresh } from "../verdicts";

test("a burst of verdicts for one document refreshes it once", () => {
  const refreshed: string[] = [];
  const scheduled: (() => void)[] = [];
  const verdicts = new VerdictRefresh((uri) => refreshed.push(uri), (run) => scheduled.push(run));
  verdicts.changed({ uri: "file:///p/a.py", version: 3 });
  verdicts.changed({ uri: "file:///p/a.py", version: 3 });
  verdicts.changed({ uri: "file:///p/b.py", version: 1 });
  assert.equal(scheduled.length, 2);
  for (const run of scheduled) {
    run();
  }
  assert.deepEqual(refreshed, ["file:///p/a.py", "file:///p/b.py"]);
  // a later verdict for the same document refreshes it again
  verdicts.changed({ uri: "file:///p/a.py", version: 4 });
  scheduled[2]();
  assert.deepEqual(refreshed, ["file:///p/a.py", "file:///p/b.py", "file:///p/a.py"]);
});

test("malformed notifications refresh nothing", () => {
  const refreshed: string[] = [];
  const verdicts = new VerdictRefresh((uri) => refreshed.push(uri), (run) => run());
  for (const params of [undefined, null, 3, {}, { uri: 7 }, { uri: "" }]) {
    verdicts.changed(params);
  }
  assert.deepEqual(refreshed, []);
});

test("the selected interpreter is sent as a path or null", () => {
  assert.deepEqual(selectedPython("/p/.venv/bin/python"), { python: "/p/.venv/bin/python" });
  assert.deepEqual(selectedPython(undefined), { python: null });
  assert.deepEqual(selectedPython("  "), { python: null });
});

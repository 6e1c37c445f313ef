import * as assert from "node:assert/strict";
import { test } from "node:test";
import { Activity, statusView, type StatusInput } from "../status";

const running: StatusInput = {
  state: "running",
  engineSetting: "auto",
  filterSetting: true,
  trusted: true,
  running: [],
};

test("the item names the engine from settings until the server says which one answers", () => {
  assert.equal(statusView(running).text, "$(sparkle) tactful: auto");
  const view = statusView({ ...running, server: { engine: "llm", model: "ollama/qwen2.5-coder:1.5b" } });
  assert.equal(view.text, "$(sparkle) tactful: llm");
  assert.match(view.tooltip, /Engine: llm \(ollama\/qwen2.5-coder:1.5b\)/);
});

test("a disabled filter and an untrusted workspace are visible", () => {
  const view = statusView({ ...running, filterSetting: false, trusted: false });
  assert.equal(view.text, "$(sparkle) tactful: auto · unfiltered");
  assert.match(view.tooltip, /Filter: off/);
  assert.match(view.tooltip, /Validation: off until the workspace is trusted/);
  assert.match(statusView({ ...running, server: { filter: { enabled: true, threshold: 0.3 } } }).tooltip, /threshold 0.3/);
});

test("long work spins the icon and is listed in the tooltip", () => {
  const activity = new Activity();
  activity.begin("v1", "Validating fix");
  activity.report("v1", "3/14 tests");
  activity.begin("i1", "Indexing");
  assert.deepEqual(activity.running, ["Validating fix: 3/14 tests", "Indexing"]);
  const view = statusView({ ...running, running: activity.running });
  assert.equal(view.text, "$(sync~spin) tactful: auto");
  assert.match(view.tooltip, /Running: Validating fix: 3\/14 tests/);
  activity.end("v1");
  activity.end("i1");
  assert.equal(statusView({ ...running, running: activity.running }).text, "$(sparkle) tactful: auto");
  activity.report("gone", "ignored");
  assert.deepEqual(activity.running, []);
});

test("a missing or stopped server is shown as a warning", () => {
  assert.equal(statusView({ ...running, state: "missing" }).warning, true);
  assert.equal(statusView({ ...running, state: "stopped" }).warning, true);
  assert.equal(statusView({ ...running, state: "starting" }).warning, false);
});

test("an LLM that does not answer is a warning that names what went wrong", () => {
  const view = statusView({
    ...running,
    server: {
      engine: "local",
      llm: {
        model: "ollama/qwen2.5-coder:1.5b",
        state: "down",
        label: "connection refused",
        problem: "connection refused: [Errno 111] Connect call failed",
        retryInS: 40,
      },
    },
  });
  assert.equal(view.text, "$(warning) tactful: local · LLM down");
  assert.equal(view.warning, true);
  assert.match(view.tooltip, /LLM: ollama\/qwen2.5-coder:1.5b does not answer \(connection refused: .*\); the local engine answers, asked again in 40 s/);
  const back = statusView({ ...running, server: { engine: "llm", llm: { model: "m", state: "ready" } } });
  assert.equal(back.text, "$(sparkle) tactful: llm");
  assert.equal(back.warning, false);
  assert.match(back.tooltip, /LLM: m answers/);
  const starting = statusView({ ...running, server: { engine: "local", llm: { model: "m", state: "starting" } } });
  assert.equal(starting.text, "$(sparkle) tactful: local");
  assert.match(starting.tooltip, /starting; the local engine answers meanwhile/);
});

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  changeableSettings,
  clientSettings,
  configurationSection,
  explicitValue,
  serverSettings,
  type Inspected,
} from "../settings";

const manifest = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"),
);
const contributed = serverSettings(manifest.contributes.configuration.properties);

test("the manifest's server settings exclude the extension's own and the editor-sent trust", () => {
  const keys = contributed.map((s) => s.key);
  assert.ok(keys.includes("completion.engine"));
  assert.ok(keys.includes("validation.command"));
  assert.ok(!keys.includes("path"));
  assert.ok(!keys.includes("trace.server"));
  assert.ok(!keys.includes("workspace.trusted"));
});

test("settings that decide what runs, where code goes or how safe a run is are user-only", () => {
  const userOnly = new Set(contributed.filter((s) => s.userOnly).map((s) => s.key));
  for (const key of [
    "llm.model",
    "llm.apiBase",
    "validation.command",
    "validation.sandbox",
    "validation.timeoutS",
    "feedback.store",
    "feedback.storeCode",
  ]) {
    assert.ok(userOnly.has(key), key);
  }
  assert.ok(!userOnly.has("completion.engine"));
  const restricted = new Set(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations);
  for (const key of userOnly) {
    assert.ok(restricted.has(`tactful.${key}`), key);
  }
});

test("configuration changes carry neither user-only settings nor trust", () => {
  const inspected: Record<string, Inspected> = {
    "completion.engine": { workspaceValue: "local" },
    "llm.apiBase": { globalValue: "http://mine.example", workspaceValue: "http://attacker.example" },
    "validation.sandbox": { workspaceValue: "none" },
    "feedback.store": { globalValue: "/home/me/feedback.sqlite3" },
  };
  assert.deepEqual(changeableSettings(contributed, (key) => inspected[key]), {
    completion: { engine: "local" },
  });
});

test("only values a user set are sent, nested by section", () => {
  const inspected: Record<string, Inspected> = {
    "completion.engine": { globalValue: "local" },
    "completion.maxLines": { globalValue: 4, workspaceValue: 2 },
    "filter.enabled": {},
    "llm.model": { globalValue: "openai/gpt-4o-mini", workspaceValue: "evil/model" },
    "llm.apiBase": { workspaceValue: "http://attacker.example" },
  };
  const tree = clientSettings(contributed, (key) => inspected[key], false);
  assert.deepEqual(tree, {
    completion: { engine: "local", maxLines: 2 },
    llm: { model: "openai/gpt-4o-mini" },
    workspace: { trusted: false },
  });
});

test("the most specific scope wins for ordinary settings", () => {
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }, false), 3);
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2 }, false), 2);
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2 }, true), 1);
  assert.equal(explicitValue({}, false), undefined);
  assert.equal(explicitValue(undefined, false), undefined);
  // An explicit null (unset) is a choice and is sent.
  assert.equal(explicitValue({ globalValue: null }, false), null);
});

test("workspace trust is always sent", () => {
  assert.deepEqual(clientSettings([], () => undefined, true), { workspace: { trusted: true } });
});

test("workspace/configuration answers cover tactful's sections only", () => {
  const tree = { completion: { engine: "llm" }, workspace: { trusted: true } };
  assert.deepEqual(configurationSection("tactful", tree), tree);
  assert.deepEqual(configurationSection("tactful.completion", tree), { engine: "llm" });
  assert.equal(configurationSection("tactful.completion.engine", tree), "llm");
  assert.equal(configurationSection("tactful.llm", tree), null);
  assert.equal(configurationSection("tactful.llm.model", tree), null);
  assert.equal(configurationSection("python", tree), undefined);
  assert.equal(configurationSection(undefined, tree), undefined);
});

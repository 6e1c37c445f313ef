import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { candidates, expandConfigured, findServer, insideFolders, type Lookup } from "../serverPath";

function lookup(overrides: Partial<Lookup>): Lookup {
  return { platform: "linux", workspaceFolders: ["/work/project"], trusted: true, home: "/home/ada", ...overrides };
}

test("a configured path is expanded from ~, ${workspaceFolder} and relative forms", () => {
  assert.equal(expandConfigured("~/bin/tactful", lookup({})), "/home/ada/bin/tactful");
  assert.equal(
    expandConfigured("${workspaceFolder}/.venv/bin/tactful", lookup({})),
    "/work/project/.venv/bin/tactful",
  );
  assert.equal(expandConfigured("tools/tactful", lookup({})), "/work/project/tools/tactful");
  assert.equal(expandConfigured(" /opt/tactful ", lookup({})), "/opt/tactful");
});

test("candidates come in order: setting, Python environment, PATH", () => {
  const found = candidates(
    lookup({ configured: "/opt/t/tactful", pythonExecutable: "/envs/a/bin/python3", pathEnv: "/usr/bin::/bin" }),
  );
  assert.deepEqual(
    found.map((c) => [c.file, c.source]),
    [
      ["/opt/t/tactful", "setting tactful.path"],
      ["/envs/a/bin/tactful", "Python environment"],
      ["/usr/bin/tactful", "PATH"],
      ["/bin/tactful", "PATH"],
    ],
  );
});

test("Windows looks for tactful.exe beside the interpreter and in Scripts", () => {
  const found = candidates(
    lookup({ platform: "win32", workspaceFolders: ["C:\\p"], pythonExecutable: "C:\\envs\\a\\python.exe", pathEnv: "" }),
  );
  const files = found.map((c) => c.file);
  assert.ok(files.includes("C:\\envs\\a\\tactful.exe"));
  assert.ok(files.includes("C:\\envs\\a\\Scripts\\tactful.exe"));
});

test("an untrusted workspace never starts an executable that lies inside it", () => {
  const found = candidates(
    lookup({
      trusted: false,
      configured: "${workspaceFolder}/.venv/bin/tactful",
      pythonExecutable: "/work/project/.venv/bin/python",
      pathEnv: "/work/project/bin:/usr/local/bin",
    }),
  );
  assert.deepEqual(found.map((c) => c.file), ["/usr/local/bin/tactful"]);
  assert.ok(insideFolders("/work/project/x", ["/work/project"], "linux"));
  assert.ok(!insideFolders("/work/project-other/x", ["/work/project"], "linux"));
});

test("findServer returns the first candidate that is an executable file", (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tactful-path-"));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const env = path.join(root, "env", "bin");
  const onPath = path.join(root, "path");
  fs.mkdirSync(env, { recursive: true });
  fs.mkdirSync(onPath);
  // Not executable: skipped.
  fs.writeFileSync(path.join(env, "tactful"), "#!/bin/sh\n", { mode: 0o644 });
  fs.writeFileSync(path.join(onPath, "tactful"), "#!/bin/sh\n", { mode: 0o755 });
  const options = lookup({
    workspaceFolders: [path.join(root, "ws")],
    pythonExecutable: path.join(env, "python"),
    pathEnv: onPath,
  });
  assert.deepEqual(findServer(options), { file: path.join(onPath, "tactful"), source: "PATH" });
  fs.chmodSync(path.join(env, "tactful"), 0o755);
  assert.equal(findServer(options)?.source, "Python environment");
  assert.equal(findServer({ ...options, pythonExecutable: undefined, pathEnv: "" }), undefined);
});

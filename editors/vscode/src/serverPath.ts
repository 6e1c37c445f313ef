/**
 * Where the `tactful` executable is: the configured path, the selected Python environment, then
 * `PATH`.
 *
 * Boundary: path arithmetic and `fs` checks only; never imports `vscode`. A cloned repository can
 * ship its own `.venv/bin/tactful`, so in an untrusted workspace nothing inside the workspace
 * folders is ever a candidate: starting it would run the repository's code.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Candidate {
  /** Absolute path of a possible executable. */
  file: string;
  /** Where the candidate came from, for messages: `setting tactful.path`, `Python environment`, `PATH`. */
  source: string;
}

export interface Lookup {
  /** `tactful.path` as the user wrote it; empty or undefined when unset. */
  configured?: string;
  /** The interpreter of the Python environment selected in VS Code, when known. */
  pythonExecutable?: string;
  /** The `PATH` environment variable. */
  pathEnv?: string;
  platform: NodeJS.Platform;
  workspaceFolders: readonly string[];
  trusted: boolean;
  home?: string;
}

function executableNames(platform: NodeJS.Platform): string[] {
  return platform === "win32" ? ["tactful.exe", "tactful.cmd", "tactful"] : ["tactful"];
}

function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === "win32" ? path.win32 : path.posix;
}

/** Expand `~` and `${workspaceFolder}`; a relative path is taken from the first folder. */
export function expandConfigured(configured: string, lookup: Lookup): string {
  const api = pathApi(lookup.platform);
  const folder = lookup.workspaceFolders[0];
  let expanded = configured.trim();
  if (folder !== undefined) {
    expanded = expanded.split("${workspaceFolder}").join(folder);
  }
  if (expanded === "~" || expanded.startsWith("~/") || expanded.startsWith("~\\")) {
    expanded = api.join(lookup.home ?? os.homedir(), expanded.slice(1));
  }
  if (!api.isAbsolute(expanded) && folder !== undefined) {
    expanded = api.join(folder, expanded);
  }
  return api.normalize(expanded);
}

/** True when `file` lies inside one of the folders. */
export function insideFolders(
  file: string,
  folders: readonly string[],
  platform: NodeJS.Platform,
): boolean {
  const api = pathApi(platform);
  return folders.some((folder) => {
    const relative = api.relative(folder, file);
    return relative === "" || (!relative.startsWith("..") && !api.isAbsolute(relative));
  });
}

/** Every place the executable may be, best first. */
export function candidates(lookup: Lookup): Candidate[] {
  const api = pathApi(lookup.platform);
  const names = executableNames(lookup.platform);
  const found: Candidate[] = [];
  if (lookup.configured && lookup.configured.trim() !== "") {
    found.push({ file: expandConfigured(lookup.configured, lookup), source: "setting tactful.path" });
  }
  if (lookup.pythonExecutable) {
    const bin = api.dirname(lookup.pythonExecutable);
    // Windows environments keep scripts in `Scripts`, beside or below the interpreter.
    const dirs = lookup.platform === "win32" ? [bin, api.join(bin, "Scripts")] : [bin];
    for (const dir of dirs) {
      for (const name of names) {
        found.push({ file: api.join(dir, name), source: "Python environment" });
      }
    }
  }
  const separator = lookup.platform === "win32" ? ";" : ":";
  for (const dir of (lookup.pathEnv ?? "").split(separator)) {
    if (dir === "") {
      continue;
    }
    for (const name of names) {
      found.push({ file: api.join(dir, name), source: "PATH" });
    }
  }
  if (lookup.trusted) {
    return found;
  }
  return found.filter((c) => !insideFolders(c.file, lookup.workspaceFolders, lookup.platform));
}

export function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) {
      return false;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first candidate that is an executable file. */
export function findServer(
  lookup: Lookup,
  isExecutable: (file: string) => boolean = isExecutableFile,
): Candidate | undefined {
  return candidates(lookup).find((c) => isExecutable(c.file));
}

/**
 * Which VS Code settings the extension sends to the server, and in what shape.
 *
 * Boundary: pure functions over plain values; never imports `vscode`, so node's test runner can
 * exercise it. Only settings a user actually set are sent: the server layers its defaults, the
 * user's `config.toml` and the workspace's `[tool.tactful]` below what the editor sends, and
 * sending VS Code's defaults would silently override those files.
 */

/** What `WorkspaceConfiguration.inspect` reports for one key (the parts we read). */
export interface Inspected {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** One server setting contributed in package.json. */
export interface ServerSetting {
  /** Wire key without the `tactful.` prefix, e.g. `completion.engine`. */
  key: string;
  /** Taken from user settings only (scope `machine`): it decides what runs or where code goes. */
  userOnly: boolean;
}

/** Settings of the extension itself, never sent to the server. */
export const EXTENSION_OWN = new Set(["tactful.path", "tactful.trace.server"]);

interface ContributedProperty {
  scope?: string;
}

/** The server settings among the extension's contributed configuration properties. */
export function serverSettings(properties: Record<string, ContributedProperty>): ServerSetting[] {
  return Object.entries(properties)
    .filter(([name]) => name.startsWith("tactful.") && !EXTENSION_OWN.has(name))
    .map(([name, property]) => ({
      key: name.slice("tactful.".length),
      userOnly: property.scope === "machine" || property.scope === "application",
    }));
}

export type SettingsTree = { [name: string]: unknown };

/** The value a user set for a key, most specific first; undefined when nobody set it. */
export function explicitValue(inspected: Inspected | undefined, userOnly: boolean): unknown {
  if (inspected === undefined) {
    return undefined;
  }
  if (userOnly) {
    return inspected.globalValue;
  }
  for (const value of [
    inspected.workspaceFolderValue,
    inspected.workspaceValue,
    inspected.globalValue,
  ]) {
    if (value !== undefined) {
      return value;
    }
  }
  return undefined;
}

function put(tree: SettingsTree, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const child = node[part];
    if (typeof child !== "object" || child === null || Array.isArray(child)) {
      node[part] = {};
    }
    node = node[part] as SettingsTree;
  }
  node[parts[parts.length - 1]] = value;
}

/**
 * The server's `initializationOptions`: the values the user set, nested by section, plus
 * `workspace.trusted` from VS Code's workspace trust. The one message that may carry user-only
 * settings: the server takes them from nowhere else but the user's own config file.
 */
export function clientSettings(
  settings: readonly ServerSetting[],
  inspect: (key: string) => Inspected | undefined,
  trusted: boolean,
): SettingsTree {
  const tree = changeableSettings(settings, inspect);
  for (const setting of settings) {
    const value = setting.userOnly ? explicitValue(inspect(setting.key), true) : undefined;
    if (value !== undefined) {
      put(tree, setting.key, value);
    }
  }
  put(tree, "workspace.trusted", trusted);
  return tree;
}

/**
 * What `workspace/didChangeConfiguration` and `workspace/configuration` carry: the settings a
 * workspace may set. The server refuses user-only settings and trust from them (a repository's
 * `.vscode/settings.json` reaches the server that way in other editors); a change to a user-only
 * setting restarts the server instead, and granted trust has its own notification.
 */
export function changeableSettings(
  settings: readonly ServerSetting[],
  inspect: (key: string) => Inspected | undefined,
): SettingsTree {
  const tree: SettingsTree = {};
  for (const setting of settings) {
    if (setting.userOnly) {
      continue;
    }
    const value = explicitValue(inspect(setting.key), false);
    if (value !== undefined) {
      put(tree, setting.key, value);
    }
  }
  return tree;
}

/** Sent when VS Code's workspace trust is granted while the server runs. */
export const WORKSPACE_TRUSTED = "tactful/workspaceTrusted";

/**
 * The answer to a `workspace/configuration` item about tactful (`tactful`, `tactful.llm`, ...),
 * or undefined for sections that are not ours.
 */
export function configurationSection(section: string | undefined, tree: SettingsTree): unknown {
  if (section === "tactful") {
    return tree;
  }
  if (section === undefined || !section.startsWith("tactful.")) {
    return undefined;
  }
  let node: unknown = tree;
  for (const part of section.slice("tactful.".length).split(".")) {
    if (typeof node !== "object" || node === null) {
      return null;
    }
    node = (node as SettingsTree)[part];
  }
  return node ?? null;
}

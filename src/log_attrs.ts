/**
 * The `attrs` of log entries: Docker's `tag`, `labels` and `env` options.
 *
 * @module
 */

/** What is known of the container whose output is logged. */
export interface ContainerInfo {
  /** The container id (`CONTAINER_ID`). */
  id: string;
  /** The containerd namespace (`CONTAINER_NAMESPACE`). */
  namespace: string;
  /** The container's labels. */
  labels: Record<string, string>;
  /** The container's environment variables. */
  env: Record<string, string>;
}

/** Which attributes to record: the json-file options `tag`, `labels`, `labels-regex`, `env` and `env-regex`. */
export interface AttrsOptions {
  /** The `tag` template. */
  tag?: string;
  /** Label names to copy. */
  labels: string[];
  /** Label names to copy, by pattern. */
  labelsRegex?: RegExp;
  /** Variable names to copy. */
  env: string[];
  /** Variable names to copy, by pattern. */
  envRegex?: RegExp;
}

const TAG_FIELDS: Record<string, (info: ContainerInfo) => string> = {
  ID: (info) => info.id.slice(0, 12),
  FullID: (info) => info.id,
  Name: (info) => info.id,
  Namespace: (info) => info.namespace,
  DaemonName: () => "shimlog",
};

/** A template's action: `{{` to the next `}}`. */
const ACTION = /\{\{(.*?)\}\}/g;

/**
 * Expands a Docker log tag template such as `{{.Name}}/{{.ID}}`. The fields
 * are those of moby's `logger.Info` that exist here: `.ID` (first 12
 * characters of the id), `.FullID`, `.Name` (the id: containerd has no
 * separate name), `.DaemonName` (`shimlog`), plus `.Namespace`.
 *
 * @param template The template.
 * @param info The container.
 * @returns The expanded tag.
 * @throws {RangeError} If the template uses another field or action, or
 *   opens an action it does not close.
 */
export function expandTag(template: string, info: ContainerInfo): string {
  const unclosed = template.replace(ACTION, "").indexOf("{{");
  if (unclosed !== -1) {
    // Go's text/template refuses it too ("unclosed action").
    throw new RangeError(
      `Invalid tag "${template}": "{{" without a closing "}}"; accepted fields: ${
        Object.keys(TAG_FIELDS).map((f) => `{{.${f}}}`).join(", ")
      }`,
    );
  }
  return template.replace(ACTION, (_whole, action: string) => {
    const match = /^\s*\.([A-Za-z]+)\s*$/.exec(action);
    const field = match === null ? undefined : TAG_FIELDS[match[1]];
    if (field === undefined) {
      throw new RangeError(
        `Invalid tag "${template}": unsupported "{{${action}}}"; accepted fields: ${
          Object.keys(TAG_FIELDS).map((f) => `{{.${f}}}`).join(", ")
        }`,
      );
    }
    return field(info);
  });
}

/**
 * The attributes an entry carries, as moby's `Info.ExtraAttributes` plus the
 * `tag` that json-file adds when asked: each listed label and variable that
 * the container has, and each whose name matches a pattern. Unlike moby,
 * `labels-regex` works without `labels`.
 *
 * @param options Which attributes to record.
 * @param info The container.
 * @returns Names and values; empty when nothing was asked for.
 * @throws {RangeError} If the tag template is invalid.
 */
export function extraAttributes(
  options: AttrsOptions,
  info: ContainerInfo,
): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const name of options.labels) {
    if (Object.hasOwn(info.labels, name)) attrs[name] = info.labels[name];
  }
  if (options.labelsRegex !== undefined) {
    for (const [name, value] of Object.entries(info.labels)) {
      if (options.labelsRegex.test(name)) attrs[name] = value;
    }
  }
  for (const name of options.env) {
    if (Object.hasOwn(info.env, name)) attrs[name] = info.env[name];
  }
  if (options.envRegex !== undefined) {
    for (const [name, value] of Object.entries(info.env)) {
      if (options.envRegex.test(name)) attrs[name] = value;
    }
  }
  if (options.tag !== undefined && options.tag !== "") {
    attrs.tag = expandTag(options.tag, info);
  }
  return attrs;
}

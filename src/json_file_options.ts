/**
 * Options of the json-file sink, validated as moby's `jsonfilelog.ValidateLogOpt`
 * and `jsonfilelog.New`.
 *
 * @module
 */

import { parseDockerSize, parseGoBool } from "./size.ts";

/** The json-file options, parsed. */
export interface JsonFileOptions {
  /** Where to write; the default path is used when absent. */
  logPath?: string;
  /** Rotate at this size in bytes; `Infinity` for no rotation. */
  maxSize: number;
  /** Files kept in all, the current one included, 1 or more. */
  maxFile: number;
  /** Gzip rotated files. */
  compress: boolean;
  /** The `tag` template, e.g. `{{.ID}}`; absent for no tag. */
  tag?: string;
  /** Container labels to copy into `attrs`, by name. */
  labels: string[];
  /** Container labels to copy into `attrs`, by a pattern on their names. */
  labelsRegex?: RegExp;
  /** Environment variables to copy into `attrs`, by name. */
  env: string[];
  /** Environment variables to copy into `attrs`, by a pattern on names. */
  envRegex?: RegExp;
}

/** The option keys json-file accepts: Docker's plus nerdctl's `log-path`. */
export const JSON_FILE_OPTION_KEYS: readonly string[] = [
  "compress",
  "env",
  "env-regex",
  "labels",
  "labels-regex",
  "log-path",
  "max-file",
  "max-size",
  "tag",
];

/**
 * Parses and checks json-file options as Docker does: unknown keys are
 * refused, `max-size` is in decimal units and must be positive, `max-file`
 * is a whole number of at least 1, `compress` is a Go boolean and needs
 * `max-size` and `max-file` of 2 or more.
 *
 * @param opts The options as given, e.g. `{"max-size": "10m"}`.
 * @returns The parsed options.
 * @throws {RangeError} If a key is unknown or a value is out of range.
 * @throws {SyntaxError} If a value cannot be parsed.
 */
export function parseJsonFileOptions(
  opts: Record<string, string>,
): JsonFileOptions {
  for (const key of Object.keys(opts)) {
    if (!JSON_FILE_OPTION_KEYS.includes(key)) {
      throw new RangeError(
        `Unknown log opt "${key}" for json-file log driver; valid options: ${
          JSON_FILE_OPTION_KEYS.join(", ")
        }`,
      );
    }
  }
  let maxSize = Infinity;
  if (opts["max-size"] !== undefined) {
    maxSize = parseDockerSize(opts["max-size"], "max-size");
    if (maxSize <= 0) {
      throw new RangeError(
        `Invalid max-size "${opts["max-size"]}": must be a positive size`,
      );
    }
  }
  let maxFile = 1;
  if (opts["max-file"] !== undefined) {
    const text = opts["max-file"];
    if (!/^[+-]?\d+$/.test(text)) {
      throw new SyntaxError(
        `Cannot parse max-file "${text}": expected a whole number of 1 or more`,
      );
    }
    // Go's strconv.Atoi: a 64-bit int, or "value out of range".
    if (BigInt(text) > 0x7fff_ffff_ffff_ffffn) {
      throw new RangeError(
        `Invalid max-file "${text}": value out of range (at most 9223372036854775807, as Go's int)`,
      );
    }
    maxFile = Number(text);
    if (maxFile < 1) {
      throw new RangeError(`Invalid max-file "${text}": must be 1 or more`);
    }
  }
  let compress = false;
  if (opts.compress !== undefined) {
    compress = parseGoBool(opts.compress, "compress");
    if (compress && (maxFile < 2 || maxSize === Infinity)) {
      throw new RangeError(
        `Invalid compress "${opts.compress}": compress needs max-size and max-file of 2 or more`,
      );
    }
  }
  const logPath = opts["log-path"];
  if (logPath !== undefined && !logPath.startsWith("/")) {
    throw new RangeError(
      `Invalid log-path "${logPath}": must be an absolute path`,
    );
  }
  return {
    logPath,
    maxSize,
    maxFile,
    compress,
    tag: opts.tag,
    labels: splitList(opts.labels),
    labelsRegex: compile("labels-regex", opts["labels-regex"]),
    env: splitList(opts.env),
    envRegex: compile("env-regex", opts["env-regex"]),
  };
}

function splitList(text: string | undefined): string[] {
  if (text === undefined || text === "") return [];
  return text.split(",");
}

function compile(key: string, text: string | undefined): RegExp | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    return new RegExp(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse ${key} "${text}": ${(error as Error).message}`,
    );
  }
}

/**
 * Command-line flags of the example app (`app.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What the example app does, from its flags. */
export interface AppOptions {
  /**
   * Clock mode: how many times to print the current time.
   *
   * @default {5}
   */
  count: number;
  /**
   * Clock mode: milliseconds to wait between two prints.
   *
   * @default {1000}
   */
  interval: number;
  /**
   * Fast mode: how many numbered lines to write, as fast as the reader
   * takes them. `null` selects clock mode.
   *
   * @default {null}
   */
  lines: number | null;
  /**
   * Fast mode: bytes per line, counting its `\n`.
   *
   * @default {100}
   */
  lineSize: number;
  /**
   * Whether the last line ends with `\n` (`--no-newline` clears it).
   *
   * @default {true}
   */
  newline: boolean;
  /**
   * Write to stderr instead of stdout.
   *
   * @default {false}
   */
  stderr: boolean;
  /**
   * The exit code once all output is written, 0 to 255.
   *
   * @default {0}
   */
  exitCode: number;
  /** `--help` was given: print {@linkcode APP_USAGE} and nothing else. */
  help: boolean;
}

/** The app's usage text, for `--help`. */
export const APP_USAGE = `Usage: deno run app.ts [options]

The shimlog example app. With no options it prints the current time (ISO 8601)
to stdout once a second, five times, then exits 0.

Options:
  --count N          print the time N times (default 5)
  --interval MS      wait MS milliseconds between prints (default 1000)
  --lines N          instead, write N numbered lines as fast as possible
  --line-size BYTES  bytes per line for --lines, counting the newline (default 100)
  --no-newline       end the last line without a newline
  --stderr           write to stderr instead of stdout
  --exit-code N      exit with code N, 0 to 255 (default 0)
  -h, --help         show this help
`;

const FLAGS = {
  count: { type: "string" },
  interval: { type: "string" },
  lines: { type: "string" },
  "line-size": { type: "string" },
  "no-newline": { type: "boolean" },
  stderr: { type: "boolean" },
  "exit-code": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const ACCEPTED = "--count, --interval, --lines, --line-size, --no-newline, " +
  "--stderr, --exit-code, -h/--help";

/**
 * Parses the example app's flags.
 *
 * @param args The arguments after the script name.
 * @returns The options, with defaults filled in.
 * @throws {TypeError} If a flag is unknown, lacks its value or is given a
 * value it does not take, or an argument is not a flag.
 * @throws {RangeError} If a number is malformed or out of range, or clock
 * flags are mixed with `--lines`.
 *
 * @example Usage
 * ```ts
 * import { parseAppArgs } from "./app_args.ts";
 * import assert from "node:assert/strict";
 * const options = parseAppArgs(["--lines", "3", "--line-size", "10"]);
 * assert.equal(options.lines, 3);
 * assert.equal(options.lineSize, 10);
 * assert.throws(() => parseAppArgs(["--count", "x"]), RangeError);
 * ```
 */
export function parseAppArgs(args: readonly string[]): AppOptions {
  const { tokens } = parseArgs({
    args: [...args],
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values = new Map<string, string | true>();
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw new TypeError(
        `Unexpected argument "${token.value}": the app takes only options (${ACCEPTED})`,
      );
    }
    if (token.kind === "option-terminator") continue;
    const flag = FLAGS[token.name as keyof typeof FLAGS];
    if (flag === undefined) {
      throw new TypeError(
        `Unknown option "${token.rawName}": accepted options are ${ACCEPTED}`,
      );
    }
    if (flag.type === "string") {
      if (token.value === undefined) {
        throw new TypeError(`Option "${token.rawName}" needs a value`);
      }
      values.set(token.name, token.value);
    } else {
      if (token.inlineValue) {
        throw new TypeError(`Option "${token.rawName}" does not take a value`);
      }
      values.set(token.name, true);
    }
  }
  const number = (name: string, fallback: number, min: number, max: number) => {
    const text = values.get(name);
    if (text === undefined || text === true) return fallback;
    const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      throw new RangeError(
        `Invalid --${name} "${text}": expected a whole number from ${min} to ${max}`,
      );
    }
    return value;
  };
  const lines = values.has("lines")
    ? number("lines", 0, 0, Number.MAX_SAFE_INTEGER)
    : null;
  if (lines !== null) {
    for (const clockFlag of ["count", "interval"]) {
      if (values.has(clockFlag)) {
        throw new RangeError(
          `Option "--${clockFlag}" cannot be combined with "--lines"`,
        );
      }
    }
  } else if (values.has("line-size")) {
    throw new RangeError(`Option "--line-size" needs "--lines"`);
  }
  return {
    count: number("count", 5, 0, Number.MAX_SAFE_INTEGER),
    interval: number("interval", 1000, 0, 2 ** 31 - 1),
    lines,
    lineSize: number("line-size", 100, 1, 2 ** 31 - 1),
    newline: !values.has("no-newline"),
    stderr: values.has("stderr"),
    exitCode: number("exit-code", 0, 0, 255),
    help: values.has("help"),
  };
}

/**
 * Command-line options of `logs.ts`, as `docker logs` spells them, and the
 * time forms `--since` and `--until` take.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type LogTime, parseRfc3339Nano } from "./clock.ts";
import { validateIdentifier } from "./identifiers.ts";

/** The options of `logs.ts`, with defaults filled in. */
export interface LogsArgs {
  /** The container id (the positional argument), unless `path` is given. */
  id?: string;
  /** `--path FILE`: read this log file (and its rotated siblings). */
  path?: string;
  /**
   * `--data-root DIR`, absolute; `undefined` means the shim's default,
   * resolved from the environment by the caller.
   */
  dataRoot?: string;
  /**
   * `--namespace NS`.
   *
   * @default {"default"}
   */
  namespace: string;
  /** `-f, --follow`. */
  follow: boolean;
  /**
   * `-n, --tail N|all`: how many logical lines from the end.
   *
   * @default {Infinity}
   */
  tail: number;
  /** `-t, --timestamps`. */
  timestamps: boolean;
  /** `--details`. */
  details: boolean;
  /** `--since`: inclusive. */
  since?: LogTime;
  /** `--until`: exclusive. */
  until?: LogTime;
  /** `-h, --help`. */
  help: boolean;
}

/** Options of {@linkcode parseLogsArgs}. */
export interface ParseLogsArgsOptions {
  /**
   * The current time, for durations such as `--since 10m`.
   *
   * @default {the wall clock}
   */
  now?: LogTime;
  /**
   * The folder relative paths are resolved against.
   *
   * @default {Deno.cwd()}
   */
  cwd?: string;
}

/** The usage text of `logs.ts`, for `--help`. */
export const LOGS_USAGE =
  `Usage: deno run --allow-read --allow-env=SHIMLOG_DATA_ROOT,XDG_DATA_HOME,HOME logs.ts [options] (ID | --path FILE)

Prints a container's log as docker logs does: stdout entries to stdout,
stderr entries to stderr, raw bytes as logged, from the file and its rotated
and compressed siblings, oldest first. Reads json-file and CRI logs.

Options (as docker logs):
  -f, --follow           keep printing as the log grows, across rotations;
                         ends when the driver stops, or on Ctrl-C
  -n, --tail N|all       only the last N lines (default: all; a negative N
                         means all, as Docker); a long line split into
                         pieces counts once
  -t, --timestamps       print each line's time first (UTC, 9 digits)
      --since TIME       only lines from TIME on (inclusive)
      --until TIME       only lines before TIME (exclusive); 0: no limit
      --details          print each line's attributes (tag, labels, env)
      --path FILE        read FILE instead of a container's log
      --data-root DIR    where the shim keeps logs (default:
                         $SHIMLOG_DATA_ROOT, else $XDG_DATA_HOME/shimlog,
                         else ~/.local/share/shimlog)
      --namespace NS     the containerd namespace (default: default)
  -h, --help             show this help

TIME is RFC 3339 with Z or an offset (2026-11-29T15:53:54.123456789Z,
2026-11-29T16:53:54+01:00), a local date and time (2026-11-29T16:53:54,
2026-11-29), Unix seconds (1795967634.5), or a duration ago (10m, 1h30m).

Exit status: 0, 1 if the container or its log does not exist or cannot be
read, 2 for bad options.
`;

const FLAGS = {
  follow: { type: "boolean", short: "f" },
  tail: { type: "string", short: "n" },
  timestamps: { type: "boolean", short: "t" },
  since: { type: "string" },
  until: { type: "string" },
  details: { type: "boolean" },
  path: { type: "string" },
  "data-root": { type: "string" },
  namespace: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const ACCEPTED = "-f/--follow, -n/--tail, -t/--timestamps, --since, " +
  "--until, --details, --path, --data-root, --namespace, -h/--help";

/**
 * Parses the command line of `logs.ts`.
 *
 * @param args The arguments after the script name.
 * @param options The current time and folder.
 * @returns The options, with defaults filled in.
 * @throws {TypeError} If an option is unknown, lacks its value or has one
 *   it does not take, or the arguments name no log or two.
 * @throws {RangeError} If a value is invalid: a `--tail` that is neither a
 *   whole number nor `all`, an invalid id or namespace.
 * @throws {SyntaxError} If `--since` or `--until` is not a time.
 *
 * @example Usage
 * ```ts
 * import { parseLogsArgs } from "./logs_args.ts";
 * import assert from "node:assert/strict";
 * const args = parseLogsArgs(["-n", "10", "-t", "--since", "1m", "web"], {
 *   now: { sec: 1795967634, nsec: 5 },
 * });
 * assert.equal(args.id, "web");
 * assert.equal(args.tail, 10);
 * assert.deepEqual(args.since, { sec: 1795967574, nsec: 5 });
 * ```
 */
export function parseLogsArgs(
  args: readonly string[],
  options: ParseLogsArgsOptions = {},
): LogsArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeTail(args),
      options: FLAGS,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    // node's own advice on positionals that start with "-" is cut: it
    // does not apply to options.
    const first = (error as Error).message.split("\n")[0]
      .replace(/\. To specify a positional argument.*$/, "")
      .replace(/\.$/, "");
    const hint = /ambiguous/.test(first)
      ? " (write a value that starts with - as --flag=VALUE)"
      : `; accepted options are ${ACCEPTED}`;
    throw new TypeError(`${first}${hint}`);
  }
  const { values, positionals } = parsed;
  const help = values.help ?? false;
  const result: LogsArgs = {
    namespace: values.namespace ?? "default",
    follow: values.follow ?? false,
    tail: parseTail(values.tail ?? "all"),
    timestamps: values.timestamps ?? false,
    details: values.details ?? false,
    help,
  };
  if (help) return result;
  const cwd = () => options.cwd ?? Deno.cwd();
  if (values.path !== undefined) {
    if (positionals.length > 0) {
      throw new TypeError(
        `Give either a container id or --path, not both (got "${
          positionals[0]
        }" and --path "${values.path}")`,
      );
    }
    if (values.path === "") throw new TypeError("--path needs a file");
    result.path = resolve(cwd(), values.path);
  } else if (positionals.length !== 1) {
    throw new TypeError(
      positionals.length === 0
        ? "No container given: give its id, or --path FILE"
        : `Give one container, not ${positionals.length} ("${
          positionals.join('", "')
        }")`,
    );
  } else {
    result.id = validateIdentifier("container id", positionals[0]);
  }
  validateIdentifier("--namespace", result.namespace);
  if (values["data-root"] !== undefined) {
    if (values["data-root"] === "") {
      throw new RangeError('Invalid --data-root "": it must not be empty');
    }
    result.dataRoot = resolve(cwd(), values["data-root"]);
  }
  const now = options.now ?? wallClock();
  if (values.since !== undefined) {
    result.since = parseTimeArg(values.since, now, "--since");
  }
  // "0" is no limit, as the Docker daemon takes it.
  if (values.until !== undefined && values.until !== "0") {
    result.until = parseTimeArg(values.until, now, "--until");
  }
  return result;
}

/**
 * `--tail -1` as `--tail=-1`, and `--since -10m` as `--since=-10m`: node's
 * parser takes a separate value that starts with `-` for an option, and
 * Docker's users write it so.
 */
function joinNegativeTail(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    if ((arg === "--tail" || arg === "-n") && /^-\d+$/.test(args[i + 1])) {
      out.push(`--tail=${args[++i]}`);
    } else if (
      (arg === "--since" || arg === "--until") &&
      DURATION.test(args[i + 1] ?? "") && args[i + 1].startsWith("-")
    ) {
      out.push(`${arg}=${args[++i]}`); // --since -10m: ten minutes ahead
    } else if (arg.startsWith("-n=")) {
      out.push(`--tail=${arg.slice(3)}`); // as pflag reads a shorthand
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * "all", or a count as Go's `strconv.Atoi` reads it (`+3` is 3); a negative
 * count means all, as Docker's daemon.
 */
function parseTail(text: string): number {
  if (text === "all") return Infinity;
  if (/^-\d{1,15}$/.test(text)) return Number(text) < 0 ? Infinity : 0;
  if (!/^\+?\d{1,15}$/.test(text)) {
    throw new RangeError(
      `Invalid --tail "${text}": expected a number of lines or "all"`,
    );
  }
  return Number(text);
}

/**
 * The wall clock as a {@linkcode LogTime} (millisecond resolution).
 *
 * @returns The time now.
 */
export function wallClock(): LogTime {
  const ms = Date.now();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1e6 };
}

const UNIX = /^(\d{1,12})(?:\.(\d{1,9}))?$/;
/**
 * The times moby's `GetTimestamp` takes: a date, then optionally `T` and the
 * hour, `:minutes`, `:seconds` and a fraction (`.` or `,`, as Go reads
 * one after the seconds), then optionally `Z` or an offset `±hh:mm`.
 */
const DOCKER_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})([.,]\d{1,9})?)?)?)?(Z|[+-]\d{2}:\d{2})?$/;
const DURATION = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  "µs": 1000n,
  "μs": 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * Parses a time as `docker logs --since` and `--until` take it:
 * - RFC 3339 with `Z` or an offset, up to nine fractional digits
 *   (`2026-11-29T15:53:54.123456789Z`, `2026-11-29T16:53:54+01:00`);
 * - a date and time without a zone, read as Docker reads one: in the
 *   machine's zone at its offset now, whatever the date's
 *   (`2026-11-29T16:53:54`, `2026-11-29T16:53`, `2026-11-29T16`,
 *   `2026-11-29`), or with one (`2026-11-29Z`, `2026-11-29T16+01:00`,
 *   `2026-11-29T16:53Z`); a fraction after the seconds may follow `.` or
 *   `,`, as Go's parser takes;
 * - Unix seconds with up to nine fractional digits (`1795967634.5`);
 * - a Go duration before `now` (`10m`, `1h30m`, `1.5h`, `300ms`; a leading
 *   `-` means after `now`).
 *
 * @param text The time as given.
 * @param now The current time, for durations.
 * @param flag The flag's name, for messages.
 * @returns The time, to the nanosecond.
 * @throws {SyntaxError} If the text is none of these.
 *
 * @example Usage
 * ```ts
 * import { parseTimeArg } from "./logs_args.ts";
 * import assert from "node:assert/strict";
 * const now = { sec: 1000, nsec: 0 };
 * assert.deepEqual(parseTimeArg("1h30m", now), { sec: -4400, nsec: 0 });
 * assert.deepEqual(parseTimeArg("12.000000001", now), { sec: 12, nsec: 1 });
 * assert.deepEqual(
 *   parseTimeArg("1970-01-01T01:00:00.5+01:00", now),
 *   { sec: 0, nsec: 500000000 },
 * );
 * ```
 */
export function parseTimeArg(
  text: string,
  now: LogTime,
  flag = "time",
): LogTime {
  const unix = UNIX.exec(text);
  if (unix !== null) {
    return { sec: Number(unix[1]), nsec: fraction(unix[2]) };
  }
  if (DURATION.test(text) || text === "0") {
    let ns = 0n;
    for (const [, number, unit] of text.matchAll(DURATION_PART)) {
      const [whole, frac = ""] = number.split(".");
      const scale = 10n ** BigInt(frac.length);
      ns += BigInt(whole || "0") * UNIT_NS[unit] +
        BigInt(frac || "0") * UNIT_NS[unit] / scale;
    }
    if (text.startsWith("-")) ns = -ns;
    const total = BigInt(now.sec) * 1_000_000_000n + BigInt(now.nsec) - ns;
    let sec = total / 1_000_000_000n;
    let nsec = total % 1_000_000_000n;
    if (nsec < 0n) {
      nsec += 1_000_000_000n;
      sec -= 1n;
    }
    return { sec: Number(sec), nsec: Number(nsec) };
  }
  const time = DOCKER_TIME.exec(text);
  if (time === null) throw badTime(text, flag);
  const [, date, h = "00", mi = "00", sec = "00", frac = "", given] = time;
  // As moby's timetypes.GetTimestamp: without a zone (no Z or +, and not
  // three dashes), in the zone the machine is in now, its offset now
  // (time.FixedZone(reference.Zone())), whatever the date.
  const zoned = /[zZ+]/.test(text) || text.split("-").length === 4;
  if (zoned !== (given !== undefined)) throw badTime(text, flag);
  const zone = given ?? offsetNow(now);
  try {
    return parseRfc3339Nano(
      `${date}T${h}:${mi}:${sec}${frac.replace(",", ".")}${zone}`,
    );
  } catch {
    throw badTime(text, flag);
  }
}

/** The local zone's offset at `now` as `+hh:mm`. */
function offsetNow(now: LogTime): string {
  const minutes = -new Date(now.sec * 1000).getTimezoneOffset();
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${minutes < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${
    pad(abs % 60)
  }`;
}

function fraction(digits: string | undefined): number {
  return digits === undefined ? 0 : Number(digits.padEnd(9, "0"));
}

function badTime(text: string, flag: string): SyntaxError {
  return new SyntaxError(
    `Invalid ${flag} "${text}": expected RFC 3339 (2026-11-29T15:53:54.123456789Z or with an offset such as +01:00), a local date and time (2026-11-29T16:53:54), Unix seconds (1795967634.5) or a duration ago (10m, 1h30m)`,
  );
}

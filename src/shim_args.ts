/**
 * Command-line options of the shim (`shim.ts`), as `nerdctl run` spells
 * them.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { validateIdentifier } from "./identifiers.ts";
import { LOG_DRIVERS } from "./sinks.ts";

/**
 * Values of `--log-driver` the shim takes: the driver's sinks, and `none`,
 * which starts no driver.
 */
export const SHIM_LOG_DRIVERS: readonly string[] = [...LOG_DRIVERS, "none"];

/** The shim's options, from its command line, with defaults filled in. */
export interface ShimArgs {
  /**
   * The command and its arguments; empty runs the example app.
   *
   * @default {[]}
   */
  command: string[];
  /**
   * Which log driver (`--log-driver`).
   *
   * @default {"json-file"}
   */
  logDriver: string;
  /** The driver's options (`--log-opt KEY=VALUE`); the last value of a key wins. */
  logOpts: Record<string, string>;
  /**
   * The container id (`--name`), a containerd identifier.
   *
   * @default {a random 64-digit hex id}
   */
  id: string;
  /**
   * The containerd namespace (`--namespace`).
   *
   * @default {"default"}
   */
  namespace: string;
  /**
   * Absolute path of the data root (`--data-root`); `null` only with
   * `--log-driver none` when no default could be found.
   *
   * @default {$SHIMLOG_DATA_ROOT, else $XDG_DATA_HOME/shimlog, else ~/.local/share/shimlog}
   */
  dataRoot: string | null;
  /** Container labels (`--label KEY=VALUE`; `KEY` alone means an empty value). */
  labels: Record<string, string>;
  /**
   * Variables added to the app's environment (`-e/--env KEY=VALUE`; `KEY`
   * alone copies the shim's own value, or nothing when it is unset, as
   * `docker run`).
   */
  env: Record<string, string>;
  /**
   * Terminal mode (`-t/--tty`): the app runs on a new pseudo-terminal, and
   * all its output is logged as `stdout`.
   *
   * @default {false}
   */
  tty: boolean;
  /**
   * Keep stdin open (`-i/--interactive`): the app reads the shim's stdin
   * (with `-t`, it is typed into the pseudo-terminal, and the output is also
   * shown on the shim's stdout).
   *
   * @default {false}
   */
  interactive: boolean;
  /**
   * `-h/--help` was given: print {@linkcode SHIM_USAGE} and nothing else.
   * The other fields are then their defaults, and neither the environment
   * nor the working folder is read (no permission is needed).
   */
  help: boolean;
}

/** Options for {@linkcode parseShimArgs}. */
export interface ParseShimArgsOptions {
  /**
   * The shim's environment, for the data root's default and `-e KEY`.
   *
   * @default {Deno.env.toObject()}
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The folder relative paths are resolved against.
   *
   * @default {Deno.cwd()}
   */
  cwd?: string;
}

/** The shim's usage text, for `--help`. */
export const SHIM_USAGE =
  `Usage: deno run --allow-run --allow-read --allow-write --allow-env [--allow-ffi] shim.ts [options] [--] [COMMAND [ARG...]]

Runs COMMAND (by default the example app, app.ts) with its stdout and stderr
connected to the shimlog log driver, as containerd runs a container with a
binary:// logger. Options after COMMAND belong to COMMAND.

Options (as nerdctl run):
  --log-driver DRIVER    json-file (default), cri, k8s-file, or none (discard
                         the output)
  --log-opt KEY=VALUE    a driver option, e.g. max-size=10m, max-file=3,
                         log-path=FILE (repeatable)
  --name ID              the container id (default: a random 64-digit hex id)
  --namespace NS         the containerd namespace (default: default)
  --data-root DIR        where logs and log-config.json go (default:
                         $SHIMLOG_DATA_ROOT, else $XDG_DATA_HOME/shimlog,
                         else ~/.local/share/shimlog)
  --label KEY=VALUE      a container label (repeatable)
  -e, --env KEY=VALUE    set a variable for COMMAND; KEY alone copies it
                         from this environment (repeatable)
  -t, --tty              run COMMAND on a new pseudo-terminal (needs
                         --allow-ffi); its output is logged as stdout
  -i, --interactive      give COMMAND this stdin; with -t, type it into the
                         terminal and show the output here (on a terminal:
                         raw mode, every key passed on, size followed)
  -h, --help             show this help

Exit status: COMMAND's (128+N if killed by signal N), 125 if the shim or the
log driver failed, 126 if COMMAND cannot run, 127 if it is not found, 2 for
bad options.
`;

const FLAGS = {
  "log-driver": { type: "string" },
  "log-opt": { type: "string", multiple: true },
  name: { type: "string" },
  namespace: { type: "string" },
  "data-root": { type: "string" },
  label: { type: "string", multiple: true },
  env: { type: "string", short: "e", multiple: true },
  tty: { type: "boolean", short: "t" },
  interactive: { type: "boolean", short: "i" },
  help: { type: "boolean", short: "h" },
} as const;

const ACCEPTED = "--log-driver, --log-opt, --name, --namespace, " +
  "--data-root, --label, -e/--env, -t/--tty, -i/--interactive, -h/--help";

/**
 * Parses the shim's command line. Parsing stops at the first argument that
 * is not an option (or after `--`): it and everything after it are the
 * command.
 *
 * Reads the environment and the current folder unless `options` supplies
 * them (`--allow-env`, `--allow-read`).
 *
 * @param args The arguments after the script name.
 * @param options The environment and folder to resolve defaults against.
 * @returns The options, with defaults filled in.
 * @throws {TypeError} If an option is unknown, lacks its value or has one
 * it does not take.
 * @throws {RangeError} If a value is invalid: an unknown log driver, a
 * `--log-opt`, `--label` or `--env` not of the form `KEY=VALUE`, a name or
 * namespace that is not a containerd identifier, a path containing `,`, or
 * no data root can be found.
 *
 * @example Usage
 * ```ts
 * import { parseShimArgs } from "./shim_args.ts";
 * import assert from "node:assert/strict";
 * const args = parseShimArgs(
 *   ["--name", "web", "--log-opt", "max-size=10m", "ls", "--name", "x"],
 *   { env: { HOME: "/home/me" }, cwd: "/" },
 * );
 * assert.deepEqual(args.command, ["ls", "--name", "x"]);
 * assert.equal(args.id, "web");
 * assert.deepEqual(args.logOpts, { "max-size": "10m" });
 * assert.equal(args.dataRoot, "/home/me/.local/share/shimlog");
 * ```
 */
export function parseShimArgs(
  args: readonly string[],
  options: ParseShimArgsOptions = {},
): ShimArgs {
  const { tokens } = parseArgs({
    args: [...args],
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  let commandStart = args.length;
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  for (const token of tokens) {
    if (token.kind === "positional" || token.kind === "option-terminator") {
      commandStart = token.kind === "positional"
        ? token.index
        : token.index + 1;
      break;
    }
    const flag = FLAGS[token.name as keyof typeof FLAGS];
    if (flag === undefined) {
      throw new TypeError(
        `Unknown option "${token.rawName}": accepted options are ${ACCEPTED}`,
      );
    }
    if (flag.type === "boolean") {
      if (token.inlineValue) {
        throw new TypeError(`Option "${token.rawName}" does not take a value`);
      }
      switches.add(token.name);
      continue;
    }
    if (token.value === undefined) {
      throw new TypeError(`Option "${token.rawName}" needs a value`);
    }
    values.set(token.name, [...(values.get(token.name) ?? []), token.value]);
  }
  if (switches.has("help")) {
    // Nothing else is read: --help needs no permission.
    return {
      command: [],
      logDriver: "json-file",
      logOpts: {},
      id: "",
      namespace: "default",
      dataRoot: null,
      labels: {},
      env: {},
      tty: false,
      interactive: false,
      help: true,
    };
  }
  const env = options.env ?? Deno.env.toObject();
  const last = (name: string) => values.get(name)?.at(-1);
  const all = (name: string) => values.get(name) ?? [];

  const logDriver = last("log-driver") ?? "json-file";
  if (!SHIM_LOG_DRIVERS.includes(logDriver)) {
    throw new RangeError(
      `Invalid --log-driver "${logDriver}": expected one of ${
        SHIM_LOG_DRIVERS.join(", ")
      }`,
    );
  }
  const logOpts: Record<string, string> = {};
  for (const pair of all("log-opt")) {
    const [key, value] = splitPair("--log-opt", pair);
    if (value === undefined) {
      throw new RangeError(`Invalid --log-opt "${pair}": expected KEY=VALUE`);
    }
    if (key === "log-driver" || key === "data-root") {
      throw new RangeError(
        `Invalid --log-opt "${pair}": ${key} is not a log opt; use --${key}`,
      );
    }
    if (logDriver === "none") {
      // As Docker: "invalid logging opts for driver none".
      throw new RangeError(
        `Invalid --log-opt "${pair}": the none log driver takes no options`,
      );
    }
    logOpts[key] = value;
  }
  const cwd = () => options.cwd ?? Deno.cwd();
  if (logOpts["log-path"] === "") {
    throw new RangeError(
      'Invalid --log-opt "log-path=": expected the path of the log file',
    );
  }
  if (logOpts["log-path"] !== undefined) {
    logOpts["log-path"] = checkPath(
      "--log-opt log-path",
      absolute(logOpts["log-path"], cwd),
    );
  }
  const labels: Record<string, string> = {};
  for (const pair of all("label")) {
    const [key, value] = splitPair("--label", pair);
    labels[key] = value ?? "";
  }
  const appEnv: Record<string, string> = {};
  for (const pair of all("env")) {
    const [key, value] = splitPair("--env", pair);
    const resolved = value ?? env[key];
    if (resolved !== undefined) appEnv[key] = resolved;
  }
  const id = last("name") ?? randomId();
  validateIdentifier("--name", id);
  const namespace = last("namespace") ?? "default";
  validateIdentifier("--namespace", namespace);

  let dataRoot = last("data-root") ?? defaultDataRoot(env);
  if (dataRoot === "") {
    throw new RangeError(`Invalid --data-root "": it must not be empty`);
  }
  if (dataRoot !== null) {
    dataRoot = checkPath("--data-root", absolute(dataRoot, cwd));
  } else if (logDriver !== "none") {
    throw new RangeError(
      "Cannot find a data root: give --data-root, or set SHIMLOG_DATA_ROOT, XDG_DATA_HOME or HOME",
    );
  }
  return {
    command: args.slice(commandStart),
    logDriver,
    logOpts,
    id,
    namespace,
    dataRoot,
    labels,
    env: appEnv,
    tty: switches.has("tty"),
    interactive: switches.has("interactive"),
    help: switches.has("help"),
  };
}

/**
 * The data root used when `--data-root` is not given: `$SHIMLOG_DATA_ROOT`,
 * else `$XDG_DATA_HOME/shimlog` (when it is absolute, as the XDG spec
 * requires), else `$HOME/.local/share/shimlog`.
 *
 * @param env The environment to read.
 * @returns The folder, or `null` when none of the variables is set.
 *
 * @example Usage
 * ```ts
 * import { defaultDataRoot } from "./shim_args.ts";
 * import assert from "node:assert/strict";
 * assert.equal(defaultDataRoot({ XDG_DATA_HOME: "/x" }), "/x/shimlog");
 * assert.equal(defaultDataRoot({}), null);
 * ```
 */
export function defaultDataRoot(
  env: Readonly<Record<string, string | undefined>>,
): string | null {
  if (env.SHIMLOG_DATA_ROOT) return env.SHIMLOG_DATA_ROOT;
  if (env.XDG_DATA_HOME?.startsWith("/")) {
    return `${trimSlash(env.XDG_DATA_HOME)}/shimlog`;
  }
  if (env.HOME) return `${trimSlash(env.HOME)}/.local/share/shimlog`;
  return null;
}

function splitPair(option: string, pair: string): [string, string | undefined] {
  const equals = pair.indexOf("=");
  const key = equals === -1 ? pair : pair.slice(0, equals);
  if (key === "") {
    throw new RangeError(`Invalid ${option} "${pair}": expected KEY=VALUE`);
  }
  return [key, equals === -1 ? undefined : pair.slice(equals + 1)];
}

function absolute(path: string, cwd: () => string): string {
  return path.startsWith("/") ? resolve(path) : resolve(cwd(), path);
}

// Deno's --allow-read=A,B lists cannot hold a path containing ",".
function checkPath(option: string, path: string): string {
  if (path.includes(",")) {
    throw new RangeError(
      `Invalid ${option} "${path}": a path for the log driver cannot contain ","`,
    );
  }
  return path;
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

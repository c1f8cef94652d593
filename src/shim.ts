/**
 * The shim: runs an app with its stdout and stderr connected to the shimlog
 * log driver, as containerd's shim runs a container with a `binary://`
 * logger (`runtime/v2/logging`), and as `nerdctl run` sets one up.
 *
 * How a byte travels: the app writes to a FIFO (its stdout is the FIFO
 * itself, opened by `sh -c 'exec "$@" >"$OUT"'`), the driver reads the other
 * end as its fd 3 and writes the log. The shim copies no bytes; it creates
 * the FIFOs, starts both processes, forwards signals and cleans up.
 *
 * @module
 */

import { dirname } from "node:path";
import { FifoEnd, makeFifos } from "./fifo.ts";
import { logConfigPath } from "./log_paths.ts";
import { DEFAULT_PATH, lookPath } from "./path_lookup.ts";
import { validateIdentifier } from "./identifiers.ts";
import { logPathFor } from "./sinks.ts";

/** Exit code of the shim when it or the log driver fails, as `docker run`. */
export const SHIM_FAILURE_EXIT_CODE = 125;

/** Environment variables passed through to the driver, when set, so Deno can run. */
export const DRIVER_ENV_PASSTHROUGH: readonly string[] = [
  "HOME",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "NPM_CONFIG_REGISTRY",
];

/** Options for {@linkcode runShim}. */
export interface ShimOptions {
  /**
   * The command and its arguments; empty runs the example app (`app.ts`)
   * with the same Deno.
   *
   * @default {[]}
   */
  command?: readonly string[];
  /**
   * The log driver: a sink the driver knows, or `none` to discard the
   * output without starting a driver.
   *
   * @default {"json-file"}
   */
  logDriver?: string;
  /** The driver's options, e.g. `{ "max-size": "10m" }`. `log-path` must be absolute. */
  logOpts?: Readonly<Record<string, string>>;
  /** The container id, a containerd identifier. */
  id: string;
  /**
   * The containerd namespace.
   *
   * @default {"default"}
   */
  namespace?: string;
  /** Absolute path of the data root; required unless `logDriver` is `none`. */
  dataRoot?: string | null;
  /** Container labels, for the driver's `labels` options. */
  labels?: Readonly<Record<string, string>>;
  /**
   * Variables added to the app's environment (which is otherwise the
   * shim's), and recorded for the driver's `env` options.
   */
  env?: Readonly<Record<string, string>>;
  /**
   * How long the driver may take to signal ready, in milliseconds.
   *
   * @default {10000}
   */
  readyTimeout?: number;
  /**
   * How long the driver may take to exit after SIGTERM, in milliseconds,
   * before it is killed (containerd's value).
   *
   * @default {12000}
   */
  killTimeout?: number;
  /**
   * The driver script, run with this Deno.
   *
   * @default {new URL("../driver.ts", import.meta.url)}
   */
  driverPath?: string | URL;
  /**
   * The example app script, run when `command` is empty.
   *
   * @default {new URL("../app.ts", import.meta.url)}
   */
  appPath?: string | URL;
  /**
   * Where the shim's messages and the driver's stderr go.
   *
   * @default {Deno.stderr.writable}
   */
  stderr?: WritableStream<Uint8Array>;
}

/**
 * Where the log of a container with these settings is written: `log-path`
 * when given, else the driver's default path under the data root; `null`
 * for `none`.
 *
 * @param options The shim's settings.
 * @returns The log file's path, or `null`.
 * @throws {RangeError} If the driver is unknown, or there is neither a data
 * root nor a `log-path`.
 *
 * @example Usage
 * ```ts
 * import { shimLogPath } from "./shim.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   shimLogPath({ id: "web", dataRoot: "/data" }),
 *   "/data/containers/default/web/web-json.log",
 * );
 * assert.equal(shimLogPath({ id: "web", logDriver: "none" }), null);
 * ```
 */
export function shimLogPath(
  options: Pick<
    ShimOptions,
    "logDriver" | "logOpts" | "id" | "namespace" | "dataRoot"
  >,
): string | null {
  const driver = options.logDriver ?? "json-file";
  if (driver === "none") return null;
  return logPathFor({
    driver,
    dataRoot: options.dataRoot ?? undefined,
    namespace: options.namespace ?? "default",
    id: options.id,
    opts: { ...options.logOpts },
  });
}

/**
 * Runs a command as a container with a logging driver, and returns the exit
 * code the shim should exit with. In order:
 *
 * 1. Looks the command up on the app's `PATH` as a shell does; a missing
 *    command returns 127, one that cannot run returns 126, and nothing is
 *    started.
 * 2. Writes `<data-root>/containers/<ns>/<id>/log-config.json` (folders
 *    0750, file 0640): `{"driver", "opts", "labels", "env"}`, nerdctl's
 *    layout plus labels and env.
 * 3. Creates three FIFOs (0600) in a private temporary folder and starts
 *    `driver.ts data-root DIR` with them as fds 3, 4 (read) and 5 (write),
 *    an environment of only `CONTAINER_ID`, `CONTAINER_NAMESPACE` and what
 *    Deno needs ({@linkcode DRIVER_ENV_PASSTHROUGH}), and permissions for
 *    the fds and the log folders only.
 * 4. Waits for the ready byte. If the driver exits first, or `readyTimeout`
 *    passes, or SIGINT/SIGTERM arrives, it stops the driver and returns 125
 *    (128+n for a signal) without starting the app.
 * 5. Starts the app with stdin `/dev/null` and stdout/stderr the FIFOs
 *    themselves, forwarding SIGINT and SIGTERM to it. The shim holds its own
 *    write ends until the app exits, so the driver sees end of file only
 *    then.
 * 6. Closes its ends, sends SIGTERM to the driver, kills it after
 *    `killTimeout`, removes the temporary folder, and writes one line with
 *    the container id, exit code and log path.
 *
 * With `logDriver: "none"`, steps 2–4 are skipped and the output discarded.
 * Messages for the user (and the driver's stderr) go to `options.stderr`.
 *
 * Needs `--allow-run` (it runs `/bin/sh`, which runs `mkfifo`, Deno and the
 * command), `--allow-read` (PATH lookup, Deno's path), `--allow-write`
 * (data root, temporary folder) and `--allow-env` (the app inherits the
 * whole environment). It listens for SIGINT and SIGTERM while it runs.
 *
 * @param options The container's settings.
 * @returns The app's exit code (128+n if killed by signal n), 125 if the
 * shim or the driver failed, 126 or 127 if the command cannot run.
 * @throws {RangeError} If the id, namespace, data root or log path is
 * invalid, or the driver is unknown.
 * @throws {Error} If the shim cannot set itself up (temporary folder,
 * FIFOs, starting `/bin/sh`).
 *
 * @example Usage
 * ```ts ignore
 * import { runShim } from "./shim.ts";
 * const code = await runShim({
 *   id: "web",
 *   dataRoot: "/var/lib/shimlog",
 *   logOpts: { "max-size": "10m", "max-file": "3" },
 *   command: ["sh", "-c", "echo hello; echo oops >&2"],
 * });
 * // /var/lib/shimlog/containers/default/web/web-json.log holds both lines.
 * Deno.exit(code);
 * ```
 */
export async function runShim(options: ShimOptions): Promise<number> {
  const config = checkOptions(options);
  const out = new Output(options.stderr ?? Deno.stderr.writable);
  const signals = new SignalRelay();
  try {
    const appEnv = { ...Deno.env.toObject(), ...config.env };
    let argv: string[];
    if (config.command.length === 0) {
      argv = [
        Deno.execPath(),
        "run",
        "--no-prompt",
        "--no-config",
        toPath(config.appPath),
      ];
    } else {
      const name = config.command[0];
      const found = await lookPath(name, { path: appEnv.PATH ?? DEFAULT_PATH });
      if (found.status === "not-found") {
        await out.say(`shimlog: ${JSON.stringify(name)}: command not found`);
        return 127;
      }
      if (found.status === "not-executable") {
        await out.say(
          `shimlog: ${JSON.stringify(name)}: cannot run ${
            JSON.stringify(found.path)
          }: ${found.reason}`,
        );
        return 126;
      }
      argv = [found.path, ...config.command.slice(1)];
    }

    let status: Deno.CommandStatus;
    if (config.logDriver === "none") {
      if (signals.received !== null) {
        return 128 + signalNumber(signals.received);
      }
      status = await runCommand(argv, appEnv, null, signals);
    } else {
      const result = await runWithDriver(config, argv, appEnv, signals, out);
      if (result.failed) return result.code;
      status = result.status;
    }
    await out.say(
      `shimlog: container ${config.id} exited with code ${status.code}${
        status.signal ? ` (${status.signal})` : ""
      }, log: ${config.logPath ?? `none (--log-driver ${config.logDriver})`}`,
    );
    return status.code;
  } finally {
    signals.close();
    await out.release();
  }
}

/** The shim's stderr, shared by its own messages and the driver's. */
class Output {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #encoder = new TextEncoder();

  constructor(stream: WritableStream<Uint8Array>) {
    this.#writer = stream.getWriter();
  }

  /** Writes bytes; a failing stderr is ignored. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes).catch(() => {});
  }

  /** Writes one line. */
  async say(line: string): Promise<void> {
    await this.write(this.#encoder.encode(line + "\n"));
  }

  async release(): Promise<void> {
    await this.#writer.ready.catch(() => {});
    this.#writer.releaseLock();
  }
}

interface Config {
  command: readonly string[];
  logDriver: string;
  logOpts: Record<string, string>;
  id: string;
  namespace: string;
  dataRoot: string | null;
  labels: Record<string, string>;
  env: Record<string, string>;
  logPath: string | null;
  readyTimeout: number;
  killTimeout: number;
  driverPath: string | URL;
  appPath: string | URL;
}

function checkOptions(options: ShimOptions): Config {
  const id = validateIdentifier("container id", options.id);
  const namespace = validateIdentifier(
    "namespace",
    options.namespace ?? "default",
  );
  const logDriver = options.logDriver ?? "json-file";
  const dataRoot = options.dataRoot ?? null;
  if (logDriver !== "none") {
    if (dataRoot === null || !dataRoot.startsWith("/")) {
      throw new RangeError(
        `Invalid data root "${dataRoot ?? ""}": an absolute path is required`,
      );
    }
    const logPath = options.logOpts?.["log-path"];
    if (logPath !== undefined && !logPath.startsWith("/")) {
      throw new RangeError(
        `Invalid log-path "${logPath}": an absolute path is required`,
      );
    }
    for (const path of [dataRoot, logPath ?? ""]) {
      if (path.includes(",")) {
        throw new RangeError(
          `Invalid path "${path}": Deno permission lists cannot hold ","`,
        );
      }
    }
  }
  const base = {
    logDriver,
    logOpts: { ...options.logOpts },
    id,
    namespace,
    dataRoot,
  };
  return {
    ...base,
    command: options.command ?? [],
    labels: { ...options.labels },
    env: { ...options.env },
    logPath: shimLogPath(base),
    readyTimeout: options.readyTimeout ?? 10_000,
    killTimeout: options.killTimeout ?? 12_000,
    driverPath: options.driverPath ?? new URL("../driver.ts", import.meta.url),
    appPath: options.appPath ?? new URL("../app.ts", import.meta.url),
  };
}

/** Steps 2 to 6 of runShim; `failed` means the app never ran. */
async function runWithDriver(
  config: Config,
  argv: string[],
  appEnv: Record<string, string>,
  signals: SignalRelay,
  out: Output,
): Promise<
  { failed: true; code: number } | {
    failed: false;
    status: Deno.CommandStatus;
  }
> {
  const dataRoot = config.dataRoot!;
  const configPath = logConfigPath(dataRoot, config.namespace, config.id);
  try {
    await writeLogConfig(configPath, {
      driver: config.logDriver,
      opts: config.logOpts,
      labels: config.labels,
      env: config.env,
    });
  } catch (error) {
    await out.say(
      `shimlog: cannot write ${JSON.stringify(configPath)}: ${describe(error)}`,
    );
    return { failed: true, code: SHIM_FAILURE_EXIT_CODE };
  }

  const tempDir = await Deno.makeTempDir({ prefix: "shimlog-" });
  try {
    const fifos = {
      out: `${tempDir}/out`,
      err: `${tempDir}/err`,
      ready: `${tempDir}/ready`,
    };
    await makeFifos([fifos.out, fifos.err, fifos.ready], 0o600);

    const driver = startDriver(config, fifos, out);
    // Opened concurrently with the driver's shell, which opens the other ends.
    const outEnd = new FifoEnd(fifos.out, "write");
    const errEnd = new FifoEnd(fifos.err, "write");
    const readyEnd = new FifoEnd(fifos.ready, "read");
    let appRunning = false;
    const watch = driver.child.status.then(async (status) => {
      if (!appRunning) return;
      // Let an app still blocked opening a FIFO go on (its writes then fail
      // with EPIPE instead of hanging).
      for (const path of [fifos.out, fifos.err]) {
        (await Deno.open(path, { read: true, write: true })).close();
      }
      await out.say(
        `shimlog: the log driver exited early with code ${status.code}; further output is lost`,
      );
    });
    try {
      const outcome = await waitReady(
        readyEnd,
        driver.child.status,
        config.readyTimeout,
        signals,
      );
      await readyEnd.close();
      if (outcome.kind === "ready" && signals.received === null) {
        // The driver holds the read ends, the shim the write ends, so the
        // app's own opens of the FIFOs cannot block.
        await outEnd.opened();
        await errEnd.opened();
        appRunning = true;
        const status = await runCommand(argv, appEnv, fifos, signals);
        appRunning = false;
        await outEnd.close();
        await errEnd.close();
        const driverStatus = await stopDriver(driver, config.killTimeout);
        if (driverStatus.code !== 0) {
          await out.say(
            `shimlog: the log driver exited with code ${driverStatus.code}; the log may be incomplete`,
          );
        }
        return { failed: false, status };
      }
      // Not ready: nothing to drain, so no grace period.
      await outEnd.close();
      await errEnd.close();
      driver.kill("SIGKILL");
      const driverStatus = await driver.child.status;
      await driver.stderrDone;
      const signal = signals.received;
      if (signal !== null) {
        await out.say(
          `shimlog: got ${signal} before the container started; container ${config.id} not started`,
        );
        return { failed: true, code: 128 + signalNumber(signal) };
      }
      await out.say(
        outcome.kind === "timeout"
          ? `shimlog: the log driver was not ready within ${config.readyTimeout} ms; container ${config.id} not started`
          : `shimlog: the log driver exited with code ${driverStatus.code} before it was ready; container ${config.id} not started`,
      );
      return { failed: true, code: SHIM_FAILURE_EXIT_CODE };
    } finally {
      appRunning = false;
      await outEnd.close();
      await errEnd.close();
      await readyEnd.close();
      driver.kill("SIGKILL");
      await driver.child.status;
      await watch;
      await driver.stderrDone;
    }
  } finally {
    await Deno.remove(tempDir, { recursive: true }).catch(async (error) => {
      await out.say(
        `shimlog: cannot remove ${JSON.stringify(tempDir)}: ${describe(error)}`,
      );
    });
  }
}

/** Sends SIGTERM, waits `killTimeout` ms, then SIGKILL; waits for the exit. */
async function stopDriver(
  driver: Driver,
  killTimeout: number,
): Promise<Deno.CommandStatus> {
  driver.kill("SIGTERM");
  const timer = setTimeout(() => driver.kill("SIGKILL"), killTimeout);
  try {
    const status = await driver.child.status;
    await driver.stderrDone;
    return status;
  } finally {
    clearTimeout(timer);
  }
}

async function writeLogConfig(
  path: string,
  content: {
    driver: string;
    opts: Record<string, string>;
    labels: Record<string, string>;
    env: Record<string, string>;
  },
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, JSON.stringify(content) + "\n", {
      mode: 0o640,
      createNew: true,
    });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

interface Driver {
  child: Deno.ChildProcess;
  /** Resolves when the driver's stderr has been copied to the shim's. */
  stderrDone: Promise<void>;
  /** Sends a signal, unless the driver has exited. */
  kill(signal: Deno.Signal): void;
}

function startDriver(
  config: Config,
  fifos: { out: string; err: string; ready: string },
  out: Output,
): Driver {
  const dirs = [config.dataRoot!];
  const logPath = config.logOpts["log-path"];
  if (logPath !== undefined) {
    const dir = dirname(logPath);
    if (dir !== config.dataRoot && !dir.startsWith(`${config.dataRoot}/`)) {
      dirs.push(dir);
    }
  }
  const env: Record<string, string> = {
    CONTAINER_ID: config.id,
    CONTAINER_NAMESPACE: config.namespace,
  };
  for (const name of DRIVER_ENV_PASSTHROUGH) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      // sh exports PWD; the driver gets only what is listed above.
      'out=$1 err=$2 ready=$3; shift 3; unset PWD; exec "$@" 3<"$out" 4<"$err" 5>"$ready"',
      "sh",
      fifos.out,
      fifos.err,
      fifos.ready,
      Deno.execPath(),
      "run",
      "--no-prompt",
      // The driver imports nothing through a config: ignore the caller's.
      "--no-config",
      `--allow-read=/dev/fd/3,/dev/fd/4,${dirs.join(",")}`,
      `--allow-write=/dev/fd/5,${dirs.join(",")}`,
      "--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE",
      toPath(config.driverPath),
      "data-root",
      config.dataRoot!,
    ],
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  const copyStderr = async () => {
    for await (const chunk of child.stderr) await out.write(chunk);
  };
  return {
    child,
    stderrDone: copyStderr(),
    kill(signal) {
      if (exited) return;
      try {
        child.kill(signal);
      } catch {
        // It exited in the meantime.
      }
    },
  };
}

type ReadyOutcome =
  | { kind: "ready" }
  | { kind: "exited" }
  | { kind: "timeout" }
  | { kind: "signal"; signal: Deno.Signal };

/**
 * Waits for the ready byte, the driver's exit, the timeout or a signal. A
 * read still pending when this returns ends once the driver is gone.
 */
async function waitReady(
  readyEnd: FifoEnd,
  driverStatus: Promise<Deno.CommandStatus>,
  timeout: number,
  signals: SignalRelay,
): Promise<ReadyOutcome> {
  const readByte = (async (): Promise<ReadyOutcome> => {
    const file = await readyEnd.opened();
    // End of file: the driver closed the pipe without a byte, i.e. exited.
    const n = await file.read(new Uint8Array(1));
    return n === 1 ? { kind: "ready" } : { kind: "exited" };
  })();
  readByte.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<ReadyOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timeout" }), timeout);
  });
  try {
    return await Promise.race([
      readByte,
      driverStatus.then((): ReadyOutcome => ({ kind: "exited" })),
      timedOut,
      signals.first.then((signal): ReadyOutcome => ({
        kind: "signal",
        signal,
      })),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the app through `sh -c 'exec "$@" …'` so its stdio are the FIFOs
 * themselves (or `/dev/null`), forwarding signals to it while it runs.
 */
async function runCommand(
  argv: string[],
  env: Record<string, string>,
  fifos: { out: string; err: string } | null,
  signals: SignalRelay,
): Promise<Deno.CommandStatus> {
  const args = fifos === null
    ? ["-c", 'exec "$@" </dev/null >/dev/null 2>&1', "sh", ...argv]
    : [
      "-c",
      'out=$1 err=$2; shift 2; exec "$@" </dev/null >"$out" 2>"$err"',
      "sh",
      fifos.out,
      fifos.err,
      ...argv,
    ];
  const child = new Deno.Command("/bin/sh", {
    args,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "null",
    // Only the shell's own errors (a failed redirection) land here.
    stderr: "inherit",
  }).spawn();
  signals.forwardTo(child);
  try {
    return await child.status;
  } finally {
    signals.forwardTo(null);
  }
}

/**
 * Listens for SIGINT and SIGTERM while the shim runs. Before the app starts
 * the first one ends {@linkcode SignalRelay.first} (the shim then gives up);
 * while the app runs they are passed to it, including one that arrived
 * between the last check and the start; after it exits they are ignored, so
 * a second Ctrl-C cannot stop the shim while the driver drains.
 */
class SignalRelay {
  readonly first: Promise<Deno.Signal>;
  #resolveFirst!: (signal: Deno.Signal) => void;
  #target: Deno.ChildProcess | null = null;
  #received: Deno.Signal | null = null;
  #undelivered: Deno.Signal | null = null;
  #listeners: [Deno.Signal, () => void][] = [];

  constructor() {
    this.first = new Promise((resolve) => this.#resolveFirst = resolve);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const listener = () => this.#receive(signal);
      Deno.addSignalListener(signal, listener);
      this.#listeners.push([signal, listener]);
    }
  }

  /** The first signal received, if any. */
  get received(): Deno.Signal | null {
    return this.#received;
  }

  /** Passes signals to `child` from now on (none with `null`). */
  forwardTo(child: Deno.ChildProcess | null): void {
    this.#target = child;
    const pending = this.#undelivered;
    this.#undelivered = null;
    if (pending !== null) this.#deliver(pending);
  }

  #receive(signal: Deno.Signal): void {
    this.#received ??= signal;
    this.#resolveFirst(signal);
    this.#deliver(signal);
  }

  #deliver(signal: Deno.Signal): void {
    if (this.#target === null) {
      this.#undelivered = signal;
      return;
    }
    try {
      this.#target.kill(signal);
    } catch {
      // The app exited in the meantime.
    }
  }

  close(): void {
    for (const [signal, listener] of this.#listeners) {
      Deno.removeSignalListener(signal, listener);
    }
    this.#listeners = [];
  }
}

function signalNumber(signal: Deno.Signal): number {
  return signal === "SIGINT" ? 2 : 15;
}

function toPath(path: string | URL): string {
  if (typeof path === "string") return path;
  return path.protocol === "file:"
    ? decodeURIComponent(path.pathname)
    : path.href;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

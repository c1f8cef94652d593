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
import { LOCK_WAIT_MS } from "./log_lock.ts";
import { DEFAULT_PATH, execFormatProblem, lookPath } from "./path_lookup.ts";
import { validateIdentifier } from "./identifiers.ts";
import { logPathFor } from "./sinks.ts";
import {
  driverRunArgs,
  PARENT_PID_ENV,
  withRealPaths,
} from "./driver_command.ts";
import { DEFAULT_WINDOW_SIZE, PseudoTerminal, type WindowSize } from "./pty.ts";
import {
  InputReader,
  onWindowResize,
  RawMode,
  terminalWindowSize,
} from "./terminal.ts";

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
   * Terminal mode (`nerdctl run -t`): the app runs on a new pseudo-terminal,
   * its controlling terminal and its stdin, stdout and stderr. Everything it
   * writes is logged as `stdout`, with the terminal's `\r\n` line endings;
   * the driver's stderr (fd 4) carries nothing. Needs `--allow-ffi` and
   * util-linux's `setsid`.
   *
   * @default {false}
   */
  tty?: boolean;
  /**
   * Keep stdin open (`nerdctl run -i`): the app reads the shim's stdin.
   * With `tty`, the shim types its stdin into the pseudo-terminal and
   * writes the terminal's output to its own stdout too (still logging it);
   * when its stdin is a terminal, that terminal is put in raw mode while the
   * app runs, so that every key (Ctrl-C included) goes to the app.
   *
   * @default {false}
   */
  interactive?: boolean;
  /**
   * With `tty`, the pseudo-terminal's window size.
   *
   * @default {the size of the shim's terminal, following its changes; 80×24 without one}
   */
  windowSize?: WindowSize;
  /**
   * How long the driver may take to signal ready, in milliseconds: longer
   * than the driver waits for another writer's lock on the log (12 s), so
   * that the driver's own reason is what the shim shows.
   *
   * @default {15000}
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
 *    passes, or a signal below arrives, it stops the driver and returns 125
 *    (128+n for a signal) without starting the app.
 * 5. Starts the app with stdin `/dev/null` (the shim's stdin with
 *    `interactive`) and stdout/stderr the FIFOs themselves, in a session
 *    and process group of its own (util-linux's `setsid`, when there is
 *    one), forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
 *    to it. When it exits, what it left running in its group is killed. The shim holds its own write ends until the
 *    app exits, so the driver sees end of file only then.
 * 6. Closes its ends, sends SIGTERM to the driver, kills it after
 *    `killTimeout`, removes the temporary folder, and writes one line with
 *    the container id, exit code and log path.
 *
 * With `logDriver: "none"`, steps 2–4 are skipped and the output discarded.
 * Messages for the user (and the driver's stderr) go to `options.stderr`.
 *
 * With `tty` (terminal mode), step 1 also opens a pseudo-terminal (125 if
 * that fails), and step 5 differs: right after the driver is ready the shim
 * closes its end of the stderr FIFO, so the driver reads end of file on
 * fd 4 at once (containerd gives a terminal-mode logger an fd 4 that carries
 * nothing, too). The app is started by `setsid -c` in a new session, with
 * the terminal as its controlling terminal, stdin, stdout and stderr. The
 * shim copies the terminal's output to the stdout FIFO (and to its own
 * stdout with `interactive`) until the app has exited and every process
 * holding the terminal has closed it, or nothing more has come for a
 * second. With `interactive`, it types its stdin into the terminal (raw
 * mode while the app runs when stdin is a terminal, restored on every way
 * out), and follows its own terminal's size (SIGWINCH) unless `windowSize`
 * is given.
 *
 * Needs `--allow-run` (it runs `/bin/sh`, which runs `mkfifo`, Deno and the
 * command), `--allow-read` (PATH lookup, Deno's path), `--allow-write`
 * (data root, temporary folder) and `--allow-env` (the app inherits the
 * whole environment); with `tty` also `--allow-ffi` (the pseudo-terminal
 * comes from the C library). It listens for SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1 and SIGUSR2 while it runs (passed to the app, so that
 * the shim outlives it, as `docker run` does), and with `interactive` for
 * SIGWINCH.
 *
 * @param options The container's settings.
 * @returns The app's exit code (128+n if killed by signal n), 125 if the
 * shim or the driver failed, 126 or 127 if the command cannot run.
 * @throws {RangeError} If the id, namespace, data root or log path is
 * invalid, or the driver is unknown.
 * @throws {Error} If the shim cannot set itself up (temporary folder,
 * FIFOs, starting `/bin/sh`), or the terminal's output cannot be read.
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
  // As `docker run` attached: the signals an app may act on are passed to
  // it, and none of them ends the shim while the app runs, so the shim
  // outlives it, its output is drained and the user's terminal restored.
  // (Deno 2.9 also opens its inspector on SIGUSR1, listener or not: the
  // README says to send that one to the app's process group instead.)
  const signals = new SignalRelay(FORWARDED_SIGNALS);
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
      // An empty name is found nowhere, as Docker's exec says (127).
      const found = name === ""
        ? { status: "not-found" as const }
        : await lookPath(name, { path: appEnv.PATH ?? DEFAULT_PATH });
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
      const problem = await execFormatProblem(found.path);
      if (problem !== null) {
        await out.say(
          `shimlog: ${JSON.stringify(name)}: cannot run ${
            JSON.stringify(found.path)
          }: ${problem}`,
        );
        return 126;
      }
      argv = [found.path, ...config.command.slice(1)];
    }
    const app: App = {
      argv,
      env: appEnv,
      stdin: config.interactive ? "inherit" : "null",
      terminal: null,
      setsid: config.tty ? null : await findSetsid(),
    };
    if (config.tty) {
      const terminal = await openTerminal(config, out);
      if (typeof terminal === "number") return terminal;
      app.terminal = terminal;
    }

    let status: Deno.CommandStatus;
    try {
      if (config.logDriver === "none") {
        if (signals.received !== null) {
          return 128 + signalNumber(signals.received);
        }
        status = app.terminal === null
          ? await runCommand(app, null, signals)
          : await runInTerminal(app, app.terminal, null, signals);
      } else {
        const result = await runWithDriver(config, app, signals, out);
        if (result.failed) return result.code;
        status = result.status;
      }
    } finally {
      app.terminal?.pty.close();
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
  tty: boolean;
  interactive: boolean;
  windowSize: WindowSize | null;
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
    tty: options.tty ?? false,
    interactive: options.interactive ?? false,
    windowSize: options.windowSize ?? null,
    readyTimeout: options.readyTimeout ?? LOCK_WAIT_MS + 3000,
    killTimeout: options.killTimeout ?? 12_000,
    driverPath: options.driverPath ?? new URL("../driver.ts", import.meta.url),
    appPath: options.appPath ?? new URL("../app.ts", import.meta.url),
  };
}

/** Steps 2 to 6 of runShim; `failed` means the app never ran. */
async function runWithDriver(
  config: Config,
  app: App,
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
  const lockPath = `${dirname(configPath)}/${CONTAINER_LOCK}`;
  // A container that never starts leaves nothing behind that it created.
  const freshDir = !(await exists(dirname(configPath)));
  const forget = async () => {
    if (!freshDir) return;
    await Deno.remove(configPath).catch(() => {});
    await Deno.remove(lockPath).catch(() => {});
    await Deno.remove(dirname(configPath)).catch(() => {}); // only if empty
  };
  let running: Deno.FsFile | undefined;
  try {
    running = await holdContainerLock(lockPath);
  } catch (error) {
    await forget();
    await out.say(
      `shimlog: cannot create ${JSON.stringify(lockPath)}: ${describe(error)}`,
    );
    return { failed: true, code: SHIM_FAILURE_EXIT_CODE };
  }
  if (running === undefined) {
    // As Docker refuses a name in use: two runs would share one log.
    await out.say(
      `shimlog: container ${
        JSON.stringify(config.id)
      } is already running in namespace ${
        JSON.stringify(config.namespace)
      } (its shim holds ${
        JSON.stringify(lockPath)
      }): wait for it to exit, or choose another --name`,
    );
    return { failed: true, code: SHIM_FAILURE_EXIT_CODE };
  }
  try {
    try {
      await writeLogConfig(configPath, {
        driver: config.logDriver,
        opts: config.logOpts,
        labels: config.labels,
        env: config.env,
      });
    } catch (error) {
      await forget();
      await out.say(
        `shimlog: cannot write ${JSON.stringify(configPath)}: ${
          describe(error)
        }`,
      );
      return { failed: true, code: SHIM_FAILURE_EXIT_CODE };
    }

    const tempDir = await Deno.makeTempDir({
      prefix: `${FIFO_FOLDER_PREFIX}${Deno.pid}-`,
    });
    await removeStaleFifoFolders(dirname(tempDir));
    try {
      const fifos = {
        out: `${tempDir}/out`,
        err: `${tempDir}/err`,
        ready: `${tempDir}/ready`,
      };
      await makeFifos([fifos.out, fifos.err, fifos.ready], 0o600);

      // Each FIFO read-write before the driver starts: its shell's opens
      // then never wait for this process, even if it is killed meanwhile
      // (a shell waiting for an end that will never come would stay for
      // ever).
      const outEnd = new FifoEnd(fifos.out, "both");
      const errEnd = new FifoEnd(fifos.err, "both");
      const readyEnd = new FifoEnd(fifos.ready, "both");
      const driver = startDriver(config, fifos, out);
      let appRunning = false;
      let log: Deno.FsFile | null = null;
      const watch = driver.child.status.then(async (status) => {
        if (!appRunning) return;
        // No reader left once the shim lets go of its ends: the app's
        // writes (and the shim's copy of a terminal's output, through its
        // own write-only end) fail with EPIPE instead of filling the FIFOs
        // and hanging.
        await outEnd.close();
        await errEnd.close();
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
          // The driver holds the read ends, and so does the shim, so the
          // app's own opens of the FIFOs cannot block.
          await outEnd.opened();
          await errEnd.opened();
          // Terminal mode: the shim copies the terminal's output into the
          // log through an end of its own that only writes, so that it
          // fails with EPIPE once the driver is gone (the read-write end
          // would let it fill the FIFO and wait for ever).
          log = app.terminal === null
            ? null
            : await Deno.open(fifos.out, { write: true });
          // Terminal mode: fd 4 carries nothing, and the driver's reader of it
          // ends at once: the shim held its only writer. (It has opened
          // /dev/fd/4 before signalling ready, so closing now cannot leave
          // its open blocked.)
          if (app.terminal !== null) await errEnd.close();
          appRunning = true;
          const status = app.terminal === null
            ? await runCommand(app, fifos, signals)
            : await runInTerminal(app, app.terminal, log, signals);
          appRunning = false;
          log?.close();
          log = null;
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
        await forget();
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
        log?.close();
        await outEnd.close();
        await errEnd.close();
        await readyEnd.close();
        driver.kill("SIGKILL");
        await driver.child.status;
        await driver.child.stdin.close().catch(() => {});
        await watch;
        await driver.stderrDone;
      }
    } finally {
      await Deno.remove(tempDir, { recursive: true }).catch(async (error) => {
        if (error instanceof Deno.errors.NotFound) return; // cleaned already
        await out.say(
          `shimlog: cannot remove ${JSON.stringify(tempDir)}: ${
            describe(error)
          }`,
        );
      });
    }
  } finally {
    running.close(); // after forget(): the folder's last file goes last
  }
}

/** How a shim's private folder of FIFOs is named: then its pid and `-`. */
const FIFO_FOLDER_PREFIX = "shimlog-";

/** The name of a shim's folder of FIFOs, its pid captured. */
const STALE_NAME = new RegExp(`^${FIFO_FOLDER_PREFIX}(\\d+)-`);

/**
 * A folder of FIFOs whose shim is gone is older than this, in ms, before it
 * is deleted (a shim uses it only while it starts its driver and its app).
 */
const STALE_FIFO_FOLDER_MS = 60_000;

/**
 * Deletes what shims killed with SIGKILL left in `tmp`: their folders of
 * FIFOs, `shimlog-PID-…`, when no process has that pid and the folder is
 * older than {@linkcode STALE_FIFO_FOLDER_MS} (a shim in another pid
 * namespace that shares `tmp` is then long past its start-up). Folders it
 * cannot delete (another user's) are left.
 */
async function removeStaleFifoFolders(tmp: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(tmp)) {
      const match = STALE_NAME.exec(entry.name);
      if (match === null || !entry.isDirectory) continue;
      const path = `${tmp}/${entry.name}`;
      try {
        const { mtime } = await Deno.stat(path);
        if (
          mtime === null ||
          Date.now() - mtime.getTime() < STALE_FIFO_FOLDER_MS ||
          await processLives(match[1])
        ) {
          continue;
        }
        await Deno.remove(path, { recursive: true });
      } catch {
        // Gone meanwhile, or not ours to delete.
      }
    }
  } catch {
    // The folder cannot be listed: nothing to clean.
  }
}

/**
 * Whether a process has this pid (`kill -0`, through `/bin/sh`: Deno reads
 * `/proc` only with --allow-all, and has no signal 0). A process of another
 * user counts as gone; its folder is not ours to delete anyway.
 */
async function processLives(pid: string): Promise<boolean> {
  const { success } = await new Deno.Command("/bin/sh", {
    args: ["-c", 'kill -0 "$1" 2>/dev/null', "sh", pid],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

/**
 * The file in a container's folder that its shim holds an exclusive `flock`
 * on while it runs, so that a second shim of the same container refuses to
 * start (as Docker refuses a name in use); the kernel drops the lock when
 * the shim exits, however it exits.
 */
export const CONTAINER_LOCK = "shim.lock";

/**
 * Takes the container's lock without waiting, making its folder (0750) and
 * the file (0640) if need be.
 *
 * @returns The open, locked file, or `undefined` when another process holds
 *   the lock.
 */
async function holdContainerLock(
  path: string,
): Promise<Deno.FsFile | undefined> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const file = await Deno.open(path, {
    read: true,
    write: true,
    create: true,
    mode: 0o640,
  });
  try {
    if (await file.tryLock(true)) return file;
  } catch (error) {
    file.close();
    throw error;
  }
  file.close();
  return undefined;
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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
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
  const text = JSON.stringify(content) + "\n";
  // A rerun with the same settings writes nothing (so it works on a full
  // disk, where the driver then reports what it drops).
  if (await Deno.readTextFile(path).then((t) => t === text, () => false)) {
    return;
  }
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, {
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
    // The driver stops before ready if its parent, this shim, dies.
    [PARENT_PID_ENV]: String(Deno.pid),
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
      ...driverRunArgs(toPath(config.driverPath), withRealPaths(dirs), {
        parentPid: true,
      }),
      "data-root",
      config.dataRoot!,
    ],
    clearEnv: true,
    env,
    // Never written: its end of file tells a driver not yet ready that the
    // shim is gone (see PARENT_PID_ENV).
    stdin: "piped",
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
 * Waits for the ready byte, the driver's exit, the timeout or a signal; no
 * read of the ready FIFO is left pending when it returns.
 */
async function waitReady(
  readyEnd: FifoEnd,
  driverStatus: Promise<Deno.CommandStatus>,
  timeout: number,
  signals: SignalRelay,
): Promise<ReadyOutcome> {
  let reading = true;
  const readByte = (async (): Promise<ReadyOutcome> => {
    const file = await readyEnd.opened();
    // The shim holds a writer too, so there is no end of file: the
    // driver's exit is seen from its status.
    const n = await file.read(new Uint8Array(1));
    return n === 1 ? { kind: "ready" } : { kind: "exited" };
  })().finally(() => reading = false);
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
    if (reading) {
      // Ends the read still waiting, with a byte of the shim's own (which
      // opens at once: the shim holds a reader), so that no read is left
      // pending when the FIFO is closed.
      const waker = await Deno.open(readyEnd.path, { write: true });
      try {
        await waker.write(new Uint8Array(1));
      } finally {
        waker.close();
      }
      await readByte.catch(() => {});
    }
  }
}

/** The app to run: its command line, environment and stdio. */
interface App {
  argv: string[];
  env: Record<string, string>;
  /** `inherit`: the shim's stdin (`-i` without `-t`). */
  stdin: "null" | "inherit";
  /** Terminal mode (`-t`), or `null`. */
  terminal: AppTerminal | null;
  /**
   * Without `-t`: util-linux's `setsid`, which starts the app in a session
   * and process group of its own, or `null` when there is none.
   */
  setsid: string | null;
}

/** util-linux's `setsid` on {@linkcode DEFAULT_PATH}, if it is there. */
async function findSetsid(): Promise<string | null> {
  const found = await lookPath("setsid", { path: DEFAULT_PATH });
  return found.status === "found" ? found.path : null;
}

/** What terminal mode needs, set up before the driver starts. */
interface AppTerminal {
  pty: PseudoTerminal;
  /** util-linux's `setsid`, which makes the pty the controlling terminal. */
  setsid: string;
  /** Type the shim's stdin into the pty and show its output (`-i`). */
  interactive: boolean;
  /** Follow the shim's own terminal's size (SIGWINCH). */
  followSize: boolean;
}

/**
 * How long the terminal's output is read after the app exited while some
 * other process (started by the app) still holds the terminal open and is
 * silent, in milliseconds.
 */
const TERMINAL_DRAIN_IDLE_MS = 1000;

/**
 * Finds `setsid` and opens the pseudo-terminal, sized as our terminal (or
 * as `windowSize`, or 80×24). Returns the exit code instead if it cannot.
 */
async function openTerminal(
  config: Config,
  out: Output,
): Promise<AppTerminal | number> {
  const setsid = await lookPath("setsid", { path: DEFAULT_PATH });
  if (setsid.status !== "found") {
    await out.say(
      "shimlog: -t needs setsid (util-linux), which is not on " +
        DEFAULT_PATH,
    );
    return SHIM_FAILURE_EXIT_CODE;
  }
  const ours = config.windowSize === null ? terminalWindowSize() : null;
  try {
    const pty = PseudoTerminal.open(
      config.windowSize ?? ours ?? DEFAULT_WINDOW_SIZE,
    );
    return {
      pty,
      setsid: setsid.path,
      interactive: config.interactive,
      followSize: ours !== null,
    };
  } catch (error) {
    await out.say(
      `shimlog: cannot open a pseudo-terminal for -t: ${describe(error)}`,
    );
    return SHIM_FAILURE_EXIT_CODE;
  }
}

/**
 * Runs the app through `sh -c 'exec "$@" …'` so its stdio are the FIFOs
 * themselves (or `/dev/null`), forwarding signals to it while it runs.
 *
 * With `setsid`, the app runs in a session and process group of its own
 * (`setsid -w` execs it in place: same pid), and what it leaves running
 * when it exits is killed then (SIGKILL to the group), as a container's
 * processes end with its init; a terminal's Ctrl-C then reaches the app
 * only through the shim.
 */
async function runCommand(
  app: App,
  fifos: { out: string; err: string } | null,
  signals: SignalRelay,
): Promise<Deno.CommandStatus> {
  const input = app.stdin === "null" ? " </dev/null" : "";
  const argv = app.setsid === null ? app.argv : [app.setsid, "-w", ...app.argv];
  const args = fifos === null
    ? ["-c", `exec "$@"${input} >/dev/null 2>&1`, "sh", ...argv]
    : [
      "-c",
      `out=$1 err=$2; shift 2; exec "$@"${input} >"$out" 2>"$err"`,
      "sh",
      fifos.out,
      fifos.err,
      ...argv,
    ];
  const child = new Deno.Command("/bin/sh", {
    args,
    clearEnv: true,
    env: app.env,
    stdin: app.stdin,
    stdout: "null",
    // Only the shell's own errors (a failed redirection) land here.
    stderr: "inherit",
  }).spawn();
  signals.forwardTo(child);
  try {
    return await child.status;
  } finally {
    signals.forwardTo(null);
    if (app.setsid !== null) {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // Nothing of the app's was left (ESRCH).
      }
    }
  }
}

/**
 * Runs the app on the pseudo-terminal: `setsid -c` gives it a new session
 * whose controlling terminal is the pty, opened once read-write as its
 * stdin, stdout and stderr (as `login` does). While it runs, the terminal's
 * output is copied to `log` (the stdout FIFO; `null` discards it) and, with
 * `-i`, to our stdout, and our stdin is typed into the terminal. After it
 * exits, the output is read to the end (see {@linkcode ConsoleCopy.drain})
 * before this returns, and our terminal is restored on every way out.
 */
async function runInTerminal(
  app: App,
  terminal: AppTerminal,
  log: Deno.FsFile | null,
  signals: SignalRelay,
): Promise<Deno.CommandStatus> {
  const { pty } = terminal;
  const stopResize = terminal.followSize
    ? onWindowResize((size) => {
      try {
        pty.setSize(size);
      } catch {
        // The pty is closed: the app is gone.
      }
    })
    : () => {};
  const stopTyping = new AbortController();
  let input: InputReader | null = null;
  let raw: RawMode | null = null;
  let typing: Promise<void> = Promise.resolve();
  let copy: ConsoleCopy | null = null;
  try {
    if (terminal.interactive) {
      input = new InputReader();
      raw = RawMode.enter();
    }
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'pts=$1; shift; exec "$@" 0<>"$pts" 1>&0 2>&0',
        "sh",
        pty.path,
        terminal.setsid,
        // -c: the pty (stdin) becomes the controlling terminal. setsid does
        // not fork, since Deno's children are not process group leaders: the
        // app keeps the child's pid, and so gets our signals and gives us
        // its exit status directly.
        "-c",
        ...app.argv,
      ],
      clearEnv: true,
      env: app.env,
      stdin: "null",
      stdout: "null",
      // Only the shell's own errors (a failed redirection) land here.
      stderr: "inherit",
    }).spawn();
    signals.forwardTo(child);
    copy = new ConsoleCopy(pty, log, terminal.interactive ? Deno.stdout : null);
    if (input !== null) typing = typeInto(pty, input, stopTyping.signal);
    let status: Deno.CommandStatus;
    try {
      status = await child.status;
    } finally {
      signals.forwardTo(null);
    }
    // Nothing more is typed; what the app wrote is still read to the end.
    stopTyping.abort();
    pty.closeSlave();
    await copy.drain(TERMINAL_DRAIN_IDLE_MS);
    return status;
  } finally {
    stopTyping.abort();
    copy?.stop();
    await typing;
    await copy?.done.catch(() => {});
    input?.close();
    raw?.restore();
    stopResize();
  }
}

/** Types what arrives on our stdin into the pty, until stopped or end of input. */
async function typeInto(
  pty: PseudoTerminal,
  input: InputReader,
  signal: AbortSignal,
): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    let n;
    while ((n = await input.read(buffer, { signal })) !== null) {
      await pty.write(buffer.subarray(0, n), { signal });
    }
  } catch {
    // Stopped, the pty closed, or stdin failed: nothing more to type. As in
    // Docker, the end of our stdin is not passed on (a terminal has no end
    // of file; the app may still be running).
  }
}

/**
 * Copies the terminal's output to the log and, with `-i`, to our stdout.
 * A log that fails (the driver died) is dropped, and the copy goes on, so
 * the app never blocks on a full terminal.
 */
class ConsoleCopy {
  /** Settles when the copy ends; rejects if the pty cannot be read. */
  readonly done: Promise<void>;
  #pty: PseudoTerminal;
  #log: Deno.FsFile | null;
  #mirror: { write(bytes: Uint8Array): Promise<number> } | null;
  #stop = new AbortController();
  #idleMs: number | null = null;
  #reading = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    pty: PseudoTerminal,
    log: Deno.FsFile | null,
    mirror: { write(bytes: Uint8Array): Promise<number> } | null,
  ) {
    this.#pty = pty;
    this.#log = log;
    this.#mirror = mirror;
    this.done = this.#run();
    // Handled when awaited; until then a failure must not count as unhandled.
    this.done.catch(() => {});
  }

  /**
   * Called once the app exited and the shim closed its slave: reads on
   * until end of file (no process holds the terminal any more), or until
   * nothing has come for `idleMs` while a process the app left behind still
   * holds it. The wait counts only time spent waiting for output, not time
   * spent writing it to a slow driver.
   */
  drain(idleMs: number): Promise<void> {
    this.#idleMs = idleMs;
    if (this.#reading) this.#arm();
    return this.done;
  }

  /** Stops at once (an error path). */
  stop(): void {
    this.#stop.abort();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#idleMs === null) return;
    this.#timer = setTimeout(() => this.#stop.abort(), this.#idleMs);
  }

  async #run(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        this.#reading = true;
        this.#arm();
        let n;
        try {
          n = await this.#pty.read(buffer, { signal: this.#stop.signal });
        } finally {
          this.#reading = false;
          clearTimeout(this.#timer);
        }
        if (n === null) return;
        const chunk = buffer.subarray(0, n);
        if (this.#log !== null) {
          if (!await writeAll(this.#log, chunk)) this.#log = null;
        }
        if (this.#mirror !== null) {
          if (!await writeAll(this.#mirror, chunk)) this.#mirror = null;
        }
      }
    } catch (error) {
      // The pty cannot be read: hang it up, so the app does not block.
      this.#pty.close();
      throw error;
    } finally {
      clearTimeout(this.#timer);
    }
  }
}

/** Writes all of `bytes`; `false` if the writer failed (e.g. a broken pipe). */
async function writeAll(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<boolean> {
  try {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await writer.write(bytes.subarray(offset));
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Listens for the given signals while the shim runs. Before the app starts
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

  constructor(signals: readonly Deno.Signal[]) {
    this.first = new Promise((resolve) => this.#resolveFirst = resolve);
    for (const signal of signals) {
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

/** The signals {@linkcode runShim} passes to the app while it runs. */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
];

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

function signalNumber(signal: Deno.Signal): number {
  return SIGNAL_NUMBERS[signal] ?? 15;
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

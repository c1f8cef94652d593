/**
 * The containerd binary logging protocol (`runtime/v2/logging`): fds, ready
 * pipe, environment, signals and exit code around {@linkcode copyStreams}.
 *
 * @module
 */

import { loadDriverConfig } from "./driver_config.ts";
import { promoteStartupHeap } from "./heap.ts";
import { copyStreams } from "./logger.ts";
import { exists, folderOf, removeIfExists } from "./_files.ts";
import {
  LOCK_WAIT_MS,
  type LogLock,
  logLockPath,
  tryHoldLogLock,
} from "./log_lock.ts";
import { LogRetirer } from "./log_retire.ts";
import {
  PIPE_CAPACITY,
  PipeReader,
  ROTATING_PIPE_CAPACITY,
} from "./pipe_reader.ts";
import { prepareSink } from "./sinks.ts";
import { PARENT_PID_ENV } from "./driver_command.ts";
import { type WriteEventReporter, writeEventReporter } from "./write_report.ts";

/** Where the protocol's file descriptors are found, and other knobs. */
export interface LoggingDriverOptions {
  /** Source of `CONTAINER_ID` and `CONTAINER_NAMESPACE`. @default {Deno.env} */
  env?: { get(name: string): string | undefined };
  /** The container's stdout (fd 3). @default {"/dev/fd/3"} */
  stdoutPath?: string;
  /** The container's stderr (fd 4). @default {"/dev/fd/4"} */
  stderrPath?: string;
  /** The ready pipe (fd 5). @default {"/dev/fd/5"} */
  readyPath?: string;
  /**
   * How long to keep draining after SIGTERM, in ms (containerd closes the
   * write ends before it signals, and kills the logger after 12 s).
   * @default {2000}
   */
  drainMs?: number;
  /**
   * How long after SIGTERM a compression still running may go on, in ms;
   * then it is abandoned and its file stays uncompressed, so that the
   * driver exits before containerd kills it (12 s after SIGTERM).
   * @default {8000}
   */
  compressMs?: number;
  /**
   * How long to wait for another writer's lock on the log, in ms: a driver
   * of the same container's last run finishes within 11 s of its SIGTERM;
   * past that, two containers share one `log-path`, and the driver says so
   * and exits before ready.
   * @default {12000}
   */
  lockWaitMs?: number;
  /** Stops the driver as SIGTERM does; for tests. */
  signal?: AbortSignal;
  /** Where error messages go. @default {console.error} */
  report?: (message: string) => void;
}

/**
 * Runs a containerd binary logging driver to completion:
 * 1. reads its settings from `args` (`key value` pairs) and the environment,
 *    merged over `log-config.json` (see {@linkcode loadDriverConfig});
 * 2. opens the sink and the container's stdout (fd 3) and stderr (fd 4);
 * 3. signals ready: writes one byte to fd 5 and closes what it opened (works
 *    for `binary://` and `binary-v2://`);
 * 4. copies until both streams end. SIGINT, SIGHUP, SIGQUIT and SIGUSR2
 *    are ignored; after SIGTERM it drains for at most `drainMs`, then writes
 *    what it holds.
 *
 * While it writes, it holds an exclusive lock on `<log>.lock` (see
 * `holdLogLock` in `log_lock.ts`), released once everything is on disk, so that a
 * follower knows when to stop.
 *
 * Any error before step 3 is reported and returns 1 without signalling
 * ready, so that a shim can refuse to start the container; so does the
 * death of its parent (checked before each step until ready, and every
 * 50 ms of a wait for another writer's lock): nobody is left to read the
 * ready byte, and a pipe whose writers died with it would keep the driver
 * waiting for ever.
 *
 * Needs `--allow-read=/dev/fd/3,/dev/fd/4,LOGDIR`,
 * `--allow-write=/dev/fd/5,LOGDIR` and
 * `--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE`. With `--allow-ffi` for the
 * C library as well (see `libcCandidates` in `libc_path.ts`), it reads the
 * pipes through a {@linkcode PipeReader}: 1.2 to 1.8 times as fast on lines
 * of 1 to 64 KiB in the benchmark.
 *
 * @param args The argv after the program name.
 * @param options File descriptor paths and knobs, for tests.
 * @returns The exit code: 0 after a clean drain, 1 on an error.
 */
export async function runLoggingDriver(
  args: readonly string[],
  options: LoggingDriverOptions = {},
): Promise<number> {
  const report = options.report ?? ((m: string) => console.error(m));
  const stop = new AbortController();
  // Before ready, SIGTERM stops at once, even a wait for a pipe's writer.
  const early = new AbortController();
  let ready = false;
  // After SIGTERM: the drain ends, then a compression running is given up.
  const abandon = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let abandonTimer: ReturnType<typeof setTimeout> | undefined;
  let termAt: number | undefined;
  const onTerm = () => {
    termAt ??= performance.now();
    if (!ready) early.abort("Stopped by SIGTERM");
    else {
      timer ??= setTimeout(() => stop.abort(), options.drainMs ?? 2000);
      abandonTimer ??= setTimeout(
        () => abandon.abort(),
        options.compressMs ?? 8000,
      );
    }
  };
  // Ignored: a terminal's Ctrl-C, Ctrl-\ or hang-up, or a signal sent to a
  // whole process group, is for the app; the driver goes on until its pipes
  // end. (SIGUSR1 cannot be: Deno 2.9 opens its inspector on it.)
  const onInt = () => {};
  options.signal?.addEventListener("abort", onTerm, { once: true });
  Deno.addSignalListener("SIGTERM", onTerm);
  // Before ready, a driver whose parent died (a shim killed while it
  // started) has nobody to signal, and a reopen of a pipe whose writers
  // died with it would wait for ever: it stops instead. Checked before each
  // step (a timer would load Deno's timers, about 2 MB more per idle
  // driver): the fds' writers are open before Deno starts (the shell's
  // redirections wait for them), so a reopen can block only once the
  // parent is gone.
  const { pid: parent, fromShim } = expectedParent(options.env ?? Deno.env);
  if (fromShim && options.stdoutPath === undefined) {
    // Our shim holds the write end of the driver's stdin until it exits:
    // end of file there is its death, seen at once, during an open too.
    Deno.stdin.read(new Uint8Array(1)).catch(() => null).then(() => {
      if (!ready) early.abort(`The driver's parent (pid ${parent}) exited`);
    });
  }
  const parentLives = (what: string) => {
    if (Deno.ppid !== parent) {
      throw new Error(
        `The driver's parent (pid ${parent}) exited before ${what}, before ready: nobody is left to start the container`,
      );
    }
  };
  for (const signal of IGNORED_SIGNALS) Deno.addSignalListener(signal, onInt);
  const open: (Deno.FsFile | PipeReader)[] = [];
  let lock: LogLock | undefined;
  let retirer: LogRetirer | undefined;
  let readyPipe: Deno.FsFile | null = null;
  let reporter: WriteEventReporter | undefined;
  try {
    let opened;
    let logPath: string | undefined;
    try {
      const config = await loadDriverConfig(args, options.env ?? Deno.env);
      // Settings are checked before the fds are touched, and the file is
      // created only once both streams are open.
      const prepared = prepareSink(config);
      logPath = prepared.path;
      parentLives("opening fd 3");
      open.push(
        await openStream(
          options.stdoutPath ?? "/dev/fd/3",
          3,
          prepared.maxSize,
          early.signal,
        ),
      );
      parentLives("opening fd 4");
      open.push(
        await openStream(
          options.stderrPath ?? "/dev/fd/4",
          4,
          prepared.maxSize,
          early.signal,
        ),
      );
      // The ready pipe too, before any file is made: a driver that cannot
      // signal ready leaves nothing behind.
      parentLives("opening fd 5");
      readyPipe = await untilStopped(
        openReadyPipe(options.readyPath ?? "/dev/fd/5"),
        early.signal,
        "opening fd 5",
      );
      // The writer's marker: followers (logs.ts -f) stop once it is released.
      // Taken before any of the log's files is touched: a second driver of
      // the same log (a container restarted while its old driver drains)
      // waits here, not past SIGTERM, and then finds the first one's
      // rotation and compressions finished, its size final.
      lock = await lockLog(
        prepared.path,
        early.signal,
        options.lockWaitMs ?? LOCK_WAIT_MS,
        () => parentLives("another writer's lock on the log was released"),
      );
      // While a follower reads, rotation keeps what it discards for it.
      retirer = new LogRetirer(prepared.path);
      // A full disk drops entries, told on stderr; the container goes on.
      reporter = writeEventReporter(
        prepared.path,
        (line) => report(`shimlog driver: ${line}`),
      );
      opened = prepared.open({ retirer, onEvent: reporter.onEvent });
      retirer.start();
      parentLives("the log was opened");
      ready = true;
    } catch (error) {
      report(`shimlog driver: ${describe(error)}${permissionHint(error)}`);
      readyPipe?.close();
      await opened?.sink.close().catch(() => {});
      // No log made, no marker left: kubelet's run numbers count the names.
      if (lock !== undefined && logPath !== undefined && !exists(logPath)) {
        try {
          removeIfExists(lock.path);
        } catch { /* it stays, unlocked: "finished" to a reader */ }
      }
      return 1;
    }
    const { sink } = opened;
    try {
      // Start-up's garbage out of the young generation before data comes.
      promoteStartupHeap();
      if (readyPipe !== null) await writeReadyByte(readyPipe);
      const result = await copyStreams(
        { stdout: open[0], stderr: open[1] },
        sink,
        { signal: stop.signal },
      );
      // After SIGTERM's drain, compressions not begun are left undone.
      await sink.close(result.ended, {
        signal: stop.signal,
        abandon: abandon.signal,
      });
      if (result.ended.length === 2) {
        for (const file of open.splice(0)) file.close();
      }
      return 0;
    } catch (error) {
      report(`shimlog driver: ${describe(error)}`);
      await sink.close().catch(() => {});
      return 1;
    }
  } finally {
    reporter?.finish(); // the drops the paced lines left unsaid
    lock?.release(); // after the sink's close: everything is on disk
    // Followers see the end, read what was retired for them, and let go.
    // Within containerd's 12 s after SIGTERM, all the waits included.
    const left = termAt === undefined
      ? Infinity
      : termAt + EXIT_WITHIN_MS - performance.now();
    await retirer?.finish({
      waitMs: Math.max(0, Math.min(FOLLOWERS_WAIT_MS, left)),
    }).catch((error) => report(`shimlog driver: ${describe(error)}`));
    for (const file of open) {
      try {
        file.close();
      } catch { /* a read may still hold it; the process is ending */ }
    }
    // (A first timer call loads Deno's timers module: 10 ms at exit.)
    if (timer !== undefined) clearTimeout(timer);
    if (abandonTimer !== undefined) clearTimeout(abandonTimer);
    Deno.removeSignalListener("SIGTERM", onTerm);
    for (const signal of IGNORED_SIGNALS) {
      Deno.removeSignalListener(signal, onInt);
    }
  }
}

/** What the driver ignores: see `runLoggingDriver`. */
const IGNORED_SIGNALS: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR2",
];

/** How long the driver waits for followers at exit, in ms. */
const FOLLOWERS_WAIT_MS = 5000;

/**
 * The driver is gone this long after SIGTERM at the latest, in ms, waits for
 * compression and followers included (containerd kills it at 12 s).
 */
const EXIT_WITHIN_MS = 11_000;

/**
 * The driver's parent: the pid a shim put in {@linkcode PARENT_PID_ENV}
 * (when it may be read), or the parent now.
 */
function expectedParent(
  env: { get(name: string): string | undefined },
): { pid: number; fromShim: boolean } {
  try {
    const value = env.get(PARENT_PID_ENV);
    if (value !== undefined && /^[1-9]\d{0,9}$/.test(value)) {
      return { pid: Number(value), fromShim: true };
    }
  } catch {
    // Not granted: containerd sets no such variable.
  }
  return { pid: Deno.ppid, fromShim: false };
}

/**
 * Makes the log's folder (mode 0750) and takes the writer's lock on the log
 * (see {@linkcode tryHoldLogLock}), trying again every 50 ms while another
 * writer holds it, until `signal` aborts or `waitMs` pass.
 */
async function lockLog(
  path: string,
  signal: AbortSignal,
  waitMs: number,
  parentLives: () => void,
): Promise<LogLock> {
  let lock: LogLock | undefined;
  if (await isFolder(path)) {
    throw new Error(
      `Cannot open log file "${path}": it is a folder (log-path names the file to write)`,
    );
  }
  try {
    await Deno.mkdir(folderOf(path), { recursive: true, mode: 0o750 });
    lock = await tryHoldLogLock(path);
  } catch (error) {
    throw new Error(
      `Cannot open log file "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  const until = performance.now() + waitMs;
  while (lock === undefined) {
    if (performance.now() >= until) {
      const pid = await Deno.readTextFile(logLockPath(path))
        .then((text) => text.trim()).catch(() => "");
      throw new Error(
        `Another driver${
          /^\d+$/.test(pid) ? ` (pid ${pid})` : ""
        } has been writing "${path}" for ${waitMs} ms more (it holds ${
          logLockPath(path)
        }): two containers may not share one log-path; give each its own`,
      );
    }
    await untilStopped(
      new Promise((resolve) => setTimeout(resolve, 50)),
      signal,
      "waiting for another writer's lock on the log",
    );
    parentLives();
    lock = await tryHoldLogLock(path);
  }
  return lock;
}

/** Whether `path` is a folder; false when it cannot be looked at. */
async function isFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Opens one of the container's streams, explaining the two ways it fails
 * outside containerd: the fd is not open, or it is not a pipe (Deno grants
 * `--allow-read=/dev/fd/N` for pipes and FIFOs only).
 */
async function openStream(
  path: string,
  fd: number,
  maxSize: number,
  signal: AbortSignal,
): Promise<Deno.FsFile | PipeReader> {
  let file;
  try {
    file = await untilStopped(
      Deno.open(path, { read: true }),
      signal,
      `opening fd ${fd}`,
    );
  } catch (error) {
    throw explainFdError(error, path, fd);
  }
  // With --allow-ffi for the C library: reads without a thread hand-off,
  // and a larger pipe, larger still to write on through rotations of files
  // at least as large (a backlog of smaller files would take as many
  // rotations to write, after SIGTERM too).
  const capacity = maxSize !== Infinity && maxSize >= ROTATING_PIPE_CAPACITY
    ? ROTATING_PIPE_CAPACITY
    : PIPE_CAPACITY;
  return PipeReader.upgrade(path, file, capacity) ?? file;
}

/** `work`, or an error saying what was interrupted once `signal` aborts. */
async function untilStopped<T>(
  work: Promise<T>,
  signal: AbortSignal,
  what: string,
): Promise<T> {
  const stopped = new Promise<never>((_, reject) => {
    const fail = () =>
      reject(new Error(`${signal.reason} while ${what}, before ready`));
    if (signal.aborted) fail();
    signal.addEventListener("abort", fail, { once: true });
  });
  stopped.catch(() => {}); // handled by the race below, or never needed
  return await Promise.race([work, stopped]);
}

function explainFdError(error: unknown, path: string, fd: number): unknown {
  if (!path.startsWith("/dev/fd/")) return error;
  const layout =
    "a binary logging driver gets the container's stdout on fd 3, its stderr on fd 4 and the ready pipe on fd 5, as pipes (run by hand: 3< <(app) 4< <(true) 5> >(cat >/dev/null), with the deno executable itself: npx passes on only fds 0 to 2)";
  if (error instanceof Deno.errors.NotFound) {
    return new Error(`fd ${fd} is not open: ${layout}`, { cause: error });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    // EACCES from the kernel: /dev/fd/N opens the pipe again, which its
    // permissions allow only its owner (or root).
    return new Error(
      `fd ${fd} is a pipe that the driver's user may not open again (reading /dev/fd/${fd} opens it anew, which the pipe's owner and mode must allow): run the driver as the user who made its pipes, or as root; ${layout}`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new Error(
      `fd ${fd} is not open, or not a pipe or FIFO, or was not granted (--allow-read=/dev/fd/3,/dev/fd/4 --allow-write=/dev/fd/5 cover pipes only; a closed fd's number is taken by Deno's own files): ${layout}`,
      { cause: error },
    );
  }
  return error;
}

/**
 * Signals ready to containerd: one byte on the ready pipe, then close. A
 * path that does not exist is skipped (no ready pipe); a closed `/dev/fd/5`
 * is an error, which Deno reports as a permission not granted. The driver
 * itself opens the pipe before it makes its log file and writes the byte
 * once the file is open, so that a driver that cannot signal ready leaves
 * nothing behind.
 *
 * @param path The ready pipe's path, `/dev/fd/5` under containerd.
 */
export async function signalReady(path: string): Promise<void> {
  const ready = await openReadyPipe(path);
  if (ready !== null) await writeReadyByte(ready);
}

/** Opens the ready pipe; `null` for a path that does not exist. */
async function openReadyPipe(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw explainFdError(error, path, 5);
  }
}

/** Writes the ready byte and closes the pipe. */
async function writeReadyByte(ready: Deno.FsFile): Promise<void> {
  try {
    await ready.write(new Uint8Array([1]));
  } catch (error) {
    throw new Error(
      `Cannot signal ready on fd 5: its reader is gone (${
        (error as Error).message
      }); containerd stopped waiting for this driver`,
      { cause: error },
    );
  } finally {
    ready.close();
  }
}

/**
 * What to do about a folder outside the driver's Deno permissions: Deno's
 * own advice ("run again with the --allow-read flag") does not reach a
 * driver that containerd starts through its wrapper.
 */
function permissionHint(error: unknown): string {
  let e: unknown = error;
  while (e instanceof Error && !(e instanceof Deno.errors.NotCapable)) {
    e = e.cause;
  }
  if (!(e instanceof Deno.errors.NotCapable) || /\/dev\/fd\//.test(e.message)) {
    return "";
  }
  if (/Requires env access/.test(e.message)) {
    return " (run the driver with --allow-env=CONTAINER_ID,CONTAINER_NAMESPACE)";
  }
  return " (the driver may read and write only the folders its --allow-read and --allow-write name: add this one, for the containerd wrapper with scripts/install_driver.ts --allow-dir DIR)";
}

/**
 * A one-line description of an error for a user: the message for errors of
 * use and of the system, without a stack trace.
 *
 * @param error What was thrown.
 * @returns The text.
 */
export function describe(error: unknown): string {
  if (error instanceof AggregateError) {
    return `${error.message}: ${error.errors.map(describe).join("; ")}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Child processes for `scripts/bench.ts`: each one starts in a session of its
 * own (`setsid`), so that it and everything it starts (a pipeline, process
 * substitutions, the driver) can be killed as a group when a bound passes or
 * the user presses Ctrl-C. Every process is awaited.
 *
 * @module
 */

/** Process groups still running, by the pid of their leader. */
const live = new Set<number>();
let interrupted = false;

/** Thrown when the user interrupted the benchmark (SIGINT or SIGTERM). */
export class Interrupted extends Error {
  /** Creates the error. */
  constructor() {
    super("Interrupted");
    this.name = "Interrupted";
  }
}

/**
 * Kills every running group on SIGINT or SIGTERM and marks the benchmark as
 * interrupted, so that the caller's `finally` can clean up.
 *
 * @returns A function that removes the listeners.
 */
export function handleInterrupts(): () => void {
  const onSignal = () => {
    interrupted = true;
    for (const pid of live) killGroup(pid);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return () => {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  };
}

/** @throws {Interrupted} If the user interrupted the benchmark. */
export function checkInterrupted(): void {
  if (interrupted) throw new Interrupted();
}

/**
 * Sends `signal` to a whole process group. `Deno.kill` needs an unrestricted
 * `--allow-run`; with a list of programs, the shell's `kill` does it.
 */
function killGroup(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(-pid, signal);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) return; // already gone
  }
  new Deno.Command("bash", {
    args: ["-c", 'kill -s "$1" -- "-$2" 2>/dev/null', "bash", signal, `${pid}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How to start a child. */
export interface SpawnOptions {
  /** Environment variables to set. */
  env?: Record<string, string>;
  /** Start from an empty environment (then only `env`). @default {false} */
  clearEnv?: boolean;
  /** A pipe the caller writes to, or `/dev/null`. @default {"null"} */
  stdin?: "piped" | "null";
}

/** How a child ended. */
export interface Finished {
  /** Exit code (128+n after signal n). */
  code: number;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** Milliseconds from just before the spawn to the exit. */
  wallMs: number;
  /** `performance.now()` when the exit was seen. */
  endMs: number;
  /** Everything it wrote on stdout. */
  stdout: Uint8Array;
  /** Everything it wrote on stderr, as text. */
  stderr: string;
  /** The bound passed and the group was killed. */
  timedOut: boolean;
}

/** A child started by {@linkcode spawn}. */
export interface Running {
  /** Its pid, also the id of its process group. */
  pid: number;
  /** `performance.now()` just before the spawn. */
  startMs: number;
  /**
   * When stdout first delivered bytes (`byte: true`), or reached its end
   * without any (`byte: false`), as `performance.now()`.
   */
  firstOutput: Promise<{ atMs: number; byte: boolean }>;
  /** The write end of its stdin, when `stdin: "piped"`. */
  stdin: WritableStream<Uint8Array> | null;
  /** Kills its whole process group now (no-op once it has exited). */
  kill(): void;
  /**
   * Waits for the exit. After `timeoutMs` the whole group is killed (and
   * `timedOut` set); the output streams are then given 5 s more.
   */
  wait(timeoutMs: number): Promise<Finished>;
}

/**
 * Starts `argv` through `setsid`, with stdout and stderr piped and read in
 * the background.
 *
 * @param argv The program and its arguments.
 * @param options Environment and stdin.
 * @returns The running child.
 */
export function spawn(argv: string[], options: SpawnOptions = {}): Running {
  checkInterrupted();
  const startMs = performance.now();
  const child = new Deno.Command("setsid", {
    args: argv,
    env: options.env,
    clearEnv: options.clearEnv ?? false,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pid = child.pid;
  live.add(pid);
  let endMs = 0;
  let exited = false;
  const status = child.status.then((s) => {
    endMs = performance.now();
    exited = true;
    live.delete(pid);
    return s;
  });
  let markFirst: (value: { atMs: number; byte: boolean }) => void = () => {};
  const firstOutput = new Promise<{ atMs: number; byte: boolean }>((r) =>
    markFirst = r
  );
  const stdout = collect(child.stdout, markFirst);
  const stderr = collect(child.stderr, () => {});
  return {
    pid,
    startMs,
    firstOutput,
    stdin: options.stdin === "piped" ? child.stdin : null,
    kill() {
      if (!exited) killGroup(pid);
    },
    async wait(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let timedOut = false;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (exited) return;
          timedOut = true;
          killGroup(pid);
          resolve();
        }, timeoutMs);
      });
      await Promise.race([status, bound]);
      const s = await status;
      clearTimeout(timer);
      const [out, err] = await Promise.all([
        stdout.settle(5000),
        stderr.settle(5000),
      ]);
      return {
        code: s.code,
        signal: s.signal,
        wallMs: endMs - startMs,
        endMs,
        stdout: out,
        stderr: new TextDecoder().decode(err),
        timedOut,
      };
    },
  };
}

/**
 * Opens one end of a FIFO, which blocks until the other end is opened too,
 * unless `until` settles first: then the other end is opened here (which
 * lets the pending open finish), both are closed, and the result is `null`.
 *
 * @param path The FIFO.
 * @param side The end to open.
 * @param until Settles when no partner can come any more (the process that
 *   was to open the other end has exited).
 * @returns The open end, or `null` if `until` settled first.
 */
export async function openFifo(
  path: string,
  side: "read" | "write",
  until: Promise<unknown>,
): Promise<Deno.FsFile | null> {
  const reading = side === "read";
  const opening = Deno.open(path, { read: reading, write: !reading });
  const gone = until.then(() => null, () => null);
  const file = await Promise.race([opening, gone]);
  if (file !== null) return file;
  const partner = Deno.open(path, { read: !reading, write: reading });
  const both = await Promise.allSettled([opening, partner]);
  for (const s of both) if (s.status === "fulfilled") s.value.close();
  return null;
}

interface Collector {
  /** All bytes, once the stream ends or `ms` pass (then it is cancelled). */
  settle(ms: number): Promise<Uint8Array>;
}

function collect(
  stream: ReadableStream<Uint8Array>,
  onFirst: (value: { atMs: number; byte: boolean }) => void,
): Collector {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    let first = true;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (first && value.length > 0) {
          first = false;
          onFirst({ atMs: performance.now(), byte: true });
        }
        chunks.push(value);
      }
    } catch { /* cancelled */ }
    if (first) onFirst({ atMs: performance.now(), byte: false });
    reader.releaseLock();
  })();
  return {
    async settle(ms) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), ms);
      });
      if (await Promise.race([done.then(() => false), late])) {
        await reader.cancel().catch(() => {});
        await done;
      }
      clearTimeout(timer);
      return concat(chunks);
    },
  };
}

/** Joins byte arrays. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Runs a short helper command (no `setsid`) and returns its stdout, or `null`
 * if it cannot be started, fails or takes more than `timeoutMs`.
 *
 * @param cmd The program.
 * @param args Its arguments.
 * @param options Where to run it, extra environment, the bound.
 * @returns Its stdout as text, or `null`.
 */
export async function capture(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } =
    {},
): Promise<string | null> {
  const result = await captureAll(cmd, args, options);
  return result.code === 0 ? result.stdout : null;
}

/**
 * Runs a short helper command and returns its exit code, stdout and stderr;
 * code -1 if it cannot be started (with the reason on stderr) and code -2 if
 * it took more than `timeoutMs` (then it is killed).
 *
 * @param cmd The program.
 * @param args Its arguments.
 * @param options Where to run it, extra environment, the bound.
 * @returns The outcome.
 */
export async function captureAll(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } =
    {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  checkInterrupted();
  const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: signal.aborted ? -2 : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (error) {
    return { code: -1, stdout: "", stderr: (error as Error).message };
  }
}

/** CPU time and peak memory of a process, as `/usr/bin/time` reports. */
export interface Usage {
  /** User CPU seconds. */
  userS: number;
  /** System CPU seconds. */
  sysS: number;
  /** Peak resident set size in KiB. */
  maxRssKiB: number;
}

/** The `/usr/bin/time` format {@linkcode parseTimeOutput} reads. */
export const TIME_FORMAT = "%e %U %S %M";

/**
 * Reads what `/usr/bin/time -f "%e %U %S %M" -o FILE` wrote: the last line
 * (a first line may say the command failed).
 *
 * @param text The file's content.
 * @returns The figures, or `null` if the last line is not four numbers.
 */
export function parseTimeOutput(text: string): Usage | null {
  const lines = text.trim().split("\n");
  const fields = lines[lines.length - 1].trim().split(/\s+/).map(Number);
  if (fields.length !== 4 || fields.some((f) => !Number.isFinite(f))) {
    return null;
  }
  return { userS: fields[1], sysS: fields[2], maxRssKiB: fields[3] };
}

/**
 * Reads a file under `/proc/PID/` through `cat` (a Deno process needs
 * `--allow-all` to read `/proc` itself).
 *
 * @param pid The process.
 * @param name The file, e.g. `status` or `smaps_rollup`.
 * @returns Its text, or `null` if the process is gone.
 */
export function readProc(pid: number, name: string): Promise<string | null> {
  return capture("cat", [`/proc/${pid}/${name}`], { timeoutMs: 5000 });
}

/**
 * Reads a `kB` field (`VmHWM`, `Pss`, `Rss`, …) from `/proc` text.
 *
 * @param text The content of `status` or `smaps_rollup`.
 * @param field The field name, without the colon.
 * @returns The value in KiB, or `null` if absent.
 */
export function procField(text: string, field: string): number | null {
  const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return match === null ? null : Number(match[1]);
}

/**
 * Polls the peak RSS (`VmHWM`) of a process every `intervalMs` until `until`
 * settles; the fallback when `/usr/bin/time` is absent. The last reading
 * before the exit is kept, so a peak in the final interval can be missed.
 *
 * @param pid The process, once known (a promise of its pid).
 * @param until Settles when the process has exited.
 * @param intervalMs How often to read.
 * @returns The highest `VmHWM` seen in KiB, or `null` if none was read.
 */
export async function pollPeakRss(
  pid: Promise<number | null>,
  until: Promise<unknown>,
  intervalMs = 100,
): Promise<number | null> {
  let ended = false;
  until.finally(() => ended = true).catch(() => {});
  const id = await pid;
  if (id === null) return null;
  let peak: number | null = null;
  while (!ended) {
    const text = await readProc(id, "status");
    const hwm = text === null ? null : procField(text, "VmHWM");
    if (hwm !== null) peak = Math.max(peak ?? 0, hwm);
    await Promise.race([sleep(intervalMs), until.catch(() => {})]);
  }
  return peak;
}

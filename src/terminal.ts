/**
 * Our own side of an interactive session (`shim.ts -it`): the size of the
 * terminal we run in and its changes (SIGWINCH), raw mode for its input, and
 * a reader of our stdin that can be stopped without leaving a read behind.
 *
 * @module
 */

import {
  acquireLibc,
  EAGAIN,
  EINTR,
  errno,
  errorMessage,
  type Libc,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  pollOne,
  releaseLibc,
} from "./_libc.ts";
import type { WindowSize } from "./pty.ts";

/**
 * The size of the terminal this process runs in (its stdout, stderr or
 * stdin, as {@linkcode Deno.consoleSize}), or `null` when none of them is a
 * terminal.
 *
 * @returns The size, or `null`.
 *
 * @example Usage
 * ```ts
 * import { terminalWindowSize } from "./terminal.ts";
 * const size = terminalWindowSize();
 * console.log(size === null ? "no terminal" : `${size.columns}×${size.rows}`);
 * ```
 */
export function terminalWindowSize(): WindowSize | null {
  try {
    const { columns, rows } = Deno.consoleSize();
    return { columns, rows };
  } catch {
    return null;
  }
}

/**
 * Calls `listener` whenever our terminal's size changes (SIGWINCH), until
 * the returned function is called. The listener does not keep the process
 * alive.
 *
 * @param listener Called with the new size.
 * @returns A function that stops listening.
 *
 * @example Usage
 * ```ts
 * import { onWindowResize } from "./terminal.ts";
 * const stop = onWindowResize((size) => console.log(size));
 * stop();
 * ```
 */
export function onWindowResize(
  listener: (size: WindowSize) => void,
): () => void {
  const handler = () => {
    const size = terminalWindowSize();
    if (size !== null) listener(size);
  };
  Deno.addSignalListener("SIGWINCH", handler);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    Deno.removeSignalListener("SIGWINCH", handler);
  };
}

/**
 * Raw mode on our stdin's terminal: every byte typed is passed on at once,
 * not echoed, and Ctrl-C, Ctrl-Z and Ctrl-\ are characters, not signals.
 * {@linkcode RawMode.restore} puts the terminal's settings back as they
 * were; call it on every way out (a `finally`).
 *
 * @example Usage
 * ```ts
 * import { RawMode } from "./terminal.ts";
 * const raw = RawMode.enter(); // null when stdin is not a terminal
 * try {
 *   // ... read keystrokes ...
 * } finally {
 *   raw?.restore();
 * }
 * ```
 */
export class RawMode {
  #restored = false;

  private constructor() {}

  /**
   * Switches our stdin's terminal to raw mode.
   *
   * @returns The mode to restore, or `null` when stdin is not a terminal.
   * @throws {Error} If the terminal's settings cannot be changed.
   */
  static enter(): RawMode | null {
    if (!Deno.stdin.isTerminal()) return null;
    Deno.stdin.setRaw(true);
    return new RawMode();
  }

  /** Restores the settings from before {@linkcode RawMode.enter}; again does nothing. */
  restore(): void {
    if (this.#restored) return;
    this.#restored = true;
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // The terminal is gone (hung up): nothing to restore.
    }
  }
}

/** Options for {@linkcode InputReader.read}. */
export interface InputReadOptions {
  /** When aborted, the read returns `null` within a quarter of a second. */
  signal?: AbortSignal;
}

// How long a poll waits before a read looks at its abort signal again.
const POLL_MS = 250;

/**
 * Reads this process's stdin (fd 0) so that a read can be given up: unlike
 * `Deno.stdin.read()`, which keeps a read pending until a byte arrives, a
 * read waits with `poll` on a worker thread and returns `null` soon after
 * its signal aborts. The descriptor is never switched to non-blocking mode
 * (that would change it for every process sharing it).
 *
 * Needs `--allow-ffi`.
 *
 * @example Usage
 * ```ts ignore
 * import { InputReader } from "./terminal.ts";
 * const input = new InputReader();
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 1000);
 * try {
 *   const buffer = new Uint8Array(1024);
 *   let n;
 *   while ((n = await input.read(buffer, { signal: stop.signal })) !== null) {
 *     console.log(`${n} bytes`);
 *   }
 * } finally {
 *   input.close();
 * }
 * ```
 */
export class InputReader {
  #libc: Libc;
  #closed = false;
  #polls = 0;

  /**
   * Prepares to read fd 0.
   *
   * @throws {Error} If the C library cannot be loaded (see
   * {@linkcode PseudoTerminal}).
   */
  constructor() {
    this.#libc = acquireLibc();
  }

  /**
   * Reads what is available on stdin, waiting until something is.
   *
   * @param buffer Where to put the bytes.
   * @param options An abort signal.
   * @returns How many bytes were read, or `null` at end of input, when the
   * signal aborts, or once closed.
   * @throws {Error} If the system reports an error other than a hang-up.
   */
  async read(
    buffer: Uint8Array,
    options: InputReadOptions = {},
  ): Promise<number | null> {
    if (buffer.length === 0) return 0;
    for (;;) {
      if (this.#closed || options.signal?.aborted) return null;
      this.#polls++;
      let events;
      try {
        events = await pollOne(this.#libc, 0, POLLIN, POLL_MS);
      } finally {
        if (--this.#polls === 0 && this.#closed) releaseLibc();
      }
      if (this.#closed || options.signal?.aborted) return null;
      if (events & POLLNVAL) return null;
      if ((events & (POLLIN | POLLHUP | POLLERR)) === 0) continue;
      // Ready: the read does not block, so it can run on this thread.
      const n = Number(this.#libc.read(0, buffer, BigInt(buffer.length)));
      if (n >= 0) return n === 0 ? null : n;
      const code = errno(this.#libc);
      if (code === EAGAIN || code === EINTR) continue;
      if (events & (POLLHUP | POLLERR)) return null;
      throw new Error(`Cannot read stdin: ${errorMessage(this.#libc, code)}`);
    }
  }

  /** Stops reading; a pending read returns `null`. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#polls === 0) releaseLibc();
  }
}

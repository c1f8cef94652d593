/**
 * A pseudo-terminal from the operating system (`/dev/ptmx`), as `openpty(3)`
 * makes one: the master, which this process reads and writes, and the slave
 * (`/dev/pts/N`), which a child opens as its terminal. Through Deno's FFI to
 * the C library; Linux only.
 *
 * @module
 */

import {
  acquireLibc,
  EAGAIN,
  EINTR,
  EIO,
  errno,
  errorMessage,
  type Libc,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  pollOne,
  POLLOUT,
  releaseLibc,
  TIOCGWINSZ,
  TIOCSWINSZ,
  winsize,
} from "./_libc.ts";

/** A terminal's size in character cells, as {@linkcode Deno.consoleSize}. */
export interface WindowSize {
  /** Columns (characters per line). */
  columns: number;
  /** Rows (lines). */
  rows: number;
}

/** The size of a terminal that has none of its own: 80×24, as Docker. */
export const DEFAULT_WINDOW_SIZE: Readonly<WindowSize> = Object.freeze({
  columns: 80,
  rows: 24,
});

/** Options for {@linkcode PseudoTerminal.read}. */
export interface PtyReadOptions {
  /** When aborted, the read returns `null` within a quarter of a second. */
  signal?: AbortSignal;
}

/** Options for {@linkcode PseudoTerminal.write}. */
export interface PtyWriteOptions {
  /**
   * When aborted, a write still waiting for room stops within a quarter of
   * a second, throwing the signal's reason.
   */
  signal?: AbortSignal;
}

// How long a poll waits before a read looks at its abort signal again.
const POLL_MS = 250;

/**
 * A pseudo-terminal pair. The master is kept by this object (non-blocking,
 * close-on-exec, so no child inherits it); the slave is opened once by this
 * object too ({@linkcode PseudoTerminal.closeSlave} closes it), so that the
 * master reads end of file only after both the child and this object have
 * closed the slave, and nothing the child wrote is lost in between.
 *
 * A child gets the terminal by opening {@linkcode PseudoTerminal.path}, e.g.
 * `setsid -c sh -c '…' 0<>/dev/pts/N 1>&0 2>&0` (`setsid -c` makes it the
 * child's controlling terminal).
 *
 * Needs `--allow-ffi`.
 *
 * @example Usage
 * ```ts
 * import { PseudoTerminal } from "./pty.ts";
 * import assert from "node:assert/strict";
 * const pty = PseudoTerminal.open({ columns: 100, rows: 30 });
 * try {
 *   const child = new Deno.Command("/bin/sh", {
 *     args: ["-c", 'stty size <"$1" >"$1"', "sh", pty.path],
 *   }).spawn();
 *   await child.status;
 *   pty.closeSlave();
 *   const buffer = new Uint8Array(100);
 *   const n = await pty.read(buffer);
 *   assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "30 100\r\n");
 *   assert.equal(await pty.read(buffer), null);
 * } finally {
 *   pty.close();
 * }
 * ```
 */
export class PseudoTerminal {
  /** The slave's path, `/dev/pts/N`. */
  readonly path: string;
  #libc: Libc;
  #master: number;
  #slave: number;
  #closed = false;
  #polls = 0;

  private constructor(libc: Libc, master: number, slave: number, path: string) {
    this.#libc = libc;
    this.#master = master;
    this.#slave = slave;
    this.path = path;
  }

  /**
   * Opens a new pseudo-terminal (`posix_openpt`, `grantpt`, `unlockpt`,
   * `ptsname_r`, then the slave with `O_NOCTTY`) and sets its window size.
   *
   * Needs `--allow-ffi`.
   *
   * @param size The window size.
   * @returns The pseudo-terminal; close it with {@linkcode PseudoTerminal.close}.
   * @throws {RangeError} If a dimension of `size` is not an integer from 0
   * to 65535.
   * @throws {Error} If the system refuses, with its message.
   */
  static open(size: WindowSize = DEFAULT_WINDOW_SIZE): PseudoTerminal {
    checkSize(size);
    const libc = acquireLibc();
    let master = -1;
    let slave = -1;
    try {
      const fail = (call: string) => {
        const code = errno(libc);
        throw new Error(
          `Cannot open a pseudo-terminal: ${call}: ${errorMessage(libc, code)}`,
        );
      };
      master = libc.posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
      if (master < 0) fail("posix_openpt");
      if (libc.grantpt(master) !== 0) fail("grantpt");
      if (libc.unlockpt(master) !== 0) fail("unlockpt");
      const name = new Uint8Array(128);
      const err = libc.ptsname_r(master, name, BigInt(name.length));
      if (err !== 0) {
        throw new Error(
          `Cannot open a pseudo-terminal: ptsname_r: ${
            errorMessage(libc, err)
          }`,
        );
      }
      const path = name.subarray(0, name.indexOf(0));
      slave = libc.open(
        Uint8Array.from([...path, 0]),
        O_RDWR | O_NOCTTY | O_CLOEXEC,
        0,
      );
      if (slave < 0) fail("open");
      if (libc.ioctl(master, TIOCSWINSZ, winsize(size.rows, size.columns))) {
        fail("ioctl(TIOCSWINSZ)");
      }
      return new PseudoTerminal(
        libc,
        master,
        slave,
        new TextDecoder().decode(path),
      );
    } catch (error) {
      if (slave >= 0) libc.close(slave);
      if (master >= 0) libc.close(master);
      releaseLibc();
      throw error;
    }
  }

  /**
   * Sets the window size; the kernel sends SIGWINCH to the terminal's
   * foreground process group when it changes.
   *
   * @param size The new size.
   * @throws {RangeError} If a dimension is not an integer from 0 to 65535.
   * @throws {Error} If the terminal is closed or the system refuses.
   */
  setSize(size: WindowSize): void {
    checkSize(size);
    this.#checkOpen();
    if (
      this.#libc.ioctl(
        this.#master,
        TIOCSWINSZ,
        winsize(size.rows, size.columns),
      )
    ) {
      throw this.#error("set the window size");
    }
  }

  /**
   * The window size.
   *
   * @returns The terminal's size.
   * @throws {Error} If the terminal is closed.
   */
  getSize(): WindowSize {
    this.#checkOpen();
    const bytes = winsize(0, 0);
    if (this.#libc.ioctl(this.#master, TIOCGWINSZ, bytes)) {
      throw this.#error("get the window size");
    }
    const view = new DataView(bytes.buffer);
    return { columns: view.getUint16(2, true), rows: view.getUint16(0, true) };
  }

  /**
   * Closes this object's descriptor of the slave (the child keeps its own).
   * Call it once the child has opened the slave, or has exited: the master
   * then reads end of file as soon as no process holds the slave. Calling it
   * again does nothing.
   */
  closeSlave(): void {
    if (this.#slave < 0) return;
    this.#libc.close(this.#slave);
    this.#slave = -1;
  }

  /**
   * Reads what the terminal's processes wrote (with the terminal's output
   * processing applied: `\n` becomes `\r\n`, and what is typed is echoed).
   *
   * @param buffer Where to put the bytes.
   * @param options An abort signal.
   * @returns How many bytes were read; `null` once no process holds the
   * slave and everything was read (the master's `EIO`), when the signal
   * aborts, or when the terminal is closed.
   * @throws {Error} If the system reports another error.
   */
  async read(
    buffer: Uint8Array,
    options: PtyReadOptions = {},
  ): Promise<number | null> {
    if (buffer.length === 0) return 0;
    for (;;) {
      if (this.#closed || options.signal?.aborted) return null;
      const n = Number(
        this.#libc.read(this.#master, buffer, BigInt(buffer.length)),
      );
      if (n > 0) return n;
      if (n === 0) return null;
      const code = errno(this.#libc);
      if (code === EIO) return null;
      if (code !== EAGAIN && code !== EINTR) {
        throw this.#error("read the pseudo-terminal", code);
      }
      await this.#poll(POLLIN);
    }
  }

  /**
   * Writes all of `bytes` to the terminal, as if typed, waiting while the
   * terminal's input buffer is full.
   *
   * @param bytes What to type.
   * @param options An abort signal.
   * @throws {Error} If the terminal is closed, or the system reports an
   * error.
   * @throws {DOMException} The signal's reason, if it aborts first.
   */
  async write(
    bytes: Uint8Array,
    options: PtyWriteOptions = {},
  ): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      options.signal?.throwIfAborted();
      this.#checkOpen();
      const rest = bytes.subarray(offset);
      const n = Number(
        this.#libc.write(this.#master, rest, BigInt(rest.length)),
      );
      if (n >= 0) {
        offset += n;
        continue;
      }
      const code = errno(this.#libc);
      if (code !== EAGAIN && code !== EINTR) {
        throw this.#error("write to the pseudo-terminal", code);
      }
      await this.#poll(POLLOUT);
    }
  }

  /**
   * Closes both descriptors; the slave's processes see a hang-up. A pending
   * read returns `null`, and the descriptors are closed once it has. Calling
   * it again does nothing.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeSlave();
    if (this.#polls === 0) this.#release();
  }

  /** Whether {@linkcode PseudoTerminal.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  async #poll(events: number): Promise<void> {
    this.#polls++;
    try {
      await pollOne(this.#libc, this.#master, events, POLL_MS);
    } finally {
      if (--this.#polls === 0 && this.#closed) this.#release();
    }
  }

  #release(): void {
    this.#libc.close(this.#master);
    this.#master = -1;
    releaseLibc();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new Error(`Pseudo-terminal "${this.path}" is closed`);
    }
  }

  #error(what: string, code = errno(this.#libc)): Error {
    return new Error(
      `Cannot ${what} "${this.path}": ${errorMessage(this.#libc, code)}`,
    );
  }
}

function checkSize(size: WindowSize): void {
  for (const [name, value] of Object.entries(size)) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      throw new RangeError(
        `Invalid window ${name} "${value}": expected an integer from 0 to 65535`,
      );
    }
  }
}

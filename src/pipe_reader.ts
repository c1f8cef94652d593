/**
 * Reading a container's stdout or stderr pipe without a thread hand-off per
 * read, when the C library may be called (`--allow-ffi`).
 *
 * @module
 */

import { openLibc } from "./libc_path.ts";

/** `open(2)`: no blocking reads, not inherited by children. */
const O_RDONLY_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;
/** `fcntl(2)` commands for a pipe's capacity (Linux). */
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

/**
 * The pipe capacity a {@linkcode PipeReader} asks for, in bytes: four times
 * Linux's default of 64 KiB, so that the container's writes block less
 * often and each read takes more. Larger pipes measured slower here (the
 * reads no longer fit the CPU's caches).
 */
export const PIPE_CAPACITY = 256 * 1024;

/**
 * The pipe capacity a {@linkcode PipeReader} asks for when its driver's log
 * rotates at a `max-size` of at least as much (a backlog of smaller files
 * would take many rotations to write, after SIGTERM too), in bytes: 1 MiB,
 * the most Linux gives without privilege
 * (`/proc/sys/fs/pipe-max-size`). A rotation pauses the driver (a new file,
 * renames), and the kernel's freeing of the discarded file's page cache
 * takes CPU from the container and the driver, about 1 ms per 10 MB; a
 * pipe of 1 MiB lets the container write on through that (1.7 ms of
 * writing at 600 MB/s) where 256 KiB would block it. Measured here with
 * `max-size=10m max-file=5`: rotation cost 13 % more time than none with
 * 256 KiB, 6.5 % with 1 MiB.
 */
export const ROTATING_PIPE_CAPACITY = 1024 * 1024;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

let shared: { library: Libc; users: number } | null | undefined;

function acquire(): Libc["symbols"] | null {
  if (shared === undefined || shared === null) {
    const library = openLibc(SYMBOLS);
    if (library === null) return null;
    shared = { library, users: 0 };
  }
  shared.users++;
  return shared.library.symbols;
}

function release(): void {
  if (shared && --shared.users === 0) {
    shared.library.close();
    shared = undefined;
  }
}

/**
 * The capacity of the pipe or FIFO at `path` (`F_GETPIPE_SZ`), without
 * changing it; opening it does not block.
 *
 * @param path A FIFO, or `/dev/fd/N` for a pipe.
 * @returns The capacity in bytes, -1 if it is not a pipe, or `null` when the
 *   C library may not be called or the path cannot be opened.
 */
export function pipeCapacity(path: string): number | null {
  const libc = acquire();
  if (libc === null) return null;
  try {
    const fd = libc.open(
      new TextEncoder().encode(`${path}\0`),
      O_RDONLY_NONBLOCK_CLOEXEC,
      0,
    );
    if (fd < 0) return null;
    const capacity = libc.fcntl(fd, F_GETPIPE_SZ, 0);
    libc.close(fd);
    return capacity;
  } finally {
    release();
  }
}

/**
 * A pipe (or FIFO) read two ways: {@linkcode PipeReader.readNow} takes what
 * is there without blocking, on the calling thread (a `read(2)` on a
 * second, non-blocking open of the same pipe); {@linkcode PipeReader.read}
 * waits for data as `Deno.FsFile.read` does. A copy loop uses the first
 * while data keeps coming and the second only when the pipe is empty: under
 * load it then reads as `cat` does, and when idle it waits without spinning.
 * Both take bytes from the same pipe in order, so never have a `read()`
 * pending while calling `readNow()`.
 *
 * It also raises the pipe's capacity to {@linkcode PIPE_CAPACITY}, as a
 * capacity the writer shares: the container blocks less.
 *
 * Linux only; needs `--allow-ffi` for the C library (see
 * {@linkcode openLibc}) besides the read permission for the path.
 */
export class PipeReader {
  #file: Deno.FsFile;
  #fd: number;
  #libc: Libc["symbols"];
  #closed = false;

  private constructor(file: Deno.FsFile, fd: number, libc: Libc["symbols"]) {
    this.#file = file;
    this.#fd = fd;
    this.#libc = libc;
  }

  /**
   * Adds non-blocking reads to `file`, an open pipe read end.
   *
   * @param path The path `file` was opened from (`/dev/fd/3`, a FIFO).
   * @param file The pipe, open for reading.
   * @param capacity The capacity to raise the pipe to, in bytes (a pipe
   *   already larger keeps its own): {@linkcode PIPE_CAPACITY} or, for a
   *   log that rotates at 1 MiB or more, {@linkcode ROTATING_PIPE_CAPACITY}.
   * @returns The reader, which now owns `file`; or `null` when the C
   *   library may not be called or the path cannot be opened again (then
   *   `file` is left as it was).
   */
  static upgrade(
    path: string,
    file: Deno.FsFile,
    capacity: number = PIPE_CAPACITY,
  ): PipeReader | null {
    const libc = acquire();
    if (libc === null) return null;
    const fd = libc.open(
      new TextEncoder().encode(`${path}\0`),
      O_RDONLY_NONBLOCK_CLOEXEC,
      0,
    );
    if (fd < 0) {
      release();
      return null;
    }
    const size = libc.fcntl(fd, F_GETPIPE_SZ, 0);
    if (size < 0) {
      // Not a pipe (a regular file given by hand): a second open would
      // read it again from the start.
      libc.close(fd);
      release();
      return null;
    }
    // Best effort: refused above /proc/sys/fs/pipe-max-size, and to a user
    // without privilege whose pipes it would take past
    // /proc/sys/fs/pipe-user-pages-soft, which the smaller one may not.
    if (
      size < capacity && libc.fcntl(fd, F_SETPIPE_SZ, capacity) < 0 &&
      size < PIPE_CAPACITY && capacity > PIPE_CAPACITY
    ) libc.fcntl(fd, F_SETPIPE_SZ, PIPE_CAPACITY);
    return new PipeReader(file, fd, libc);
  }

  /**
   * Reads what the pipe holds now, without waiting.
   *
   * A failed `read(2)` counts as "nothing now": with no blocking there is
   * no `EINTR`, `EAGAIN` is the expected case, and any other error comes
   * back from the {@linkcode PipeReader.read} the caller then waits on
   * (`errno` itself cannot be read with FFI granted for one library only).
   *
   * @param buffer Where the bytes go.
   * @returns The number of bytes read (at least 1); 0 when the pipe is
   *   empty but a writer still has it open; `null` at the end (no writer
   *   left and nothing to read).
   */
  readNow(buffer: Uint8Array): number | null {
    if (buffer.length === 0) return 0;
    const n = Number(this.#libc.read(this.#fd, buffer, BigInt(buffer.length)));
    if (n > 0) return n;
    return n === 0 ? null : 0;
  }

  /**
   * Waits for bytes, as `Deno.FsFile.read`.
   *
   * @param buffer Where the bytes go.
   * @returns The number of bytes read, or `null` at the end.
   */
  read(buffer: Uint8Array): Promise<number | null> {
    return this.#file.read(buffer);
  }

  /** Closes both opens of the pipe. Closing twice does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.close(this.#fd);
    release();
    this.#file.close();
  }
}

/**
 * The few C library calls the terminal mode needs, through Deno's FFI
 * (`--allow-ffi`): pseudo-terminals, `poll`, `read`, `write`, `ioctl`.
 *
 * Linux only (glibc or musl), x86_64 and aarch64: the flag and ioctl numbers
 * below are those of Linux's generic ABI, which both use. Private: use
 * {@linkcode PseudoTerminal} and {@linkcode InputReader}.
 *
 * Reads are made cancellable and never block Deno's JavaScript thread:
 * `poll` runs on a worker thread (a nonblocking FFI call) with a short
 * timeout, and `read`/`write` run on the JavaScript thread only once `poll`
 * said they will not block (or on a descriptor in non-blocking mode), so
 * that `errno`, which is per thread, is read on the thread that set it.
 *
 * @module
 */

/** `open(2)` flags (Linux generic ABI). */
export const O_RDWR = 0o2;
/** Do not make the terminal our controlling terminal. */
export const O_NOCTTY = 0o400;
/** Reads and writes return `EAGAIN` instead of blocking. */
export const O_NONBLOCK = 0o4000;
/** Not inherited by children: the app must not hold the master. */
export const O_CLOEXEC = 0o2000000;

/** `ioctl(2)` requests (Linux generic ABI). */
export const TIOCGWINSZ = 0x5413n;
/** Sets the window size; the kernel sends SIGWINCH to the foreground. */
export const TIOCSWINSZ = 0x5414n;

/** `poll(2)` events. */
export const POLLIN = 0x1;
/** Writable. */
export const POLLOUT = 0x4;
/** An error on the descriptor. */
export const POLLERR = 0x8;
/** Hung up: for a pty master, every slave descriptor is closed. */
export const POLLHUP = 0x10;
/** Not an open descriptor. */
export const POLLNVAL = 0x20;

/** `errno` values. */
export const EINTR = 4;
/** Input/output error: a pty master reads this once the slave is closed. */
export const EIO = 5;
/** Would block. */
export const EAGAIN = 11;

/** The C functions bound, with their FFI signatures. */
export const LIBC_SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // Variadic in C; on Linux x86_64 and aarch64 a variadic pointer argument
  // is passed as a fixed one.
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The bound C library. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

// One library handle shared by every user, closed when the last releases it
// (an open handle is a resource that Deno's test sanitizer reports).
let shared:
  | { library: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>; users: number }
  | null = null;

/**
 * Opens the C library, or adds a user to the open handle.
 *
 * @returns The bound functions; call {@linkcode releaseLibc} when done.
 * @throws {Error} If this is not Linux, or the library cannot be loaded.
 * @throws {Deno.errors.NotCapable} Without `--allow-ffi`.
 */
export function acquireLibc(): Libc {
  if (shared === null) {
    if (Deno.build.os !== "linux") {
      throw new Error(
        `Pseudo-terminals are supported on Linux only, not on "${Deno.build.os}"`,
      );
    }
    let library: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;
    let firstError: unknown;
    // glibc, then musl's name for itself.
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        library = Deno.dlopen(name, LIBC_SYMBOLS);
        break;
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) throw error;
        firstError ??= error;
      }
    }
    if (library === undefined) {
      throw new Error(
        `Cannot load the C library: ${
          firstError instanceof Error ? firstError.message : String(firstError)
        }`,
      );
    }
    shared = { library, users: 0 };
  }
  shared.users++;
  return shared.library.symbols;
}

/** Removes a user added by {@linkcode acquireLibc}; the last one closes it. */
export function releaseLibc(): void {
  if (shared === null) return;
  if (--shared.users === 0) {
    shared.library.close();
    shared = null;
  }
}

/**
 * The calling thread's `errno`. Read it right after the failed call, on the
 * JavaScript thread (a synchronous FFI call).
 *
 * @param libc The bound library.
 * @returns The error number.
 */
export function errno(libc: Libc): number {
  const pointer = libc.__errno_location();
  if (pointer === null) return 0;
  return new Deno.UnsafePointerView(pointer).getInt32();
}

/**
 * The system's message for an error number, as `strerror(3)`.
 *
 * @param libc The bound library.
 * @param code The error number.
 * @returns The message, e.g. `Input/output error`.
 */
export function errorMessage(libc: Libc, code: number): string {
  const pointer = libc.strerror(code);
  return pointer === null
    ? `error ${code}`
    : new Deno.UnsafePointerView(pointer).getCString();
}

/**
 * Waits, on a worker thread, until `fd` has one of `events` or `timeout`
 * milliseconds pass.
 *
 * @param libc The bound library.
 * @param fd The descriptor.
 * @param events `POLLIN`, `POLLOUT` or both.
 * @param timeout At most this many milliseconds.
 * @returns The events that happened (`POLLHUP`, `POLLERR` and `POLLNVAL`
 * included), 0 on timeout or interruption.
 */
export async function pollOne(
  libc: Libc,
  fd: number,
  events: number,
  timeout: number,
): Promise<number> {
  // struct pollfd { int fd; short events; short revents; }
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, events, true);
  const n = await libc.poll(pollfd, 1n, timeout);
  return n > 0 ? view.getUint16(6, true) : 0;
}

/** A Linux `struct winsize` of this size. */
export function winsize(rows: number, columns: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, rows, true);
  view.setUint16(2, columns, true);
  return bytes;
}

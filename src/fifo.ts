/**
 * Named pipes (FIFOs) for handing a child process extra file descriptors,
 * which `Deno.Command` cannot do: the parent creates FIFOs in a private
 * folder, the child opens them through a shell redirection
 * (`exec "$@" 3<"$OUT"`), and the parent opens its own ends with
 * {@linkcode FifoEnd}.
 *
 * Opening one end of a FIFO blocks until the other end is opened, so the
 * parent must open its ends concurrently with the child, and must be able to
 * give up when the child dies without opening them. Linux-specific: giving up
 * relies on a read-write open of a FIFO never blocking.
 *
 * @module
 */

/**
 * Creates named pipes with `mkfifo -m MODE` (one process for all of them).
 *
 * Needs `--allow-run` (for `/bin/sh`, which runs `mkfifo`) and write
 * permission for the folder.
 *
 * @param paths The FIFOs to create; none may exist yet.
 * @param mode The permission bits, as an octal number.
 * @throws {Error} If `mkfifo` fails, with its message.
 */
export async function makeFifos(
  paths: readonly string[],
  mode = 0o600,
): Promise<void> {
  // Through /bin/sh, so a caller can limit --allow-run to /bin/sh.
  const { success, stderr } = await new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'mode=$1; shift; exec mkfifo -m "$mode" -- "$@"',
      "sh",
      mode.toString(8),
      ...paths,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    const message = new TextDecoder().decode(stderr).trim();
    throw new Error(`Cannot create FIFOs: ${message}`);
  }
}

/**
 * The parent's end of a FIFO, opened in the background as soon as the
 * object is created. {@linkcode FifoEnd.opened} waits for the other side;
 * {@linkcode FifoEnd.close} releases the end whether or not it was ever
 * opened, so a child that died before opening its end cannot leave a
 * blocked open behind.
 *
 * @example Usage
 * ```ts ignore
 * const out = new FifoEnd("/tmp/x/out", "write");
 * // ... start a child that opens /tmp/x/out for reading ...
 * try {
 *   const file = await out.opened();
 *   await file.write(new TextEncoder().encode("hi\n"));
 * } finally {
 *   await out.close();
 * }
 * ```
 */
export class FifoEnd {
  /** The FIFO's path. */
  readonly path: string;
  #open: Promise<Deno.FsFile | Error>;
  #settled = false;
  #closed = false;

  /**
   * Starts opening `path` for reading or for writing; or, with `both`,
   * opens it for both at once, which never waits: the child's opens of
   * either end then never wait for this process either, even if it dies
   * before they come (but the child never sees end of file while this end
   * is open).
   *
   * Needs read or write permission for `path` (both for `both`).
   *
   * @param path An existing FIFO.
   * @param mode Which end to open.
   */
  constructor(path: string, mode: "read" | "write" | "both") {
    this.path = path;
    if (mode === "both") {
      // Read-write: never waits (Linux), and the FIFO then has both ends.
      this.#open = Promise.resolve(
        Deno.openSync(path, { read: true, write: true }),
      );
      this.#settled = true;
      return;
    }
    this.#open = Deno.open(
      path,
      mode === "read" ? { read: true } : { write: true },
    ).then(
      (file) => {
        this.#settled = true;
        return file;
      },
      (error) => {
        this.#settled = true;
        return error instanceof Error ? error : new Error(String(error));
      },
    );
  }

  /** Whether the open has finished (successfully or not). */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Waits until the other end is open too.
   *
   * @returns The open file; {@linkcode FifoEnd.close} closes it.
   * @throws {Error} If opening failed, or the end was closed.
   */
  async opened(): Promise<Deno.FsFile> {
    const result = await this.#open;
    if (result instanceof Error) throw result;
    if (this.#closed) throw new Error(`FIFO "${this.path}" is closed`);
    return result;
  }

  /**
   * Closes this end. If the open is still waiting for the other side, it is
   * completed first by opening the FIFO read-write for a moment (which never
   * blocks on Linux). Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let unblocker: Deno.FsFile | null = null;
    if (!this.#settled) {
      unblocker = await Deno.open(this.path, { read: true, write: true });
    }
    try {
      const result = await this.#open;
      if (!(result instanceof Error)) result.close();
    } finally {
      unblocker?.close();
    }
  }
}

/**
 * Finding a command the way a shell does, before running it, so that a
 * missing or unrunnable command is reported to the user (exit 127 or 126)
 * instead of failing later inside the log.
 *
 * @module
 */

/**
 * The `PATH` used when the environment has none: Docker's and containerd's
 * default for containers.
 */
export const DEFAULT_PATH =
  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What {@linkcode lookPath} found for a command. */
export type LookPathResult =
  /** An executable regular file, at `path`. */
  | { status: "found"; path: string }
  /** No such file: a shell exits 127 ("command not found"). */
  | { status: "not-found" }
  /**
   * A file exists but cannot be run (no execute bit, or a folder named with
   * a `/`): a shell exits 126. `path` is the file, `reason` says why.
   */
  | { status: "not-executable"; path: string; reason: string };

/** Options for {@linkcode lookPath}. */
export interface LookPathOptions {
  /**
   * The search path, folders separated by `:`; an empty entry means the
   * current folder, as in a shell.
   *
   * @default {DEFAULT_PATH}
   */
  path?: string;
}

/**
 * Looks a command up as a POSIX shell does before `exec`: a name containing
 * `/` is used as is (relative to the current folder); any other name is
 * searched in each folder of `path` in order, skipping folders and files
 * that do not exist.
 *
 * Like bash, the first executable regular file wins; when the search finds
 * only files without an execute bit, the first of them is reported as
 * `not-executable` (a shell would fail to run it with 126). A file counts as
 * executable when any of its execute bits is set, which is exact for root;
 * for other users a file executable only by someone else is reported as
 * found, and then fails to start (126) when run.
 *
 * Needs read permission for the folders searched (`--allow-read`).
 *
 * @param command The command name or path, as typed (`ls`, `./run.sh`).
 * @param options The search path.
 * @returns Where the command is, or why it cannot run.
 * @throws {RangeError} If `command` is empty.
 *
 * @example Usage
 * ```ts ignore
 * import { lookPath } from "./path_lookup.ts";
 * import assert from "node:assert/strict";
 * const result = await lookPath("sh", { path: "/usr/bin:/bin" });
 * assert.equal(result.status, "found");
 * assert.equal((await lookPath("no-such-command-x")).status, "not-found");
 * ```
 */
export async function lookPath(
  command: string,
  options: LookPathOptions = {},
): Promise<LookPathResult> {
  if (command.length === 0) {
    throw new RangeError(`Cannot look up command "": it is empty`);
  }
  if (command.includes("/")) {
    let info: Deno.FileInfo | null;
    try {
      info = await statOrNull(command);
    } catch (error) {
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
      return {
        status: "not-executable",
        path: command,
        reason: "Permission denied",
      };
    }
    if (info === null) return { status: "not-found" };
    if (info.isDirectory) {
      return {
        status: "not-executable",
        path: command,
        reason: "Is a directory",
      };
    }
    if (!isExecutable(info)) {
      return {
        status: "not-executable",
        path: command,
        reason: "Permission denied",
      };
    }
    return { status: "found", path: command };
  }
  let firstNonExecutable: string | null = null;
  for (const dir of (options.path ?? DEFAULT_PATH).split(":")) {
    const candidate = dir === ""
      ? `./${command}`
      : `${trimSlash(dir)}/${command}`;
    let info: Deno.FileInfo | null;
    try {
      info = await statOrNull(candidate);
    } catch (error) {
      if (error instanceof Deno.errors.PermissionDenied) continue;
      throw error;
    }
    if (info === null || !info.isFile) continue;
    if (isExecutable(info)) return { status: "found", path: candidate };
    firstNonExecutable ??= candidate;
  }
  if (firstNonExecutable !== null) {
    return {
      status: "not-executable",
      path: firstNonExecutable,
      reason: "Permission denied",
    };
  }
  return { status: "not-found" };
}

/**
 * Why the kernel would refuse to run a file that {@linkcode lookPath}
 * found, as bash tells before it runs it (126): an ELF file for another
 * machine or cut short ("Exec format error"), or a file that is neither ELF
 * nor a `#!` script and has a NUL byte in its first line within 80 bytes
 * ("cannot execute binary file", bash's `check_binary_file`). Any other
 * file is a shell script to a shell, and to `execvp`, and runs as one.
 * Without it, `execvp` runs such a file with `/bin/sh`, which fails inside
 * the log with 127.
 *
 * Needs read permission for the file, and for the Deno executable to
 * compare an ELF file's machine with; without them nothing is found wrong.
 *
 * @param path The file.
 * @returns The reason, or `null` when the file looks runnable.
 */
export async function execFormatProblem(path: string): Promise<string | null> {
  const head = await readHead(path, 80);
  if (head === null) return null;
  if (startsWith(head, ELF_MAGIC)) {
    if (head.length < 20) return "Exec format error";
    const host = await readHead(Deno.execPath(), 20);
    if (host === null || !startsWith(host, ELF_MAGIC) || host.length < 20) {
      return null;
    }
    const machine = (h: Uint8Array) => h[18] | (h[19] << 8);
    const i386OnX8664 = machine(host) === 62 && machine(head) === 3;
    if (
      head[5] !== host[5] ||
      (machine(head) !== machine(host) && !i386OnX8664)
    ) {
      return "Exec format error";
    }
    return null;
  }
  if (head[0] === 0x23 && head[1] === 0x21) return null; // #!
  const newline = head.indexOf(0x0a);
  const firstLine = newline === -1 ? head : head.subarray(0, newline);
  return firstLine.includes(0) ? "cannot execute binary file" : null;
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/** Up to `size` first bytes of a file, or `null` if it cannot be read. */
async function readHead(
  path: string,
  size: number,
): Promise<Uint8Array | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  try {
    const buffer = new Uint8Array(size);
    let n = 0;
    while (n < size) {
      const got = await file.read(buffer.subarray(n));
      if (got === null) break;
      n += got;
    }
    return buffer.subarray(0, n);
  } catch {
    return null;
  } finally {
    file.close();
  }
}

function isExecutable(info: Deno.FileInfo): boolean {
  return info.mode === null || (info.mode & 0o111) !== 0;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory
    ) {
      return null;
    }
    throw error;
  }
}

function trimSlash(dir: string): string {
  return dir.length > 1 && dir.endsWith("/") ? dir.slice(0, -1) : dir;
}

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
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(command);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { status: "not-found" };
      // As bash says them: the file is there, or may be, but cannot run.
      const reason = error instanceof Deno.errors.PermissionDenied
        ? "Permission denied"
        : error instanceof Deno.errors.NotADirectory
        ? "Not a directory"
        : error instanceof Deno.errors.FilesystemLoop
        ? "Too many levels of symbolic links"
        : null;
      if (reason === null) throw error;
      return { status: "not-executable", path: command, reason };
    }
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
 * machine or class, not an executable or shared object, or cut short
 * ("Exec format error"), or a file that is neither ELF nor a `#!` script
 * and has a NUL byte in its first line within 128 bytes ("cannot execute
 * binary file", bash's `check_binary_file`). Any other
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
  const head = await readHead(path, 128);
  if (head === null) return null;
  if (startsWith(head, ELF_MAGIC)) return await elfProblem(path, head);
  if (head[0] === 0x23 && head[1] === 0x21) return null; // #!
  const newline = head.indexOf(0x0a);
  const firstLine = newline === -1 ? head : head.subarray(0, newline);
  return firstLine.includes(0) ? "cannot execute binary file" : null;
}

/**
 * What Linux's ELF loader would refuse in a file that starts as ELF: a
 * header cut short, a class or machine this one does not run (i386 on
 * x86-64 is run), a type that is not an executable or a shared object, or
 * program headers past the end of the file. Compared with the Deno
 * executable, which this machine runs.
 */
async function elfProblem(
  path: string,
  head: Uint8Array,
): Promise<string | null> {
  const host = await readHead(Deno.execPath(), 64);
  if (host === null || !startsWith(host, ELF_MAGIC) || host.length < 20) {
    return null;
  }
  const wide = head[4] === 2; // ELFCLASS64
  if (head.length < (wide ? 64 : 52)) return "Exec format error";
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  // Read as this machine reads its own (the loader ignores the file's
  // byte-order field).
  const little = host[5] !== 2;
  const u16 = (at: number) => view.getUint16(at, little);
  const machine = u16(18);
  const hostMachine = host[18] | (host[19] << 8);
  const i386OnX8664 = hostMachine === 62 && machine === 3 && head[4] === 1;
  if (
    !i386OnX8664 && (machine !== hostMachine || head[4] !== host[4])
  ) return "Exec format error";
  const type = u16(16);
  if (type !== 2 && type !== 3) return "Exec format error"; // EXEC, DYN
  const phoff = wide
    ? Number(view.getBigUint64(32, little))
    : view.getUint32(28, little);
  const phEnd = phoff + u16(wide ? 54 : 42) * u16(wide ? 56 : 44);
  try {
    if ((await Deno.stat(path)).size < phEnd) return "Exec format error";
  } catch {
    return null;
  }
  return null;
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

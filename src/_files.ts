/**
 * Small file-system steps shared by the rotating files, the retirer and the
 * readers: each tolerates what rotation makes ordinary (a file already gone,
 * a folder not made yet).
 *
 * @module
 */

/**
 * Opens a log file for appending, creating it with mode 0640.
 *
 * @param path The file.
 * @returns The open file.
 */
export function openAppend(path: string): Deno.FsFile {
  return Deno.openSync(path, { append: true, create: true, mode: 0o640 });
}

/**
 * Whether a path exists (a dangling symbolic link counts).
 *
 * @param path The path.
 * @returns True if it exists.
 */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Deletes a file; a missing one is no error.
 *
 * @param path The file.
 */
export function removeIfExists(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Renames a file; a missing one is no error.
 *
 * @param from The file.
 * @param to Its new path.
 */
export function renameIfExists(from: string, to: string): void {
  try {
    Deno.renameSync(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * The folder a path is in: `.` for a bare name, `/` for a file at the root.
 *
 * @param path A file's path.
 * @returns Its folder.
 */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/**
 * The names in a folder, in the order `readdir` gives them; none when the
 * folder does not exist or is not a folder (no log was written there yet).
 *
 * @param dir The folder.
 * @returns The names.
 * @throws {Deno.errors.PermissionDenied} If the folder cannot be listed.
 */
export function namesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((entry) => entry.name);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory
    ) return [];
    throw error;
  }
}

/**
 * Whether the file at `path`, of `size` bytes, ends inside a line (its last
 * byte is not `\n`): a writer killed mid-entry, or an entry a full disk
 * cut. Log entries of both formats end with `\n`.
 *
 * @param path The file.
 * @param size Its size in bytes.
 * @returns False for an empty file.
 */
export function endsMidLine(path: string, size: number): boolean {
  if (size === 0) return false;
  const file = Deno.openSync(path, { read: true });
  try {
    file.seekSync(-1, Deno.SeekMode.End);
    const last = new Uint8Array(1);
    return file.readSync(last) === 1 && last[0] !== 0x0a;
  } finally {
    file.close();
  }
}

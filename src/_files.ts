/**
 * Small file-system steps shared by the rotating files and the retirer:
 * each tolerates what rotation makes ordinary (a file already gone).
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

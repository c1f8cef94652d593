/**
 * Writer's side of lossless following: rotation retires files instead of
 * deleting them, for a grace period, so that a follower that fell behind
 * (`logs.ts -f` on a busy machine, against a writer rotating hundreds of
 * times a second) can still read every file. Retired files have names that
 * Docker's and kubelet's readers do not look at (see `retiredPath`), so the
 * log looks exactly as Docker would leave it.
 *
 * @module
 */

import { listRetiredFiles, retiredPath } from "./log_files.ts";

/** Options of a {@linkcode LogRetirer}. */
export interface LogRetirerOptions {
  /**
   * How long a retired file is kept, in milliseconds: the longest a
   * follower may lag in noticing rotations without missing entries.
   *
   * @default {10000}
   */
  graceMs?: number;
  /**
   * Most retired files kept, whatever their age (the oldest go first), so
   * that disk use stays bounded at any rate of rotation.
   *
   * @default {1000}
   */
  maxFiles?: number;
  /** The clock, in ms since the epoch; for tests. @default {Date.now} */
  now?: () => number;
}

/**
 * Retires the files of one log that rotation would delete, and deletes
 * retired files once their grace period is over. A rotating writer calls
 * {@linkcode LogRetirer.retire} where it would delete a file (the oldest
 * rotated file, or the file itself with `max-file=1`), and
 * {@linkcode LogRetirer.sweep} after each rotation and when it closes.
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 *
 * @example Usage
 * ```ts
 * import { LogRetirer } from "./log_retire.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   let now = 1_000_000;
 *   const retirer = new LogRetirer(`${dir}/x.log`, {
 *     graceMs: 100,
 *     now: () => now,
 *   });
 *   await Deno.writeTextFile(`${dir}/x.log.4`, "old\n");
 *   retirer.retire(`${dir}/x.log.4`); // instead of deleting it
 *   assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
 *     "x.log.retired-1000000-0",
 *   ]);
 *   now += 100;
 *   retirer.sweep();
 *   assert.deepEqual([...Deno.readDirSync(dir)], []);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class LogRetirer {
  /** The log file's path. */
  readonly path: string;
  #graceMs: number;
  #maxFiles: number;
  #now: () => number;
  #n = 0;

  /**
   * Prepares to retire files of a log, and sweeps what earlier writers of
   * the same log left.
   *
   * @param path The log file's path.
   * @param options Grace period, bound and clock.
   * @throws {RangeError} If `graceMs` or `maxFiles` is negative.
   */
  constructor(path: string, options: LogRetirerOptions = {}) {
    this.path = path;
    this.#graceMs = options.graceMs ?? 10_000;
    this.#maxFiles = options.maxFiles ?? 1000;
    this.#now = options.now ?? Date.now;
    if (!(this.#graceMs >= 0) || !(this.#maxFiles >= 0)) {
      throw new RangeError(
        `Invalid retirement of "${path}": graceMs and maxFiles must not be negative`,
      );
    }
    this.sweep();
  }

  /**
   * Retires a file instead of deleting it: renames it to
   * `<log>.retired-<ms>-<n>` (`.gz` kept). A missing file is no error.
   *
   * @param file The file that rotation would delete.
   */
  retire(file: string): void {
    const to = retiredPath(
      this.path,
      this.#now(),
      this.#n++,
      file.endsWith(".gz"),
    );
    try {
      Deno.renameSync(file, to);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /**
   * Deletes the retired files whose grace period is over, and the oldest
   * beyond `maxFiles`.
   */
  sweep(): void {
    const retired = listRetiredFiles(this.path);
    const now = this.#now();
    const excess = retired.length - this.#maxFiles;
    retired.forEach((file, i) => {
      if (i < excess || now - file.retiredMs >= this.#graceMs) {
        try {
          Deno.removeSync(file.path);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      }
    });
  }
}

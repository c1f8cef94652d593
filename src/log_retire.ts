/**
 * Writer's side of lossless following: while a follower reads a log
 * (`logs.ts -f` holds a shared lock on `<log>.followers`), rotation retires
 * the files it would delete instead of deleting them, for a grace period and
 * within a byte budget, so that a follower that fell behind a writer
 * rotating hundreds of times a second can still read every file. With no
 * follower, files are deleted as Docker and kubelet delete them. Retired
 * files have names that Docker's and kubelet's readers do not look at (see
 * `retiredPath`), so the log looks exactly as Docker would leave it.
 *
 * @module
 */

import { listRetiredFiles, retiredPath } from "./log_retired.ts";
import { logFollowersPath } from "./log_lock.ts";
import { removeIfExists } from "./_files.ts";

/** Options of a {@linkcode LogRetirer}. */
export interface LogRetirerOptions {
  /**
   * How long a retired file is kept, in milliseconds: the longest a
   * follower may lag behind the writer without missing entries.
   *
   * @default {10000}
   */
  graceMs?: number;
  /**
   * Most bytes of retired files kept at once, whatever their age (the
   * oldest go first; a file larger than this is deleted at once), so that
   * disk use stays bounded at any rate of rotation.
   *
   * @default {67108864}
   */
  maxBytes?: number;
  /** The clock, in ms since the epoch; for tests. @default {Date.now} */
  now?: () => number;
}

/** Options of {@linkcode LogRetirer.finish}. */
export interface RetirerFinishOptions {
  /**
   * Longest wait for followers to finish, in milliseconds, on top of the
   * grace period's own limit.
   *
   * @default {5000}
   */
  waitMs?: number;
}

interface Retired {
  path: string;
  ms: number;
  bytes: number;
}

/**
 * Removes the files of one log that rotation discards: deletes them (off
 * the write path: renamed at once, unlinked in the background), or, while a
 * follower reads the log, retires them (renames them to
 * `<log>.retired-<ms>-<n>`) and deletes them once their grace period is
 * over or the byte budget needs the room. A rotating writer calls
 * {@linkcode LogRetirer.remove} where it would delete a file (the oldest
 * rotated file, or the file itself with `max-file=1`), and
 * {@linkcode LogRetirer.finish} once it has closed the log and released its
 * writer's lock.
 *
 * {@linkcode LogRetirer.start} creates the followers' marker
 * `<log>.followers` (mode 0640) and deletes what an earlier writer that
 * crashed left retired. A retirer that was not started deletes.
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 *
 * @example Usage
 * ```ts
 * import { LogRetirer } from "./log_retire.ts";
 * import { holdFollowerLock } from "./log_lock.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const names = () => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
 * try {
 *   const retirer = new LogRetirer(`${dir}/x.log`, { now: () => 1000 });
 *   retirer.start();
 *   await Deno.writeTextFile(`${dir}/x.log.4`, "old\n");
 *   retirer.remove(`${dir}/x.log.4`); // nobody follows: deleted
 *   await retirer.settle();
 *   assert.deepEqual(names(), ["x.log.followers"]);
 *   const follower = await holdFollowerLock(`${dir}/x.log`);
 *   await Deno.writeTextFile(`${dir}/x.log.4`, "old\n");
 *   retirer.remove(`${dir}/x.log.4`); // kept for the follower
 *   assert.deepEqual(names(), ["x.log.followers", "x.log.retired-1000-0"]);
 *   follower?.release();
 *   await retirer.finish();
 *   assert.deepEqual(names(), ["x.log.followers"]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class LogRetirer {
  /** The log file's path. */
  readonly path: string;
  #graceMs: number;
  #maxBytes: number;
  #now: () => number;
  #n = 0;
  #doomed = 0;
  #marker: Deno.FsFile | undefined;
  #retired: Retired[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deleting = new Set<Promise<void>>();
  /** Put out of sight, not yet being unlinked. */
  #doomedPaths: string[] = [];
  #errors: unknown[] = [];

  /**
   * Prepares to remove files of a log; touches nothing until
   * {@linkcode LogRetirer.start}.
   *
   * @param path The log file's path.
   * @param options Grace period, byte budget and clock.
   * @throws {RangeError} If `graceMs` or `maxBytes` is negative.
   */
  constructor(path: string, options: LogRetirerOptions = {}) {
    this.path = path;
    this.#graceMs = options.graceMs ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
    if (!(this.#graceMs >= 0) || !(this.#maxBytes >= 0)) {
      throw new RangeError(
        `Invalid retirement of "${path}": graceMs and maxBytes must not be negative`,
      );
    }
  }

  /**
   * Creates (or opens) the followers' marker, and deletes the files an
   * earlier writer of this log left retired. Call it once the log's folder
   * exists and before followers may start (before signalling ready).
   *
   * @throws {Deno.errors.PermissionDenied} If the marker cannot be created.
   */
  start(): void {
    if (this.#marker !== undefined) return;
    this.#marker = Deno.openSync(logFollowersPath(this.path), {
      read: true,
      write: true,
      create: true,
      mode: 0o640,
    });
    for (const file of listRetiredFiles(this.path)) removeIfExists(file.path);
    // What a writer that crashed was deleting.
    const slash = this.path.lastIndexOf("/");
    const dir = slash === -1 ? "." : this.path.slice(0, slash) || "/";
    const doomed = `${this.path.slice(slash + 1)}.deleting-`;
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name.startsWith(doomed)) {
        removeIfExists(`${dir === "/" ? "" : dir}/${entry.name}`);
      }
    }
  }

  /**
   * Whether a follower holds the followers' marker now. Costs two `flock`
   * calls.
   */
  get followed(): boolean {
    const marker = this.#marker;
    if (marker === undefined) return false;
    if (!marker.tryLockSync(true)) return true;
    marker.unlockSync();
    return false;
  }

  /**
   * Removes a file that rotation discards: retires it while a follower
   * reads the log and it fits the byte budget, else deletes it. A missing
   * file is no error.
   *
   * @param file The file to remove.
   */
  remove(file: string): void {
    this.#expire();
    let bytes = 0;
    if (this.#marker !== undefined && this.followed) {
      try {
        bytes = Deno.lstatSync(file).size;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return;
        throw error;
      }
    }
    if (bytes === 0 || bytes > this.#maxBytes) {
      this.#delete(file);
      return;
    }
    while (this.#bytes + bytes > this.#maxBytes) this.#dropOldest();
    const ms = this.#now();
    const to = retiredPath(this.path, ms, this.#n++, file.endsWith(".gz"));
    try {
      Deno.renameSync(file, to);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    this.#retired.push({ path: to, ms, bytes });
    this.#bytes += bytes;
    this.#schedule();
  }

  /**
   * Expires retired files on time even when no rotation comes (a burst,
   * then silence), with a timer that does not keep the process alive.
   */
  #schedule(): void {
    if (this.#timer !== undefined || this.#retired.length === 0) return;
    const due = this.#retired[0].ms + this.#graceMs - this.#now();
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expire();
      this.#schedule();
    }, Math.max(0, due));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Bytes of retired files kept now. */
  get retiredBytes(): number {
    return this.#bytes;
  }

  /**
   * Ends retirement: waits while followers read and the youngest retired
   * file's grace period lasts (at most `waitMs`), then deletes every
   * retired file and closes the marker. Returns at once when nothing is
   * retired. Call it after the writer's lock is released, so that
   * followers can see the end of the log and stop.
   *
   * @param options How long to wait at most.
   * @throws {AggregateError} If a deletion failed (see
   *   {@linkcode LogRetirer.settle}).
   */
  async finish(options: RetirerFinishOptions = {}): Promise<void> {
    const marker = this.#marker;
    this.#marker = undefined;
    // A first timer call loads Deno's timers module: 10 ms at exit.
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (marker === undefined) return await this.settle();
    try {
      this.#expire();
      const youngest = this.#retired.at(-1);
      if (youngest !== undefined) {
        const waitMs = Math.min(
          options.waitMs ?? 5000,
          youngest.ms + this.#graceMs - this.#now(),
        );
        const until = performance.now() + waitMs;
        while (performance.now() < until && !marker.tryLockSync(true)) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      while (this.#retired.length > 0) this.#dropOldest();
    } finally {
      marker.close();
    }
    await this.settle();
  }

  /** Deletes retired files whose grace period is over. */
  #expire(): void {
    const now = this.#now();
    while (
      this.#retired.length > 0 && now - this.#retired[0].ms >= this.#graceMs
    ) this.#dropOldest();
  }

  #dropOldest(): void {
    const oldest = this.#retired.shift()!;
    this.#bytes -= oldest.bytes;
    this.#delete(oldest.path);
  }

  /**
   * Unlinks a file under its private name off the write path: freeing a
   * large file's blocks takes the kernel tens of milliseconds, which the
   * writer does not wait for.
   */
  #delete(path: string): void {
    // First out of sight, under a name no reader looks at (not a retired
    // one: a follower would take it for a file kept for it).
    const doomed = `${this.path}.deleting-${Deno.pid}-${this.#doomed++}`;
    try {
      Deno.renameSync(path, doomed);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    // Unlinked once the rotation's renames are done: an unlink freeing a
    // file's pages holds up renames in the same folder on ext4, 0.3-0.8 ms
    // each. startDeletions() does it; a microtask, if nobody calls it.
    if (this.#doomedPaths.length === 0) {
      queueMicrotask(() => this.startDeletions());
    }
    this.#doomedPaths.push(doomed);
  }

  /**
   * Starts unlinking, off the write path, the files
   * {@linkcode LogRetirer.remove} has put out of sight since the last call.
   * A rotation calls it once its renames are done; otherwise it runs by
   * itself once the caller's synchronous work returns.
   */
  startDeletions(): void {
    for (const doomed of this.#doomedPaths.splice(0)) {
      const done = Deno.remove(doomed).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) this.#errors.push(error);
      }).finally(() => this.#deleting.delete(done));
      this.#deleting.add(done);
    }
  }

  /**
   * Waits until every deletion started so far is done.
   *
   * @throws {AggregateError} If a deletion failed (the file stays, as
   *   `<log>.deleting-…`, until the next writer of the log starts).
   */
  async settle(): Promise<void> {
    this.startDeletions();
    while (this.#deleting.size > 0) await Promise.all(this.#deleting);
    if (this.#errors.length > 0) {
      const errors = this.#errors.splice(0);
      throw new AggregateError(errors, "Cannot delete a rotated log file");
    }
  }
}

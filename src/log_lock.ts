/**
 * The writer's marker beside a log file, `<log>.lock`: while a driver writes
 * the log it holds an exclusive advisory lock (`flock`) on that file, so a
 * follower (`logs.ts -f`) knows when the writer is gone and everything has
 * been written. The kernel drops the lock when the writer exits, even when
 * it crashes; the file itself stays, so "marker present and unlocked" means
 * "finished", and "no marker" means "unknown writer: follow until stopped".
 *
 * @module
 */

/**
 * How long a driver waits for another writer's lock on its log, in ms (see
 * `LoggingDriverOptions.lockWaitMs`): a driver of the same container's last
 * run finishes within 11 s of its SIGTERM. A shim waits longer than this
 * for the ready byte, so that the driver's own reason is what it shows.
 */
export const LOCK_WAIT_MS = 12_000;

/**
 * The marker's path for a log file.
 *
 * @param logPath The log file's path.
 * @returns `<logPath>.lock`.
 */
export function logLockPath(logPath: string): string {
  return `${logPath}.lock`;
}

/** A held writer's lock; see {@linkcode holdLogLock}. */
export interface LogLock {
  /** The marker's path. */
  readonly path: string;
  /** Releases the lock (the marker file stays). Idempotent. */
  release(): void;
}

/**
 * Takes the writer's lock on a log: creates `<logPath>.lock` (mode 0640)
 * holding the writer's pid, and locks it exclusively until
 * {@linkcode LogLock.release} or the process ends. A driver calls it once
 * its log file is open, and releases it after its sink is closed (all
 * entries written and all compressions finished), so that a follower that
 * sees the lock released can read to the end and stop.
 *
 * Waits while another process holds the lock (a follower holds a shared
 * lock for a moment when it checks; a second writer of the same log holds
 * it for as long as it runs).
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 *
 * @param logPath The log file's path.
 * @returns The held lock.
 * @throws {Deno.errors.PermissionDenied} If the marker cannot be created.
 *
 * @example Usage
 * ```ts
 * import { holdLogLock, logWriterState } from "./log_lock.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   assert.equal(await logWriterState(`${dir}/x.log`), "unknown");
 *   const lock = await holdLogLock(`${dir}/x.log`);
 *   lock.release();
 *   assert.equal(await logWriterState(`${dir}/x.log`), "finished");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function holdLogLock(logPath: string): Promise<LogLock> {
  const path = logLockPath(logPath);
  const file = await openWriterMarker(path);
  await lockOrClose(file, true);
  return await writerLock(path, file);
}

/**
 * Takes the writer's lock on a log as {@linkcode holdLogLock} does, but
 * without waiting.
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 *
 * @param logPath The log file's path.
 * @returns The held lock, or `undefined` while another process holds it.
 * @throws {Deno.errors.PermissionDenied} If the marker cannot be created.
 */
export async function tryHoldLogLock(
  logPath: string,
): Promise<LogLock | undefined> {
  const path = logLockPath(logPath);
  const file = await openWriterMarker(path);
  let held = false;
  try {
    held = await file.tryLock(true);
  } finally {
    if (!held) file.close();
  }
  return held ? await writerLock(path, file) : undefined;
}

function openWriterMarker(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, {
    read: true,
    write: true,
    create: true,
    mode: 0o640,
  });
}

/**
 * The writer's lock, once taken: the marker gets the writer's pid, best
 * effort (it only names the writer in messages; on a full disk the lock
 * is held all the same, the marker empty).
 */
async function writerLock(path: string, file: Deno.FsFile): Promise<LogLock> {
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch {
    // The marker stays as it is.
  }
  return heldLock(path, file);
}

/** A lock held on `file`, released by closing it. */
function heldLock(path: string, file: Deno.FsFile): LogLock {
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      file.close();
    },
  };
}

/**
 * What a reader knows of a log's writer:
 * - `"writing"`: a writer holds the lock;
 * - `"finished"`: the marker exists and nobody holds it;
 * - `"unknown"`: there is no marker (a file written by Docker, or by a
 *   driver that does not make one).
 */
export type LogWriterState = "writing" | "finished" | "unknown";

/**
 * Checks the writer's lock of a log without waiting: tries a shared lock on
 * `<logPath>.lock` and releases it at once.
 *
 * Needs `--allow-read` for the marker (without it, the state is
 * `"unknown"`).
 *
 * @param logPath The log file's path.
 * @returns The writer's state.
 */
export async function logWriterState(logPath: string): Promise<LogWriterState> {
  const file = await openMarker(logLockPath(logPath));
  if (file === undefined) return "unknown";
  try {
    if (!(await file.tryLock(false))) return "writing";
    await file.unlock();
    return "finished";
  } finally {
    file.close();
  }
}

/**
 * The followers' marker for a log file: a follower holds a shared lock on it
 * while it reads, so that the writer knows to keep the files rotation would
 * delete until the follower has read them (see `LogRetirer`).
 *
 * @param logPath The log file's path.
 * @returns `<logPath>.followers`.
 */
export function logFollowersPath(logPath: string): string {
  return `${logPath}.followers`;
}

/**
 * Tells the log's writer that a follower is reading: takes a shared lock on
 * `<logPath>.followers` until {@linkcode LogLock.release} or the process
 * ends. A follower takes it before it lists the log's files. Writers that
 * make no such marker (Docker, older drivers) ignore followers.
 *
 * Needs `--allow-read` for the marker (without it, nothing is held).
 *
 * @param logPath The log file's path.
 * @returns The held lock, or `undefined` when the log has no such marker.
 */
export async function holdFollowerLock(
  logPath: string,
): Promise<LogLock | undefined> {
  const path = logFollowersPath(logPath);
  const file = await openMarker(path);
  if (file === undefined) return undefined;
  await lockOrClose(file, false);
  return heldLock(path, file);
}

/** Waits for a lock on `file`; closes it if that fails. */
async function lockOrClose(
  file: Deno.FsFile,
  exclusive: boolean,
): Promise<void> {
  try {
    await file.lock(exclusive);
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Opens a marker for reading; `undefined` when it is absent or may not be
 * read (a reader without permission for it sees no marker).
 */
async function openMarker(path: string): Promise<Deno.FsFile | undefined> {
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory ||
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) return undefined;
    throw error;
  }
}

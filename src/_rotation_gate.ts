/**
 * What the two rotating files (Docker's scheme and kubelet's) share around
 * their rotations: the check of `max-size`, the folder a log is made in, and
 * when a rotation is due, a failed one waiting before it is tried again.
 *
 * @module
 */

import type { LogFileEvent } from "./log_file_events.ts";

/**
 * How long a file whose rotation failed (no room or inode for the new file,
 * a rename refused) waits before it tries again, in ms; it grows past
 * max-size meanwhile.
 */
export const ROTATION_RETRY_MS = 1000;

/**
 * Refuses a `max-size` that no file could rotate at.
 *
 * @param maxSize Bytes; `Infinity` for no rotation.
 * @throws {RangeError} If it is not more than 0 (or not a number).
 */
export function checkMaxSize(maxSize: number): void {
  if (!(maxSize > 0)) {
    throw new RangeError(
      `Invalid max-size ${maxSize}: must be at least 1 byte`,
    );
  }
}

/**
 * Makes the folders of a log file that is about to be opened (mode 0750),
 * as containerd makes a container's log folder.
 *
 * @param path The log file's path.
 */
export function makeLogFolder(path: string): void {
  const slash = path.lastIndexOf("/");
  if (slash > 0) {
    Deno.mkdirSync(path.slice(0, slash), { recursive: true, mode: 0o750 });
  }
}

/** When a file rotates: once it holds max-size, and not while one waits. */
export class RotationGate {
  /** When a failed rotation may be tried again (`performance.now()`), or 0. */
  #retryAt = 0;

  /**
   * Whether a file of `size` bytes rotates now.
   *
   * @param size Bytes in the file, its batch included.
   * @param maxSize The file's max-size in bytes.
   * @returns True when it holds max-size and no failed rotation waits.
   */
  due(size: number, maxSize: number): boolean {
    return size >= maxSize &&
      (this.#retryAt === 0 || performance.now() >= this.#retryAt);
  }

  /** A rotation was done: the next is due at max-size again. */
  rotated(): void {
    this.#retryAt = 0;
  }

  /**
   * A rotation failed: the next waits {@linkcode ROTATION_RETRY_MS}.
   *
   * @param error Why it failed.
   * @returns The event to tell of it.
   */
  postpone(error: unknown): LogFileEvent {
    this.#retryAt = performance.now() + ROTATION_RETRY_MS;
    return { kind: "rotation-failed", error, retryMs: ROTATION_RETRY_MS };
  }
}

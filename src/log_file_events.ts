/**
 * What a log file tells its owner about trouble it got through without
 * stopping: a full disk, a rotation or a compression that failed.
 *
 * @module
 */

/**
 * One event of a log file (json-file or CRI). Byte counts are bytes of
 * entries as they would be in the file.
 *
 * - `dropped`: a write failed (a full disk, an I/O error); the entries
 *   batched were dropped and the file cut back to its last whole entry.
 * - `resumed`: a write works again; `droppedBytes` in all since the first
 *   drop.
 * - `rotation-failed`: the file could not rotate (no inode or room for the
 *   new file, a rename refused); it stays the current file, grows past
 *   max-size, and rotation is tried again `retryMs` later.
 * - `compression-failed`: the rotated file at `path` stays uncompressed.
 */
export type LogFileEvent =
  | { kind: "dropped"; error: unknown; droppedBytes: number }
  | { kind: "resumed"; droppedBytes: number }
  | { kind: "rotation-failed"; error: unknown; retryMs: number }
  | { kind: "compression-failed"; error: unknown; path: string };

/** Receives a log file's {@linkcode LogFileEvent}s. */
export type LogFileEventHandler = (event: LogFileEvent) => void;

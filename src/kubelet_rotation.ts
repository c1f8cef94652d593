/**
 * A log file that rotates the way kubelet rotates container logs
 * (`pkg/kubelet/logs/container_log_manager.go`), but at write time, inside
 * the writer. It knows nothing about the format of its entries.
 *
 * @module
 */

import { type BatchBuffers, WriteBatch } from "./_write_batch.ts";
import { awaitCompressions } from "./_compressions.ts";
import type { LogFileEvent, LogFileEventHandler } from "./log_file_events.ts";
import { checkMaxSize, makeLogFolder, RotationGate } from "./_rotation_gate.ts";

import { CompressionAbandoned, gzipFileOffThread } from "./gzip_worker.ts";
import type { RotatingFileCloseOptions } from "./rotating_file.ts";
import type { LogRetirer } from "./log_retire.ts";
import {
  endsMidLine,
  exists,
  folderOf,
  namesIn,
  openAppend,
  removeIfExists,
} from "./_files.ts";

/** How a {@linkcode KubeletRotatingFile} rotates. */
export interface KubeletRotationOptions {
  /**
   * Rotate before an entry when the file holds this many bytes or more, as
   * kubelet's `containerLogMaxSize`; `Infinity` never rotates.
   * @default {Infinity}
   */
  maxSize?: number;
  /**
   * Files kept in all, the current one included, as kubelet's
   * `containerLogMaxFiles`; at least 2.
   * @default {5}
   */
  maxFile?: number;
  /**
   * The clock that names rotated files, in milliseconds since the epoch;
   * for tests.
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * Removes the files beyond `maxFile`: retires them while a follower
   * reads (see {@linkcode LogRetirer}). Without one they are deleted, as
   * kubelet does.
   */
  retirer?: LogRetirer;
  /**
   * Where the batch's buffer (about 1 MiB) comes from; ordinary arrays
   * without one (see `RotationOptions.buffers`).
   */
  buffers?: BatchBuffers;
  /**
   * Told when a failed write made the file drop entries, and when writes
   * work again (see `RotationOptions.onEvent`).
   */
  onEvent?: LogFileEventHandler;
}

/** A rotated file, newest last in the list. */
interface Rotated {
  /** Path of the uncompressed file, `<path>.YYYYMMDD-hhmmss`. */
  name: string;
  /** Its timestamp as calendar seconds (local wall-clock fields read as UTC). */
  stamp: number;
  /** Compressed to `name.gz`. */
  gz: boolean;
  /** Deleted for being beyond `maxFile`. */
  removed: boolean;
  /** Its compression failed: it stays uncompressed. */
  failed: boolean;
}

const STAMP = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/**
 * An append-only log file with kubelet's rotation scheme, done by the
 * writer so that no entry is lost or split:
 * - before each entry, if the file holds `maxSize` bytes or more, it is
 *   renamed to `<path>.YYYYMMDD-hhmmss` (local time, kubelet's
 *   `20060102-150405`) and a new file is started at `path`, all in one
 *   synchronous step after the batch is written;
 * - every rotated file but the newest is gzipped to `<name>.gz` (through
 *   `<name>.tmp`, as kubelet), one at a time, off the write path;
 * - the oldest rotated files are deleted so that at most `maxFile` files
 *   remain, the current one included.
 *
 * Names never collide: kubelet rotates at most every 10 seconds, but a
 * writer at full speed can rotate several times within one second. A
 * rotated file takes the current second, or, when that is not later than
 * the newest rotated file's, the second after the newest; an existing file
 * is never overwritten. So names keep kubelet's format and sort (as strings,
 * as kubelet sorts them) in rotation order, even across a daylight-saving
 * change, at the cost of running ahead of the clock during bursts.
 *
 * On open, leftovers of an interrupted compression (`.tmp`, or an
 * uncompressed file whose `.gz` exists) are deleted, as kubelet does, and
 * the rotated files already present count towards `maxFile`.
 *
 * If a rotation fails (the rename or the new file is refused: a full disk,
 * no inode left), the full file goes back to `path` and stays current,
 * growing past `maxSize`, and rotation is tried again `ROTATION_RETRY_MS`
 * (1 s) later, so that nothing is lost; only when the file cannot be put
 * back does rotation stop, entries going on into the renamed file. The
 * `onEvent` handler is told at once (see `LogFileEvent`); without one,
 * {@linkcode KubeletRotatingFile.close} throws the errors.
 *
 * Entries are batched in memory and written with one `write` call per
 * {@linkcode KubeletRotatingFile.flush}.
 *
 * Needs `--allow-read` and `--allow-write` for the file's folder.
 */
export class KubeletRotatingFile {
  /** The log file's path. */
  readonly path: string;
  #file: Deno.FsFile;
  #size: number;
  #maxSize: number;
  #maxFile: number;
  #now: () => number;
  #retirer: LogRetirer | undefined;
  #batch: WriteBatch;
  #rotated: Rotated[];
  #lastStamp: number;
  #job: Promise<void> | undefined;
  /** No more compressions begin (see `KubeletRotatingFile.close`). */
  #stopCompressing = false;
  #errors: unknown[] = [];
  #onEvent: LogFileEventHandler | undefined;
  #gate = new RotationGate();

  private constructor(
    path: string,
    file: Deno.FsFile,
    rotated: Rotated[],
    options: KubeletRotationOptions,
  ) {
    this.path = path;
    this.#file = file;
    this.#size = file.statSync().size;
    this.#maxSize = options.maxSize ?? Infinity;
    this.#maxFile = options.maxFile ?? 5;
    this.#now = options.now ?? Date.now;
    this.#retirer = options.retirer;
    this.#batch = new WriteBatch(options.buffers, options.onEvent);
    this.#onEvent = options.onEvent;
    this.#rotated = rotated;
    this.#lastStamp = rotated.length > 0 ? rotated.at(-1)!.stamp : -Infinity;
  }

  /**
   * Opens `path` for appending, creating it (mode 0640) and its folders
   * (0750), and takes stock of the rotated files beside it.
   *
   * @param path The log file's path.
   * @param options How to rotate.
   * @returns The open file.
   * @throws {RangeError} If `maxSize` is not positive or `maxFile` is not a
   *   whole number of at least 2.
   * @throws {Deno.errors.PermissionDenied} If the file cannot be created.
   */
  static open(
    path: string,
    options: KubeletRotationOptions = {},
  ): KubeletRotatingFile {
    const maxFile = options.maxFile ?? 5;
    if (!Number.isInteger(maxFile) || maxFile < 2) {
      throw new RangeError(
        `Invalid max-file ${maxFile}: must be a whole number of at least 2 (the current file and one rotated file)`,
      );
    }
    const maxSize = options.maxSize ?? Infinity;
    checkMaxSize(maxSize);
    makeLogFolder(path);
    const rotated = takeStock(path);
    const file = openAppend(path);
    const opened = new KubeletRotatingFile(path, file, rotated, options);
    if (endsMidLine(path, opened.#size)) opened.#batch.markCut();
    return opened;
  }

  /** Bytes in the current file, the batch included. */
  get size(): number {
    return this.#size + this.#batch.length;
  }

  /**
   * Bytes that may still be added before the file reaches `maxSize` (the next
   * entry rotates), `Infinity` without `maxSize`. A writer of many entries at
   * once begins one only while it has written fewer.
   */
  get bytesBeforeRotation(): number {
    return this.#maxSize - this.size;
  }

  /** The batch buffer that {@linkcode KubeletRotatingFile.reserve} makes room in. */
  get buffer(): Uint8Array {
    return this.#batch.buffer;
  }

  /**
   * The rotated files that exist now, oldest first: `.gz` paths for the
   * compressed ones.
   *
   * @returns Their paths.
   */
  rotatedFiles(): string[] {
    return this.#rotated.map((r) => r.gz ? `${r.name}.gz` : r.name);
  }

  /**
   * Makes room for one entry of at most `maxLength` bytes, rotating first if
   * the file has reached `maxSize`. Write the entry into
   * {@linkcode KubeletRotatingFile.buffer} from the returned index, then
   * call {@linkcode KubeletRotatingFile.commit}.
   *
   * @param maxLength Most bytes the entry can take.
   * @returns Index in the buffer to write the entry at.
   */
  reserve(maxLength: number): number {
    if (this.#gate.due(this.#size + this.#batch.length, this.#maxSize)) {
      this.#rotate();
    }
    this.#size += this.#batch.makeRoom(this.#file, this.#size, maxLength);
    return this.#batch.length;
  }

  /**
   * Accepts the entry written after {@linkcode KubeletRotatingFile.reserve}.
   *
   * @param end Index in the buffer after the entry.
   */
  commit(end: number): void {
    this.#size += this.#batch.commit(end, this.#file, this.#size);
  }

  /**
   * Writes the batched entries, with one `write` call where the OS allows,
   * and starts compressing a rotated file if one is waiting.
   */
  flush(): void {
    this.#size += this.#batch.writeTo(this.#file, this.#size);
    this.#compressNext();
  }

  #rotate(): void {
    this.flush();
    this.#size += this.#batch.endCut(this.#file);
    // Only a file that holds max-size rotates, as Docker counts only what
    // was written: a batch that a full disk dropped did not fill it, and
    // rotating then would push out the kept files for empty ones.
    if (this.#size < this.#maxSize) return;
    let name: string;
    let stamp: number;
    try {
      stamp = this.#nextStamp();
      name = `${this.path}.${formatStamp(stamp)}`;
      Deno.renameSync(this.path, name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        // Deleted under us: start a new file, there is nothing to keep.
        this.#reopen();
      } else {
        this.#postpone(error);
      }
      return;
    }
    let file: Deno.FsFile;
    try {
      file = openAppend(this.path);
    } catch (error) {
      try {
        // The full file back under its name: it stays current.
        Deno.renameSync(name, this.path);
      } catch {
        // Keep writing to the renamed file: it is still open.
        this.#stopRotating(error);
        return;
      }
      this.#postpone(error);
      return;
    }
    this.#gate.rotated();
    this.#file.close();
    this.#file = file;
    this.#size = 0;
    this.#batch.newFile();
    this.#rotated.push({
      name,
      stamp,
      gz: false,
      removed: false,
      failed: false,
    });
    while (this.#rotated.length > this.#maxFile - 1) {
      const oldest = this.#rotated.shift()!;
      oldest.removed = true;
      try {
        const file = oldest.gz ? `${oldest.name}.gz` : oldest.name;
        if (this.#retirer === undefined) removeIfExists(file);
        else this.#retirer.remove(file);
      } catch (error) {
        this.#errors.push(error);
      }
    }
  }

  #reopen(): void {
    let file: Deno.FsFile;
    try {
      file = openAppend(this.path);
    } catch (error) {
      this.#stopRotating(error);
      return;
    }
    this.#file.close();
    this.#file = file;
    this.#size = 0;
    this.#batch.newFile();
  }

  /** A rotation that failed, with the file still current: try later. */
  #postpone(error: unknown): void {
    this.#trouble(this.#gate.postpone(error));
  }

  #stopRotating(error: unknown): void {
    this.#maxSize = Infinity;
    this.#trouble({
      kind: "rotation-failed",
      error: new Error(
        `Cannot rotate "${this.path}", rotation stopped: ${
          (error as Error).message
        }`,
        { cause: error },
      ),
      retryMs: Infinity,
    });
  }

  /** Tells the handler, or keeps the error for close() without one. */
  #trouble(event: LogFileEvent): void {
    if (this.#onEvent !== undefined) this.#onEvent(event);
    else if (event.kind !== "dropped" && event.kind !== "resumed") {
      this.#errors.push(event.error);
    }
  }

  /** The next free timestamp, later than every rotated file's. */
  #nextStamp(): number {
    let stamp = Math.max(calendarSeconds(this.#now()), this.#lastStamp + 1);
    while (
      exists(`${this.path}.${formatStamp(stamp)}`) ||
      exists(`${this.path}.${formatStamp(stamp)}.gz`)
    ) stamp++;
    this.#lastStamp = stamp;
    return stamp;
  }

  #compressNext(): void {
    if (this.#job !== undefined || this.#stopCompressing) return;
    const last = this.#rotated.length - 1;
    const entry = this.#rotated.find((r, i) => i < last && !r.gz && !r.failed);
    if (entry === undefined) return;
    this.#job = compress(entry)
      .catch((error) => {
        entry.failed = true;
        if (error instanceof CompressionAbandoned) return; // stays plain
        this.#trouble({
          kind: "compression-failed",
          error: this.#onEvent === undefined
            ? new Error(
              `Cannot compress "${entry.name}": ${(error as Error).message}`,
              { cause: error },
            )
            : error,
          path: entry.name,
        });
      })
      .finally(() => {
        this.#job = undefined;
        this.#compressNext();
      });
  }

  /**
   * Flushes and closes the file, then waits while the rotated files that
   * wait for their compression are compressed, one after the other; once
   * `options.signal` aborts, only for the compression running (the others
   * stay uncompressed, as kubelet leaves them when it stops).
   *
   * @param options A signal that stops further compressions.
   * @throws {AggregateError} If a rotation, deletion or compression failed
   *   (no entry is lost: a failed rotation leaves one bigger file, a failed
   *   compression an uncompressed one).
   */
  async close(options: RotatingFileCloseOptions = {}): Promise<void> {
    this.#batch.finish(this.#file, this.#size);
    this.#compressNext();
    await awaitCompressions(
      () => this.#job,
      () => this.#stopCompressing = true,
      options.signal,
      options.abandon,
    );
    if (this.#errors.length > 0) {
      throw new AggregateError(
        this.#errors,
        `Rotation of "${this.path}" failed`,
      );
    }
  }
}

/**
 * Gzips a rotated file to `name.gz` through `name.tmp`, as kubelet, in a
 * Worker off the write path.
 */
async function compress(entry: Rotated): Promise<void> {
  const tmp = `${entry.name}.tmp`;
  removeIfExists(tmp);
  try {
    await gzipFileOffThread(entry.name, tmp);
  } catch (error) {
    removeIfExists(tmp);
    if (entry.removed) return; // deleted beyond max-file meanwhile
    throw error;
  }
  // Synchronous from here: no rotation runs in between.
  if (entry.removed) {
    removeIfExists(tmp);
    return;
  }
  Deno.renameSync(tmp, `${entry.name}.gz`);
  entry.gz = true;
  removeIfExists(entry.name);
}

/**
 * The rotated files beside `path`, oldest first, after deleting leftovers of
 * interrupted compressions.
 */
function takeStock(path: string): Rotated[] {
  const prefix = `${path.slice(path.lastIndexOf("/") + 1)}.`;
  const plain = new Set<string>();
  const gz = new Set<string>();
  for (const name of namesIn(folderOf(path))) {
    if (!name.startsWith(prefix)) continue;
    const parts = name.slice(prefix.length).split(".");
    if (!STAMP.test(parts[0]) || parts.length > 2) continue;
    if (parts.length === 1) plain.add(parts[0]);
    else if (parts[1] === "gz") gz.add(parts[0]);
    else if (parts[1] === "tmp") removeIfExists(`${path}.${parts[0]}.tmp`);
  }
  const rotated: Rotated[] = [];
  for (const stamp of new Set([...plain, ...gz])) {
    const name = `${path}.${stamp}`;
    if (gz.has(stamp) && plain.has(stamp)) removeIfExists(name);
    rotated.push({
      name,
      stamp: parseStamp(stamp),
      gz: gz.has(stamp),
      removed: false,
      failed: false,
    });
  }
  return rotated.sort((a, b) => a.stamp - b.stamp);
}

/**
 * The log files of a container log in kubelet's scheme, oldest first, as
 * kubelet's `GetAllLogs`: the rotated files `<path>.YYYYMMDD-hhmmss` and
 * `<path>.YYYYMMDD-hhmmss.gz` that are in use (not `.tmp`, not an
 * uncompressed file whose `.gz` exists), sorted by name, then `path` itself.
 *
 * Each rotated file there when the call begins and still there when it
 * returns is listed once, though its compression finishes meanwhile. One
 * read of the folder may show neither name of a file whose compression
 * finishes during it (`readdir` may leave out names added or removed
 * during a read), so the folder is read twice and the names either read
 * shows are taken: if the uncompressed file was unlinked before the end of
 * the first read, the `.gz` was made before the second began, which shows
 * it; if not, the first showed the uncompressed file. That one may be gone
 * by the time it is read: the file is then at `<name>.gz`.
 *
 * Needs `--allow-read` for the file's folder.
 *
 * @param path The current log file's path.
 * @returns The paths, `path` last (whether or not it exists).
 */
export function listKubeletLogs(path: string): string[] {
  const slash = path.lastIndexOf("/");
  const dir = folderOf(path);
  const prefix = `${path.slice(slash + 1)}.`;
  const names = new Set<string>();
  for (const name of [...namesIn(dir), ...namesIn(dir)]) {
    if (name.startsWith(prefix)) names.add(name);
  }
  const inUse = [...names].filter((name) => {
    const parts = name.slice(prefix.length).split(".");
    if (!STAMP.test(parts[0])) return false;
    if (parts.length === 2) return parts[1] === "gz";
    return parts.length === 1 && !names.has(`${name}.gz`);
  }).sort();
  const base = slash === -1 ? "" : path.slice(0, slash + 1);
  return [...inUse.map((name) => `${base}${name}`), path];
}

/**
 * The suffix of a file rotated at `ms`, as kubelet names it: local time as
 * `YYYYMMDD-hhmmss` (Go's `20060102-150405`).
 *
 * @param ms Milliseconds since the epoch.
 * @returns The stamp, e.g. `20261129-155416`.
 *
 * @example Usage
 * ```ts
 * import { rotationStamp } from "./kubelet_rotation.ts";
 * import assert from "node:assert/strict";
 * assert.match(rotationStamp(Date.now()), /^\d{8}-\d{6}$/);
 * ```
 */
export function rotationStamp(ms: number): string {
  return formatStamp(calendarSeconds(ms));
}

/** Local wall-clock fields of `ms`, counted as if they were UTC seconds. */
function calendarSeconds(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(
    d.getFullYear(),
    d.getMonth(),
    d.getDate(),
    d.getHours(),
    d.getMinutes(),
    d.getSeconds(),
  ) / 1000;
}

function formatStamp(calendar: number): string {
  const d = new Date(calendar * 1000);
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${
    pad(d.getUTCDate(), 2)
  }-${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${
    pad(d.getUTCSeconds(), 2)
  }`;
}

function parseStamp(stamp: string): number {
  const m = STAMP.exec(stamp)!;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

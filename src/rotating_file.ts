/**
 * A log file that rotates by size, as moby's `loggerutils.LogFile`. It knows
 * nothing about the format of its entries.
 *
 * @module
 */

import { type BatchBuffers, WriteBatch } from "./_write_batch.ts";
import { awaitCompressions } from "./_compressions.ts";
import {
  checkMaxSize,
  makeLogFolder,
  ROTATION_RETRY_MS,
  RotationGate,
} from "./_rotation_gate.ts";
import type { LogFileEvent, LogFileEventHandler } from "./log_file_events.ts";

export type { BatchBuffers, LogFileEvent, LogFileEventHandler };

import { CompressionAbandoned, gzipFileOffThread } from "./gzip_worker.ts";
import type { LogRetirer } from "./log_retire.ts";
import {
  endsMidLine,
  exists,
  folderOf,
  namesIn,
  openAppend,
  removeIfExists,
  renameIfExists,
} from "./_files.ts";

/** How a {@linkcode RotatingFile} rotates. */
export interface RotationOptions {
  /**
   * Rotate before a write when the file holds this many bytes or more.
   * @default {Infinity}
   */
  maxSize?: number;
  /**
   * How many files to keep in all, the current one included.
   * @default {1}
   */
  maxFile?: number;
  /**
   * Gzip rotated files to `NAME.N.gz`, with Docker's `{"lastTime":"…"}`
   * gzip extra field: the latest time of the file's entries (Docker writes
   * its last entry's, which is earlier when the pieces of a long line,
   * stamped with their first piece's time, end the file).
   * @default {false}
   */
  compress?: boolean;
  /**
   * Removes the files rotation discards: retires them while a follower
   * reads (see {@linkcode LogRetirer}). Without one they are deleted, as
   * Docker does.
   */
  retirer?: LogRetirer;
  /**
   * Where the batch's buffer (about 1 MiB) comes from; ordinary arrays
   * without one. The json-file sink leases it from the escaper's
   * WebAssembly memory so that entries are encoded into it in place.
   */
  buffers?: BatchBuffers;
  /**
   * Told of trouble the file gets through (see {@linkcode LogFileEvent}):
   * a failed write (a full disk, an I/O error) drops the entries batched
   * and cuts the file back to its last whole entry, as Docker's copier
   * drops a message it cannot log; a failed rotation leaves the full file
   * current and is tried again {@linkcode ROTATION_RETRY_MS} later; a failed
   * compression leaves its file uncompressed. None of them throws. Without
   * a handler, drops go untold and the first failed rotation and every
   * failed compression are thrown by {@linkcode RotatingFile.close}.
   */
  onEvent?: LogFileEventHandler;
}

export { ROTATION_RETRY_MS };

/** A rotated file to compress: `NAME.index`, until it is gzipped. */
interface Uncompressed {
  /**
   * Its index now (rotations shift it); `Infinity` once rotation has
   * discarded it.
   */
  index: number;
  /** The latest time of its entries, for the gzip header's extra field. */
  lastTime: string;
}

/** The compression running: of which file, and when it ends. */
interface RunningCompression {
  file: Uncompressed;
  done: Promise<void>;
}

/** Options of {@linkcode RotatingFile.close}. */
export interface RotatingFileCloseOptions {
  /**
   * Once aborted, rotated files whose compression has not begun are left
   * uncompressed (readers take `NAME.N` as well as `NAME.N.gz`); only the
   * compression running is awaited. A driver passes the signal that ends
   * its drain after SIGTERM, so that it exits in time.
   */
  signal?: AbortSignal;
  /**
   * Once aborted, the compression running is abandoned too: its partial
   * output is deleted and its file stays uncompressed.
   */
  abandon?: AbortSignal;
}

/**
 * An append-only log file that rotates by size with Docker's rules:
 * - before each entry, if the file holds `maxSize` bytes or more, rotate;
 * - rotation shifts `NAME.1` to `NAME.2` and so on, the current file becomes
 *   `NAME.1`, and at most `maxFile` files are kept in all;
 * - the new file is made first, as `NAME.rotating-PID`, then the shifts
 *   are done and it is renamed to `NAME`; with `maxFile` 1 the full file is
 *   unlinked instead of shifted (never truncated in place, so a reader
 *   holding it can finish it);
 * - a rotation whose new file cannot be made (no room or inode) changes
 *   nothing: the full file stays current, under its name, and rotation is
 *   tried again {@linkcode ROTATION_RETRY_MS} later; entries go on, past
 *   `maxSize`, rather than stop;
 * - with `compress`, rotated files are gzipped to `NAME.N.gz` in a Worker,
 *   off the write path and one at a time, the newest waiting first; a
 *   rotation that comes during a compression renames the uncompressed file
 *   and the compression follows it. Writes never wait for gzip: when
 *   rotations outrun it, the files waiting their turn stay uncompressed and
 *   those rotation discards are deleted as such, never compressed (a
 *   compression running when its file is discarded finishes, and its output
 *   is dropped). The disk then holds at most `maxFile` files of `maxSize`
 *   bytes and one compression's source and output (Docker instead holds up
 *   the next rotation, and the container's writes, until the previous
 *   compression is done);
 * - on open, with `maxSize`, rotated files numbered `maxFile` or more (left
 *   by a run with a larger `maxFile`) are deleted, so that at most `maxFile`
 *   files remain (moby leaves them);
 * - on open, what a writer that was killed left half done is deleted: a
 *   compression's `NAME.rotated-…` (a second link to its source, which stays
 *   uncompressed) and `NAME.compressing-…`, a `NAME.N` whose `NAME.N.gz` was
 *   made (the same entries), and a `NAME.rotating-…`; a number left empty
 *   between two shifts stays empty, and the files above it keep their place
 *   (as moby's `rotate`, which renames every number it finds).
 *
 * Entries are batched in memory and written with one `write` call per
 * {@linkcode RotatingFile.flush}; an entry never spans two files.
 *
 * Needs `--allow-read` and `--allow-write` for the file's folder.
 */
export class RotatingFile {
  /** The current file's path; rotated files add `.N` or `.N.gz`. */
  readonly path: string;
  #file: Deno.FsFile;
  #size: number;
  #maxSize: number;
  #maxFile: number;
  #compress: boolean;
  #retirer: LogRetirer | undefined;
  #batch: WriteBatch;
  #lastTime = "";
  /** Rotated files waiting for their compression, newest first. */
  #waiting: Uncompressed[] = [];
  #running: RunningCompression | undefined;
  /** No more compressions begin (see {@linkcode RotatingFileCloseOptions}). */
  #stopCompressing = false;
  /**
   * The highest number of a rotated file (`NAME.kept`; some below it may
   * be missing), so that a rotation renames only those and not `max-file`
   * names.
   */
  #kept = 0;
  /** Without compress: `.gz` files an earlier run left, shifted too. */
  #oldGz = false;
  #errors: unknown[] = [];
  #onEvent: LogFileEventHandler | undefined;
  #gate = new RotationGate();

  private constructor(
    path: string,
    file: Deno.FsFile,
    size: number,
    options: RotationOptions,
  ) {
    this.path = path;
    this.#file = file;
    this.#size = size;
    this.#maxSize = options.maxSize ?? Infinity;
    this.#maxFile = options.maxFile ?? 1;
    this.#compress = options.compress ?? false;
    this.#retirer = options.retirer;
    this.#batch = new WriteBatch(options.buffers, options.onEvent);
    this.#onEvent = options.onEvent;
    // The highest number there, past any gap: a writer killed between two
    // shifts leaves one empty number, and shifting only the files below it
    // would rename the next ones over those above it.
    for (let i = this.#maxFile - 1; i >= 1; i--) {
      const gz = exists(`${path}.${i}.gz`);
      this.#oldGz ||= gz;
      if (this.#kept === 0 && (gz || exists(`${path}.${i}`))) this.#kept = i;
    }
  }

  /**
   * Opens `path` for appending (creating it and its folders, mode 0640 and
   * 0750), so a second run of the same container appends.
   *
   * @param path The log file's path.
   * @param options How to rotate.
   * @returns The open file.
   * @throws {RangeError} If `maxSize` is not positive, `maxFile` is not a
   *   whole number of at least 1, or `compress` is asked without rotation
   *   (`maxSize` and a `maxFile` of at least 2), as Docker's options refuse.
   * @throws {Deno.errors.PermissionDenied} If the file cannot be created.
   */
  static open(path: string, options: RotationOptions = {}): RotatingFile {
    const maxSize = options.maxSize ?? Infinity;
    checkMaxSize(maxSize);
    const maxFile = options.maxFile ?? 1;
    if (!Number.isInteger(maxFile) || maxFile < 1) {
      throw new RangeError(
        `Invalid max-file ${maxFile}: must be a whole number of at least 1 (the current file included)`,
      );
    }
    if (options.compress && (maxSize === Infinity || maxFile < 2)) {
      throw new RangeError(
        "Invalid compress: it needs max-size and a max-file of at least 2 (without them no file is rotated to compress)",
      );
    }
    makeLogFolder(path);
    const file = openAppend(path);
    removeLeftovers(path);
    if (maxSize !== Infinity) removeBeyond(path, maxFile);
    const size = file.statSync().size;
    const opened = new RotatingFile(path, file, size, options);
    if (endsMidLine(path, size)) opened.#batch.markCut();
    return opened;
  }

  /** Bytes in the current file, the batch included. */
  get size(): number {
    return this.#size + this.#batch.length;
  }

  /** The batch buffer that {@linkcode RotatingFile.reserve} makes room in. */
  get buffer(): Uint8Array {
    return this.#batch.buffer;
  }

  /**
   * Makes room for one entry of at most `maxLength` bytes, rotating first if
   * the file has reached `maxSize`. Write the entry into
   * {@linkcode RotatingFile.buffer} from the returned index, then call
   * {@linkcode RotatingFile.commit}.
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
   * Accepts the entry written after {@linkcode RotatingFile.reserve}.
   *
   * @param end Index in the buffer after the entry.
   * @param time The latest time of the file's entries so far, as text
   *   (RFC 3339); the last one given goes into the gzip header of a
   *   compressed file, so that a reader may skip a file whose latest time is
   *   before its `--since`.
   */
  commit(end: number, time: string): void {
    this.#lastTime = time;
    this.#size += this.#batch.commit(end, this.#file, this.#size);
  }

  /** Writes the batched entries, with one `write` call where the OS allows. */
  flush(): void {
    this.#size += this.#batch.writeTo(this.#file, this.#size);
  }

  #rotate(): void {
    this.flush();
    this.#size += this.#batch.endCut(this.#file);
    // Only a file that holds max-size rotates, as Docker counts only what
    // was written: a batch that a full disk dropped did not fill it, and
    // rotating then would push out the kept files for empty ones.
    if (this.#size < this.#maxSize) return;
    const name = this.path;
    // The new file first, under a private name: if it cannot be made (a
    // full disk, no inode left), nothing has changed.
    // (A leftover of this name was deleted by open(); a failed rotation
    // deletes its own.)
    const fresh = `${name}.rotating-${Deno.pid}`;
    let next: Deno.FsFile;
    try {
      next = openAppend(fresh);
    } catch (error) {
      this.#postpone(error);
      return;
    }
    try {
      if (this.#maxFile < 2) this.#discard(name);
      else this.#shift();
      Deno.renameSync(fresh, name);
    } catch (error) {
      next.close();
      removeIfExists(fresh);
      this.#postpone(error);
      return;
    }
    this.#gate.rotated();
    this.#file.close();
    this.#file = next;
    this.#size = 0;
    this.#batch.newFile();
    this.#retirer?.startDeletions();
    this.#compressNext();
  }

  /** The shifts, and the full file to `NAME.1`. */
  #shift(): void {
    const name = this.path;
    if (this.#compress) this.#shiftCompressed();
    else {
      // `.gz` files too, if an earlier run with compress left some: moby's
      // rotate() leaves them behind, to be shadowed by the plain files
      // shifted onto their numbers.
      const suffixes = this.#oldGz ? ["", ".gz"] : [""];
      for (let i = Math.min(this.#kept, this.#maxFile - 1); i >= 1; i--) {
        for (const suffix of suffixes) {
          const from = `${name}.${i}${suffix}`;
          if (i === this.#maxFile - 1) this.#discard(from);
          else renameIfExists(from, `${name}.${i + 1}${suffix}`);
        }
      }
    }
    this.#kept = Math.min(this.#kept + 1, this.#maxFile - 1);
    Deno.renameSync(name, `${name}.1`);
    if (this.#compress) {
      this.#waiting.unshift({ index: 1, lastTime: this.#lastTime });
    }
  }

  /** A rotation that failed, the full file still current: try later. */
  #postpone(error: unknown): void {
    this.#trouble(this.#gate.postpone(error));
  }

  /** Tells the handler, or keeps the error for close() without one. */
  #trouble(event: LogFileEvent): void {
    if (this.#onEvent !== undefined) this.#onEvent(event);
    else if (event.kind === "compression-failed") {
      this.#errors.push(event.error);
    } else if (event.kind === "rotation-failed" && this.#errors.length === 0) {
      this.#errors.push(event.error);
    }
  }

  /** Deletes or retires a file rotation discards. */
  #discard(path: string): void {
    if (this.#retirer === undefined) removeIfExists(path);
    else this.#retirer.remove(path);
  }

  #shiftCompressed(): void {
    const name = this.path;
    const last = this.#maxFile - 1;
    const running = this.#running?.file;
    for (let i = Math.min(this.#kept, last); i >= 1; i--) {
      const plain = running?.index === i
        ? running
        : this.#waiting.find((w) => w.index === i);
      if (plain !== undefined) {
        // Not compressed yet: move (or discard) the file itself; a
        // compression running follows it, a waiting one moves up or is
        // dropped with it.
        if (i === last) {
          this.#discard(`${name}.${i}`);
          plain.index = Infinity;
        } else {
          Deno.renameSync(`${name}.${i}`, `${name}.${i + 1}`);
          plain.index = i + 1;
        }
      } else if (i === last) {
        this.#discard(`${name}.${i}.gz`);
        this.#discard(`${name}.${i}`); // left uncompressed by a failure
      } else {
        renameIfExists(`${name}.${i}.gz`, `${name}.${i + 1}.gz`);
        renameIfExists(`${name}.${i}`, `${name}.${i + 1}`);
      }
    }
    this.#waiting = this.#waiting.filter((w) => w.index !== Infinity);
  }

  /** Begins the next compression, if none runs and one waits. */
  #compressNext(): void {
    if (this.#running !== undefined || this.#stopCompressing) return;
    const file = this.#waiting.shift();
    if (file === undefined) return;
    const name = this.path;
    // A private name for the worker to read: rotations may rename
    // NAME.index before it gets there.
    const id = crypto.randomUUID();
    const snapshot = `${name}.rotated-${id}`;
    try {
      Deno.linkSync(`${name}.${file.index}`, snapshot);
    } catch (error) {
      // NAME.index stays, uncompressed.
      this.#trouble({
        kind: "compression-failed",
        error,
        path: `${name}.${file.index}`,
      });
      this.#compressNext();
      return;
    }
    const tmp = `${name}.compressing-${id}`;
    const extra = new TextEncoder().encode(
      JSON.stringify({ lastTime: file.lastTime }),
    );
    // Everything after the compression happens in one synchronous step, so
    // no rotation sees it half finished.
    const finish = (error?: unknown) => {
      this.#running = undefined;
      const source = `${name}.${file.index}`;
      try {
        removeIfExists(snapshot);
        if (error !== undefined) {
          removeIfExists(tmp); // NAME.index stays, uncompressed
          if (
            file.index !== Infinity && !(error instanceof CompressionAbandoned)
          ) {
            this.#trouble({ kind: "compression-failed", error, path: source });
          }
        } else if (file.index === Infinity) {
          removeIfExists(tmp); // rotated out while it was compressed
        } else {
          Deno.renameSync(tmp, `${name}.${file.index}.gz`);
          removeIfExists(`${name}.${file.index}`);
        }
      } catch (failure) {
        this.#trouble({
          kind: "compression-failed",
          error: failure,
          path: source,
        });
      }
      this.#compressNext();
    };
    const done = gzipFileOffThread(snapshot, tmp, extra).then(
      () => finish(),
      (error) => finish(error ?? new Error("Compression failed")),
    );
    this.#running = { file, done };
  }

  /**
   * Flushes and closes the file, then waits while the rotated files waiting
   * for their compression are compressed, one after the other; once
   * `options.signal` aborts, only for the compression running.
   *
   * @param options A signal that stops further compressions.
   * @throws {AggregateError} If a compression failed (the uncompressed
   *   rotated file is then left in place).
   */
  async close(options: RotatingFileCloseOptions = {}): Promise<void> {
    this.#batch.finish(this.#file, this.#size);
    await awaitCompressions(
      () => this.#running?.done,
      () => this.#stopCompressing = true,
      options.signal,
      options.abandon,
    );
    if (this.#errors.length > 0) {
      throw new AggregateError(
        this.#errors,
        "Compression of a rotated log failed",
      );
    }
  }

  /**
   * Bytes that entries may still add before the next one rotates the file:
   * `maxSize` minus {@linkcode RotatingFile.size} (0 or less when the next
   * entry rotates), `Infinity` without `maxSize`. A writer of many entries at
   * once begins one only while it has written fewer.
   */
  get bytesBeforeRotation(): number {
    return this.#maxSize - this.size;
  }
}

/**
 * Deletes the rotated files numbered `maxFile` or more (`NAME.N`,
 * `NAME.N.gz`): a run with a larger `max-file` left them, and they would
 * stay for ever, past what `max-file` lets the disk hold, and be read
 * before the kept files as if nothing were missing between them (moby's
 * rotation leaves them, and `docker logs` ignores them).
 */
function removeBeyond(path: string, maxFile: number): void {
  const dir = folderOf(path);
  const name = path.slice(path.lastIndexOf("/") + 1);
  for (const entry of namesIn(dir)) {
    if (!entry.startsWith(`${name}.`)) continue;
    const match = /^\.(\d+)(\.gz)?$/.exec(entry.slice(name.length));
    if (match !== null && Number(match[1]) >= maxFile) {
      removeIfExists(`${dir === "/" ? "" : dir}/${entry}`);
    }
  }
}

/**
 * Deletes what a writer of `path` that was killed left half done: a
 * compression's private link to its source (`NAME.rotated-…`), which would
 * keep a discarded file's bytes on disk, and its unfinished output
 * (`NAME.compressing-…`), whose rotated file stays, uncompressed; a rotated
 * file whose compression was put in place (`NAME.N.gz`, complete: it is
 * renamed there only once written) but not yet deleted (`NAME.N`); and the
 * new file of a rotation not yet in place (`NAME.rotating-…`, empty or
 * nearly).
 */
function removeLeftovers(path: string): void {
  const dir = folderOf(path);
  const name = path.slice(path.lastIndexOf("/") + 1);
  const names = new Set(namesIn(dir));
  const inDir = (entry: string) => `${dir === "/" ? "" : dir}/${entry}`;
  for (const entry of names) {
    if (
      entry.startsWith(`${name}.rotated-`) ||
      entry.startsWith(`${name}.compressing-`) ||
      entry.startsWith(`${name}.rotating-`) ||
      (/^\.\d+$/.test(entry.slice(name.length)) &&
        entry.startsWith(name) && names.has(`${entry}.gz`))
    ) {
      removeIfExists(inDir(entry));
    }
  }
}

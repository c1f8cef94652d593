/**
 * A log file that rotates by size, as moby's `loggerutils.LogFile`. It knows
 * nothing about the format of its entries.
 *
 * @module
 */

import { type BatchBuffers, WriteBatch } from "./_write_batch.ts";

export type { BatchBuffers };

import { gzipFileOffThread } from "./gzip_worker.ts";
import type { LogRetirer } from "./log_retire.ts";
import {
  exists,
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
   * gzip extra field.
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
}

/** A compression of a rotated file that has not finished. */
interface PendingCompression {
  /** Index of the file it compresses: the source is `NAME.index`. */
  index: number;
  done: Promise<void>;
}

/**
 * An append-only log file that rotates by size with Docker's rules:
 * - before each entry, if the file holds `maxSize` bytes or more, rotate;
 * - rotation shifts `NAME.1` to `NAME.2` and so on, the current file becomes
 *   `NAME.1`, and at most `maxFile` files are kept in all;
 * - with `maxFile` 1 the current file is unlinked and a new one started (never
 *   truncated in place, so a reader holding it can finish it);
 * - with `compress`, `NAME.1` is gzipped to `NAME.1.gz` in a Worker, off
 *   the write path; a rotation that comes before it finishes renames the
 *   uncompressed file and the compression follows it.
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
  #pending: PendingCompression[] = [];
  /**
   * How many rotated files exist (`NAME.1` to `NAME.kept`), so that a
   * rotation renames only those and not `max-file` names.
   */
  #kept = 0;
  #errors: unknown[] = [];

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
    this.#batch = new WriteBatch(options.buffers);
    while (
      this.#kept < this.#maxFile - 1 &&
      (exists(`${path}.${this.#kept + 1}`) ||
        exists(`${path}.${this.#kept + 1}.gz`))
    ) {
      this.#kept++;
    }
  }

  /**
   * Opens `path` for appending (creating it and its folders, mode 0640 and
   * 0750), so a second run of the same container appends.
   *
   * @param path The log file's path.
   * @param options How to rotate.
   * @returns The open file.
   * @throws {Deno.errors.PermissionDenied} If the file cannot be created.
   */
  static open(path: string, options: RotationOptions = {}): RotatingFile {
    const slash = path.lastIndexOf("/");
    if (slash > 0) {
      Deno.mkdirSync(path.slice(0, slash), { recursive: true, mode: 0o750 });
    }
    const file = openAppend(path);
    return new RotatingFile(path, file, file.statSync().size, options);
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
    if (this.#size + this.#batch.length >= this.#maxSize) this.#rotate();
    this.#size += this.#batch.makeRoom(this.#file, this.#size, maxLength);
    return this.#batch.length;
  }

  /**
   * Accepts the entry written after {@linkcode RotatingFile.reserve}.
   *
   * @param end Index in the buffer after the entry.
   * @param time The entry's time, as text; the last one goes into the gzip
   *   header of a compressed file.
   */
  commit(end: number, time: string): void {
    this.#lastTime = time;
    this.#size += this.#batch.commit(end, this.#file, this.#size);
  }

  /** Writes the batched entries, with one `write` call where the OS allows. */
  flush(): void {
    this.#size += this.#batch.writeTo(this.#file);
  }

  #rotate(): void {
    this.flush();
    this.#file.close();
    const name = this.path;
    if (this.#maxFile < 2) {
      this.#discard(name);
    } else if (!this.#compress) {
      for (let i = Math.min(this.#kept, this.#maxFile - 1); i >= 1; i--) {
        if (i === this.#maxFile - 1) this.#discard(`${name}.${i}`);
        else renameIfExists(`${name}.${i}`, `${name}.${i + 1}`);
      }
      Deno.renameSync(name, `${name}.1`);
    } else {
      this.#shiftCompressed();
      Deno.renameSync(name, `${name}.1`);
      this.#startCompression(this.#lastTime);
    }
    this.#kept = Math.min(this.#kept + 1, this.#maxFile - 1);
    this.#file = openAppend(name);
    this.#size = 0;
    this.#retirer?.startDeletions();
  }

  /** Deletes or retires a file rotation discards. */
  #discard(path: string): void {
    if (this.#retirer === undefined) removeIfExists(path);
    else this.#retirer.remove(path);
  }

  #shiftCompressed(): void {
    const name = this.path;
    const last = this.#maxFile - 1;
    for (let i = Math.min(this.#kept, last); i >= 1; i--) {
      const job = this.#pending.find((p) => p.index === i);
      if (job !== undefined) {
        // Still being compressed: move the source, the job follows it.
        if (i === last) {
          this.#discard(`${name}.${i}`);
          job.index = Infinity;
        } else {
          Deno.renameSync(`${name}.${i}`, `${name}.${i + 1}`);
          job.index = i + 1;
        }
      } else if (i === last) {
        this.#discard(`${name}.${i}.gz`);
        this.#discard(`${name}.${i}`); // left uncompressed by a failure
      } else {
        renameIfExists(`${name}.${i}.gz`, `${name}.${i + 1}.gz`);
        renameIfExists(`${name}.${i}`, `${name}.${i + 1}`);
      }
    }
  }

  #startCompression(lastTime: string): void {
    const name = this.path;
    const job: PendingCompression = { index: 1, done: Promise.resolve() };
    // A private name for the worker to read: later rotations may rename
    // NAME.1 before it gets there.
    const id = crypto.randomUUID();
    const snapshot = `${name}.rotated-${id}`;
    Deno.linkSync(`${name}.1`, snapshot);
    const tmp = `${name}.compressing-${id}`;
    const extra = new TextEncoder().encode(JSON.stringify({ lastTime }));
    // Everything after the compression happens in one synchronous step, so
    // no rotation sees the job half finished.
    const finish = (error?: unknown) => {
      this.#pending = this.#pending.filter((p) => p !== job);
      removeIfExists(snapshot);
      if (error !== undefined) {
        removeIfExists(tmp); // NAME.index stays, uncompressed
        this.#errors.push(error);
      } else if (job.index === Infinity) {
        removeIfExists(tmp); // rotated out while it was compressed
      } else {
        Deno.renameSync(tmp, `${name}.${job.index}.gz`);
        removeIfExists(`${name}.${job.index}`);
      }
    };
    job.done = gzipFileOffThread(snapshot, tmp, extra).then(
      () => finish(),
      (error) => finish(error ?? new Error("Compression failed")),
    ).catch((error) => {
      this.#errors.push(error);
    });
    this.#pending.push(job);
  }

  /**
   * Flushes, waits for compressions in flight and closes the file.
   *
   * @throws {AggregateError} If a compression failed (the uncompressed
   *   rotated file is then left in place).
   */
  async close(): Promise<void> {
    try {
      this.flush();
    } finally {
      // Even when the last write fails (a full disk): the file and the
      // batch's buffer are let go.
      this.#batch.release();
      this.#file.close();
    }
    while (this.#pending.length > 0) {
      await Promise.all(this.#pending.map((p) => p.done));
    }
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

/**
 * Entries gathered in memory and written to a file with one `write` call:
 * the batching shared by the rotating files.
 *
 * @module
 */

import type { LogFileEventHandler } from "./log_file_events.ts";

/** Batches at or above this many bytes are written (whole pages) at once. */
const FLUSH_AT = 1 << 20;
/** The batch's buffer: a flush's worth and room for one more entry. */
const BUFFER_SIZE = FLUSH_AT + (1 << 16);
/** The page size writes are aligned to (Linux's on x86_64 and most arm64). */
const PAGE = 4096;

/**
 * Where a batch's buffer comes from: the json-file and CRI sinks lease it
 * from the escaper's WebAssembly memory so that entries are encoded in
 * place (see `JsonEscapeWasm.lease`).
 */
export interface BatchBuffers {
  /**
   * A buffer for the batch, taken at its first entry.
   *
   * @param length Its size in bytes (about 1 MiB).
   * @returns The buffer, or `null` to use an ordinary array.
   */
  lease(length: number): Uint8Array | null;
  /**
   * Takes back a buffer the batch no longer uses: when it closes, or grows
   * for an entry longer than the buffer. It may be an ordinary array, or
   * empty (nothing was written).
   *
   * @param buffer The batch's buffer.
   */
  release(buffer: Uint8Array): void;
}

/** The newline that ends every entry (json-file and CRI alike). */
const NL = 0x0a;
const NEWLINE = new Uint8Array([NL]);
/**
 * How far back from the end of a write the batch looks for the last
 * entry's end, in bytes: beyond the longest json-file entry (a 16 KiB piece
 * escaped) and a CRI record of the default max-line-size, so that a
 * failed write can cut the file back exactly; a longer entry costs no
 * longer search.
 */
const ENTRY_SEARCH = 128 * 1024;

/**
 * A growable in-memory batch of entries for one file.
 *
 * A write that fails does not throw: as Docker's copier logs the error and
 * drops the message, the batch drops its entries, cuts the file back to its
 * last whole entry (a write may have stored part of one; the entries of
 * both formats end with the file's only raw `\n` bytes), and tells its
 * handler; the container keeps running and its pipe keeps being read. The
 * next write that succeeds is reported too, with the bytes dropped in all.
 * An entry longer than 128 KiB (CRI with a large `max-line-size`) cut by
 * the failure cannot be found cheaply: it stays, ended by a `\n` that the
 * next write puts first, so that the entries after it stay whole.
 */
export class WriteBatch {
  /**
   * Where entries are written; empty until the first
   * {@linkcode WriteBatch.makeRoom}, replaced when an entry needs more room.
   */
  buffer: Uint8Array = new Uint8Array(0);
  /** Bytes in the batch. */
  length = 0;
  #buffers: BatchBuffers | undefined;
  #onEvent: LogFileEventHandler | undefined;
  /**
   * Bytes of an entry begun at the end of the file (page-aligned writes);
   * `NaN` when its start is further back than {@linkcode ENTRY_SEARCH}.
   */
  #tail = 0;
  /** The file ends inside an entry that a failed write cut: end it first. */
  #cut = false;
  /** Bytes dropped since writes last worked; 0 while they work. */
  #dropped = 0;
  /** {@linkcode WriteBatch.finish} ran: the file is closed. */
  #finished = false;

  /**
   * @param buffers Where the buffer comes from; ordinary arrays if absent.
   * @param onEvent Told of entries dropped by a failed write, and of the
   *   write that works again.
   */
  constructor(buffers?: BatchBuffers, onEvent?: LogFileEventHandler) {
    this.#buffers = buffers;
    this.#onEvent = onEvent;
  }

  /**
   * Makes room for one entry of `maxLength` bytes after what is held:
   * writes the batch's whole pages (more entries follow at once), all of it
   * if that is not enough, and grows the buffer for an entry larger than it.
   *
   * @param file The file, open for appending.
   * @param fileSize The file's size in bytes: where the batch will start.
   * @returns The bytes written.
   * @throws {Error} Once {@linkcode WriteBatch.finish} has closed the file.
   */
  makeRoom(file: Deno.FsFile, fileSize: number, maxLength: number): number {
    if (this.length + maxLength <= this.buffer.length) return 0;
    if (this.#finished) {
      throw new Error(
        "Cannot write an entry: the log file is closed (the sink's close() was called)",
      );
    }
    if (this.buffer.length === 0) {
      // First use: the buffer is taken only when something is written.
      this.buffer = this.#buffers?.lease(BUFFER_SIZE) ??
        new Uint8Array(BUFFER_SIZE);
      if (maxLength <= this.buffer.length) return 0;
    }
    let written = this.writePages(file, fileSize);
    if (this.length + maxLength > this.buffer.length) {
      written += this.writeTo(file, fileSize + written);
    }
    if (maxLength > this.buffer.length) {
      this.#buffers?.release(this.buffer);
      this.buffer = new Uint8Array(maxLength);
    }
    return written;
  }

  /**
   * Takes an entry written into {@linkcode WriteBatch.buffer} up to `end`;
   * once the batch holds 1 MiB, writes its whole pages.
   *
   * @param end Index in the buffer after the entry.
   * @param file The file, open for appending.
   * @param fileSize The file's size in bytes: where the batch will start.
   * @returns The bytes written.
   */
  commit(end: number, file: Deno.FsFile, fileSize: number): number {
    this.length = end;
    return this.length >= FLUSH_AT ? this.writePages(file, fileSize) : 0;
  }

  /**
   * Writes the part of the batch that ends on a page boundary of the file
   * and keeps the rest (under 4 KiB) at the start of the batch. Writes that
   * end mid-page cost the kernel about half as much again (measured on
   * ext4); for a batch that more entries will follow at once.
   *
   * @param file The file, open for appending.
   * @param fileSize The file's size in bytes: where the batch will start.
   * @returns How much the file grew, in bytes (0 if the batch does not reach
   *   a boundary; less than 0 when a failed write cut the file back to its
   *   last whole entry).
   */
  writePages(file: Deno.FsFile, fileSize: number): number {
    const n = this.length - (fileSize + this.length) % PAGE;
    if (n <= 0) return 0;
    const grown = this.#write(file, fileSize, n);
    if (this.length === 0) return grown; // a failed write dropped the batch
    this.buffer.copyWithin(0, n, this.length);
    this.length -= n;
    return grown;
  }

  /**
   * Writes the batch to `file`, looping over short writes, and empties it.
   *
   * @param file The file, open for appending.
   * @param fileSize The file's size in bytes: where the batch will start.
   * @returns How much the file grew, in bytes (less than the batch, even
   *   less than 0, when a write failed: see {@linkcode WriteBatch}).
   */
  writeTo(file: Deno.FsFile, fileSize: number): number {
    const grown = this.#write(file, fileSize, this.length);
    this.length = 0;
    return grown;
  }

  /**
   * Writes the batch's first `n` bytes; on a failure, drops the batch and
   * cuts the file back to its last whole entry.
   *
   * @returns How much the file grew.
   */
  #write(file: Deno.FsFile, fileSize: number, n: number): number {
    let off = 0;
    let grown = 0;
    try {
      if (this.#cut && n > 0) {
        grown = file.writeSync(NEWLINE);
        this.#cut = false;
        this.#tail = 0;
      }
      while (off < n) off += file.writeSync(this.buffer.subarray(off, n));
    } catch (error) {
      return grown + this.#fail(file, fileSize + grown, off, error);
    }
    if (n > 0) {
      this.#tail = this.#tailAfter(n, this.#tail);
      if (this.#dropped > 0) {
        this.#onEvent?.({ kind: "resumed", droppedBytes: this.#dropped });
        this.#dropped = 0;
      }
    }
    return grown + n;
  }

  /**
   * Bytes after the last `\n` in the batch's first `n` bytes, just written
   * after a file whose unfinished entry had `before` bytes.
   */
  #tailAfter(n: number, before: number): number {
    const from = Math.max(0, n - ENTRY_SEARCH);
    const nl = this.buffer.subarray(from, n).lastIndexOf(NL);
    if (nl !== -1) return n - (from + nl + 1);
    return from === 0 ? before + n : NaN; // a long entry: searched no further
  }

  #fail(
    file: Deno.FsFile,
    fileSize: number,
    written: number,
    error: unknown,
  ): number {
    const begun = written > 0
      ? this.#tailAfter(written, this.#tail)
      : this.#tail;
    let size = fileSize + written;
    if (Number.isNaN(begun)) {
      if (written > 0 || this.#tail !== 0) this.#cut = true;
    } else if (begun > 0) {
      try {
        file.truncateSync(size - begun);
        size -= begun;
      } catch {
        this.#cut = true; // the cut entry stays: ended before the next
      }
    }
    const dropped = fileSize + written - size + this.length - written;
    this.length = 0;
    this.#tail = 0;
    this.#dropped += dropped;
    this.#onEvent?.({ kind: "dropped", error, droppedBytes: dropped });
    return size - fileSize;
  }

  /**
   * Says that the file ends inside an entry (see `endsMidLine`): the next
   * write puts a `\n` first, so that what follows stays whole.
   */
  markCut(): void {
    this.#cut = true;
  }

  /**
   * Ends a cut entry at the end of `file` now, if one is there (before the
   * file is closed or rotated away); a failure leaves it for the next write.
   *
   * @param file The file, open for appending.
   * @returns How much the file grew: 1 or 0.
   */
  endCut(file: Deno.FsFile): number {
    if (!this.#cut) return 0;
    try {
      const n = file.writeSync(NEWLINE);
      this.#cut = false;
      this.#tail = 0;
      return n;
    } catch {
      return 0;
    }
  }

  /**
   * Says that later writes go to a new, empty file: a cut entry that could
   * not be ended stays with the old one (the new file never starts with a
   * `\n`).
   */
  newFile(): void {
    this.#cut = false;
    this.#tail = 0;
  }

  /**
   * The end of a file: writes what is held, ends a cut entry, gives the
   * buffer back and closes `file`; the last two even if something fails.
   * Once only: a second call does nothing, and entries are refused after.
   *
   * @param file The file, open for appending.
   * @param fileSize The file's size in bytes: where the batch will start.
   */
  finish(file: Deno.FsFile, fileSize: number): void {
    if (this.#finished) return; // a second close
    this.#finished = true;
    try {
      this.writeTo(file, fileSize + this.endCut(file));
    } finally {
      this.release();
      file.close();
    }
  }

  /**
   * Gives the buffer back; call once the batch is written and no longer
   * used.
   */
  release(): void {
    this.#buffers?.release(this.buffer);
    this.buffer = new Uint8Array(0);
    this.length = 0;
  }
}

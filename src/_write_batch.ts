/**
 * Entries gathered in memory and written to a file with one `write` call:
 * the batching shared by the rotating files.
 *
 * @module
 */

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

/** A growable in-memory batch of entries for one file. */
export class WriteBatch {
  /**
   * Where entries are written; empty until the first
   * {@linkcode WriteBatch.makeRoom}, replaced when an entry needs more room.
   */
  buffer: Uint8Array = new Uint8Array(0);
  /** Bytes in the batch. */
  length = 0;
  #buffers: BatchBuffers | undefined;

  /** @param buffers Where the buffer comes from; ordinary arrays if absent. */
  constructor(buffers?: BatchBuffers) {
    this.#buffers = buffers;
  }

  /**
   * Makes room for one entry of `maxLength` bytes after what is held:
   * writes the batch's whole pages (more entries follow at once), all of it
   * if that is not enough, and grows the buffer for an entry larger than it.
   *
   * @param file The file, open for appending.
   * @param fileSize The file's size in bytes: where the batch will start.
   * @returns The bytes written.
   */
  makeRoom(file: Deno.FsFile, fileSize: number, maxLength: number): number {
    if (this.length + maxLength <= this.buffer.length) return 0;
    if (this.buffer.length === 0) {
      // First use: the buffer is taken only when something is written.
      this.buffer = this.#buffers?.lease(BUFFER_SIZE) ??
        new Uint8Array(BUFFER_SIZE);
      if (maxLength <= this.buffer.length) return 0;
    }
    let written = this.writePages(file, fileSize);
    if (this.length + maxLength > this.buffer.length) {
      written += this.writeTo(file);
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
   * @returns The bytes written (0 if the batch does not reach a boundary).
   */
  writePages(file: Deno.FsFile, fileSize: number): number {
    const n = this.length - (fileSize + this.length) % PAGE;
    if (n <= 0) return 0;
    let off = 0;
    while (off < n) off += file.writeSync(this.buffer.subarray(off, n));
    this.buffer.copyWithin(0, n, this.length);
    this.length -= n;
    return n;
  }

  /**
   * Writes the batch to `file`, looping over short writes, and empties it.
   *
   * @returns The bytes written.
   */
  writeTo(file: Deno.FsFile): number {
    const n = this.length;
    let off = 0;
    while (off < n) off += file.writeSync(this.buffer.subarray(off, n));
    this.length = 0;
    return n;
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

/**
 * The json-file sink: Docker's json-file log with rotation, as moby's
 * `jsonfilelog`.
 *
 * @module
 */

import { formatRfc3339Nano, type LogTime } from "./clock.ts";
import { JsonFileEncoder, type StreamName } from "./json_file.ts";
import { leasedBuffers } from "./json_escape_wasm.ts";
import { RotatingFile, type RotationOptions } from "./rotating_file.ts";
import type { LogSink, SinkCloseOptions } from "./sink.ts";

/** Where and how a {@linkcode JsonFileSink} writes. */
export interface JsonFileSinkOptions extends RotationOptions {
  /** The log file's path. */
  path: string;
  /** Attributes every entry carries in `attrs`; none by default. */
  attrs?: Record<string, string>;
}

/**
 * Writes Docker json-file entries to a rotating file. Each piece becomes one
 * entry `{"log":"…","stream":"…","time":"…"}`; pieces are batched and
 * written with one system call per {@linkcode JsonFileSink.flush}.
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 */
export class JsonFileSink implements LogSink {
  #file: RotatingFile;
  #encoder: JsonFileEncoder;
  #time: LogTime | undefined;
  #timeBytes = new Uint8Array(0);
  /**
   * The latest time written, for the gzip header: not always the last
   * entry's, since the pieces of a long line keep their first piece's time.
   */
  #latest: LogTime | undefined;
  #latestText = "";

  private constructor(file: RotatingFile, encoder: JsonFileEncoder) {
    this.#file = file;
    this.#encoder = encoder;
  }

  /**
   * Opens (or creates) the log file for appending.
   *
   * @param options The path, rotation and attributes.
   * @returns The sink, ready to write.
   * @throws {RangeError} If a rotation option is out of range (see
   *   {@linkcode RotatingFile.open}).
   * @throws {Deno.errors.PermissionDenied} If the file cannot be created.
   */
  static open(options: JsonFileSinkOptions): JsonFileSink {
    const file = RotatingFile.open(options.path, {
      ...options,
      buffers: leasedBuffers,
    });
    return new JsonFileSink(file, new JsonFileEncoder(options.attrs));
  }

  /**
   * A buffer for the copy loop to read into, leased from the escaper's
   * WebAssembly memory: {@linkcode JsonFileSink.writeLines} escapes it in
   * place (see {@linkcode LogSink.readBuffer}).
   *
   * @param length Bytes.
   * @returns The buffer; an ordinary array when the arena is used up or the
   *   runtime lacks WebAssembly SIMD.
   */
  readBuffer(length: number): Uint8Array {
    return leasedBuffers.lease(length) ?? new Uint8Array(length);
  }

  /**
   * Gives back a buffer from {@linkcode JsonFileSink.readBuffer} (see
   * {@linkcode LogSink.releaseReadBuffer}); any time, even after close.
   *
   * @param buffer The buffer.
   */
  releaseReadBuffer(buffer: Uint8Array): void {
    leasedBuffers.release(buffer);
  }

  /** The log file's path. */
  get path(): string {
    return this.#file.path;
  }

  /** Encodes one entry into the batch (see {@linkcode LogSink.write}). */
  write(
    stream: StreamName,
    piece: Uint8Array,
    _partial: boolean,
    time: LogTime,
  ): void {
    this.#setTime(time);
    const file = this.#file;
    const pos = file.reserve(
      this.#encoder.maxEntryLength(piece.length, this.#timeBytes.length),
    );
    const end = this.#encoder.encode(
      file.buffer,
      pos,
      piece,
      stream,
      this.#timeBytes,
    );
    file.commit(end, this.#latestText);
  }

  /**
   * Encodes whole lines and the pieces of long ones in one pass (see
   * {@linkcode LogSink.writeLines}).
   */
  writeLines(
    stream: StreamName,
    chunk: Uint8Array,
    start: number,
    end: number,
    maxPiece: number,
    time: LogTime,
  ): number {
    this.#setTime(time);
    const file = this.#file;
    const encoder = this.#encoder;
    const timeBytes = this.#timeBytes;
    const maxLength = encoder.maxEntryLength(maxPiece, timeBytes.length);
    let i = start;
    while (i < end) {
      // Room for the longest entry, so that a whole line always fits; and
      // no entry begun once the file reaches its size, as reserve() would
      // rotate before it.
      const pos = file.reserve(maxLength);
      const entriesEnd = encoder.encodeLines(
        file.buffer,
        pos,
        chunk,
        i,
        end,
        maxPiece,
        stream,
        timeBytes,
        Math.max(1, file.bytesBeforeRotation),
      );
      if (entriesEnd === pos) break;
      file.commit(entriesEnd, this.#latestText);
      i = encoder.lineEnd;
    }
    return i;
  }

  #setTime(time: LogTime): void {
    if (time !== this.#time) {
      this.#time = time;
      const text = formatRfc3339Nano(time);
      // ASCII: a loop beats TextEncoder's call into Rust on 30 characters.
      const bytes = new Uint8Array(text.length);
      for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
      this.#timeBytes = bytes;
      const latest = this.#latest;
      if (
        latest === undefined || time.sec > latest.sec ||
        (time.sec === latest.sec && time.nsec > latest.nsec)
      ) {
        this.#latest = time;
        this.#latestText = text;
      }
    }
  }

  /** Writes the batched entries. */
  flush(): void {
    this.#file.flush();
  }

  /**
   * Flushes, closes the file and waits for the compressions of rotated
   * files (see {@linkcode RotatingFile.close}).
   *
   * @param _endedStreams Unused: json-file entries are complete as written.
   * @param options A signal after which no further compression begins.
   * @throws {AggregateError} If a compression failed.
   */
  async close(
    _endedStreams?: StreamName[],
    options: SinkCloseOptions = {},
  ): Promise<void> {
    await this.#file.close(options);
  }
}

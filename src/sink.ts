/**
 * What a log driver writes to: the interface every format implements.
 *
 * @module
 */

import type { LogTime } from "./clock.ts";
import type { StreamName } from "./json_file.ts";

export type { StreamName };

/** Options of {@linkcode LogSink.close}. */
export interface SinkCloseOptions {
  /**
   * Once aborted, background work that has not begun is left undone: the
   * json-file and CRI sinks begin no more compressions of rotated files
   * (those stay uncompressed, which readers take as well) and wait only for
   * the one running. A driver passes the signal that ends its drain after
   * SIGTERM.
   */
  signal?: AbortSignal;
  /**
   * Once aborted, the compression running is stopped too, its partial
   * output deleted and its file left uncompressed: for a driver that must
   * exit before containerd kills it (12 s after SIGTERM).
   */
  abandon?: AbortSignal;
}

/**
 * A log sink, as moby's `logger.Logger`: receives framed pieces of a
 * container's output and stores them.
 */
export interface LogSink {
  /**
   * Stores one piece. It may be batched in memory until
   * {@linkcode LogSink.flush}.
   *
   * @param stream Which stream the piece came from.
   * @param piece The raw bytes of at most one line (a `\n` only as its last
   *   byte, for the last piece of a line), as `LineFramer` cuts them; valid
   *   only during the call.
   * @param partial True when the line goes on in a later piece, or for a
   *   final fragment without `\n` at the end of the stream.
   * @param time When the line began; every piece of one line has the same.
   * @throws {Error} After {@linkcode LogSink.close}.
   */
  write(
    stream: StreamName,
    piece: Uint8Array,
    partial: boolean,
    time: LogTime,
  ): void;
  /**
   * Optional fast path: stores the lines at the start of
   * `chunk[start, end)` as the copy loop's framer would cut them (see
   * `LineFramer`): a whole line (ending in `\n`, at most `maxPiece` bytes
   * with it) as one piece; a longer line, while `maxPiece` of its bytes are
   * there, as partial pieces of `maxPiece` bytes cut back so as not to split
   * a UTF-8 character. Stops at the first line that is neither. The copy
   * loop uses it only between lines, and gives every piece `time`.
   *
   * @param stream Which stream the bytes came from.
   * @param chunk The bytes read; valid only during the call.
   * @param start Index of the first line's first byte.
   * @param end Index after the last byte read.
   * @param maxPiece Longest piece, in bytes, `\n` included.
   * @param time When the bytes were read.
   * @returns The index after the last piece stored: after a `\n`, or inside
   *   a long line after a partial piece.
   */
  writeLines?(
    stream: StreamName,
    chunk: Uint8Array,
    start: number,
    end: number,
    maxPiece: number,
    time: LogTime,
  ): number;
  /**
   * Optional: a buffer of `length` bytes for the copy loop to read into,
   * which {@linkcode LogSink.writeLines} takes without copying it (the
   * json-file and CRI sinks lease theirs from the escaper's WebAssembly
   * memory). The caller gives it back with
   * {@linkcode LogSink.releaseReadBuffer} once nothing can write into it.
   *
   * @param length Bytes.
   * @returns The buffer.
   */
  readBuffer?(length: number): Uint8Array;
  /**
   * Takes back a buffer from {@linkcode LogSink.readBuffer}; it may be
   * called after {@linkcode LogSink.close} (a read left in flight at the
   * end gives its buffer back when it completes).
   *
   * @param buffer The buffer.
   */
  releaseReadBuffer?(buffer: Uint8Array): void;
  /** Writes what is batched to the OS. */
  flush(): void;
  /**
   * Flushes and releases everything, awaiting background work. A second
   * call writes nothing more.
   *
   * @param endedStreams The streams that reached EOF, so a format can close
   *   what it left open.
   * @param options A signal that cuts background work short.
   */
  close(endedStreams?: StreamName[], options?: SinkCloseOptions): Promise<void>;
}

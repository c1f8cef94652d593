/**
 * The copy loop of a log driver: two byte streams in, framed pieces out to a
 * sink, as containerd's logging driver and moby's `logger.Copier`.
 *
 * @module
 */

import { LogClock, type LogTime } from "./clock.ts";
import { LineFramer } from "./line_framer.ts";
import type { LogSink, StreamName } from "./sink.ts";

/** Something to read bytes from: a `Deno.FsFile`, a pipe, a test double. */
export interface ByteReader {
  /**
   * Reads into `buffer`.
   *
   * @returns How many bytes were read, or `null` at end of stream.
   */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** The container's output streams, as containerd's `logging.Config`. */
export interface LoggerStreams {
  /** The container's stdout. */
  stdout: ByteReader;
  /** The container's stderr; absent in terminal mode. */
  stderr?: ByteReader;
}

/** Options of {@linkcode copyStreams}. */
export interface CopyOptions {
  /**
   * When aborted, stop reading, write what is held (a final fragment
   * included) and return; bytes not yet read stay unread.
   */
  signal?: AbortSignal;
  /** Where times come from. @default {new LogClock()} */
  clock?: { now(): LogTime };
  /**
   * Bytes read at a time, per stream.
   * @default {65536}
   */
  readSize?: number;
}

/** What {@linkcode copyStreams} did. */
export interface CopyResult {
  /** Bytes read from each stream. */
  bytes: Record<StreamName, number>;
  /** The streams that reached end of stream (not stopped by the signal). */
  ended: StreamName[];
}

/**
 * Copies both streams into `sink` until both end or `signal` aborts.
 *
 * Each read is framed into pieces (see {@linkcode LineFramer}), every piece
 * goes to the sink, and the sink is flushed once per read: no system call
 * per line. A line's pieces share the time at which its first byte was read.
 * At the end, a final fragment without `\n` is written as a partial piece.
 * The sink is not closed.
 *
 * @param streams The container's stdout and stderr.
 * @param sink Where the pieces go.
 * @param options Abort signal, clock, read size.
 * @returns Bytes read and which streams ended.
 * @throws Whatever the readers or the sink throw.
 */
export async function copyStreams(
  streams: LoggerStreams,
  sink: LogSink,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const clock = options.clock ?? new LogClock();
  const readSize = options.readSize ?? 65536;
  const result: CopyResult = { bytes: { stdout: 0, stderr: 0 }, ended: [] };
  const ABORTED = -1;
  const aborted = new Promise<number>((resolve) => {
    if (options.signal?.aborted) resolve(ABORTED);
    options.signal?.addEventListener("abort", () => resolve(ABORTED), {
      once: true,
    });
  });

  async function pump(name: StreamName, reader: ByteReader): Promise<void> {
    const framer = new LineFramer();
    // Two buffers: the next read runs while this one is encoded.
    const buffers = [new Uint8Array(readSize), new Uint8Array(readSize)];
    let current = 0;
    let lineTime: LogTime | undefined;
    let now: LogTime;
    const emit = (piece: Uint8Array, partial: boolean) => {
      const time = lineTime ?? now;
      sink.write(name, piece, partial, time);
      lineTime = partial ? time : undefined;
    };
    const fastPath = sink.writeLines !== undefined;
    let eof = false;
    let reading = reader.read(buffers[current]);
    while (!options.signal?.aborted) {
      const n = await Promise.race([reading, aborted]);
      if (n === null) {
        eof = true;
        break;
      }
      if (n === ABORTED) break;
      const buffer = buffers[current];
      current ^= 1;
      reading = reader.read(buffers[current]);
      result.bytes[name] += n;
      now = clock.now();
      let i = 0;
      if (framer.pending) i = framer.finishLine(buffer.subarray(0, n), emit);
      if (fastPath && lineTime === undefined && !framer.pending && i < n) {
        i = sink.writeLines!(name, buffer, i, n, framer.maxPiece, now);
      }
      if (i < n) framer.push(buffer.subarray(i, n), emit);
      sink.flush();
    }
    now = clock.now();
    framer.end(emit);
    sink.flush();
    if (eof) result.ended.push(name);
  }

  const pumps = [pump("stdout", streams.stdout)];
  if (streams.stderr !== undefined) pumps.push(pump("stderr", streams.stderr));
  await Promise.all(pumps);
  return result;
}

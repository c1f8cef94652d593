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
  /**
   * Reads what is there now, without waiting (see `PipeReader.readNow` in
   * `pipe_reader.ts`); a reader that has it is read this way while data
   * keeps coming, and through `read` only when it is empty.
   *
   * @returns How many bytes were read, 0 when nothing is there yet, or
   *   `null` at end of stream.
   */
  readNow?(buffer: Uint8Array): number | null;
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
   * included) and return. A read already in flight is given `lateReadMs` to
   * bring its bytes, which are then written too (it has taken them from the
   * pipe). With readers that have `readNow`, what the pipe holds at the stop
   * is taken as well, up to `stopBytes`: the container's writes put it
   * there before the stop. Bytes written after that stay unread.
   */
  signal?: AbortSignal;
  /**
   * After an abort, with readers that have `readNow`: about the most bytes
   * taken from each stream without waiting (the read that reaches it is the
   * last), so that a writer that keeps going cannot hold the stop off: a
   * full pipe of a driver whose log rotates at 1 MiB or more, four of
   * another's (256 KiB).
   * @default {1048576}
   */
  stopBytes?: number;
  /**
   * After an abort, how long to wait for a read in flight, in ms.
   * @default {100}
   */
  lateReadMs?: number;
  /** Where times come from. @default {new LogClock()} */
  clock?: { now(): LogTime };
  /**
   * Bytes read at a time, per stream.
   * @default {262144}
   */
  readSize?: number;
  /**
   * With readers that have `readNow`: bytes read in a row without waiting
   * before the loop lets other work run (the other stream, signals).
   * @default {8388608}
   */
  turnBytes?: number;
  /**
   * The same bound in time, in ms: a turn also ends once it has taken this
   * long, whatever it read (many rotations make a megabyte slow).
   * @default {50}
   */
  turnMs?: number;
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
 * goes to the sink, and the sink is flushed before every wait: no system
 * call per line, and nothing read stays unwritten while the loop waits. A
 * line gets the time of the read that completes it, a long line that of the
 * read that completes its first piece, and all its pieces share it (as
 * moby's copier stamps a message once it is whole). At the
 * end, a final fragment without `\n` is written as a partial piece. The
 * sink is not closed.
 *
 * A reader with `readNow` (a `PipeReader`) is read without waiting for as
 * long as it has data, `turnBytes` or `turnMs` at most in a row, and the sink is
 * flushed only before a wait: in between, the json-file and CRI files write
 * whole pages once a megabyte is batched. Other readers are read ahead, one
 * read in flight while the previous one is framed, and the sink is flushed
 * after each read.
 *
 * @param streams The container's stdout and stderr.
 * @param sink Where the pieces go.
 * @param options Abort signal, clock, read size.
 * @returns Bytes read and which streams ended.
 * @throws Whatever the readers or the sink throw first; the other stream's
 *   loop has then stopped too, with at most one read left in flight (its
 *   bytes are not logged).
 */
export async function copyStreams(
  streams: LoggerStreams,
  sink: LogSink,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const clock = options.clock ?? new LogClock();
  const readSize = options.readSize ?? 256 * 1024;
  const turnBytes = options.turnBytes ?? 8 * 1024 * 1024;
  const turnMs = options.turnMs ?? 50;
  const stopBytes = options.stopBytes ?? 1024 * 1024;
  const result: CopyResult = { bytes: { stdout: 0, stderr: 0 }, ended: [] };
  // Stops both loops: the caller's signal, or a failure of either one (the
  // other then reads no more, since what it read could not be logged).
  const stop = new AbortController();
  const signal = stop.signal;
  let failed = false;
  const abort = () => stop.abort();
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  const ABORTED = -1;
  const aborted = new Promise<number>((resolve) => {
    if (signal.aborted) resolve(ABORTED);
    signal.addEventListener("abort", () => resolve(ABORTED), { once: true });
  });

  /**
   * The bytes of a read the abort left in flight, if they come within
   * `lateReadMs` (0 if not: a writer that went quiet).
   */
  async function lateRead(
    reading: Promise<number | null>,
  ): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(0), options.lateReadMs ?? 100);
    });
    try {
      return await Promise.race([reading, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A read buffer, from the sink where it offers them. */
  const newBuffer = () =>
    sink.readBuffer?.(readSize) ?? new Uint8Array(readSize);
  /**
   * Gives a read buffer back to the sink; with a read still in flight on
   * it, only once that read is done (it may still write into it).
   */
  const releaseBuffer = (buffer: Uint8Array, pending?: Promise<unknown>) => {
    if (sink.releaseReadBuffer === undefined) return;
    const release = () => sink.releaseReadBuffer!(buffer);
    if (pending === undefined) release();
    else pending.then(release, release);
  };

  /** Frames one stream's reads into the sink. */
  function framing(name: StreamName) {
    const framer = new LineFramer();
    const fastPath = sink.writeLines !== undefined;
    let lineTime: LogTime | undefined;
    let now: LogTime;
    const emit = (piece: Uint8Array, partial: boolean) => {
      const time = lineTime ?? now;
      sink.write(name, piece, partial, time);
      lineTime = partial ? time : undefined;
    };
    return {
      /** Frames `buffer[0, n)`, read just now. */
      take(buffer: Uint8Array, n: number): void {
        result.bytes[name] += n;
        now = clock.now();
        let i = 0;
        if (!fastPath) {
          if (framer.pending) {
            i = framer.finishLine(buffer.subarray(0, n), emit);
          }
        } else {
          // The fast path takes over once the piece held is out: a piece cut
          // before a UTF-8 character holds its first bytes, hence twice.
          for (let k = 0; k < 2 && framer.pending && i < n; k++) {
            i += framer.finishPiece(buffer.subarray(i, n), emit);
          }
        }
        if (fastPath && lineTime !== undefined && !framer.pending && i < n) {
          // A long line goes on: its pieces keep its time, up to its end.
          const nl = framer.indexOfNewline(buffer.subarray(0, n), i);
          const lineEnd = nl === -1 ? n : nl + 1;
          i = sink.writeLines!(
            name,
            buffer,
            i,
            lineEnd,
            framer.maxPiece,
            lineTime,
          );
          if (i === lineEnd && nl !== -1) lineTime = undefined;
        }
        if (fastPath && lineTime === undefined && !framer.pending && i < n) {
          const from = i;
          i = sink.writeLines!(name, buffer, i, n, framer.maxPiece, now);
          // Stopped inside a long line: its next pieces keep this time.
          if (i > from && buffer[i - 1] !== 0x0a) lineTime = now;
        }
        if (i < n) framer.push(buffer.subarray(i, n), emit);
      },
      /** Writes the final fragment, if any, and flushes. */
      end(eof: boolean): void {
        now = clock.now();
        framer.end(emit);
        sink.flush();
        if (eof) result.ended.push(name);
      },
    };
  }

  /** Reads ahead: one read in flight while the previous one is framed. */
  async function pump(name: StreamName, reader: ByteReader): Promise<void> {
    const stream = framing(name);
    const buffers = [newBuffer(), newBuffer()];
    let current = 0;
    let eof = false;
    let reading = reader.read(buffers[current]);
    while (!signal.aborted) {
      const n = await Promise.race([reading, aborted]);
      if (n === null) {
        eof = true;
        break;
      }
      if (n === ABORTED) break;
      const buffer = buffers[current];
      current ^= 1;
      reading = reader.read(buffers[current]);
      stream.take(buffer, n);
      sink.flush();
    }
    let inFlight: Promise<unknown> | undefined;
    if (failed) {
      releaseBuffer(buffers[current], reading);
      releaseBuffer(buffers[current ^ 1]);
      return;
    }
    if (!eof) {
      const n = await lateRead(reading);
      if (n === null) eof = true;
      else if (n > 0) stream.take(buffers[current], n);
      else inFlight = reading;
    }
    stream.end(eof);
    releaseBuffer(buffers[current], inFlight);
    releaseBuffer(buffers[current ^ 1]);
  }

  /**
   * Reads without waiting while data comes (`readNow`), and waits (`read`)
   * only on an empty pipe or after `turnBytes` in a row; flushes before
   * each wait.
   */
  async function pumpNow(
    name: StreamName,
    reader: ByteReader & Required<Pick<ByteReader, "readNow">>,
  ): Promise<void> {
    const stream = framing(name);
    const buffer = newBuffer();
    let eof = false;
    let inTurn = 0;
    let turnStart = performance.now();
    let inFlight: Promise<unknown> | undefined;
    while (!signal.aborted) {
      let n = inTurn < turnBytes ? reader.readNow(buffer) : 0;
      if (n === 0) {
        sink.flush();
        inTurn = 0;
        const reading = reader.read(buffer);
        n = await Promise.race([reading, aborted]);
        if (n === ABORTED && failed) {
          inFlight = reading;
          break;
        }
        if (n === ABORTED) {
          n = await lateRead(reading);
          if (n === 0) {
            inFlight = reading;
            break;
          }
        }
        turnStart = performance.now();
      }
      if (n === null) {
        eof = true;
        break;
      }
      inTurn += n;
      stream.take(buffer, n);
      if (performance.now() - turnStart >= turnMs) inTurn = turnBytes;
    }
    if (failed) {
      releaseBuffer(buffer, inFlight);
      return;
    }
    // Stopped with no read in flight: take what the pipe holds now.
    for (let taken = 0; !eof && inFlight === undefined && taken < stopBytes;) {
      const n = reader.readNow(buffer);
      if (n === 0) break;
      if (n === null) {
        eof = true;
        break;
      }
      taken += n;
      stream.take(buffer, n);
    }
    stream.end(eof);
    releaseBuffer(buffer, inFlight);
  }

  const run = (name: StreamName, reader: ByteReader) =>
    (reader.readNow === undefined
      ? pump(name, reader)
      : pumpNow(name, reader as Parameters<typeof pumpNow>[1])).catch(
        (error) => {
          failed = true;
          stop.abort();
          throw error;
        },
      );
  const pumps = [run("stdout", streams.stdout)];
  if (streams.stderr !== undefined) pumps.push(run("stderr", streams.stderr));
  // Both loops stopped before the promise settles.
  const settled = await Promise.allSettled(pumps);
  options.signal?.removeEventListener("abort", abort);
  for (const outcome of settled) {
    if (outcome.status === "rejected") throw outcome.reason;
  }
  return result;
}

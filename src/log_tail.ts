/**
 * `--tail`: where the last N logical lines of a log begin, found by reading
 * its files from the end, so that the time and memory it takes depend on N
 * and on the length of lines, not on the size of the files.
 *
 * @module
 */

import type { LogTime } from "./clock.ts";
import {
  decodeOrRecover,
  type LogEntry,
  LogLineDecoder,
  type StreamName,
} from "./log_entry.ts";

/** Longest line a reader accepts; a longer one is damage. */
export const MAX_LINE = 8 << 20;

/** A place in a log: a file (by its order, oldest 0) and a byte offset. */
export interface LogPosition {
  /** Index of the file, oldest first. */
  file: number;
  /** Offset in the file's (decompressed) bytes. */
  offset: number;
}

/**
 * Compares positions.
 *
 * @param a A position.
 * @param b Another.
 * @returns Negative if `a` is before `b`, 0 if equal, positive if after.
 */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  return a.file - b.file || a.offset - b.offset;
}

/**
 * Compares times.
 *
 * @param a A time.
 * @param b Another.
 * @returns Negative if `a` is earlier, 0 if equal, positive if later.
 */
export function compareTimes(a: LogTime, b: LogTime): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

/**
 * Reads `size` bytes at `offset` of a file or buffer (fewer at its end).
 */
export type ReadAt = (
  offset: number,
  size: number,
) => Uint8Array | Promise<Uint8Array>;

/** Bytes of a line longer than {@linkcode MAX_LINE} that give its head. */
export const LONG_LINE_HEAD = 4096;

/**
 * The complete lines of `[0, end)`, last first, each with its `\n` and its
 * offset. Bytes after the last `\n` (a line being written) are left out. A
 * line longer than {@linkcode MAX_LINE} is given by its first
 * {@linkcode LONG_LINE_HEAD} bytes only, without `\n` (enough for a CRI
 * record's time, stream and tag; a json-file line so long is damage, and
 * its head does not decode).
 *
 * @param readAt How to read the bytes.
 * @param end Where the bytes end.
 * @param blockSize Bytes read at a time.
 * @returns The lines, last first.
 */
export async function* linesBackward(
  readAt: ReadAt,
  end: number,
  blockSize = 64 * 1024,
): AsyncGenerator<{ line: Uint8Array; offset: number }> {
  let pos = end;
  let carry: Uint8Array = new Uint8Array(0);
  let dropping = true; // until a `\n` is found: the unfinished last line
  let skipping = false; // in a line too long to hold, looking for its start
  const head = async (offset: number) => ({
    line: (await readAt(offset, LONG_LINE_HEAD)).slice(),
    offset,
  });
  while (pos > 0) {
    const size = Math.min(blockSize, pos);
    pos -= size;
    const block = await readAt(pos, size);
    let data: Uint8Array;
    if (carry.length === 0) data = block;
    else {
      data = new Uint8Array(block.length + carry.length);
      data.set(block);
      data.set(carry, block.length);
    }
    let e = data.length;
    if (dropping || skipping) {
      const nl = data.lastIndexOf(0x0a);
      carry = new Uint8Array(0);
      if (nl === -1) continue;
      if (skipping) yield await head(pos + nl + 1);
      dropping = skipping = false;
      e = nl + 1;
    }
    for (;;) {
      const nl = e >= 2 ? data.lastIndexOf(0x0a, e - 2) : -1;
      if (nl === -1) break;
      yield { line: data.subarray(nl + 1, e), offset: pos + nl + 1 };
      e = nl + 1;
    }
    carry = data.subarray(0, e);
    if (carry.length > MAX_LINE) {
      carry = new Uint8Array(0);
      skipping = true;
    }
  }
  if (skipping) yield await head(0);
  else if (carry.length > 0 && !dropping) yield { line: carry, offset: 0 };
}

/** Where each stream's output begins, for {@linkcode TailCounter}. */
export type StreamStarts = Record<StreamName, LogPosition>;

interface OpenLine {
  start: LogPosition;
  time: LogTime;
  rank: number;
}

/**
 * Counts logical lines backwards to find where the last `n` begin: feed it
 * the entries of a log last first with {@linkcode TailCounter.push} until it
 * says it is done, then ask {@linkcode TailCounter.starts}.
 *
 * A logical line is the pieces of one stream up to and including one that
 * is not partial, or the last piece of the stream (a final fragment).
 * Lines are ordered by where they end; a line counts when the time of its
 * first piece is in `[since, until)`. The lines picked are, for each
 * stream, all its lines from some position on, so a reader starting there
 * and filtering by time prints exactly them.
 */
export class TailCounter {
  #n: number;
  #since?: LogTime;
  #until?: LogTime;
  #seen: Record<StreamName, boolean> = { stdout: false, stderr: false };
  #open: Record<StreamName, OpenLine | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };
  #rank = 0;
  #accepted: { stream: StreamName; start: LogPosition; rank: number }[] = [];
  #done = false;

  /**
   * Prepares to count lines.
   *
   * @param n How many lines.
   * @param since Only lines from this time on.
   * @param until Only lines before this time.
   */
  constructor(n: number, since?: LogTime, until?: LogTime) {
    this.#n = n;
    this.#since = since;
    this.#until = until;
    if (n <= 0) this.#done = true;
  }

  /** True once enough lines are found (or no more can count). */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Takes the entry before the previous one.
   *
   * @param entry The entry.
   * @param at Where it is.
   * @returns {@linkcode TailCounter.done}.
   */
  push(entry: LogEntry, at: LogPosition): boolean {
    if (this.#done) return true;
    const s = entry.stream;
    const isEnd = !entry.partial || !this.#seen[s];
    this.#seen[s] = true;
    const open = this.#open[s];
    if (isEnd || open === undefined) {
      if (open !== undefined) this.#close(s, open);
      this.#open[s] = { start: at, time: entry.time, rank: this.#rank++ };
    } else {
      open.start = at;
      open.time = entry.time;
    }
    // An entry before `since` does not end the count: times can go back
    // through a log (a run whose clock was behind the last one's appends to
    // it), and a forward read prints the later lines before it.
    if (
      (isEnd || open === undefined) && this.#accepted.length >= this.#n &&
      this.#settled()
    ) {
      this.#done = true;
    }
    return this.#done;
  }

  /**
   * Whether the `n` lines that end last are known: `n` accepted lines end
   * after every line still open (lines found later end earlier still).
   */
  #settled(): boolean {
    let firstOpen = Infinity;
    for (const s of ["stdout", "stderr"] as const) {
      const open = this.#open[s];
      if (open !== undefined) firstOpen = Math.min(firstOpen, open.rank);
    }
    let before = 0;
    for (const line of this.#accepted) if (line.rank < firstOpen) before++;
    return before >= this.#n;
  }

  #close(s: StreamName, line: OpenLine): void {
    this.#open[s] = undefined;
    if (this.#since !== undefined && compareTimes(line.time, this.#since) < 0) {
      return;
    }
    if (
      this.#until !== undefined && compareTimes(line.time, this.#until) >= 0
    ) {
      return;
    }
    this.#accepted.push({ stream: s, start: line.start, rank: line.rank });
  }

  /** The log's beginning is reached: closes the lines still open. */
  end(): void {
    for (const s of ["stdout", "stderr"] as const) {
      const open = this.#open[s];
      if (open !== undefined) this.#close(s, open);
    }
    this.#done = true;
  }

  /**
   * Where each stream's part of the last `n` lines begins.
   *
   * @param end Where the log ends: the start for a stream with no line.
   * @returns The positions.
   */
  starts(end: LogPosition): StreamStarts {
    const picked = this.#accepted.sort((a, b) => a.rank - b.rank).slice(
      0,
      this.#n,
    );
    const starts: StreamStarts = { stdout: end, stderr: end };
    for (const line of picked) {
      if (comparePositions(line.start, starts[line.stream]) < 0) {
        starts[line.stream] = line.start;
      }
    }
    return starts;
  }
}

/** A file of a log for {@linkcode findTailStarts}. */
export interface TailSource {
  /** Reads its (decompressed) bytes. */
  readAt(): ReadAt | Promise<ReadAt>;
  /** Where its bytes end. */
  end(): number | Promise<number>;
  /**
   * When the file is known to hold nothing from `since` on (a compressed
   * file whose header's `lastTime` is earlier), true: it is not read.
   */
  before?(since: LogTime): boolean | Promise<boolean>;
}

/**
 * Finds where the last `n` logical lines of a log begin, reading its files
 * from the newest backwards.
 *
 * @param files The log's files, oldest first.
 * @param n How many lines.
 * @param options The time range.
 * @returns Where each stream begins.
 */
export async function findTailStarts(
  files: readonly TailSource[],
  n: number,
  options: { since?: LogTime; until?: LogTime } = {},
): Promise<StreamStarts> {
  const last = files.length - 1;
  const end: LogPosition = {
    file: last,
    offset: last >= 0 ? await files[last].end() : 0,
  };
  const counter = new TailCounter(n, options.since, options.until);
  const decoder = new LogLineDecoder();
  for (let f = last; f >= 0 && !counter.done; f--) {
    const source = files[f];
    // Only that file is passed over: an older one may hold later times (a
    // run whose clock was ahead).
    if (options.since !== undefined && await source.before?.(options.since)) {
      continue;
    }
    const readAt = await source.readAt();
    const fileEnd = f === last ? end.offset : await source.end();
    for await (const { line, offset } of linesBackward(readAt, fileEnd)) {
      const { entry, skipped } = decodeOrRecover(decoder, line);
      if (entry === undefined) continue; // damage: the forward pass says so
      if (counter.push(entry, { file: f, offset: offset + skipped })) break;
    }
  }
  counter.end();
  return counter.starts(end);
}

/**
 * Reads a container's log as `docker logs` does: the file and its rotated
 * (and compressed) siblings oldest first, the last N lines, a time range,
 * and following the file as the driver writes and rotates it. Works on
 * json-file and CRI logs, told apart by their content.
 *
 * @module
 */

import {
  formatRfc3339NanoFixed,
  type LogTime,
  parseRfc3339Nano,
} from "./clock.ts";
import {
  decodeOrRecover,
  detectLogFormat,
  type LogEntry,
  LogLineDecoder,
  type StreamName,
} from "./log_entry.ts";
import { gunzipRecovering } from "./log_files.ts";
import { type CriRecord, decodeCriLine } from "./cri.ts";
import { gzipExtra } from "./gzip.ts";
import {
  type KeptFile,
  LocalFileAccess,
  type LogFileAccess,
  WorkerFileAccess,
} from "./log_keeper.ts";
import {
  holdFollowerLock,
  type LogLock,
  type LogWriterState,
  logWriterState,
} from "./log_lock.ts";
import {
  comparePositions,
  compareTimes,
  findTailStarts,
  type LogPosition,
  MAX_LINE,
  type StreamStarts,
  type TailSource,
} from "./log_tail.ts";

export type { LogEntry, LogTime, StreamName };

/** Options of {@linkcode readLogs}, as `docker logs`'s flags. */
export interface ReadLogsOptions {
  /**
   * Only the last this many logical lines (`--tail`): the pieces of a long
   * line count as one line, and so does a final fragment. Read from the end
   * of the newest file backwards, so the time taken does not grow with the
   * size of the log.
   *
   * @default {Infinity}
   */
  tail?: number;
  /**
   * Only lines logged at or after this time (`--since`, inclusive, to the
   * nanosecond); a line's time is its first piece's. Compressed files whose
   * gzip header says they end earlier are not read.
   */
  since?: LogTime;
  /** Only lines logged before this time (`--until`, exclusive). */
  until?: LogTime;
  /**
   * Keep reading as the driver writes (`--follow`), across rotations and
   * compressions. Ends when the driver's lock on `<log>.lock` is released
   * and everything is read, when `until` has passed, or when `signal`
   * aborts; without a lock file, only on `signal`.
   *
   * @default {false}
   */
  follow?: boolean;
  /** Stops reading (following or not); the iteration then ends normally. */
  signal?: AbortSignal;
  /**
   * Receives warnings: damaged data skipped (once per file, saying what and
   * where), and entries missed by a follower that fell behind the writer.
   *
   * @default {console.warn}
   */
  onWarning?: (message: string) => void;
  /**
   * Longest wait between two looks at a followed file, in milliseconds.
   *
   * @default {100}
   */
  pollMs?: number;
}

/**
 * Reads the entries of a log: the file at `path` and its rotated siblings
 * (Docker's `NAME.1`, `NAME.2.gz`…, kubelet's `NAME.YYYYMMDD-hhmmss[.gz]`),
 * oldest first, as `docker logs` does (see {@linkcode ReadLogsOptions} for
 * `--tail`, `--since`, `--until` and `--follow`).
 *
 * Entries come as the files hold them: a long line is several entries
 * (`partial` on all but the last). Damaged data (a half-written record, NUL
 * bytes after a crash, a line that is neither json-file nor CRI) is skipped
 * and reported through `onWarning`.
 *
 * Following, a worker thread opens each file the writer starts as soon as
 * it appears, so that rotation cannot delete it unread while the reader is
 * busy. The follower also holds a shared lock on `<log>.followers` when the
 * writer made one (shimlog's driver does): such a writer then retires the
 * files it rotates away instead of deleting them (see `LogRetirer`), which
 * makes following lossless even when the reader falls far behind, within
 * the writer's grace period and byte budget. A follower that misses files
 * anyway says so through `onWarning`, with the time range that may be
 * missing.
 *
 * Needs `--allow-read` for the log's folder (nothing more when following:
 * the worker is made from source text).
 *
 * @param path The log file's path.
 * @param options Which entries, and whether to follow.
 * @returns The entries, in the order of the files.
 * @throws {Deno.errors.NotFound} If the log file does not exist.
 * @throws {Deno.errors.NotCapable} If the folder cannot be read.
 * @throws {RangeError} If `tail` is not a whole number of 0 or more (or
 *   `Infinity`), or `pollMs` is not positive.
 *
 * @example Print a log's last line
 * ```ts
 * import { readLogs } from "./log_reader.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(
 *     `${dir}/c-json.log`,
 *     '{"log":"one\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"}\n' +
 *       '{"log":"two\\n","stream":"stderr","time":"2026-11-29T15:53:55Z"}\n',
 *   );
 *   const lines = [];
 *   for await (const entry of readLogs(`${dir}/c-json.log`, { tail: 1 })) {
 *     lines.push(`${entry.stream}: ${new TextDecoder().decode(entry.bytes)}`);
 *   }
 *   assert.deepEqual(lines, ["stderr: two\n"]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function* readLogs(
  path: string,
  options: ReadLogsOptions = {},
): AsyncGenerator<LogEntry, void, undefined> {
  for await (const batch of readLogBatches(path, options)) yield* batch;
}

/**
 * Reads the entries of a log in batches (one per chunk of a file read), as
 * {@linkcode readLogs} does: faster when there are many entries. The
 * arrays and entries are new for each batch and may be kept.
 *
 * Needs `--allow-read` for the log's folder.
 *
 * @param path The log file's path.
 * @param options Which entries, and whether to follow.
 * @returns Batches of entries, in the order of the files.
 * @throws {Deno.errors.NotFound} If the log file does not exist.
 * @throws {Deno.errors.NotCapable} If the folder cannot be read.
 * @throws {RangeError} If `tail` or `pollMs` is out of range.
 */
export async function* readLogBatches(
  path: string,
  options: ReadLogsOptions = {},
): AsyncGenerator<LogEntry[], void, undefined> {
  const reader = new LogReader(path, options);
  try {
    yield* reader.batches();
  } finally {
    await reader.close();
  }
}

/** A file in the reader's queue. */
interface QueuedFile extends KeptFile {
  /** Read no further (the size when the log was opened, if not following). */
  limit: number;
}

const READ_CHUNK = 256 * 1024;
const GZIP_HEAD = 12 + 512;

class LogReader {
  #path: string;
  #options: ReadLogsOptions;
  #follow: boolean;
  #warn: (message: string) => void;
  #access: LogFileAccess;
  #decoder = new LogLineDecoder();
  #queue: QueuedFile[] = [];
  #starts: StreamStarts | undefined;
  #lineOpen: Record<StreamName, boolean> = { stdout: false, stderr: false };
  #lineShown: Record<StreamName, boolean> = { stdout: true, stderr: true };
  #lastTime: LogTime | undefined;
  #pendingGap: LogTime | null | undefined;
  #writerGone = false;
  #writerState: LogWriterState = "unknown";
  #followerLock: LogLock | undefined;
  #lockRetry = 0;
  #damage = { count: 0, bytes: 0 };
  /** The long CRI record being read in pieces (see `#longEntry`). */
  #longRecord: CriRecord | undefined;
  /** Bytes of a long line that is not a CRI record, so far. */
  #longBytes = 0;
  #brokenGzip = new Set<string>();
  #stopped = false;
  #onAbort = () => {
    this.#stopped = true;
  };

  constructor(path: string, options: ReadLogsOptions) {
    const { tail, pollMs } = options;
    if (
      tail !== undefined && tail !== Infinity &&
      !(Number.isInteger(tail) && tail >= 0)
    ) {
      throw new RangeError(
        `Invalid tail ${tail}: expected a whole number of lines, 0 or more`,
      );
    }
    if (pollMs !== undefined && !(pollMs > 0)) {
      throw new RangeError(`Invalid pollMs ${pollMs}: must be positive`);
    }
    this.#path = path;
    this.#options = options;
    this.#follow = options.follow ?? false;
    this.#warn = options.onWarning ?? ((m) => console.warn(m));
    this.#access = this.#follow
      ? new WorkerFileAccess(path)
      : new LocalFileAccess(path);
  }

  async close(): Promise<void> {
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#queue = [];
    try {
      await this.#access.close();
    } finally {
      this.#followerLock?.release();
    }
  }

  async *batches(): AsyncGenerator<LogEntry[], void, undefined> {
    const { signal, since, until } = this.#options;
    if (signal?.aborted) return;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    // Before the files are listed: from now on, the writer keeps the files
    // it rotates away until this follower has read them.
    if (this.#follow) this.#followerLock = await holdFollowerLock(this.#path);
    const files = await this.#access.open();
    this.#writerState = await logWriterState(this.#path);
    this.#queue = files.map((f) => ({ ...f, limit: Infinity }));
    if (!this.#follow) {
      // Read what is there now, not what the writer adds meanwhile.
      const current = this.#queue[this.#queue.length - 1];
      current.limit = await this.#access.size(current.id);
    }
    const tail = this.#options.tail ?? Infinity;
    if (tail !== Infinity) {
      // Ids of the first files are 0, 1, …: their index in the queue.
      this.#starts = await findTailStarts(
        this.#queue.map((f) => this.#tailSource(f)),
        tail,
        { since, until },
      );
      const first = Math.min(
        this.#starts.stdout.file,
        this.#starts.stderr.file,
      );
      this.#drop(first);
    } else if (since !== undefined) {
      // Compressed files that end before --since: not even decompressed.
      let skip = 0;
      while (
        skip < this.#queue.length - 1 && this.#queue[skip].compressed &&
        await this.#endsBefore(this.#queue[skip], since)
      ) skip++;
      this.#drop(skip);
    }
    while (this.#queue.length > 0 && !this.#stopped) {
      const file = this.#queue[0];
      if (file.gapBefore) this.#pendingGap = this.#lastTime ?? null;
      if (file.compressed) yield* this.#readCompressed(file);
      else yield* this.#readPlain(file);
      if (this.#stopped) break;
      this.#finishFile(file);
      this.#queue.shift();
    }
  }

  /** Releases the first `n` files of the queue unread. */
  #drop(n: number): void {
    for (const f of this.#queue.slice(0, n)) this.#access.release(f.id);
    this.#queue = this.#queue.slice(n);
  }

  async #endsBefore(file: QueuedFile, since: LogTime): Promise<boolean> {
    const head = await this.#access.read(file.id, 0, GZIP_HEAD);
    let lastTime: LogTime | undefined;
    try {
      const extra = gzipExtra(head);
      if (extra !== undefined) {
        const text = JSON.parse(new TextDecoder().decode(extra))?.lastTime;
        if (typeof text === "string") lastTime = parseRfc3339Nano(text);
      }
    } catch {
      // No Docker metadata: read the file.
    }
    return lastTime !== undefined && compareTimes(lastTime, since) < 0;
  }

  #tailSource(f: QueuedFile): TailSource {
    const access = this.#access;
    if (!f.compressed) {
      return {
        readAt: () => (offset, size) => access.read(f.id, offset, size),
        end: () => f.limit === Infinity ? access.size(f.id) : f.limit,
      };
    }
    let bytes: Promise<Uint8Array> | undefined;
    const load = () => bytes ??= this.#gunzipped(f).then(collect);
    return {
      readAt: async () => {
        const all = await load();
        return (offset, size) => all.subarray(offset, offset + size);
      },
      end: async () => (await load()).length,
      before: (since) => this.#endsBefore(f, since),
    };
  }

  /** A gzipped file's bytes, as much of them as can be had. */
  async #gunzipped(file: QueuedFile): Promise<AsyncGenerator<Uint8Array>> {
    const size = await this.#access.size(file.id);
    return gunzipRecovering(
      await this.#access.read(file.id, 0, size),
      (unzipped, error) => this.#noteBrokenGzip(file, unzipped, error),
    );
  }

  #startOffset(file: QueuedFile): number {
    if (this.#starts === undefined) return 0;
    let offset = Infinity;
    for (const p of [this.#starts.stdout, this.#starts.stderr]) {
      if (p.file === file.id) offset = Math.min(offset, p.offset);
      else if (p.file < file.id) offset = 0;
    }
    return offset === Infinity ? 0 : offset;
  }

  /** Takes the files the writer started, found by the access. */
  async #takeNews(now = false): Promise<void> {
    if (!this.#follow || this.#writerGone) return;
    if (
      this.#followerLock === undefined && performance.now() >= this.#lockRetry
    ) {
      // Started before the writer made its marker: take it once it exists.
      this.#lockRetry = performance.now() + 100;
      this.#followerLock = await holdFollowerLock(this.#path);
    }
    const news = await this.#access.discovered(now);
    for (const f of news) this.#queue.push({ ...f, limit: Infinity });
  }

  /** Reads an uncompressed file, following it when asked. */
  async *#readPlain(file: QueuedFile): AsyncGenerator<LogEntry[]> {
    const lines = new LineSplitter(this.#startOffset(file));
    let position = lines.offset;
    let idle = 0;
    for (;;) {
      if (this.#stopped) return;
      const want = Math.min(READ_CHUNK, file.limit - position);
      const chunk = want > 0
        ? await this.#access.read(file.id, position, want)
        : new Uint8Array(0);
      if (chunk.length > 0) {
        position += chunk.length;
        idle = 0;
        const batch = this.#decodeLines(file, lines, chunk);
        await this.#takeNews();
        if (batch.length > 0) yield batch;
        continue;
      }
      // At the end of what is there. Once a newer file exists, this file
      // is complete: this end is its end.
      if (!this.#follow || this.#writerGone || this.#queue.length > 1) break;
      await this.#takeNews();
      if (this.#queue.length > 1) continue; // read to the end once more
      if (await this.#shouldEnd()) {
        await this.#takeNews(true);
        this.#writerGone = true;
        continue; // read what was written before the end
      }
      idle++;
      await this.#access.wait(Math.min(this.#options.pollMs ?? 100, 2 ** idle));
    }
    this.#endOfFile(file, lines);
  }

  /** Reads a gzipped file (rotated: it does not grow). */
  async *#readCompressed(file: QueuedFile): AsyncGenerator<LogEntry[]> {
    const lines = new LineSplitter(this.#startOffset(file));
    let skip = lines.offset;
    const chunks = await this.#gunzipped(file);
    for await (let chunk of chunks) {
      if (this.#stopped) return; // (the loop's exit ends the decompression)
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) continue;
      }
      const batch = this.#decodeLines(file, lines, chunk);
      await this.#takeNews();
      if (batch.length > 0) yield batch;
    }
    this.#endOfFile(file, lines);
  }

  /** A gzip file that cannot be decompressed to its end (truncated, bad). */
  #noteBrokenGzip(file: QueuedFile, unzipped: number, error: unknown): void {
    // Said once, though tail reads a file before it is read through.
    if (this.#brokenGzip.has(file.path)) return;
    this.#brokenGzip.add(file.path);
    this.#warn(
      `Skipped the rest of "${file.path}" after ${unzipped} bytes of its uncompressed data: ${
        (error as Error)?.message ?? error
      }`,
    );
  }

  #endOfFile(file: QueuedFile, lines: LineSplitter): void {
    const rest = lines.rest();
    // (A gzip file cut short has had its note: "skipped the rest".)
    if (rest === 0 || this.#stopped || this.#brokenGzip.has(file.path)) return;
    // An unfinished last line is being written, unless the file is final.
    const final = file.compressed || this.#queue.length > 1 ||
      this.#writerGone || this.#writerState !== "writing";
    if (final) {
      this.#noteDamage(file, lines.offset, rest, "a half-written last record");
    }
  }

  async #shouldEnd(): Promise<boolean> {
    if (this.#stopped) return true;
    const until = this.#options.until;
    if (until !== undefined) {
      const ms = Date.now();
      const now = { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
      if (compareTimes(now, until) >= 0) return true;
    }
    this.#writerState = await logWriterState(this.#path);
    return this.#writerState === "finished";
  }

  #finishFile(file: QueuedFile): void {
    if (this.#damage.count > 1) {
      this.#warn(
        `Skipped ${this.#damage.count} damaged parts (${this.#damage.bytes} bytes) in all in "${file.path}"`,
      );
    }
    this.#damage = { count: 0, bytes: 0 };
    this.#access.release(file.id);
  }

  #noteDamage(
    file: QueuedFile,
    offset: number,
    bytes: number,
    reason: string,
  ): void {
    if (this.#damage.count === 0) {
      this.#warn(
        `Skipped damaged data in "${file.path}" at byte ${offset} (${bytes} bytes): ${reason}`,
      );
    }
    this.#damage.count++;
    this.#damage.bytes += bytes;
  }

  /** Decodes the complete lines of a chunk into entries, filtered. */
  #decodeLines(
    file: QueuedFile,
    lines: LineSplitter,
    chunk: Uint8Array,
  ): LogEntry[] {
    const batch: LogEntry[] = [];
    lines.push(chunk, (line, offset) => {
      const { entry, skipped, reason } = decodeOrRecover(this.#decoder, line);
      if (skipped > 0) {
        this.#noteDamage(file, offset, skipped, reason ?? "damage");
      }
      if (entry === undefined) return;
      this.#accept(entry, { file: file.id, offset: offset + skipped }, batch);
    }, (piece, offset, part) => {
      const entry = this.#longEntry(piece, part);
      if (entry !== undefined) {
        this.#accept(entry, { file: file.id, offset }, batch);
      } else if (part === "last") {
        this.#noteDamage(
          file,
          offset,
          this.#longBytes,
          `a line longer than ${MAX_LINE} bytes that is not a CRI record`,
        );
      }
    });
    return batch;
  }

  /**
   * An entry for a piece of a line longer than {@linkcode MAX_LINE}: CRI
   * records can be that long (`max-line-size` 0 or over 8 MiB), and each
   * piece becomes a partial entry of the record's stream and time; the
   * last one ends as the record does (`F`: the line's end, `P`: partial).
   * Anything else so long is damage: `undefined`, its bytes counted.
   */
  #longEntry(piece: Uint8Array, part: LongPiece): LogEntry | undefined {
    if (part === "first") {
      this.#longRecord = undefined;
      this.#longBytes = 0;
      if (detectLogFormat(piece) === "cri") {
        try {
          const record = decodeCriLine(piece);
          this.#longRecord = record;
          return longPiece(record, record.content, true);
        } catch {
          // damage, counted below
        }
      }
    }
    const record = this.#longRecord;
    if (record === undefined) {
      this.#longBytes += piece.length;
      return undefined;
    }
    if (part !== "last") return longPiece(record, piece, true);
    this.#longRecord = undefined;
    return record.partial
      ? longPiece(record, piece.subarray(0, piece.length - 1), true)
      : longPiece(record, piece, false);
  }

  #accept(entry: LogEntry, at: LogPosition, batch: LogEntry[]): void {
    const s = entry.stream;
    if (
      this.#starts !== undefined && comparePositions(at, this.#starts[s]) < 0
    ) return;
    if (this.#pendingGap !== undefined) {
      const after = this.#pendingGap;
      this.#pendingGap = undefined;
      this.#warn(
        `Fell behind the writer of "${this.#path}": files were rotated away before they could be opened, so entries logged ${
          after === null ? "" : `after ${formatRfc3339NanoFixed(after)} and `
        }before ${formatRfc3339NanoFixed(entry.time)} may be missing`,
      );
    }
    this.#lastTime = entry.time;
    if (!this.#lineOpen[s]) {
      const { since, until } = this.#options;
      this.#lineShown[s] =
        (since === undefined || compareTimes(entry.time, since) >= 0) &&
        (until === undefined || compareTimes(entry.time, until) < 0);
    }
    this.#lineOpen[s] = entry.partial;
    if (this.#lineShown[s]) batch.push(entry);
  }
}

/** An entry of a piece of a long CRI record, with the record's time. */
function longPiece(
  record: CriRecord,
  bytes: Uint8Array,
  partial: boolean,
): LogEntry {
  return { time: record.time, stream: record.stream, bytes, partial };
}

/** All the chunks' bytes, in one array. */
async function collect(
  chunks: AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const part of chunks) {
    parts.push(part);
    n += part.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Which part of a line longer than {@linkcode MAX_LINE} a piece is: its
 * first {@linkcode MAX_LINE} bytes or more, more of it, or the rest up to
 * and with its `\n`.
 */
type LongPiece = "first" | "more" | "last";

/**
 * Cuts chunks of a file into lines, each with its `\n` and its offset,
 * keeping an unfinished line for the next chunk. A line longer than
 * {@linkcode MAX_LINE} is given out in pieces as it comes (the offset of
 * each is the line's), so that memory stays bounded.
 */
class LineSplitter {
  /** Offset of the first byte not yet given out as part of a line. */
  offset: number;
  #carry: Uint8Array = new Uint8Array(0);
  /** Offset of the long line being given out in pieces, or -1. */
  #long = -1;

  constructor(offset: number) {
    this.offset = offset;
  }

  push(
    chunk: Uint8Array,
    onLine: (line: Uint8Array, offset: number) => void,
    onLong: (piece: Uint8Array, offset: number, part: LongPiece) => void,
  ): void {
    let data = chunk;
    let base = this.offset;
    if (this.#long >= 0) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) {
        onLong(chunk, this.#long, "more");
        this.offset += chunk.length;
        return;
      }
      onLong(chunk.subarray(0, nl + 1), this.#long, "last");
      this.#long = -1;
      data = chunk.subarray(nl + 1);
      this.offset += nl + 1;
      base = this.offset;
    } else if (this.#carry.length > 0) {
      data = new Uint8Array(this.#carry.length + chunk.length);
      data.set(this.#carry);
      data.set(chunk, this.#carry.length);
    }
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) break;
      onLine(data.subarray(start, nl + 1), base + start);
      start = nl + 1;
    }
    this.offset = base + start;
    this.#carry = data.subarray(start);
    if (this.#carry.length > MAX_LINE) {
      this.#long = this.offset;
      onLong(this.#carry, this.#long, "first");
      this.offset += this.#carry.length;
      this.#carry = new Uint8Array(0);
    }
  }

  /** Bytes of an unfinished line held (not those given out in pieces). */
  rest(): number {
    return this.#carry.length;
  }
}

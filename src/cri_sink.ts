/**
 * The CRI sink: container output as kubelet reads it (`--log-driver cri`,
 * as containerd's CRI plugin writes it, or `--log-driver k8s-file`, as
 * podman's conmon writes it), with kubelet's rotation.
 *
 * @module
 */

import type { LogTime } from "./clock.ts";
import { CriEncoder, type CriFlavour } from "./cri.ts";
import {
  KubeletRotatingFile,
  type KubeletRotationOptions,
} from "./kubelet_rotation.ts";
import { JsonEscapeWasm, leasedBuffers } from "./json_escape_wasm.ts";
import { DEFAULT_MAX_PIECE } from "./line_framer.ts";
import { parseByteQuantity } from "./quantity.ts";
import type { LogSink, SinkCloseOptions, StreamName } from "./sink.ts";
import { utf8SafeCut } from "./utf8.ts";

/**
 * The longest record content by default, in bytes without the `\n`:
 * containerd's `max_container_log_line_size`.
 */
export const DEFAULT_MAX_LINE_SIZE: number = 16 * 1024;

/** Where and how a {@linkcode CriSink} writes. */
export interface CriSinkOptions extends KubeletRotationOptions {
  /** The log file's path. */
  path: string;
  /**
   * Whose dialect: containerd's (`"cri"`) or conmon's (`"k8s-file"`); see
   * {@linkcode CriFlavour}.
   * @default {"cri"}
   */
  flavour?: CriFlavour;
  /**
   * Longest record content in bytes, not counting the `\n`; a longer line is
   * split into `P` records and a last `F` record. `0` for no limit, in
   * which case a line is held in memory until its end, as containerd does.
   * @default {16384}
   */
  maxLineSize?: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);

/** What is held of one stream's unfinished line. */
interface StreamState {
  /** The line's bytes not yet written; grown on demand. */
  buf: Uint8Array;
  /** How many bytes of `buf` are held. */
  len: number;
  /** When the held line began. */
  time: LogTime;
  /** The last record written for this stream is a `P`. */
  open: boolean;
}

/**
 * Writes CRI log records, `TIME STREAM TAG CONTENT\n` (see `cri.ts`), to a
 * file rotated as kubelet does (see {@linkcode KubeletRotatingFile}).
 *
 * It takes pieces as the framer cuts them (16 KiB counting the `\n`,
 * Docker's rule) and frames them again by its own rule, containerd's
 * (`pkg/cri/io/logger.go`):
 * - a line whose content, without `\n`, is at most `maxLineSize` bytes is
 *   one `F` record; a longer one is split into `P` records of at most
 *   `maxLineSize` bytes and a last `F` record. Unlike containerd, a cut
 *   never falls inside a valid multibyte UTF-8 character (the `P` record
 *   ends before it), so a `P` record may be up to 3 bytes short;
 * - in the `cri` flavour, the `\r` of a `\r\n` line end is dropped (before
 *   the length is counted), as containerd does; a lone `\r` is kept. The
 *   `k8s-file` flavour keeps every byte, as conmon does;
 * - bytes are written raw: invalid UTF-8, NUL and control bytes as they are;
 * - every record of a line carries the time the line began;
 * - a final fragment without `\n` is written as `P` records when the sink
 *   closes, and, if its stream reached end of file, followed by an empty
 *   `F` record (`TIME STREAM F `) so that readers waiting for the `F` do
 *   not hang (newer conmon does the same; 2.1.6 leaves the `P` open).
 *   Readers then see that fragment as a line with a `\n`, as kubelet
 *   shows it: the format cannot say that the `\n` was missing.
 *
 * An unfinished line is held in memory (at most `maxLineSize` bytes plus
 * one piece) until its end or until it exceeds `maxLineSize`; records are
 * batched and written with one system call per
 * {@linkcode CriSink.flush}.
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 *
 * @example Write a log and read it back
 * ```ts
 * import { CriSink } from "./cri_sink.ts";
 * import { decodeCriLine } from "./cri.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const sink = CriSink.open({ path: `${dir}/0.log` });
 * const time = { sec: 1795967656, nsec: 500 };
 * sink.write("stdout", new TextEncoder().encode("hello\r\n"), false, time);
 * sink.write("stderr", new TextEncoder().encode("no newline"), true, time);
 * await sink.close(["stdout", "stderr"]);
 * const text = await Deno.readTextFile(`${dir}/0.log`);
 * assert.equal(
 *   text,
 *   "2026-11-29T15:54:16.0000005Z stdout F hello\n" +
 *     "2026-11-29T15:54:16.0000005Z stderr P no newline\n" +
 *     "2026-11-29T15:54:16.0000005Z stderr F \n",
 * );
 * const utf8 = new TextEncoder();
 * assert.equal(decodeCriLine(utf8.encode(text.split("\n")[2])).partial, false);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CriSink implements LogSink {
  #file: KubeletRotatingFile;
  #encoder: CriEncoder;
  #max: number;
  #dropCr: boolean;
  #streams: Record<StreamName, StreamState>;

  private constructor(
    file: KubeletRotatingFile,
    flavour: CriFlavour,
    maxLineSize: number,
  ) {
    this.#file = file;
    this.#encoder = new CriEncoder(flavour);
    this.#max = maxLineSize;
    this.#dropCr = flavour === "cri";
    const state = (): StreamState => ({
      buf: EMPTY,
      len: 0,
      time: { sec: 0, nsec: 0 },
      open: false,
    });
    this.#streams = { stdout: state(), stderr: state() };
  }

  /**
   * Opens (or creates) the log file for appending.
   *
   * @param options The path, flavour, line size and rotation.
   * @returns The sink, ready to write.
   * @throws {RangeError} If `maxLineSize` is not 0 or a whole number of at
   *   least 4, if the flavour is unknown, or the rotation options are out
   *   of range (see {@linkcode KubeletRotatingFile.open}).
   * @throws {Deno.errors.PermissionDenied} If the file cannot be created.
   */
  static open(options: CriSinkOptions): CriSink {
    const max = options.maxLineSize ?? DEFAULT_MAX_LINE_SIZE;
    if (!Number.isSafeInteger(max) || (max !== 0 && max < 4)) {
      throw new RangeError(
        `Invalid max-line-size ${max}: must be 0 (no limit) or at least 4 bytes, so that a record holds any character`,
      );
    }
    const flavour = options.flavour ?? "cri";
    new CriEncoder(flavour); // validates the flavour before the file exists
    const file = KubeletRotatingFile.open(options.path, {
      ...options,
      buffers: leasedBuffers,
    });
    return new CriSink(file, flavour, max);
  }

  /**
   * A buffer for the copy loop to read into, leased from the WebAssembly
   * module that {@linkcode CriSink.writeLines} runs in, which then reads it
   * in place (see {@linkcode LogSink.readBuffer}).
   *
   * @param length Bytes.
   * @returns The buffer; an ordinary array when the arena is used up.
   */
  readBuffer(length: number): Uint8Array {
    return leasedBuffers.lease(length) ?? new Uint8Array(length);
  }

  /**
   * Gives back a buffer from {@linkcode CriSink.readBuffer} (see
   * {@linkcode LogSink.releaseReadBuffer}); any time, even after close.
   *
   * @param buffer The buffer.
   */
  releaseReadBuffer(buffer: Uint8Array): void {
    leasedBuffers.release(buffer);
  }

  /**
   * Writes a record for each whole line at the start of `chunk[start, end)`
   * in one pass (see {@linkcode LogSink.writeLines}): what
   * {@linkcode CriSink.write} writes for a line that came in one piece, an
   * `F` record, with the `\r` rule of the flavour. Takes nothing while the
   * stream holds part of a line, and stops at a line whose content is longer
   * than `maxLineSize` (the pieces path cuts it into `P` records).
   * `maxPiece` does not matter: the pieces of a line are joined here.
   */
  writeLines(
    stream: StreamName,
    chunk: Uint8Array,
    start: number,
    end: number,
    _maxPiece: number,
    time: LogTime,
  ): number {
    const st = this.#streams[stream];
    // Without WebAssembly SIMD the pieces path does it all.
    if (st.len > 0 || !JsonEscapeWasm.available()) return start;
    const wasm = JsonEscapeWasm.get();
    const file = this.#file;
    const prefix = this.#encoder.fullPrefix(time, stream);
    let i = start;
    while (i < end) {
      const longest = this.#max > 0
        ? Math.min(end - i, this.#max + 1)
        : end - i;
      // Room for the longest record the rest could make, and the slack the
      // copy needs (it stores 16 bytes at a time).
      const pos = file.reserve(this.#encoder.maxRecordLength(longest) + 48);
      const recordsEnd = wasm.encodeCriLines(
        file.buffer,
        pos,
        chunk,
        i,
        end,
        prefix,
        this.#max,
        this.#dropCr,
        Math.max(1, file.bytesBeforeRotation),
      );
      if (recordsEnd === pos) break;
      file.commit(recordsEnd);
      i = wasm.lineEnd;
    }
    // No P record is open: a stream holds nothing only after an F record.
    return i;
  }

  /** The log file's path. */
  get path(): string {
    return this.#file.path;
  }

  /**
   * Takes one piece (see {@linkcode LogSink.write}): writes the records of
   * the lines it finishes into the batch, and holds what is left of an
   * unfinished line.
   */
  write(
    stream: StreamName,
    piece: Uint8Array,
    partial: boolean,
    time: LogTime,
  ): void {
    const st = this.#streams[stream];
    let n = piece.length;
    const newline = !partial && n > 0 && piece[n - 1] === NEWLINE;
    if (newline) n--;
    if (st.len === 0 && !partial) {
      // The whole line in one piece: the common case, with no copy.
      if (newline && this.#dropCr && n > 0 && piece[n - 1] === CR) n--;
      this.#writeLine(stream, piece.subarray(0, n), time);
      return;
    }
    if (st.len === 0) st.time = time;
    this.#hold(st, piece.subarray(0, n));
    if (partial) {
      this.#writeFullParts(stream, st);
      return;
    }
    let len = st.len;
    if (newline && this.#dropCr && len > 0 && st.buf[len - 1] === CR) len--;
    st.len = 0;
    this.#writeLine(stream, st.buf.subarray(0, len), st.time);
  }

  /** Writes the batched records. */
  flush(): void {
    this.#file.flush();
  }

  /**
   * Writes what is held of unfinished lines as `P` records, closes those of
   * the streams in `endedStreams` with an empty `F` record, then flushes,
   * waits for compressions and closes the file.
   *
   * @param endedStreams The streams that reached end of file.
   * @param options A signal after which no further compression begins.
   * @throws {AggregateError} If a rotation or compression failed (see
   *   {@linkcode KubeletRotatingFile.close}).
   */
  async close(
    endedStreams: StreamName[] = [],
    options: SinkCloseOptions = {},
  ): Promise<void> {
    for (const stream of ["stdout", "stderr"] as const) {
      const st = this.#streams[stream];
      if (st.len > 0) {
        const max = this.#max === 0 ? Infinity : this.#max;
        const buf = st.buf;
        let start = 0;
        while (start < st.len) {
          const cut = st.len - start > max
            ? utf8SafeCut(buf, start, start + max)
            : st.len;
          this.#record(stream, true, buf.subarray(start, cut), st.time);
          start = cut;
        }
        st.len = 0;
      }
      if (st.open && endedStreams.includes(stream)) {
        this.#record(stream, false, EMPTY, st.time);
      }
    }
    await this.#file.close(options);
  }

  /** Writes a finished line: `P` records while it is too long, then `F`. */
  #writeLine(stream: StreamName, content: Uint8Array, time: LogTime): void {
    const max = this.#max;
    if (max > 0) {
      let start = 0;
      while (content.length - start > max) {
        const cut = utf8SafeCut(content, start, start + max);
        this.#record(stream, true, content.subarray(start, cut), time);
        start = cut;
      }
      if (start > 0) content = content.subarray(start);
    }
    this.#record(stream, false, content, time);
  }

  /**
   * Writes the `P` records of an unfinished line that are sure to be
   * followed by more content, keeping the rest. In the `cri` flavour a
   * held `\r` at the end does not count: a `\n` may follow and drop it.
   */
  #writeFullParts(stream: StreamName, st: StreamState): void {
    const max = this.#max;
    if (max === 0) return;
    const buf = st.buf;
    const len = st.len;
    const sure = this.#dropCr && buf[len - 1] === CR ? len - 1 : len;
    let start = 0;
    while (sure - start > max) {
      const cut = utf8SafeCut(buf, start, start + max);
      this.#record(stream, true, buf.subarray(start, cut), st.time);
      start = cut;
    }
    if (start > 0) {
      buf.copyWithin(0, start, len);
      st.len = len - start;
    }
  }

  #hold(st: StreamState, bytes: Uint8Array): void {
    const need = st.len + bytes.length;
    if (need > st.buf.length) {
      const initial = this.#max > 0
        ? this.#max + DEFAULT_MAX_PIECE + 1
        : 1 << 16;
      const grown = new Uint8Array(Math.max(need, initial, st.buf.length * 2));
      grown.set(st.buf.subarray(0, st.len));
      st.buf = grown;
    }
    st.buf.set(bytes, st.len);
    st.len = need;
  }

  #record(
    stream: StreamName,
    partial: boolean,
    content: Uint8Array,
    time: LogTime,
  ): void {
    const file = this.#file;
    const pos = file.reserve(this.#encoder.maxRecordLength(content.length));
    const end = this.#encoder.encode(file.buffer, pos, {
      time,
      stream,
      partial,
      content,
    });
    file.commit(end);
    this.#streams[stream].open = partial;
  }
}

/** The option keys of the `cri` and `k8s-file` log drivers. */
export const CRI_OPTION_KEYS: readonly string[] = [
  "log-path",
  "max-file",
  "max-line-size",
  "max-size",
];

/** The options of the `cri` and `k8s-file` log drivers, parsed. */
export interface CriOptions {
  /** Where to write; the default path is used when absent. */
  logPath?: string;
  /** Rotate at this size in bytes; `Infinity` for no rotation. */
  maxSize: number;
  /** Files kept in all, the current one included, 2 or more. */
  maxFile: number;
  /** Longest record content in bytes; 0 for no limit. */
  maxLineSize: number;
}

/**
 * Parses and checks the options of the `cri` and `k8s-file` log drivers,
 * with kubelet's rules for rotation:
 * - `max-size`: a Kubernetes quantity (`10Mi`, `512Ki`, `10M`, `500k`,
 *   bytes; see {@linkcode parseByteQuantity}), at least 1 byte; without it
 *   there is no rotation. A lowercase `m` is refused: milli in Kubernetes,
 *   mega in Docker;
 * - `max-file`: files kept in all, a whole number of at least 2, 5 by
 *   default (kubelet's `containerLogMaxFiles`); only with `max-size`;
 * - `max-line-size`: longest record content in bytes, a quantity, 0 (or
 *   containerd's `-1`) for no limit, else at least 4; 16384 by default;
 * - `log-path`: an absolute path.
 *
 * @param opts The options as given, e.g. `{"max-size": "10Mi"}`.
 * @param driver The driver's name, for error messages.
 * @returns The parsed options.
 * @throws {RangeError} If a key is unknown (listing the valid ones) or a
 *   value is out of range.
 * @throws {SyntaxError} If a value cannot be parsed.
 *
 * @example Usage
 * ```ts
 * import { parseCriOptions } from "./cri_sink.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseCriOptions({ "max-size": "10Mi" }), {
 *   logPath: undefined,
 *   maxSize: 10_485_760,
 *   maxFile: 5,
 *   maxLineSize: 16384,
 * });
 * assert.throws(() => parseCriOptions({ "max-size": "10m" }), /milli/);
 * ```
 */
export function parseCriOptions(
  opts: Record<string, string>,
  driver = "cri",
): CriOptions {
  for (const key of Object.keys(opts)) {
    if (!CRI_OPTION_KEYS.includes(key)) {
      throw new RangeError(
        `Unknown log opt "${key}" for ${driver} log driver; valid options: ${
          CRI_OPTION_KEYS.join(", ")
        }`,
      );
    }
  }
  let maxSize = Infinity;
  const sizeText = opts["max-size"];
  if (sizeText !== undefined) {
    maxSize = parseByteQuantity(sizeText, "max-size");
    if (maxSize < 1) {
      throw new RangeError(
        `Invalid max-size "${sizeText}": must be at least 1 byte; leave max-size out for no rotation`,
      );
    }
  }
  let maxFile = 5;
  const fileText = opts["max-file"];
  if (fileText !== undefined) {
    if (!/^[+-]?\d+$/.test(fileText)) {
      throw new SyntaxError(
        `Cannot parse max-file "${fileText}": expected a whole number of 2 or more`,
      );
    }
    maxFile = Number(fileText);
    if (maxFile < 2) {
      throw new RangeError(
        `Invalid max-file "${fileText}": must be 2 or more, as kubelet's containerLogMaxFiles (the current file and at least one rotated file)`,
      );
    }
    if (sizeText === undefined) {
      throw new RangeError(
        `Invalid max-file "${fileText}": max-file needs max-size (without max-size there is no rotation)`,
      );
    }
  }
  let maxLineSize = DEFAULT_MAX_LINE_SIZE;
  const lineText = opts["max-line-size"];
  if (lineText !== undefined) {
    maxLineSize = lineText === "-1"
      ? 0
      : parseByteQuantity(lineText, "max-line-size");
    if (maxLineSize > 0 && maxLineSize < 4) {
      throw new RangeError(
        `Invalid max-line-size "${lineText}": must be 0 (no limit) or at least 4 bytes, so that a record holds any character`,
      );
    }
  }
  const logPath = opts["log-path"];
  if (logPath !== undefined && !logPath.startsWith("/")) {
    throw new RangeError(
      `Invalid log-path "${logPath}": must be an absolute path`,
    );
  }
  return { logPath, maxSize, maxFile, maxLineSize };
}

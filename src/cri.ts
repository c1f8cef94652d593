/**
 * The CRI log format that kubelet reads: one record per line,
 * `TIME STREAM TAG CONTENT\n`, written by containerd's CRI plugin
 * (`pkg/cri/io/logger.go`) and by conmon (podman's `k8s-file`), read by
 * kubelet (`pkg/kubelet/kuberuntime/logs/logs.go`). Encoder and decoder live
 * together so that they stay in step.
 *
 * - `TIME` is RFC 3339 with nanoseconds: UTC with `Z` and trailing zeros
 *   trimmed as containerd writes it, or local time with exactly nine digits
 *   and a `+hh:mm` offset as conmon writes it.
 * - `STREAM` is `stdout` or `stderr`.
 * - `TAG` is `F` for the last record of a line and `P` for a partial one
 *   that the next record of the same stream continues; kubelet allows more
 *   tags after a `:` (`F:x`), which the decoder ignores.
 * - `CONTENT` is the raw bytes of the line (or of a part of it) without the
 *   `\n`: no escaping, invalid UTF-8 kept.
 *
 * A line is the contents of its `P` records and its `F` record joined, plus
 * `\n` (see {@linkcode CriLineJoiner}). The format has no way to mark a last
 * line that had no `\n`: the `F` record that closes it reads back with one,
 * as in `kubectl logs`.
 *
 * @module
 */

import { formatRfc3339Nano, type LogTime, parseRfc3339Nano } from "./clock.ts";
import type { StreamName } from "./sink.ts";

/**
 * Which writer's dialect to write:
 * - `"cri"`: containerd's CRI plugin on a node running in UTC: UTC time with
 *   trailing zeros trimmed (`2026-11-29T15:54:16.5677335Z`), and the `\r` of
 *   a `\r\n` line end dropped.
 * - `"k8s-file"`: conmon, podman's `k8s-file` log driver: local time with
 *   exactly nine fractional digits and an offset
 *   (`2026-11-29T16:54:16.567733500+01:00`), and `\r` kept.
 */
export type CriFlavour = "cri" | "k8s-file";

/** One record of a CRI log: one line of the file. */
export interface CriRecord {
  /** When the line was read, at nanosecond resolution. */
  time: LogTime;
  /** Which stream it came from. */
  stream: StreamName;
  /** True for a `P` record: the next record of this stream continues it. */
  partial: boolean;
  /**
   * The raw bytes after the tag, without the record's `\n`. From
   * {@linkcode decodeCriLine} it is a view into the decoded line, not a copy.
   */
  content: Uint8Array;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const COLON = 0x3a;

/**
 * Decodes one record, as kubelet's `parseCRILog` does but stricter: the time
 * must be RFC 3339 (`Z` or an offset, 0 to 9 fractional digits), the stream
 * `stdout` or `stderr`, the first tag `F` or `P` (tags after a `:` are
 * ignored), and a space must follow the tag even when the content is empty
 * (`TIME stdout F `). One trailing `\n` is removed; everything else after the
 * tag's space is content, byte for byte.
 *
 * @param line One line of the file, with or without its `\n`.
 * @returns The record; its `content` is a view into `line`.
 * @throws {SyntaxError} If the line is not a CRI record, quoting its start.
 *
 * @example Decode a record
 * ```ts
 * import { decodeCriLine } from "./cri.ts";
 * import assert from "node:assert/strict";
 *
 * const record = decodeCriLine(
 *   new TextEncoder().encode("2026-11-29T15:54:16.5677335Z stderr P oops\n"),
 * );
 * assert.deepEqual(record.time, { sec: 1795967656, nsec: 567733500 });
 * assert.equal(record.stream, "stderr");
 * assert.equal(record.partial, true);
 * assert.equal(new TextDecoder().decode(record.content), "oops");
 * ```
 */
export function decodeCriLine(line: Uint8Array): CriRecord {
  let end = line.length;
  if (end > 0 && line[end - 1] === NEWLINE) end--;
  const timeEnd = line.indexOf(SPACE);
  if (timeEnd === -1 || timeEnd >= end) {
    throw badLine(line, "no space after the time");
  }
  let time: LogTime;
  try {
    time = parseRfc3339Nano(ascii(line, 0, timeEnd));
  } catch {
    throw badLine(
      line,
      "the time is not RFC 3339 such as 2026-11-29T15:54:16.567733509Z",
    );
  }
  const streamStart = timeEnd + 1;
  const streamEnd = line.indexOf(SPACE, streamStart);
  if (streamEnd === -1 || streamEnd >= end) {
    throw badLine(line, "no space after the stream");
  }
  const stream = streamName(line, streamStart, streamEnd);
  if (stream === undefined) {
    throw badLine(
      line,
      `unknown stream ${
        JSON.stringify(ascii(line, streamStart, streamEnd))
      }; expected stdout or stderr`,
    );
  }
  const tagStart = streamEnd + 1;
  const tagEnd = line.indexOf(SPACE, tagStart);
  if (tagEnd === -1 || tagEnd >= end) {
    throw badLine(
      line,
      "no space after the tag (an empty record is written `TIME STREAM F `)",
    );
  }
  const tag = line[tagStart];
  const tagLength = tagEnd - tagStart;
  if (
    (tag !== 0x46 && tag !== 0x50) ||
    (tagLength > 1 && line[tagStart + 1] !== COLON)
  ) {
    throw badLine(
      line,
      `unknown tag ${
        JSON.stringify(ascii(line, tagStart, tagEnd))
      }; expected F or P`,
    );
  }
  return {
    time,
    stream,
    partial: tag === 0x50,
    content: line.subarray(tagEnd + 1, end),
  };
}

function streamName(
  line: Uint8Array,
  start: number,
  end: number,
): StreamName | undefined {
  if (end - start !== 6 || line[start] !== 0x73 || line[start + 1] !== 0x74) {
    return undefined;
  }
  const name = ascii(line, start, end);
  return name === "stdout" || name === "stderr" ? name : undefined;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]);
  return text;
}

function badLine(line: Uint8Array, why: string): SyntaxError {
  const shown = new TextDecoder().decode(line.subarray(0, 60));
  const more = line.length > 60 ? "…" : "";
  return new SyntaxError(
    `Cannot parse CRI log line ${JSON.stringify(shown)}${more}: ${why}`,
  );
}

/** One log line put back together from its records. */
export interface CriLine {
  /** Which stream it came from. */
  stream: StreamName;
  /** The time of its first record. */
  time: LogTime;
  /** The line's bytes without `\n`. */
  content: Uint8Array;
  /**
   * False only for `P` records left open at the end (see
   * {@linkcode CriLineJoiner.end}): a line that was never finished.
   */
  newline: boolean;
}

/**
 * Joins records back into lines, per stream, as kubelet does when it serves
 * `kubectl logs`: the contents of consecutive `P` records of a stream and of
 * the `F` record that follows make one line, which ends with `\n`. Records of
 * the other stream may come in between.
 *
 * Works on any writer's records: containerd's, conmon's (which cuts at its
 * 8 KiB read buffer, so a line may end with an empty `F` record) and
 * shimlog's. Holds the `P` contents of an unfinished line in memory until
 * its `F`.
 *
 * @example Join a split line
 * ```ts
 * import { CriLineJoiner, decodeCriLine } from "./cri.ts";
 * import assert from "node:assert/strict";
 *
 * const utf8 = new TextEncoder();
 * const joiner = new CriLineJoiner();
 * const records = [
 *   "2026-11-29T15:54:16Z stdout P hel",
 *   "2026-11-29T15:54:16Z stderr F other",
 *   "2026-11-29T15:54:16Z stdout F lo",
 * ].map((text) => decodeCriLine(utf8.encode(text)));
 * const lines = records.map((r) => joiner.push(r)).filter((l) => l);
 * assert.deepEqual(
 *   lines.map((l) => new TextDecoder().decode(l!.content)),
 *   ["other", "hello"],
 * );
 * ```
 */
export class CriLineJoiner {
  #parts: Record<StreamName, Uint8Array[]> = { stdout: [], stderr: [] };
  #times: Record<StreamName, LogTime | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };

  /**
   * Takes the next record.
   *
   * @param record A decoded record; its content is copied if kept.
   * @returns The line it finishes, or `undefined` for a `P` record. The
   *   line's content may be a view of `record.content`.
   */
  push(record: CriRecord): CriLine | undefined {
    const { stream } = record;
    const parts = this.#parts[stream];
    if (record.partial) {
      if (parts.length === 0) this.#times[stream] = record.time;
      parts.push(record.content.slice());
      return undefined;
    }
    if (parts.length === 0) {
      return {
        stream,
        time: record.time,
        content: record.content,
        newline: true,
      };
    }
    parts.push(record.content);
    const line: CriLine = {
      stream,
      time: this.#times[stream]!,
      content: concat(parts),
      newline: true,
    };
    this.#parts[stream] = [];
    return line;
  }

  /**
   * Ends the input: returns the lines whose `P` records were never closed by
   * an `F` (a writer that stopped mid-line, or conmon before 2.1.8 at the
   * end of a stream), stdout first.
   *
   * @returns Up to one unfinished line per stream, with `newline` false.
   */
  end(): CriLine[] {
    const lines: CriLine[] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      const parts = this.#parts[stream];
      if (parts.length === 0) continue;
      lines.push({
        stream,
        time: this.#times[stream]!,
        content: concat(parts),
        newline: false,
      });
      this.#parts[stream] = [];
    }
    return lines;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

let localSec = NaN;
let localPrefix = "";
let localOffset = "";

/**
 * Formats a time as conmon writes it in `k8s-file` logs: local time, exactly
 * nine fractional digits and a numeric offset, never `Z`
 * (`2026-11-29T16:54:16.567733500+01:00`, `…+00:00` in UTC). The time zone
 * is the process's (`TZ`, else `/etc/localtime`); offsets are shown to the
 * minute.
 *
 * @param time The time.
 * @returns The text, 35 characters for years 0 to 9999.
 *
 * @example Usage
 * ```ts
 * import { formatLocalRfc3339Nano } from "./cri.ts";
 * import assert from "node:assert/strict";
 * assert.match(
 *   formatLocalRfc3339Nano({ sec: 1795967656, nsec: 5 }),
 *   /^2026-11-\d\dT\d\d:\d\d:16\.000000005[+-]\d\d:\d\d$/,
 * );
 * ```
 */
export function formatLocalRfc3339Nano(time: LogTime): string {
  if (time.sec !== localSec) {
    const d = new Date(time.sec * 1000);
    localPrefix = `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1, 2)}-${
      pad(d.getDate(), 2)
    }T${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${
      pad(d.getSeconds(), 2)
    }.`;
    const east = -d.getTimezoneOffset();
    const abs = Math.abs(east);
    localOffset = `${east < 0 ? "-" : "+"}${pad(Math.floor(abs / 60), 2)}:${
      pad(abs % 60, 2)
    }`;
    localSec = time.sec;
  }
  return `${localPrefix}${pad(time.nsec, 9)}${localOffset}`;
}

/**
 * Longest time a {@linkcode CriEncoder} writes, in bytes: conmon's
 * `YYYY-MM-DDThh:mm:ss.nnnnnnnnn+hh:mm`.
 */
const MAX_TIME_LENGTH = 35;
/** `" stdout F "` and the final `\n`. */
const RECORD_OVERHEAD = 11;

const STREAM_BYTES: Record<StreamName, Uint8Array> = {
  stdout: new TextEncoder().encode(" stdout "),
  stderr: new TextEncoder().encode(" stderr "),
};

/**
 * Writes CRI records into caller-supplied buffers with no allocation per
 * record (the formatted time is cached while it does not change). It writes
 * one record as given: splitting long lines and the `\r` rule are the
 * sink's (see `CriSink`).
 */
export class CriEncoder {
  /** The dialect this encoder writes. */
  readonly flavour: CriFlavour;
  #format: (time: LogTime) => string;
  #sec = NaN;
  #nsec = NaN;
  #time: Uint8Array = new Uint8Array(0);

  /**
   * Prepares an encoder for one dialect.
   *
   * @param flavour Whose time format to write.
   * @throws {RangeError} If `flavour` is neither `"cri"` nor `"k8s-file"`.
   */
  constructor(flavour: CriFlavour = "cri") {
    if (flavour !== "cri" && flavour !== "k8s-file") {
      throw new RangeError(
        `Unknown CRI flavour "${flavour}"; valid flavours: cri, k8s-file`,
      );
    }
    this.flavour = flavour;
    this.#format = flavour === "cri"
      ? formatRfc3339Nano
      : formatLocalRfc3339Nano;
  }

  /**
   * Most bytes one record can take.
   *
   * @param contentLength Length of the content, in bytes.
   * @returns An upper bound in bytes, `\n` included.
   */
  maxRecordLength(contentLength: number): number {
    return MAX_TIME_LENGTH + RECORD_OVERHEAD + contentLength;
  }

  /**
   * The time as this flavour writes it.
   *
   * @param time The time.
   * @returns The formatted time, as text.
   */
  formatTime(time: LogTime): string {
    return this.#format(time);
  }

  /**
   * The start of a whole line's record, `TIME STREAM F `, as bytes: the same
   * array while the time and stream stay the same.
   *
   * @param time The line's time.
   * @param stream Its stream.
   * @returns The bytes; do not modify them.
   */
  fullPrefix(time: LogTime, stream: StreamName): Uint8Array {
    const cache = this.#prefixes[stream];
    if (cache.sec !== time.sec || cache.nsec !== time.nsec) {
      const text = `${this.#format(time)} ${stream} F `;
      cache.bytes = latin1(text);
      cache.sec = time.sec;
      cache.nsec = time.nsec;
    }
    return cache.bytes;
  }

  #prefixes: Record<
    StreamName,
    { sec: number; nsec: number; bytes: Uint8Array }
  > = {
    stdout: { sec: NaN, nsec: NaN, bytes: new Uint8Array(0) },
    stderr: { sec: NaN, nsec: NaN, bytes: new Uint8Array(0) },
  };

  /**
   * Writes one record, `\n` included: `TIME STREAM TAG CONTENT\n`.
   *
   * @param out Where to write; needs {@linkcode CriEncoder.maxRecordLength}
   *   bytes of room from `pos`.
   * @param pos Index in `out` to start at.
   * @param record The record; its content must not hold `\n`.
   * @returns The index after the record.
   */
  encode(out: Uint8Array, pos: number, record: CriRecord): number {
    const { time } = record;
    if (time.sec !== this.#sec || time.nsec !== this.#nsec) {
      this.#sec = time.sec;
      this.#nsec = time.nsec;
      this.#time = latin1(this.#format(time));
    }
    pos = put(out, pos, this.#time);
    pos = put(out, pos, STREAM_BYTES[record.stream]);
    out[pos++] = record.partial ? 0x50 : 0x46;
    out[pos++] = SPACE;
    out.set(record.content, pos);
    pos += record.content.length;
    out[pos++] = NEWLINE;
    return pos;
  }
}

/**
 * Encodes one record into a new array: a convenience for tests and tools
 * (the sink uses {@linkcode CriEncoder} on its batch buffer).
 *
 * @param record The record; its content must not hold `\n`.
 * @param flavour Whose time format to write.
 * @returns The record's bytes, `\n` included.
 *
 * @example Round trip
 * ```ts
 * import { decodeCriLine, encodeCriRecord } from "./cri.ts";
 * import assert from "node:assert/strict";
 *
 * const record = {
 *   time: { sec: 1795967656, nsec: 567733500 },
 *   stream: "stdout" as const,
 *   partial: false,
 *   content: new Uint8Array([0x68, 0x69, 0xff]),
 * };
 * const line = encodeCriRecord(record);
 * assert.equal(
 *   new TextDecoder().decode(line.subarray(0, 40)),
 *   "2026-11-29T15:54:16.5677335Z stdout F hi",
 * );
 * assert.deepEqual(decodeCriLine(line), record);
 * ```
 */
export function encodeCriRecord(
  record: CriRecord,
  flavour: CriFlavour = "cri",
): Uint8Array {
  const encoder = new CriEncoder(flavour);
  const out = new Uint8Array(encoder.maxRecordLength(record.content.length));
  return out.slice(0, encoder.encode(out, 0, record));
}

function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Copies a short array: a loop beats `set()` on a few dozen bytes. */
function put(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = 0; k < n; k++) out[pos + k] = bytes[k];
  return pos + n;
}

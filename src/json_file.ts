/**
 * The json-file log format, byte for byte as moby's `jsonfilelog`
 * (`jsonlog.JSONLogs.MarshalJSONBuf`): one object a line, keys `log`,
 * `stream`, `attrs`, `time` in that order.
 *
 * @module
 */

import { utf8SequenceLength } from "./utf8.ts";

/** The two streams of a container process. */
export type StreamName = "stdout" | "stderr";

const HEX = new TextEncoder().encode("0123456789abcdef");

/** 1 for the bytes that `log` holds as they are: printable ASCII but `"\<>&`. */
const COPY = new Uint8Array(256);
for (let b = 0x20; b < 0x80; b++) COPY[b] = 1;
for (const b of [0x22, 0x5c, 0x3c, 0x3e, 0x26]) COPY[b] = 0;
const utf8 = new TextEncoder();

/**
 * Most bytes one input byte can take once escaped: a control byte becomes
 * `\u00XX` and an invalid byte `\ufffd`, six bytes each.
 */
export const MAX_ESCAPE_GROWTH = 6;

/**
 * Writes `src` as the inside of a JSON string, as moby's
 * `ffjsonWriteJSONBytesAsString`: `"` and `\` escaped with a backslash, `\n`
 * and `\r` as is, `<`, `>`, `&`, tab and other control bytes as `\u00XX`,
 * DEL raw, U+2028 and U+2029 as `\u2028` and `\u2029`, each byte of invalid
 * UTF-8 (by Go's rules) as one `\ufffd`, all other bytes copied.
 *
 * @param src The bytes to escape.
 * @param out Where to write; needs room for `src.length * 6` bytes from `pos`.
 * @param pos Index in `out` to start at.
 * @returns The index in `out` after the last byte written.
 */
export function escapeJsonBytes(
  src: Uint8Array,
  out: Uint8Array,
  pos: number,
): number {
  return escapeRange(src, 0, src.length, out, pos, false);
}

/**
 * Where {@linkcode escapeRange} stopped: the index after the `\n` it stopped
 * at, or the end. -1 when asked to stop at a newline and none came.
 */
let stoppedAt = 0;

function escapeRange(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  pos: number,
  untilNewline: boolean,
): number {
  let i = start;
  while (i < end) {
    // Runs of bytes that are copied as they are: a tight scan, then one copy.
    let j = i;
    while (j < end && COPY[src[j]] === 1) j++;
    if (j - i > 256) {
      out.set(src.subarray(i, j), pos);
      pos += j - i;
    } else {
      for (let k = i; k < j; k++) out[pos++] = src[k];
    }
    i = j;
    if (i >= end) break;
    const b = src[i];
    if (b < 0x80) {
      if (b === 0x22 || b === 0x5c) {
        out[pos++] = 0x5c;
        out[pos++] = b;
      } else if (b === 0x0a) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e; // n
        if (untilNewline) {
          stoppedAt = i + 1;
          return pos;
        }
      } else if (b === 0x0d) {
        out[pos++] = 0x5c;
        out[pos++] = 0x72; // r
      } else {
        out[pos++] = 0x5c;
        out[pos++] = 0x75; // u
        out[pos++] = 0x30;
        out[pos++] = 0x30;
        out[pos++] = HEX[b >> 4];
        out[pos++] = HEX[b & 0xf];
      }
      i++;
      continue;
    }
    const n = utf8SequenceLength(src, i, end);
    if (n === 0) {
      // \ufffd
      out[pos++] = 0x5c;
      out[pos++] = 0x75;
      out[pos++] = 0x66;
      out[pos++] = 0x66;
      out[pos++] = 0x66;
      out[pos++] = 0x64;
      i++;
      continue;
    }
    if (n === 3 && b === 0xe2 && src[i + 1] === 0x80) {
      const b2 = src[i + 2];
      if (b2 === 0xa8 || b2 === 0xa9) {
        // \u2028 or \u2029
        out[pos++] = 0x5c;
        out[pos++] = 0x75;
        out[pos++] = 0x32;
        out[pos++] = 0x30;
        out[pos++] = 0x32;
        out[pos++] = b2 === 0xa8 ? 0x38 : 0x39;
        i += 3;
        continue;
      }
    }
    for (let k = 0; k < n; k++) out[pos++] = src[i + k];
    i += n;
  }
  stoppedAt = untilNewline ? -1 : end;
  return pos;
}

/**
 * Encodes the `attrs` object of an entry as Go's `json.Marshal` of a
 * `map[string]string` does: keys sorted, strings escaped as in `log`.
 *
 * @param attrs Names and values, e.g. `{tag: "web", version: "1"}`.
 * @returns The JSON bytes, or an empty array when there are no attributes.
 */
export function encodeAttrs(attrs: Record<string, string>): Uint8Array {
  const keys = Object.keys(attrs).sort();
  if (keys.length === 0) return new Uint8Array(0);
  const parts: string[] = [];
  for (const key of keys) {
    parts.push(`${jsonString(key)}:${jsonString(attrs[key])}`);
  }
  return utf8.encode(`{${parts.join(",")}}`);
}

function jsonString(text: string): string {
  const src = utf8.encode(text);
  const out = new Uint8Array(src.length * MAX_ESCAPE_GROWTH);
  const end = escapeJsonBytes(src, out, 0);
  return `"${new TextDecoder().decode(out.subarray(0, end))}"`;
}

/**
 * Writes json-file entries into caller-supplied buffers with no allocation
 * per entry. The parts that do not change between entries (`stream`, `attrs`)
 * are encoded once.
 */
export class JsonFileEncoder {
  #head = utf8.encode('{"log":"');
  #middle: Record<StreamName, Uint8Array>;
  #tail = utf8.encode('"}\n');
  #overhead: number;

  /**
   * Prepares an encoder for one container's entries.
   *
   * @param attrs The entry's `attrs` object (see {@linkcode encodeAttrs});
   *   none when empty.
   */
  constructor(attrs: Record<string, string> = {}) {
    const attrsJson = encodeAttrs(attrs);
    const attrsText = attrsJson.length > 0
      ? `,"attrs":${new TextDecoder().decode(attrsJson)}`
      : "";
    this.#middle = {
      stdout: utf8.encode(`","stream":"stdout"${attrsText},"time":"`),
      stderr: utf8.encode(`","stream":"stderr"${attrsText},"time":"`),
    };
    this.#overhead = this.#head.length + this.#middle.stdout.length +
      this.#tail.length + 40;
  }

  /**
   * Most bytes one entry can take.
   *
   * @param logLength Length of the `log` bytes, in bytes.
   * @param timeLength Length of the formatted time, in bytes.
   * @returns An upper bound in bytes.
   */
  maxEntryLength(logLength: number, timeLength = 40): number {
    return logLength * MAX_ESCAPE_GROWTH + this.#overhead + timeLength;
  }

  /**
   * Writes one entry, newline included:
   * `{"log":"…","stream":"stdout","time":"…"}\n`.
   *
   * @param out Where to write; needs {@linkcode maxEntryLength} bytes of room.
   * @param pos Index in `out` to start at.
   * @param log The raw bytes the container wrote (one line or piece).
   * @param stream Which stream they came from.
   * @param time The formatted time as ASCII bytes
   *   (see {@linkcode formatRfc3339Nano}).
   * @returns The index after the entry.
   */
  encode(
    out: Uint8Array,
    pos: number,
    log: Uint8Array,
    stream: StreamName,
    time: Uint8Array,
  ): number {
    pos = put(out, pos, this.#head);
    pos = escapeJsonBytes(log, out, pos);
    pos = put(out, pos, this.#middle[stream]);
    pos = put(out, pos, time);
    return put(out, pos, this.#tail);
  }

  /**
   * Writes the entry for the line that starts at `src[start]`, if its `\n`
   * comes before `limit`; the fast path for whole lines in a read.
   *
   * @param out Where to write; needs `maxEntryLength(limit - start)` bytes.
   * @param pos Index in `out` to start at.
   * @param src The bytes read.
   * @param start Index of the line's first byte.
   * @param limit Index the `\n` must come before.
   * @param stream Which stream they came from.
   * @param time The formatted time as ASCII bytes.
   * @returns The index in `out` after the entry, and
   *   {@linkcode JsonFileEncoder.lineEnd} says where the line ended in
   *   `src`; or -1 when no `\n` came before `limit` (what was written to `out`
   *   is then garbage past `pos`).
   */
  encodeLine(
    out: Uint8Array,
    pos: number,
    src: Uint8Array,
    start: number,
    limit: number,
    stream: StreamName,
    time: Uint8Array,
  ): number {
    pos = put(out, pos, this.#head);
    pos = escapeRange(src, start, limit, out, pos, true);
    if (stoppedAt < 0) return -1;
    this.#lineEnd = stoppedAt;
    pos = put(out, pos, this.#middle[stream]);
    pos = put(out, pos, time);
    return put(out, pos, this.#tail);
  }

  #lineEnd = 0;

  /** Index in `src` after the `\n` of the last {@linkcode JsonFileEncoder.encodeLine}. */
  get lineEnd(): number {
    return this.#lineEnd;
  }
}

/** Copies a short array: a loop beats `set()` on a few dozen bytes. */
function put(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = 0; k < n; k++) out[pos + k] = bytes[k];
  return pos + n;
}

/**
 * The json-file log format, byte for byte as moby's `jsonfilelog`
 * (`jsonlog.JSONLogs.MarshalJSONBuf`): one object a line, keys `log`,
 * `stream`, `attrs`, `time` in that order.
 *
 * @module
 */

import { type LogTime, parseRfc3339Bytes } from "./clock.ts";
import { JsonEscapeWasm } from "./json_escape_wasm.ts";
import { utf8SafeCut, utf8SequenceLength } from "./utf8.ts";

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
 * Encodes the `attrs` object of an entry as moby's jsonfilelog does, with
 * Go's `json.Marshal` of a `map[string]string`: keys sorted by their UTF-8
 * bytes; in keys and values `"` and `\` escaped with a backslash, `\n`,
 * `\r` and tab as `\n`, `\r`, `\t`, other control characters and `<`, `>`,
 * `&` as `\u00XX`, U+2028 and U+2029 as `\u2028` and `\u2029`, a lone
 * surrogate as U+FFFD, all else as UTF-8. (The `log` field differs: moby
 * writes a tab there as `\u0009`.)
 *
 * @param attrs Names and values, e.g. `{tag: "web", version: "1"}`.
 * @returns The JSON bytes, or an empty array when there are no attributes.
 */
export function encodeAttrs(attrs: Record<string, string>): Uint8Array {
  const keys = Object.keys(attrs).map((key) => ({
    key,
    bytes: utf8.encode(key),
  }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes));
  if (keys.length === 0) return new Uint8Array(0);
  const parts = keys.map(({ key }) =>
    `${goJsonString(key)}:${goJsonString(attrs[key])}`
  );
  return utf8.encode(`{${parts.join(",")}}`);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** A JSON string as Go's `encoding/json` (1.19, HTML-safe) writes it. */
function goJsonString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22 || c === 0x5c) out += `\\${ch}`;
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
      out += `\\u00${c.toString(16).padStart(2, "0")}`;
    } else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += "\ufffd";
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Pieces at least this long are escaped by {@linkcode JsonEscapeWasm}: below
 * it, copying in and out costs more than the scan saves.
 */
const WASM_MIN_PIECE = 256;

/**
 * Writes json-file entries into caller-supplied buffers with no allocation
 * per entry. The parts that do not change between entries (`stream`, `attrs`)
 * are encoded once.
 *
 * Long pieces and runs of whole lines are escaped by a WebAssembly SIMD
 * escaper (`json_escape.wat`, compiled on first use), short pieces by
 * {@linkcode escapeJsonBytes}; the bytes are the same.
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
    const n = log.length;
    pos = n >= WASM_MIN_PIECE && n <= JsonEscapeWasm.maxEscapeLength &&
        JsonEscapeWasm.available()
      ? JsonEscapeWasm.get().escape(log, out, pos)
      : escapeJsonBytes(log, out, pos);
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
    return put(out, pos, this.#trailer(stream, time));
  }

  /**
   * Writes an entry for each whole line at the start of `src[start, end)`,
   * as {@linkcode JsonFileEncoder.encodeLine} one after the other would: a
   * line is whole when its `\n` comes before `end` and within `maxPiece`
   * bytes of its start. A longer line with `maxPiece` bytes before `end`
   * gives a partial entry of them, cut back so as not to split a UTF-8
   * character (`utf8SafeCut`), and its rest is taken as a line of its own:
   * the pieces `LineFramer` cuts. Stops at the first line that is neither
   * (its end is not in `src`, and it holds less than a piece), once `budget`
   * bytes or more have been written (an entry is begun only below it: the
   * rotation rule), or when `out` lacks room for the next entry
   * (`maxEntryLength(min(end - i, maxPiece))` bytes from where it would
   * begin).
   *
   * @param out Where to write.
   * @param pos Index in `out` to start at.
   * @param src The bytes read.
   * @param start Index of the first line's first byte.
   * @param end Index after the last byte read.
   * @param maxPiece Longest piece, in bytes, `\n` included.
   * @param stream Which stream they came from.
   * @param time The formatted time as ASCII bytes.
   * @param budget Bytes after which no entry is begun. @default {Infinity}
   * @returns The index in `out` after the last entry (`pos` when none was
   *   written); {@linkcode JsonFileEncoder.lineEnd} says where the last
   *   entry encoded ended in `src` (`start` when none): after a `\n`, or
   *   inside a long line after a partial entry.
   */
  encodeLines(
    out: Uint8Array,
    pos: number,
    src: Uint8Array,
    start: number,
    end: number,
    maxPiece: number,
    stream: StreamName,
    time: Uint8Array,
    budget = Infinity,
  ): number {
    const trailer = this.#trailer(stream, time);
    if (
      JsonEscapeWasm.supports(maxPiece, trailer.length) &&
      JsonEscapeWasm.available()
    ) {
      const wasm = JsonEscapeWasm.get();
      const o = wasm.encodeLines(
        out,
        pos,
        src,
        start,
        end,
        maxPiece,
        trailer,
        budget,
      );
      this.#lineEnd = wasm.lineEnd;
      return o;
    }
    let i = start;
    let o = pos;
    while (i < end && o - pos < budget) {
      const limit = Math.min(end, i + maxPiece);
      if (out.length - o < this.maxEntryLength(limit - i, time.length)) break;
      const e = this.encodeLine(out, o, src, i, limit, stream, time);
      if (e >= 0) {
        o = e;
        i = this.#lineEnd;
        continue;
      }
      if (limit - i < maxPiece) break;
      // A line longer than a piece: a partial entry, as LineFramer cuts it.
      const cut = utf8SafeCut(src, i, limit);
      o = this.encode(out, o, src.subarray(i, cut), stream, time);
      i = cut;
    }
    this.#lineEnd = i;
    return o;
  }

  #lineEnd = 0;
  #trailerTimes: Record<StreamName, Uint8Array | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };
  #trailers: Record<StreamName, Uint8Array> = {
    stdout: new Uint8Array(0),
    stderr: new Uint8Array(0),
  };

  /**
   * `","stream":…,"time":"…"}\n` for this stream and time, built once per
   * time (a new array each time, so that a cache may key on it).
   */
  #trailer(stream: StreamName, time: Uint8Array): Uint8Array {
    if (time !== this.#trailerTimes[stream]) {
      this.#trailerTimes[stream] = time;
      const middle = this.#middle[stream];
      const t = new Uint8Array(
        middle.length + time.length + this.#tail.length,
      );
      t.set(middle, 0);
      t.set(time, middle.length);
      t.set(this.#tail, middle.length + time.length);
      this.#trailers[stream] = t;
    }
    return this.#trailers[stream];
  }

  /**
   * Index in `src` after the `\n` of the last line of
   * {@linkcode JsonFileEncoder.encodeLine} or
   * {@linkcode JsonFileEncoder.encodeLines}.
   */
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

// ---------------------------------------------------------------------------
// Decoding: the reverse of the encoder above, for readers of json-file logs.
// ---------------------------------------------------------------------------

/** One json-file entry, decoded. */
export interface JsonFileRecord {
  /**
   * The `log` field as bytes, exactly as the container wrote them (up to
   * Docker's replacement of invalid UTF-8 by U+FFFD when the file was
   * written): `\n` included for the last piece of a line.
   */
  log: Uint8Array;
  /** The `stream` field. */
  stream: StreamName;
  /** The `time` field, at full precision. */
  time: LogTime;
  /** The `attrs` field, when present. */
  attrs?: Record<string, string>;
}

const ARENA_SIZE = 1 << 20;

/**
 * Decodes json-file lines, as moby's `jsonlog.JSONLog` unmarshalling but
 * byte-exact: escapes are undone (`\u003c` → `<`, a surrogate pair → one
 * 4-byte character, a lone surrogate → U+FFFD as Go), and raw bytes are kept
 * as they are (Go would replace invalid UTF-8; Docker never writes any).
 * Keys may come in any order, with any JSON whitespace, and unknown keys are
 * skipped; `log`, `stream` (`stdout` or `stderr`) and `time` (RFC 3339) are
 * required, `attrs` must map strings to strings.
 *
 * The `log` arrays it returns are views: of the line itself when it holds
 * no escape, else of a buffer shared with other records (a new one per MiB
 * of output, so that decoding allocates little). Neither is reused.
 *
 * @example Usage
 * ```ts
 * import { JsonFileDecoder } from "./json_file.ts";
 * import assert from "node:assert/strict";
 * const decoder = new JsonFileDecoder();
 * const record = decoder.decode(new TextEncoder().encode(
 *   '{"log":"a \\u003cb\\u003e\\n","stream":"stderr","time":"2026-11-29T15:53:54.2731822Z"}',
 * ));
 * assert.equal(new TextDecoder().decode(record.log), "a <b>\n");
 * assert.equal(record.stream, "stderr");
 * assert.deepEqual(record.time, { sec: 1795967634, nsec: 273182200 });
 * ```
 */
export class JsonFileDecoder {
  #arena = new Uint8Array(0);
  #used = 0;

  /**
   * Decodes one line.
   *
   * @param line The line's bytes, with or without its `\n`.
   * @returns The entry.
   * @throws {SyntaxError} If the line is not a json-file entry (damage); the
   *   message says what is wrong and at which column.
   */
  decode(line: Uint8Array): JsonFileRecord {
    return parseEntry(line, this);
  }

  /** Room for `n` bytes: a view that the caller may shorten. @ignore */
  reserve(n: number): Uint8Array {
    if (this.#used + n > this.#arena.length) {
      this.#arena = new Uint8Array(Math.max(ARENA_SIZE, n));
      this.#used = 0;
    }
    return this.#arena.subarray(this.#used, this.#used + n);
  }

  /** Keeps the first `n` bytes of the last reserved view. @ignore */
  commit(n: number): void {
    this.#used += n;
  }
}

let oneShot: JsonFileDecoder | undefined;

/**
 * Decodes one line of a json-file log (see {@linkcode JsonFileDecoder} for
 * the rules; use one to decode many lines).
 *
 * @param line The line's bytes, with or without its `\n`.
 * @returns The entry.
 * @throws {SyntaxError} If the line is not a json-file entry (damage).
 *
 * @example Usage
 * ```ts
 * import { decodeJsonFileLine } from "./json_file.ts";
 * import assert from "node:assert/strict";
 * const line = new TextEncoder().encode(
 *   '{"log":"\\ud83d\\ude00 ok\\n","stream":"stdout","time":"2026-11-29T16:53:54+01:00"}',
 * );
 * const record = decodeJsonFileLine(line);
 * assert.equal(new TextDecoder().decode(record.log), "😀 ok\n");
 * assert.deepEqual(record.time, { sec: 1795967634, nsec: 0 });
 * ```
 */
export function decodeJsonFileLine(line: Uint8Array): JsonFileRecord {
  oneShot ??= new JsonFileDecoder();
  return oneShot.decode(line);
}

class DecodeError extends SyntaxError {}

function fail(what: string, at: number): never {
  throw new DecodeError(`Not a json-file entry: ${what} at column ${at + 1}`);
}

function skipSpace(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++i];
  return i;
}

function expect(b: Uint8Array, i: number, c: number): number {
  if (b[i] !== c) {
    fail(
      i >= b.length
        ? `end of line where '${String.fromCharCode(c)}' was expected`
        : `'${String.fromCharCode(c)}' expected`,
      i,
    );
  }
  return i + 1;
}

const KEY_OTHER = 0;
const KEY_LOG = 1;
const KEY_STREAM = 2;
const KEY_TIME = 3;
const KEY_ATTRS = 4;

/** Which known key the string starting at `b[i]` (after its quote) is. */
function knownKey(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 0x6c) { // log"
    if (b[i + 1] === 0x6f && b[i + 2] === 0x67 && b[i + 3] === 0x22) {
      return KEY_LOG;
    }
  } else if (c === 0x73) { // stream"
    if (
      b[i + 1] === 0x74 && b[i + 2] === 0x72 && b[i + 3] === 0x65 &&
      b[i + 4] === 0x61 && b[i + 5] === 0x6d && b[i + 6] === 0x22
    ) return KEY_STREAM;
  } else if (c === 0x74) { // time"
    if (
      b[i + 1] === 0x69 && b[i + 2] === 0x6d && b[i + 3] === 0x65 &&
      b[i + 4] === 0x22
    ) return KEY_TIME;
  } else if (c === 0x61) { // attrs"
    if (
      b[i + 1] === 0x74 && b[i + 2] === 0x74 && b[i + 3] === 0x72 &&
      b[i + 4] === 0x73 && b[i + 5] === 0x22
    ) return KEY_ATTRS;
  }
  return KEY_OTHER;
}

// Results of the parsing helpers that return a value and a position.
let parsedEnd = 0;

function parseEntry(b: Uint8Array, decoder: JsonFileDecoder): JsonFileRecord {
  let log: Uint8Array | undefined;
  let stream: StreamName | "" | undefined;
  let time: LogTime | undefined;
  let attrs: Record<string, string> | undefined;
  let i = expect(b, skipSpace(b, 0), 0x7b);
  i = skipSpace(b, i);
  if (b[i] !== 0x7d) {
    for (;;) {
      i = expect(b, i, 0x22);
      const key = knownKey(b, i);
      const keyEnd = scanString(b, i);
      if (keyEnd < 0) stringFailure(keyEnd, i);
      i = skipSpace(b, keyEnd + 1);
      i = skipSpace(b, expect(b, i, 0x3a));
      if (key === KEY_LOG) {
        log = stringBytes(b, i, decoder);
        i = parsedEnd;
      } else if (key === KEY_STREAM) {
        stream = streamName(b, i);
        i = parsedEnd;
      } else if (key === KEY_TIME) {
        time = timeValue(b, i);
        i = parsedEnd;
      } else if (key === KEY_ATTRS) {
        attrs = stringMap(b, i);
        i = parsedEnd;
      } else {
        i = skipValue(b, i, 0);
      }
      i = skipSpace(b, i);
      if (b[i] !== 0x2c) break;
      i = skipSpace(b, i + 1);
    }
  }
  i = skipSpace(b, expect(b, i, 0x7d));
  if (i !== b.length) fail("text after the entry", i);
  if (log === undefined) fail('no "log" field', 0);
  if (stream === undefined) fail('no "stream" field', 0);
  if (stream === "") fail('"stream" is neither "stdout" nor "stderr"', 0);
  if (time === undefined) fail('no "time" field', 0);
  const record: JsonFileRecord = { log, stream, time };
  if (attrs !== undefined) record.attrs = attrs;
  return record;
}

function stringFailure(code: number, start: number): never {
  if (code === -1) fail("unterminated string", start - 1);
  return fail("control byte in a string", -code - 2);
}

/** A JSON string at `b[i]` as bytes, escapes undone; sets `parsedEnd`. */
function stringBytes(
  b: Uint8Array,
  i: number,
  decoder: JsonFileDecoder,
): Uint8Array {
  const start = expect(b, i, 0x22);
  // One pass: copy (undoing escapes) up to the closing quote.
  const out = decoder.reserve(b.length - start);
  const n = unescapeString(b, start, b.length, out);
  if (n < 0) {
    const end = scanString(b, start);
    if (end < 0) stringFailure(end, start);
    fail("bad escape in a string", -n - 1);
  }
  decoder.commit(n);
  return out.subarray(0, n);
}

const utf8Decoder = new TextDecoder();

function stringValue(b: Uint8Array, i: number): string {
  const start = expect(b, i, 0x22);
  const out = new Uint8Array(b.length - start);
  const n = unescapeString(b, start, b.length, out);
  if (n < 0) {
    const end = scanString(b, start);
    if (end < 0) stringFailure(end, start);
    fail("bad escape in a string", -n - 1);
  }
  return utf8Decoder.decode(out.subarray(0, n));
}

function streamName(b: Uint8Array, i: number): StreamName | "" {
  // "stdout" or "stderr" exactly, else "" (an error once all is parsed).
  if (
    b[i] === 0x22 && b[i + 1] === 0x73 && b[i + 2] === 0x74 &&
    b[i + 3] === 0x64 && b[i + 7] === 0x22
  ) {
    const c4 = b[i + 4], c5 = b[i + 5], c6 = b[i + 6];
    parsedEnd = i + 8;
    if (c4 === 0x6f && c5 === 0x75 && c6 === 0x74) return "stdout";
    if (c4 === 0x65 && c5 === 0x72 && c6 === 0x72) return "stderr";
  }
  stringValue(b, i);
  return "";
}

function timeValue(b: Uint8Array, i: number): LogTime {
  if (b[i] === 0x22) {
    const end = b.indexOf(0x22, i + 1);
    if (end !== -1) {
      const time = parseRfc3339Bytes(b, i + 1, end);
      if (time !== undefined) {
        parsedEnd = end + 1;
        return time;
      }
    }
  }
  return fail('"time" is not an RFC 3339 time', i);
}

function stringMap(b: Uint8Array, i: number): Record<string, string> {
  const map: Record<string, string> = {};
  i = skipSpace(b, expect(b, i, 0x7b));
  if (b[i] === 0x7d) {
    parsedEnd = i + 1;
    return map;
  }
  for (;;) {
    const key = stringValue(b, skipSpace(b, i));
    i = skipSpace(b, expect(b, skipSpace(b, parsedEnd), 0x3a));
    map[key] = stringValue(b, i);
    i = skipSpace(b, parsedEnd);
    if (b[i] === 0x2c) {
      i++;
      continue;
    }
    parsedEnd = expect(b, i, 0x7d);
    return map;
  }
}

const NUMBER_OR_WORD =
  /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)/;

/** Skips any JSON value at `b[i]`; returns the index after it. */
function skipValue(b: Uint8Array, i: number, depth: number): number {
  if (depth > 64) fail("nesting too deep", i);
  const c = b[i];
  if (c === 0x22) {
    const end = scanString(b, i + 1);
    if (end < 0) stringFailure(end, i + 1);
    return end + 1;
  }
  if (c === 0x7b || c === 0x5b) {
    const close = c === 0x7b ? 0x7d : 0x5d;
    i = skipSpace(b, i + 1);
    if (b[i] === close) return i + 1;
    for (;;) {
      if (c === 0x7b) {
        i = skipValue(b, skipSpace(b, expect(b, i, 0x22) - 1), depth + 1);
        i = skipSpace(b, expect(b, skipSpace(b, i), 0x3a));
      }
      i = skipSpace(b, skipValue(b, i, depth + 1));
      if (b[i] === 0x2c) {
        i = skipSpace(b, i + 1);
        continue;
      }
      return expect(b, i, close);
    }
  }
  let end = i;
  while (end < b.length && end - i < 64 && b[end] > 0x20 && b[end] !== 0x2c) {
    if (b[end] === 0x7d || b[end] === 0x5d) break;
    end++;
  }
  const word = NUMBER_OR_WORD.exec(
    String.fromCharCode(...b.subarray(i, end)),
  );
  if (word === null || word[0].length !== end - i) fail("bad value", i);
  return end;
}

/**
 * Finds the closing quote of a JSON string whose content starts at `i`.
 * Returns its index, -1 if there is none, or -2-k for a control byte at k.
 */
function scanString(b: Uint8Array, i: number): number {
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c === 0x22) return i;
    if (c === 0x5c) i += 2;
    else if (c < 0x20) return -2 - i;
    else i++;
  }
  return -1;
}

function hex4(b: Uint8Array, i: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = b[i + k];
    let h: number;
    if (c >= 0x30 && c <= 0x39) h = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) h = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) h = c - 0x37;
    else return -1;
    v = v * 16 + h;
  }
  return v;
}

/**
 * Copies the content of a JSON string starting at `b[start]` into `out`, up
 * to its closing quote (before `end`), with its escapes undone; sets
 * `parsedEnd` after the quote. Returns the length written, or -1-k for a bad
 * escape or a control byte at k, or for a missing quote.
 */
function unescapeString(
  b: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): number {
  let o = 0;
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c === 0x22) {
      parsedEnd = i + 1;
      return o;
    }
    if (c !== 0x5c) {
      if (c < 0x20) return -1 - i;
      out[o++] = c;
      i++;
      continue;
    }
    const e = b[i + 1];
    if (e === 0x6e) out[o++] = 0x0a; // n
    else if (e === 0x22 || e === 0x5c || e === 0x2f) out[o++] = e;
    else if (e === 0x72) out[o++] = 0x0d; // r
    else if (e === 0x74) out[o++] = 0x09; // t
    else if (e === 0x62) out[o++] = 0x08; // b
    else if (e === 0x66) out[o++] = 0x0c; // f
    else if (e === 0x75) { // u
      let cp = i + 6 <= end ? hex4(b, i + 2) : -1;
      if (cp < 0) return -1 - i;
      i += 4;
      if (cp >= 0xd800 && cp < 0xdc00) {
        // A high surrogate: a pair only when a low one follows.
        const lo = b[i + 2] === 0x5c && b[i + 3] === 0x75 && i + 8 <= end
          ? hex4(b, i + 4)
          : -1;
        if (lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 6;
        } else cp = 0xfffd;
      } else if (cp >= 0xdc00 && cp < 0xe000) cp = 0xfffd;
      o = writeUtf8(out, o, cp);
    } else return -1 - i;
    i += 2;
  }
  return -1 - end;
}

function writeUtf8(out: Uint8Array, o: number, cp: number): number {
  if (cp < 0x80) {
    out[o++] = cp;
  } else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

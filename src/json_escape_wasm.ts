/**
 * The json-file escaper in WebAssembly with 128-bit SIMD
 * (`json_escape.wat`): the same bytes as the JavaScript escaper of
 * `json_file.ts`, several times faster on plain text. It scans 16 bytes at
 * a time for a `\n` or a byte that is not copied as it is, and leaves those
 * to a scalar path with Go's UTF-8 rules.
 *
 * It also finds newlines 16 bytes at a time, for the framer.
 *
 * The module is compiled on first use (synchronously, under a millisecond):
 * when a json-file or CRI sink leases its first buffer, once the driver is
 * ready. Without WebAssembly SIMD, {@linkcode JsonEscapeWasm.available} is
 * false and callers take their JavaScript paths. Its memory is fixed
 * (70 pages, 4.4 MiB reserved, touched only as far as it is used): it never
 * grows, so views of it stay valid. Besides its own windows it holds an
 * arena of 4 MiB that callers lease buffers from
 * ({@linkcode JsonEscapeWasm.lease}): input read into such a buffer, and
 * entries written to one, are not copied in or out.
 *
 * @module
 */

import { JSON_ESCAPE_WASM_BASE64 } from "./_json_escape_wasm.ts";
import type { BatchBuffers } from "./_write_batch.ts";

const PAGE = 65536;
/** Slack after each region: the scan reads and writes 16 bytes at a time. */
const SLACK = 64;
/** Input window: bytes copied in per call. */
const IN = 0;
const IN_SIZE = 64 * 1024;
/** Two trailer slots, one a stream as a rule. */
const TRAILER = IN + IN_SIZE + SLACK;
const TRAILER_SIZE = 4096;
/** Output: entries are written here, then copied to the caller's buffer. */
const OUT = TRAILER + 2 * (TRAILER_SIZE + SLACK);
const OUT_SIZE = 256 * 1024;
/** Leased buffers: read buffers and write batches, each with its slack. */
const ARENA = Math.ceil((OUT + OUT_SIZE + SLACK) / PAGE) * PAGE;
const ARENA_SIZE = 4 * 1024 * 1024;
const PAGES = (ARENA + ARENA_SIZE) / PAGE;
/** Room an entry needs besides 6 bytes a byte of its line and its trailer. */
const ENTRY_SLACK = 8 + 40;
const MAX_I32 = 0x7fff_ffff;

/** Why {@linkcode WasmExports.encodeLines} stopped. */
const STOP_INPUT_USED = 0;
const STOP_NOT_WHOLE = 1;
const STOP_BUDGET = 2;
const STOP_ROOM = 3;

interface WasmExports {
  escapePiece(src: number, len: number, dst: number): number;
  encodeLines(
    src: number,
    len: number,
    rest: number,
    maxPiece: number,
    trailer: number,
    trailerLen: number,
    dst: number,
    cap: number,
    budget: number,
  ): number;
  encodeCriLines(
    src: number,
    len: number,
    prefix: number,
    prefixLen: number,
    maxContent: number,
    dropCr: number,
    dst: number,
    cap: number,
    budget: number,
  ): number;
  written(): number;
  stopReason(): number;
  findNewline(src: number, len: number): number;
}

/**
 * One call of an encoder export on a window: input at `from` (`n` bytes of
 * the `rest` left), output to `dst` (`cap` bytes), at most `budget` bytes.
 * Returns the input bytes used.
 */
type WindowEncoder = (
  from: number,
  n: number,
  rest: number,
  dst: number,
  cap: number,
  budget: number,
) => number;

let shared: JsonEscapeWasm | undefined;
let unavailable = false;

/**
 * Base64 to bytes: `Uint8Array.fromBase64` where the runtime has it (0.1 ms
 * here, where the first `atob` takes 2 ms).
 */
function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const typed = Uint8Array as {
    fromBase64?: (text: string) => Uint8Array<ArrayBuffer>;
  };
  if (typed.fromBase64 !== undefined) return typed.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The WebAssembly escaper, with the memory it copies input into and output
 * out of. One instance serves every encoder of the process: its calls are
 * synchronous and leave nothing behind in its memory that a later call
 * needs, but the trailers it caches.
 */
export class JsonEscapeWasm {
  #exports: WasmExports;
  #memory: Uint8Array;
  #buffer: ArrayBuffer;
  /** Free blocks of the arena, `[start, end)` byte offsets, by start. */
  #free: [number, number][] = [[ARENA, ARENA + ARENA_SIZE]];
  #slots: (Uint8Array | undefined)[] = [undefined, undefined];
  #nextSlot = 0;
  #lineEnd = 0;

  private constructor() {
    const bytes = decodeBase64(JSON_ESCAPE_WASM_BASE64);
    const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      js: { memory },
    });
    this.#exports = instance.exports as unknown as WasmExports;
    this.#buffer = memory.buffer as ArrayBuffer; // not shared
    this.#memory = new Uint8Array(memory.buffer);
  }

  /**
   * A buffer of `length` bytes in this module's memory, for input to read
   * into or a batch to write entries to: {@linkcode JsonEscapeWasm.encodeLines}
   * then works on it in place instead of copying it in or out. Its bytes
   * are left as the previous lease left them. Give it back with
   * {@linkcode JsonEscapeWasm.release}.
   *
   * @param length Bytes, 1 or more.
   * @returns The buffer, or `null` when the 4 MiB arena has no free block
   *   that large (use an ordinary array then).
   */
  lease(length: number): Uint8Array<ArrayBuffer> | null {
    // Rounded up, slack included: the scan reads and writes past the end.
    const size = Math.ceil((length + SLACK) / 64) * 64;
    const free = this.#free;
    for (let k = 0; k < free.length; k++) {
      const [start, end] = free[k];
      if (end - start < size) continue;
      if (end - start === size) free.splice(k, 1);
      else free[k] = [start + size, end];
      return new Uint8Array(this.#buffer, start, length);
    }
    return null;
  }

  /**
   * Gives back a buffer from {@linkcode JsonEscapeWasm.lease}; it must not
   * be used afterwards. Anything else, or a buffer given back twice, is
   * ignored, so a caller may release whatever buffer it holds.
   *
   * @param buffer The leased buffer.
   */
  release(buffer: Uint8Array): void {
    if (buffer.buffer !== this.#buffer || buffer.byteOffset < ARENA) return;
    const start = buffer.byteOffset;
    const end = start + Math.ceil((buffer.length + SLACK) / 64) * 64;
    const free = this.#free;
    let k = 0;
    while (k < free.length && free[k][0] < start) k++;
    // Given back twice: already free.
    if (k < free.length && free[k][0] < end) return;
    if (k > 0 && free[k - 1][1] > start) return;
    free.splice(k, 0, [start, end]);
    // Merge with the blocks on either side.
    if (k + 1 < free.length && free[k][1] === free[k + 1][0]) {
      free[k] = [start, free[k + 1][1]];
      free.splice(k + 1, 1);
    }
    if (k > 0 && free[k - 1][1] === free[k][0]) {
      free[k - 1] = [free[k - 1][0], free[k][1]];
      free.splice(k, 1);
    }
  }

  /** Whether `bytes` lies in this module's memory (a leased buffer). */
  #holds(bytes: Uint8Array): boolean {
    return bytes.buffer === this.#buffer;
  }

  /**
   * The process's escaper, compiled on the first call.
   *
   * @returns The shared instance.
   * @throws {WebAssembly.CompileError} If the runtime lacks WebAssembly SIMD.
   */
  static get(): JsonEscapeWasm {
    return shared ??= new JsonEscapeWasm();
  }

  /**
   * Whether the module runs here: compiles it on the first call, and is
   * false for good when the runtime lacks WebAssembly SIMD (V8 on a CPU
   * without SSE4.1, such as QEMU's default `qemu64`). Callers then take
   * their JavaScript paths, which write the same bytes.
   *
   * @returns True when {@linkcode JsonEscapeWasm.get} succeeds.
   */
  static available(): boolean {
    if (shared !== undefined) return true;
    if (unavailable) return false;
    try {
      JsonEscapeWasm.get();
      return true;
    } catch {
      unavailable = true;
      return false;
    }
  }

  /** Longest input, in bytes, that {@linkcode JsonEscapeWasm.escape} takes. */
  static readonly maxEscapeLength: number = Math.min(
    IN_SIZE,
    Math.floor((OUT_SIZE - SLACK) / 6),
  );

  /**
   * Whether {@linkcode JsonEscapeWasm.encodeLines} takes lines of up to
   * `maxPiece` bytes with a trailer of `trailerLength` bytes: the input
   * window and the output must hold one such entry.
   *
   * @param maxPiece Longest line, in bytes, `\n` included.
   * @param trailerLength The trailer's length, in bytes.
   * @returns True when it does.
   */
  static supports(maxPiece: number, trailerLength: number): boolean {
    return maxPiece <= IN_SIZE && trailerLength <= TRAILER_SIZE &&
      6 * maxPiece + trailerLength + ENTRY_SLACK <= OUT_SIZE;
  }

  /**
   * Escapes `src` as the inside of a JSON string into `out` at `pos`:
   * exactly what `escapeJsonBytes` writes.
   *
   * @param src At most {@linkcode JsonEscapeWasm.maxEscapeLength} bytes.
   * @param out Where to write; needs room for what is written (at most
   *   `src.length * 6` bytes).
   * @param pos Index in `out` to start at.
   * @returns The index in `out` after the last byte written.
   * @throws {RangeError} If `src` is too long or `out` too short.
   */
  escape(src: Uint8Array, out: Uint8Array, pos: number): number {
    if (src.length > JsonEscapeWasm.maxEscapeLength) {
      throw new RangeError(
        `Cannot escape ${src.length} bytes at once: at most ${JsonEscapeWasm.maxEscapeLength}`,
      );
    }
    const memory = this.#memory;
    memory.set(src, IN);
    const n = this.#exports.escapePiece(IN, src.length, OUT);
    out.set(memory.subarray(OUT, OUT + n), pos);
    return pos + n;
  }

  /**
   * Writes a json-file entry for each whole line at the start of
   * `src[start, end)`: `{"log":"`, the line escaped (its `\n` included),
   * then `trailer`. A line is whole when its `\n` comes before `end` and
   * within `maxPiece` bytes of its start; a longer line with `maxPiece`
   * bytes before `end` gives a partial entry of them (cut back so as not to
   * split a UTF-8 character), its rest being taken as a line of its own.
   * Stops at the first line that is neither, when `budget` bytes or more
   * have been written (an entry is begun
   * only below it), or when `out` lacks room for the next entry: `6 *
   * min(rest, maxPiece) + trailer.length + 48` bytes, `rest` being the bytes
   * left in `src`.
   *
   * Requires {@linkcode JsonEscapeWasm.supports}`(maxPiece, trailer.length)`.
   * A `src` or `out` leased from {@linkcode JsonEscapeWasm.lease} is read or
   * written in place, in one call; others are copied through 64 KiB and
   * 256 KiB windows.
   *
   * @param out Where to write.
   * @param pos Index in `out` to start at.
   * @param src The bytes read.
   * @param start Index of the first line's first byte.
   * @param end Index after the last byte that may be used.
   * @param maxPiece Longest piece, in bytes, `\n` included.
   * @param trailer What follows each line's escaped bytes:
   *   `","stream":…,"time":"…"}\n`. Kept by identity: pass the same array
   *   for the same bytes.
   * @param budget Bytes after which no entry is begun; `Infinity` for none.
   * @returns The index in `out` after the last entry;
   *   {@linkcode JsonEscapeWasm.lineEnd} is the index in `src` after the
   *   last entry encoded: after a `\n`, or inside a long line after a
   *   partial entry.
   */
  encodeLines(
    out: Uint8Array,
    pos: number,
    src: Uint8Array,
    start: number,
    end: number,
    maxPiece: number,
    trailer: Uint8Array,
    budget: number,
  ): number {
    const wasm = this.#exports;
    const slot = this.#trailerSlot(trailer);
    return this.#encodeWindows(
      out,
      pos,
      src,
      start,
      end,
      budget,
      (from, n, rest, dst, cap, left) =>
        wasm.encodeLines(
          from,
          n,
          rest,
          maxPiece,
          slot,
          trailer.length,
          dst,
          cap,
          left,
        ),
    );
  }

  /**
   * Writes a CRI record (`TIME STREAM F CONTENT\n`, as `CriEncoder`) for
   * each whole line at the start of `src[start, end)`: `prefix`, then the
   * line without its `\n` (and without a `\r` before it when `dropCr`),
   * then `\n`. Stops at the first line whose `\n` is not before `end`, or
   * whose content is longer than `maxContent` (when not 0), when `budget`
   * bytes or more have been written (a record is begun only below it), or
   * when the next record does not fit `out`. A leased `src` or `out` is
   * worked on in place; others go through 64 KiB and 256 KiB windows, and
   * then a line longer than 64 KiB stops it.
   *
   * @param out Where to write.
   * @param pos Index in `out` to start at.
   * @param src The bytes read.
   * @param start Index of the first line's first byte.
   * @param end Index after the last byte that may be used.
   * @param prefix `TIME STREAM F `, at most 4 KiB. Kept by identity: pass
   *   the same array for the same bytes.
   * @param maxContent Longest content, in bytes; 0 for no limit.
   * @param dropCr Whether a `\r` before the `\n` is dropped (cri flavour).
   * @param budget Bytes after which no record is begun; `Infinity` for none.
   * @returns The index in `out` after the last record;
   *   {@linkcode JsonEscapeWasm.lineEnd} is the index in `src` after the
   *   last line written.
   */
  encodeCriLines(
    out: Uint8Array,
    pos: number,
    src: Uint8Array,
    start: number,
    end: number,
    prefix: Uint8Array,
    maxContent: number,
    dropCr: boolean,
    budget: number,
  ): number {
    const wasm = this.#exports;
    const slot = this.#trailerSlot(prefix);
    return this.#encodeWindows(
      out,
      pos,
      src,
      start,
      end,
      budget,
      (from, n, _rest, dst, cap, left) =>
        wasm.encodeCriLines(
          from,
          n,
          slot,
          prefix.length,
          maxContent,
          dropCr ? 1 : 0,
          dst,
          cap,
          left,
        ),
    );
  }

  /**
   * Runs `encode` over `src[start, end)` into `out` from `pos`: in place
   * for leased buffers, else through the input and output windows, until
   * it stops for good. Sets {@linkcode JsonEscapeWasm.lineEnd}.
   */
  #encodeWindows(
    out: Uint8Array,
    pos: number,
    src: Uint8Array,
    start: number,
    end: number,
    budget: number,
    encode: WindowEncoder,
  ): number {
    const wasm = this.#exports;
    const memory = this.#memory;
    // Leased buffers are worked on in place; others through the windows.
    const srcInPlace = this.#holds(src);
    const outInPlace = this.#holds(out);
    let i = start;
    let o = pos;
    while (i < end) {
      const left = budget - (o - pos);
      if (left <= 0) break;
      const n = srcInPlace ? end - i : Math.min(end - i, IN_SIZE);
      const windowEnd = i + n;
      const cap = outInPlace
        ? out.length - o
        : Math.min(OUT_SIZE, out.length - o);
      let from = src.byteOffset + i;
      if (!srcInPlace) {
        memory.set(src.subarray(i, i + n), IN);
        from = IN;
      }
      const used = encode(
        from,
        n,
        Math.min(end - i, MAX_I32),
        outInPlace ? out.byteOffset + o : OUT,
        Math.max(cap, 0),
        Math.min(left, MAX_I32),
      );
      const written = wasm.written();
      if (!outInPlace) out.set(memory.subarray(OUT, OUT + written), o);
      o += written;
      i += used;
      const stop = wasm.stopReason();
      if (stop === STOP_INPUT_USED) continue;
      if (stop === STOP_BUDGET) break;
      if (stop === STOP_ROOM) {
        // Room in our output, not the caller's: go on after copying out.
        if (outInPlace || cap < OUT_SIZE || used === 0) break;
        continue;
      }
      // STOP_NOT_WHOLE: with lines before it, the line may be whole past
      // the window.
      if (stop === STOP_NOT_WHOLE && windowEnd < end && used > 0) continue;
      break;
    }
    this.#lineEnd = i;
    return o;
  }

  /**
   * The index of the first `\n` in `bytes` at or after `from`, or -1: what
   * `bytes.indexOf(0x0a, from)` returns, about four times as fast on long
   * runs without one. It copies `bytes` in windows that start at 256 bytes
   * and grow, so that a near newline costs little; a buffer from
   * {@linkcode JsonEscapeWasm.lease} is searched in place.
   *
   * @param bytes Where to search.
   * @param from Index to start at, 0 or more.
   * @returns The index of the newline, or -1 when there is none.
   */
  indexOfNewline(bytes: Uint8Array, from: number): number {
    const memory = this.#memory;
    const wasm = this.#exports;
    const end = bytes.length;
    if (this.#holds(bytes)) {
      // A leased buffer: searched in place, at once.
      if (from >= end) return -1;
      const k = wasm.findNewline(bytes.byteOffset + from, end - from);
      return k < 0 ? -1 : from + k;
    }
    let window = 256;
    for (let i = from; i < end;) {
      const n = Math.min(end - i, window);
      memory.set(bytes.subarray(i, i + n), IN);
      const k = wasm.findNewline(IN, n);
      if (k >= 0) return i + k;
      i += n;
      if (window < IN_SIZE) window *= 4;
    }
    return -1;
  }

  /** Index in `src` after the last entry of the last encodeLines. */
  get lineEnd(): number {
    return this.#lineEnd;
  }

  /** Where `trailer` is in memory, copied there unless it already is. */
  #trailerSlot(trailer: Uint8Array): number {
    const slots = this.#slots;
    let k = slots[0] === trailer ? 0 : slots[1] === trailer ? 1 : -1;
    if (k < 0) {
      k = this.#nextSlot;
      this.#nextSlot ^= 1;
      slots[k] = trailer;
      this.#memory.set(trailer, TRAILER + k * (TRAILER_SIZE + SLACK));
    } else {
      this.#nextSlot = k ^ 1;
    }
    return TRAILER + k * (TRAILER_SIZE + SLACK);
  }
}

/**
 * Buffers leased from the process's escaper ({@linkcode JsonEscapeWasm.lease}),
 * for the sinks' read buffers and write batches: the escaper then reads and
 * writes them in place. `lease` returns `null` (an ordinary array, then)
 * when the arena is used up or the runtime lacks WebAssembly SIMD.
 */
export const leasedBuffers: BatchBuffers = {
  lease(length) {
    return JsonEscapeWasm.available()
      ? JsonEscapeWasm.get().lease(length)
      : null;
  },
  release(buffer) {
    // Without the module nothing was leased; an empty buffer never was.
    if (buffer.length > 0 && shared !== undefined) shared.release(buffer);
  },
};

/**
 * What the example app writes: the time once a second (clock mode), or
 * numbered lines of a fixed size as fast as possible (fast mode), so tests
 * and benchmarks can check that every line arrived, in order.
 *
 * @module
 */

import type { AppOptions } from "./app_args.ts";

const ALPHABET = new TextEncoder().encode("abcdefghijklmnopqrstuvwxyz");
const encoder = new TextEncoder();

/** Default bytes per chunk written in fast mode (one pipe buffer). */
export const DEFAULT_CHUNK_SIZE = 65_536;

/**
 * Line `index` (from 0) of fast mode, `size` bytes counting its `\n`:
 * the decimal index, a space, then letters `a`–`z` chosen by column
 * (column `c` holds `"abc…z"[c % 26]`), then `\n`. Lines shorter than the
 * index plus two bytes hold a cut prefix of it (a 1-byte line is just
 * `\n`).
 *
 * @param index The line number, from 0.
 * @param size Bytes in the line, counting the `\n`; at least 1.
 * @returns The line as text.
 * @throws {RangeError} If `size` is less than 1.
 *
 * @example Usage
 * ```ts
 * import { appLine } from "./app_output.ts";
 * import assert from "node:assert/strict";
 * assert.equal(appLine(7, 10), "7 cdefghi\n");
 * assert.equal(appLine(12, 3), "12\n");
 * ```
 */
export function appLine(index: number, size: number): string {
  if (!(size >= 1)) throw new RangeError(`Invalid line size ${size}`);
  const prefix = `${index} `.slice(0, size - 1);
  let line = prefix;
  for (let column = prefix.length; column < size - 1; column++) {
    line += String.fromCharCode(ALPHABET[column % 26]);
  }
  return line + "\n";
}

/** Options for {@linkcode appLineChunks}. */
export interface AppLineChunksOptions {
  /**
   * Whether the last line ends with `\n`; without it the last line is
   * `lineSize - 1` bytes.
   *
   * @default {true}
   */
  newline?: boolean;
  /**
   * Largest chunk, in bytes. Every chunk but the last is exactly this big,
   * whatever the line size, so memory stays bounded.
   *
   * @default {65536}
   */
  chunkSize?: number;
}

/**
 * Fast mode's output: `lines` lines from {@linkcode appLine}, packed into
 * chunks for large writes. Each chunk is a new buffer.
 *
 * @param lines How many lines.
 * @param lineSize Bytes per line, counting the `\n`; at least 1.
 * @param options Last newline and chunk size.
 * @returns The chunks, in order.
 * @throws {RangeError} If `lineSize` or the chunk size is less than 1.
 *
 * @example Usage
 * ```ts
 * import { appLineChunks } from "./app_output.ts";
 * import assert from "node:assert/strict";
 * const chunks = [...appLineChunks(2, 4, { newline: false })];
 * assert.equal(new TextDecoder().decode(chunks[0]), "0 c\n1 c");
 * ```
 */
export function* appLineChunks(
  lines: number,
  lineSize: number,
  options: AppLineChunksOptions = {},
): Generator<Uint8Array> {
  const { newline = true, chunkSize = DEFAULT_CHUNK_SIZE } = options;
  if (!(lineSize >= 1)) throw new RangeError(`Invalid line size ${lineSize}`);
  if (!(chunkSize >= 1)) {
    throw new RangeError(`Invalid chunk size ${chunkSize}`);
  }
  // The letters for any run of columns, copied from here.
  const fill = new Uint8Array(Math.min(chunkSize, lineSize) + 26);
  for (let i = 0; i < fill.length; i++) fill[i] = ALPHABET[i % 26];
  const newlineByte = new Uint8Array([0x0a]);
  const prefixBytes = new Uint8Array(32);

  let chunk = new Uint8Array(chunkSize);
  let used = 0;
  // Copies bytes into the chunk; returns how many fitted.
  const put = (bytes: Uint8Array): number => {
    const n = Math.min(bytes.length, chunkSize - used);
    chunk.set(n === bytes.length ? bytes : bytes.subarray(0, n), used);
    used += n;
    return n;
  };

  for (let index = 0; index < lines; index++) {
    const digits = String(index);
    for (let i = 0; i < digits.length; i++) {
      prefixBytes[i] = digits.charCodeAt(i);
    }
    prefixBytes[digits.length] = 0x20;
    const prefix = prefixBytes.subarray(
      0,
      Math.min(digits.length + 1, lineSize - 1),
    );
    let offset = 0;
    while (offset < prefix.length) {
      offset += put(prefix.subarray(offset));
      if (used === chunkSize) {
        yield chunk;
        chunk = new Uint8Array(chunkSize);
        used = 0;
      }
    }
    for (let column = prefix.length; column < lineSize - 1;) {
      const start = column % 26;
      const want = Math.min(lineSize - 1 - column, fill.length - start);
      column += put(fill.subarray(start, start + want));
      if (used === chunkSize) {
        yield chunk;
        chunk = new Uint8Array(chunkSize);
        used = 0;
      }
    }
    if (index < lines - 1 || newline) {
      put(newlineByte);
      if (used === chunkSize) {
        yield chunk;
        chunk = new Uint8Array(chunkSize);
        used = 0;
      }
    }
  }
  if (used > 0) yield chunk.subarray(0, used);
}

/** Clock and timer used by {@linkcode runApp}'s clock mode, for tests. */
export interface AppClock {
  /** The current time. */
  now(): Date;
  /** Waits `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

const realClock: AppClock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Writes the app's output to `output`: in clock mode, `count` lines holding
 * the time as `Date.toISOString()` gives it, `interval` ms apart (no wait
 * before the first or after the last); in fast mode, the lines of
 * {@linkcode appLineChunks}. Which stream and the exit code are the caller's
 * business. The stream is not closed.
 *
 * @param options The parsed flags.
 * @param output Where to write (the app passes `Deno.stdout.writable`).
 * @param clock The clock and timer; the real ones by default.
 * @throws {Error} If a write fails (e.g. `Deno.errors.BrokenPipe`).
 *
 * @example Usage
 * ```ts
 * import { runApp } from "./app_output.ts";
 * import { parseAppArgs } from "./app_args.ts";
 * import assert from "node:assert/strict";
 * const chunks: Uint8Array[] = [];
 * const output = new WritableStream<Uint8Array>({ write: (c) => { chunks.push(c); } });
 * await runApp(parseAppArgs(["--lines", "2", "--line-size", "5"]), output);
 * assert.equal(new TextDecoder().decode(chunks[0]), "0 cd\n1 cd\n");
 * ```
 */
export async function runApp(
  options: AppOptions,
  output: WritableStream<Uint8Array>,
  clock: AppClock = realClock,
): Promise<void> {
  const writer = output.getWriter();
  try {
    if (options.lines !== null) {
      for (
        const chunk of appLineChunks(options.lines, options.lineSize, {
          newline: options.newline,
        })
      ) {
        await writer.write(chunk);
      }
      return;
    }
    for (let i = 0; i < options.count; i++) {
      if (i > 0) await clock.sleep(options.interval);
      const end = i < options.count - 1 || options.newline ? "\n" : "";
      await writer.write(encoder.encode(clock.now().toISOString() + end));
    }
  } finally {
    writer.releaseLock();
  }
}

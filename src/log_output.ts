/**
 * How `logs.ts` prints entries: raw bytes to the entry's stream, with
 * `docker logs`'s `--timestamps` and `--details` prefixes, one per logical
 * line.
 *
 * @module
 */

import { formatRfc3339NanoFixed, type LogTime } from "./clock.ts";
import type { LogEntry, StreamName } from "./log_entry.ts";

/** Where printed bytes go: `Deno.stdout`, `Deno.stderr`, a test double. */
export interface ByteWriter {
  /**
   * Writes some of `p`.
   *
   * @returns How many bytes were written.
   */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Formats a time as `docker logs -t` prints it (Go's
 * `jsonmessage.RFC3339NanoFixed` in UTC): always nine fractional digits, so
 * that every timestamp has the same width (`2026-11-29T15:53:54.273182200Z`).
 *
 * @param time The time.
 * @returns The text, 30 characters for years 0 to 9999.
 *
 * @example Usage
 * ```ts
 * import { formatTimestampFixed } from "./log_output.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   formatTimestampFixed({ sec: 1795967634, nsec: 2700 }),
 *   "2026-11-29T15:53:54.000002700Z",
 * );
 * ```
 */
export function formatTimestampFixed(time: LogTime): string {
  return formatRfc3339NanoFixed(time);
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;
const utf8 = new TextEncoder();

/**
 * Escapes text as Go's `url.QueryEscape`: letters, digits and `-_.~` kept,
 * space as `+`, every other byte of its UTF-8 as `%XX`.
 *
 * @param text The text.
 * @returns The escaped text.
 */
export function queryEscape(text: string): string {
  let out = "";
  for (const ch of text) {
    if (UNRESERVED.test(ch)) out += ch;
    else if (ch === " ") out += "+";
    else {
      for (const b of utf8.encode(ch)) {
        out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
      }
    }
  }
  return out;
}

/**
 * Formats an entry's attributes as `docker logs --details` prints them
 * before each line (moby's `attrsByteSlice`): `key=value` pairs sorted by
 * key, joined by `,`, keys and values escaped with Go's `url.QueryEscape`,
 * then one space; only the space when there are none.
 *
 * @param attrs The attributes.
 * @returns The prefix.
 *
 * @example Usage
 * ```ts
 * import { formatDetails } from "./log_output.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatDetails({ tag: "web 1", a: "x=y" }), "a=x%3Dy,tag=web+1 ");
 * assert.equal(formatDetails(undefined), " ");
 * ```
 */
export function formatDetails(
  attrs: Record<string, string> | undefined,
): string {
  if (attrs === undefined) return " ";
  const keys = Object.keys(attrs).sort();
  return `${
    keys.map((k) => `${queryEscape(k)}=${queryEscape(attrs[k])}`).join(",")
  } `;
}

/** Options of a {@linkcode LogPrinter}. */
export interface LogPrinterOptions {
  /** Print each line's time first (`-t`). @default {false} */
  timestamps?: boolean;
  /** Print each line's attributes first (`--details`). @default {false} */
  details?: boolean;
}

const BUFFER = 256 * 1024;

/**
 * Prints entries as `docker logs` does: each entry's bytes to the writer of
 * its stream, raw. Unlike Docker, which prefixes every piece, the
 * `--timestamps` and `--details` prefixes come once per logical line,
 * before its first piece, so a long line is never cut by a timestamp.
 *
 * Output is buffered per stream and written when the buffer fills, when
 * the other stream is printed (so their order is kept) and on
 * {@linkcode LogPrinter.flush}.
 */
export class LogPrinter {
  #out: Record<StreamName, ByteWriter>;
  #timestamps: boolean;
  #details: boolean;
  #atLineStart: Record<StreamName, boolean> = { stdout: true, stderr: true };
  #buffer = new Uint8Array(BUFFER);
  #length = 0;
  #stream: StreamName = "stdout";

  /**
   * Prepares to print.
   *
   * @param out Where each stream goes.
   * @param options Which prefixes to print.
   */
  constructor(out: Record<StreamName, ByteWriter>, options: LogPrinterOptions) {
    this.#out = out;
    this.#timestamps = options.timestamps ?? false;
    this.#details = options.details ?? false;
  }

  /**
   * Prints entries.
   *
   * @param entries The entries, in order.
   * @throws Whatever the writers throw (e.g. `BrokenPipe`).
   */
  async print(entries: readonly LogEntry[]): Promise<void> {
    for (const entry of entries) {
      const s = entry.stream;
      if (s !== this.#stream) {
        await this.flush();
        this.#stream = s;
      }
      if (this.#atLineStart[s] && (this.#timestamps || this.#details)) {
        let prefix = "";
        if (this.#timestamps) prefix = `${formatTimestampFixed(entry.time)} `;
        if (this.#details) prefix += formatDetails(entry.attrs);
        await this.#put(utf8.encode(prefix));
      }
      this.#atLineStart[s] = !entry.partial;
      await this.#put(entry.bytes);
    }
  }

  async #put(bytes: Uint8Array): Promise<void> {
    if (this.#length + bytes.length > this.#buffer.length) {
      await this.flush();
      if (bytes.length > this.#buffer.length) {
        await writeAll(this.#out[this.#stream], bytes);
        return;
      }
    }
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Writes what is buffered. */
  async flush(): Promise<void> {
    if (this.#length === 0) return;
    const n = this.#length;
    this.#length = 0;
    await writeAll(this.#out[this.#stream], this.#buffer.subarray(0, n));
  }
}

async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await writer.write(bytes.subarray(off));
}

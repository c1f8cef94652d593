/**
 * Log entries as readers see them, whatever the file's format, and the
 * decoder that tells the formats apart by their content: a json-file line
 * starts with `{`, a CRI line with its time.
 *
 * @module
 */

import type { LogTime } from "./clock.ts";
import { decodeCriLine } from "./cri.ts";
import { JsonFileDecoder } from "./json_file.ts";
import type { StreamName } from "./sink.ts";

export type { LogTime, StreamName };

/**
 * One entry of a log: a line, or a piece of a long line, as the driver
 * stored it.
 */
export interface LogEntry {
  /**
   * When the piece was logged (json-file: every piece of a line has the
   * time of the line; CRI: each piece has its own).
   */
  time: LogTime;
  /** The stream it came from. */
  stream: StreamName;
  /**
   * The bytes the container wrote: `\n` included at the end of a line,
   * none after a piece that the next piece of the same stream continues,
   * or after a final fragment. Printing the `bytes` of all entries of a
   * stream in order gives back that stream's output.
   */
  bytes: Uint8Array;
  /**
   * True when the line goes on in the next entry of the same stream, or
   * for a final fragment (a last line without `\n`): json-file's `log`
   * without `\n`, CRI's `P` tag.
   */
  partial: boolean;
  /** The entry's `attrs` (json-file's `tag`, `labels`, `env` options). */
  attrs?: Record<string, string>;
}

/** The on-disk formats a reader knows. */
export type LogFormat = "json-file" | "cri";

/**
 * Which format a line is in, from its first byte: `{` for json-file, a
 * digit (the start of the time) for CRI.
 *
 * @param line A line of a log file.
 * @returns The format, or `undefined` when the line is neither.
 */
export function detectLogFormat(line: Uint8Array): LogFormat | undefined {
  let i = 0;
  while (line[i] === 0x20 || line[i] === 0x09) i++;
  const c = line[i];
  if (c === 0x7b) return "json-file";
  if (c >= 0x30 && c <= 0x39) return "cri";
  return undefined;
}

/**
 * Decodes lines of json-file or CRI logs into {@linkcode LogEntry}s, telling
 * the formats apart line by line. A CRI `F` record's bytes end with the
 * `\n` that the record lost; a `P` record's have none.
 */
export class LogLineDecoder {
  #json = new JsonFileDecoder();

  /**
   * Decodes one line.
   *
   * @param line The line, with its `\n` (a CRI `F` record's bytes are then
   *   a view of the line, `\n` included, and nothing is copied).
   * @returns The entry.
   * @throws {SyntaxError} If the line is in neither format (damage).
   */
  decode(line: Uint8Array): LogEntry {
    const format = detectLogFormat(line);
    if (format === "json-file") {
      const record = this.#json.decode(line);
      const log = record.log;
      const entry: LogEntry = {
        time: record.time,
        stream: record.stream,
        bytes: log,
        partial: log.length === 0 || log[log.length - 1] !== 0x0a,
      };
      if (record.attrs !== undefined) entry.attrs = record.attrs;
      return entry;
    }
    if (format === "cri") {
      const record = decodeCriLine(line);
      let bytes = record.content;
      if (!record.partial) {
        const end = bytes.byteOffset - line.byteOffset + bytes.length;
        if (line[end] === 0x0a) {
          bytes = line.subarray(end - bytes.length, end + 1);
        } else {
          bytes = new Uint8Array(bytes.length + 1);
          bytes.set(record.content);
          bytes[bytes.length - 1] = 0x0a;
        }
      }
      return {
        time: record.time,
        stream: record.stream,
        bytes,
        partial: record.partial,
      };
    }
    throw new SyntaxError(
      "Not a log entry: neither json-file (starts with '{') nor CRI (starts with a time)",
    );
  }
}

/** What {@linkcode decodeOrRecover} found in a line. */
export interface DecodedLine {
  /** The entry, when one could be decoded. */
  entry?: LogEntry;
  /** Bytes skipped as damage at the start of the line (0 when none). */
  skipped: number;
  /** Why the damage is damage, when there is some. */
  reason?: string;
}

/**
 * Decodes a line; when it is damaged, looks for an entry that starts later
 * in it, as after a crash: a run of NUL bytes or a half-written entry
 * followed by an entry written after a restart.
 *
 * @param decoder The decoder.
 * @param line The line, with its `\n`.
 * @returns The entry (if any) and how many bytes were skipped.
 *
 * @example Usage
 * ```ts
 * import { decodeOrRecover, LogLineDecoder } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const entry = '{"log":"up\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"}\n';
 * const line = new TextEncoder().encode("\0\0\0" + entry);
 * const found = decodeOrRecover(new LogLineDecoder(), line);
 * assert.equal(found.skipped, 3);
 * assert.equal(new TextDecoder().decode(found.entry?.bytes), "up\n");
 * ```
 */
export function decodeOrRecover(
  decoder: LogLineDecoder,
  line: Uint8Array,
): DecodedLine {
  let firstError: unknown;
  try {
    return { entry: decoder.decode(line), skipped: 0 };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    firstError = error;
  }
  const reason = describeDamage(line, firstError as SyntaxError);
  for (const start of restartCandidates(line)) {
    try {
      const entry = decoder.decode(line.subarray(start));
      return { entry, skipped: start, reason };
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  return { skipped: line.length, reason };
}

function describeDamage(line: Uint8Array, error: SyntaxError): string {
  if (line.length > 0 && line[0] === 0) return "a run of NUL bytes";
  return error.message;
}

/** Where an entry might start again inside a damaged line, last first. */
function restartCandidates(line: Uint8Array): number[] {
  const found = new Set<number>();
  const lastNul = line.lastIndexOf(0);
  if (lastNul !== -1 && lastNul + 1 < line.length) found.add(lastNul + 1);
  // The last few '{"' (json-file) and 'dddd-dd-ddT' (CRI) positions.
  let tries = 0;
  for (let i = line.length - 2; i > 0 && tries < 8; i--) {
    const c = line[i];
    if (c === 0x7b && line[i + 1] === 0x22) {
      found.add(i);
      tries++;
    } else if (
      c >= 0x30 && c <= 0x39 && line[i + 4] === 0x2d && line[i + 7] === 0x2d &&
      line[i + 10] === 0x54 &&
      (i === 0 || line[i - 1] < 0x30 || line[i - 1] > 0x39)
    ) {
      found.add(i);
      tries++;
    }
  }
  return [...found].sort((a, b) => a - b);
}

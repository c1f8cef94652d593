/** Helpers shared by the tests. */

import type { LogTime } from "../src/clock.ts";
import type { ByteReader } from "../src/logger.ts";
import type { LogSink, StreamName } from "../src/sink.ts";

/** Folder of the golden data from real runtimes. */
export const FIXTURES = new URL("../../shared/fixtures/", import.meta.url);

/** Reads a fixture file's bytes. */
export function fixture(path: string): Uint8Array {
  return Deno.readFileSync(new URL(path, FIXTURES));
}

/** Names of the fixture inputs, without `.bin`. */
export function fixtureInputs(): string[] {
  return [...Deno.readDirSync(new URL("inputs/", FIXTURES))]
    .map((e) => e.name.replace(/\.bin$/, ""))
    .sort();
}

/**
 * Whether a file name beside a log is one of the driver's markers: the
 * writer's `<log>.lock` or the followers' `<log>.followers`.
 */
export function isLogMarker(name: string): boolean {
  return name.endsWith(".lock") || name.endsWith(".followers");
}

/** A reader that yields the given chunks, then end of stream. */
export function chunkReader(chunks: Uint8Array[]): ByteReader {
  let i = 0;
  let off = 0;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      while (i < chunks.length && off >= chunks[i].length) {
        i++;
        off = 0;
      }
      if (i >= chunks.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, chunks[i].length - off);
      buffer.set(chunks[i].subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

/** One piece as a sink received it. */
export interface RecordedPiece {
  stream: StreamName;
  bytes: Uint8Array;
  partial: boolean;
  time: LogTime;
}

/** A sink that records what it receives, for tests of the copy loop. */
export class RecordingSink implements LogSink {
  pieces: RecordedPiece[] = [];
  flushes = 0;
  closed: StreamName[] | undefined;
  write(
    stream: StreamName,
    piece: Uint8Array,
    partial: boolean,
    time: LogTime,
  ): void {
    this.pieces.push({ stream, bytes: piece.slice(), partial, time });
  }
  flush(): void {
    this.flushes++;
  }
  close(ended: StreamName[] = []): Promise<void> {
    this.closed = ended;
    return Promise.resolve();
  }
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Parses a json-file log's lines. */
export function jsonLines(
  text: string,
): {
  log: string;
  stream: string;
  time: string;
  attrs?: Record<string, string>;
}[] {
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** Helpers shared by the tests. */

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
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

/**
 * Makes the next listings of a folder slow, as in a large folder: each runs
 * one of `steps` (a writer's step) while it reads, and shows what `readdir`
 * may show of a folder changed meanwhile, at the least: only the names
 * there both before and after the step. A name added or removed during a
 * read may be left out, and a renamed one may show under neither name.
 * Listings after the steps are plain. Returns the function that puts
 * things back.
 */
export function listingsDuring(steps: (() => void)[]): () => void {
  const readDirSync = Deno.readDirSync;
  let next = 0;
  Deno.readDirSync = (path) => {
    const before = [...readDirSync(path)];
    if (next === steps.length) return before.values();
    steps[next++]();
    const after = new Set([...readDirSync(path)].map((e) => e.name));
    return before.filter((e) => after.has(e.name)).values();
  };
  return () => {
    Deno.readDirSync = readDirSync;
  };
}

/**
 * Finishes the compression of a rotated log file as the writers do: the
 * complete `<path>.gz` appears (a rename of the finished temporary file),
 * then `path` is unlinked.
 */
export function finishGzip(path: string): void {
  const tmp = `${path}.tmp`;
  Deno.writeFileSync(tmp, gzipSync(Deno.readFileSync(path)));
  Deno.renameSync(tmp, `${path}.gz`);
  Deno.removeSync(path);
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/**
 * Runs `fn` with a temporary folder `root` holding `small`, a tmpfs mounted
 * with `options` such as `size=1m` or `nr_inodes=5` (root only), to make a
 * full disk; unmounts and deletes both after.
 */
export async function withTmpfs(
  options: string,
  fn: (root: string, small: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir();
  const small = `${root}/small`;
  try {
    await Deno.mkdir(small);
    await run("mount", ["-t", "tmpfs", "-o", options, "shimlog-test", small]);
    try {
      await fn(root, small);
    } finally {
      await run("umount", [small]);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Runs `fn` with a new temporary folder, removed afterwards. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

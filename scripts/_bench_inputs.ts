/**
 * Inputs and output checks for `scripts/bench.ts`: files of numbered lines
 * of a fixed length (each starts with its 10-digit index, then words, then
 * `\n`), one long line without a newline, and the entry counts each writer
 * must produce from them.
 *
 * @module
 */

/** Docker's largest json-file message, counting the line's `\n`. */
export const MAX_PIECE = 16 * 1024;
/** containerd's CRI record content limit, without the `\n`. */
export const CRI_MAX_LINE = 16 * 1024;

/** A generated input file. */
export interface Input {
  /** Its path. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Lines, counting a final fragment without `\n` as one. */
  lines: number;
  /** Bytes per line, `\n` included (0 for the single unterminated line). */
  lineBytes: number;
  /** The file ends without a `\n`. */
  unterminated: boolean;
}

/** What to generate. */
export type InputSpec =
  | { kind: "lines"; count: number; lineBytes: number }
  | { kind: "one-line"; bytes: number };

const WORDS = (
  "level=info msg request handled path /api/v1/items status 200 " +
  "duration ms user id session cache hit miss upstream retry backend " +
  "GET POST PUT db query rows took ok warn error timeout connection " +
  "pool worker job queue started finished bytes sent received"
).split(" ");

/**
 * Filler text: words picked by a fixed pseudo-random sequence, so it
 * compresses about as well as real logs, not as well as a repeated line.
 */
function filler(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let seed = 0x2545f491;
  let off = 0;
  while (off < size) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const word = WORDS[(seed >>> 0) % WORDS.length] + " ";
    for (let i = 0; i < word.length && off < size; i++) {
      out[off++] = word.charCodeAt(i);
    }
  }
  return out;
}

const FILLER_SPAN = 64 * 1024;
let fillerCache: Uint8Array | undefined;
function sharedFiller(): Uint8Array {
  return fillerCache ??= filler(FILLER_SPAN * 3);
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

function putIndex(buf: Uint8Array, at: number, index: number): void {
  let v = index;
  for (let k = 9; k >= 0; k--) {
    buf[at + k] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/**
 * Writes `count` lines of `lineBytes` bytes each (`\n` included): a 10-digit
 * index, a space, filler words.
 */
async function writeLines(
  path: string,
  count: number,
  lineBytes: number,
): Promise<void> {
  if (lineBytes < 12) {
    throw new RangeError(`Invalid line size ${lineBytes}: at least 12 bytes`);
  }
  const text = sharedFiller();
  const perChunk = Math.max(1, Math.floor((4 << 20) / lineBytes));
  const chunk = new Uint8Array(perChunk * lineBytes);
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    for (let i = 0; i < count;) {
      const n = Math.min(perChunk, count - i);
      for (let j = 0; j < n; j++, i++) {
        const at = j * lineBytes;
        putIndex(chunk, at, i);
        chunk[at + 10] = 0x20;
        const from = (i * 7919) % FILLER_SPAN;
        const body = lineBytes - 12;
        if (body <= FILLER_SPAN * 2) {
          chunk.set(text.subarray(from, from + body), at + 11);
        } else {
          for (let k = 0; k < body; k += FILLER_SPAN) {
            const len = Math.min(FILLER_SPAN, body - k);
            chunk.set(text.subarray(from, from + len), at + 11 + k);
          }
        }
        chunk[at + lineBytes - 1] = 0x0a;
      }
      await writeAll(file, chunk.subarray(0, n * lineBytes));
    }
  } finally {
    file.close();
  }
}

/** Writes one line of `bytes` filler bytes and no `\n`. */
async function writeOneLine(path: string, bytes: number): Promise<void> {
  const text = sharedFiller();
  const block = new Uint8Array(4 << 20);
  for (let off = 0; off < block.length; off += FILLER_SPAN) {
    block.set(text.subarray(0, Math.min(FILLER_SPAN, block.length - off)), off);
  }
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    for (let left = bytes; left > 0; left -= block.length) {
      await writeAll(file, block.subarray(0, Math.min(left, block.length)));
    }
  } finally {
    file.close();
  }
}

/**
 * Generates an input file.
 *
 * @param path Where to write it.
 * @param spec What to write.
 * @returns The input's description.
 */
export async function makeInput(path: string, spec: InputSpec): Promise<Input> {
  if (spec.kind === "lines") {
    await writeLines(path, spec.count, spec.lineBytes);
    return {
      path,
      bytes: spec.count * spec.lineBytes,
      lines: spec.count,
      lineBytes: spec.lineBytes,
      unterminated: false,
    };
  }
  await writeOneLine(path, spec.bytes);
  return {
    path,
    bytes: spec.bytes,
    lines: 1,
    lineBytes: 0,
    unterminated: true,
  };
}

/**
 * Entries our json-file sink writes for an input: Docker's framing cuts a
 * line into pieces of at most 16 KiB counting its `\n`.
 */
export function jsonFileEntries(input: Input): number {
  if (input.unterminated) return Math.ceil(input.bytes / MAX_PIECE);
  return input.lines * Math.ceil(input.lineBytes / MAX_PIECE);
}

/**
 * Records our CRI sink writes: a line's content (without `\n`) in records
 * of at most 16 KiB; an unterminated final line gets an empty `F` record at
 * the end of the stream.
 */
export function criEntries(input: Input): number {
  if (input.unterminated) return Math.ceil(input.bytes / CRI_MAX_LINE) + 1;
  return input.lines *
    Math.max(1, Math.ceil((input.lineBytes - 1) / CRI_MAX_LINE));
}

/**
 * Entries goref writes: one per `ReadString('\n')`, so one per line however
 * long.
 */
export function gorefEntries(input: Input): number {
  return input.lines;
}

/**
 * Counts `\n` bytes in a file: entries of a json-file or CRI log.
 *
 * Needs read permission for the file.
 */
export async function countNewlines(path: string): Promise<number> {
  const file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  let count = 0;
  try {
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      const view = buf.subarray(0, n);
      for (
        let i = view.indexOf(0x0a);
        i !== -1;
        i = view.indexOf(0x0a, i + 1)
      ) {
        count++;
      }
    }
  } finally {
    file.close();
  }
  return count;
}

/** Size of a file in bytes, or -1 if it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return -1;
    throw error;
  }
}

/** What the files of a rotated log hold, oldest entry to newest. */
export interface RotatedLog {
  /** Files found, newest first (`NAME`, `NAME.1` or `NAME.1.gz`, …). */
  files: string[];
  /** Entries in all of them. */
  entries: number;
  /** Index of the oldest entry kept (from its first 10 digits). */
  firstIndex: number;
  /** Index of the newest entry. */
  lastIndex: number;
}

async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  const stream = path.endsWith(".gz")
    ? file.readable.pipeThrough(new DecompressionStream("gzip"))
    : file.readable;
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const LOG_PREFIX = new TextEncoder().encode('{"log":"');

function entryIndex(data: Uint8Array, at: number): number {
  for (let i = 0; i < LOG_PREFIX.length; i++) {
    if (data[at + i] !== LOG_PREFIX[i]) return NaN;
  }
  const digits = new TextDecoder().decode(
    data.subarray(at + LOG_PREFIX.length, at + LOG_PREFIX.length + 10),
  );
  return /^\d{10}$/.test(digits) ? Number(digits) : NaN;
}

/**
 * Reads a json-file log rotated as Docker does (`NAME`, `NAME.1`…, or
 * `NAME.1.gz`… with `compress`) and checks it holds a run of consecutive
 * entries of numbered 100-byte lines.
 *
 * Needs read permission for the folder.
 *
 * @param path The current file's path.
 * @param maxFile The `max-file` option.
 * @returns What the files hold.
 * @throws {Error} If files are missing, doubled or unexpected, or the
 * entries are not consecutive.
 */
export async function readRotatedLog(
  path: string,
  maxFile: number,
): Promise<RotatedLog> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const base = path.slice(path.lastIndexOf("/") + 1);
  const names = new Set<string>();
  for await (const entry of Deno.readDir(dir)) names.add(entry.name);
  const files: string[] = [];
  if (!names.delete(base)) throw new Error(`Missing log file "${path}"`);
  names.delete(`${base}.lock`); // the driver's markers
  names.delete(`${base}.followers`);
  files.push(path);
  for (let i = 1; i < maxFile; i++) {
    const plain = names.delete(`${base}.${i}`);
    const gz = names.delete(`${base}.${i}.gz`);
    if (plain && gz) {
      throw new Error(`Both "${base}.${i}" and "${base}.${i}.gz" exist`);
    }
    if (plain) files.push(`${path}.${i}`);
    if (gz) files.push(`${path}.${i}.gz`);
  }
  if (names.size > 0) {
    throw new Error(
      `Unexpected files beside the log: ${[...names].sort().join(", ")}`,
    );
  }
  let entries = 0;
  let firstIndex = NaN;
  let lastIndex = NaN;
  for (const file of [...files].reverse()) {
    const data = await readMaybeGzip(file);
    if (data.length === 0) continue;
    if (data[data.length - 1] !== 0x0a) {
      throw new Error(`Log file "${file}" does not end with a newline`);
    }
    if (Number.isNaN(firstIndex)) firstIndex = entryIndex(data, 0);
    const lastStart = data.lastIndexOf(0x0a, data.length - 2) + 1;
    lastIndex = entryIndex(data, lastStart);
    for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) {
      entries++;
    }
  }
  if (!(lastIndex - firstIndex + 1 === entries)) {
    throw new Error(
      `Rotated log holds ${entries} entries from line ${firstIndex} to line ${lastIndex}: not consecutive`,
    );
  }
  return { files, entries, firstIndex, lastIndex };
}

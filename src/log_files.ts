/**
 * The files of one log: the file being written and its rotated siblings, in
 * Docker's scheme (`NAME.1`, `NAME.2.gz`, … shifted at each rotation, see
 * `RotatingFile`) or kubelet's (`NAME.20261129-155416[.gz]`, named once, see
 * `KubeletRotatingFile`), opened as one consistent set for a reader, and
 * the files the writer starts later, opened as soon as they appear.
 *
 * The functions here also run in the follower's worker thread, which gets
 * them as source text (see `log_keeper.ts` and {@linkcode WORKER_CODE}):
 * they use nothing but each other, `folderOf` and `namesIn` of `_files.ts`
 * (sent along), the platform and `node:zlib`'s `gunzipSync`
 * ({@linkcode WORKER_IMPORTS}), and no module-level constants.
 *
 * @module
 */

import { folderOf, namesIn } from "./_files.ts";
import { createInflateRaw, gunzipSync } from "node:zlib";
import { listRetiredFiles, retiredPath } from "./log_retired.ts";

export { listRetiredFiles, retiredPath };

/** The imports of this module, for the source of the follower's worker. */
export const WORKER_IMPORTS =
  'import { createInflateRaw, gunzipSync } from "node:zlib";';

/** A file of a log, open for reading. */
export interface OpenLogFile {
  /** The path it had when it was opened (it may have been renamed since). */
  path: string;
  /** The open file; the reader owns it and closes it. */
  file: Deno.FsFile;
  /** Its inode number: the identity of an uncompressed file across renames. */
  ino: number;
  /** Gzip-compressed (`.gz`). */
  compressed: boolean;
}

/** A rotated sibling of a log file, as found in its folder. */
export interface RotatedName {
  /** Its path. */
  path: string;
  /** Gzip-compressed (`.gz`). */
  compressed: boolean;
  /**
   * Where it sorts: Docker's `-N` (so that `NAME.5` comes before `NAME.1`),
   * or kubelet's `YYYYMMDDhhmmss`.
   */
  order: number;
}

/**
 * Lists the rotated siblings of a log file, oldest first: Docker's
 * `NAME.N` and `NAME.N.gz` (the highest `N` is the oldest) and kubelet's
 * `NAME.YYYYMMDD-hhmmss` and `.gz` (by time). When a file exists both
 * compressed and not (a compression that is finishing), only the
 * uncompressed one is listed: both hold the same entries. Files being
 * written by a compression (`.compressing-…`, `.tmp`) are not listed.
 *
 * Each rotated file there when the call begins and still there when it
 * returns is listed, under one of its names, though its compression
 * finishes meanwhile (a rotation meanwhile may rename it: callers check for
 * that). One read of a folder while files change in it is no snapshot:
 * `readdir` may leave out names added or removed during it, so a read
 * during which a compression finishes (`X.gz` made, then `X` unlinked) may
 * show neither name. So the folder is read twice, and what either read
 * shows is listed, `X` and `X.gz` as one file: if `X` was unlinked before
 * the first read ended, `X.gz` was made before the second began, which
 * shows it; if not, `X` was there throughout the first. An uncompressed
 * name listed may be gone by the time it is opened: the file is then at
 * `X.gz`.
 *
 * Needs `--allow-read` for the folder.
 *
 * @param path The log file's path.
 * @returns The rotated files, oldest first; none if the folder is missing.
 * @throws {Deno.errors.PermissionDenied} If the folder cannot be listed.
 */
export function listRotatedFiles(path: string): RotatedName[] {
  const DOCKER_ROTATED = /^\.(\d{1,6})(\.gz)?$/;
  const KUBELET_ROTATED = /^\.(\d{8})-(\d{6})(\.gz)?$/;
  const dir = folderOf(path);
  const base = path.slice(path.lastIndexOf("/") + 1);
  const found = new Map<number, RotatedName>();
  // The first read, then the second (see above).
  for (const name of [...namesIn(dir), ...namesIn(dir)]) {
    if (!name.startsWith(base) || name === base) continue;
    const suffix = name.slice(base.length);
    let order: number;
    let compressed: boolean;
    const docker = DOCKER_ROTATED.exec(suffix);
    if (docker !== null) {
      order = -Number(docker[1]);
      compressed = docker[2] !== undefined;
      if (order === 0) continue;
    } else {
      const kubelet = KUBELET_ROTATED.exec(suffix);
      if (kubelet === null) continue;
      order = Number(kubelet[1] + kubelet[2]);
      compressed = kubelet[3] !== undefined;
    }
    const previous = found.get(order);
    if (previous !== undefined && !previous.compressed) continue;
    found.set(order, { path: `${path}${suffix}`, compressed, order });
  }
  return [...found.values()].sort((a, b) => a.order - b.order);
}

/**
 * Opens a log file and its rotated siblings as one consistent set, oldest
 * first, the file being written last. It mirrors the writers' rotations.
 * Docker's (`RotatingFile`, as moby's `LogFile`) discards `NAME.(max-1)`,
 * shifts each `NAME.i[.gz]` to `NAME.(i+1)[.gz]` from the highest `i`
 * down, renames `NAME` to `NAME.1` and starts a new `NAME`; kubelet's
 * (`KubeletRotatingFile`) renames `NAME` to `NAME.YYYYMMDD-hhmmss` and
 * starts a new one, and names never move after that. The files are opened
 * by name after one listing (see {@linkcode listRotatedFiles}), from the
 * highest number down, so a rotation meanwhile could make the reader open
 * a file twice or miss one. The set is opened again until both hold:
 *
 * - The file being written is the same before and after: each rotation
 *   ends with a new one, so no rotation finished meanwhile.
 * - The Docker-numbered files opened, plain or `.gz`, are exactly `NAME.1`
 *   to `NAME.K`, with no number missing, and once they are open neither
 *   `NAME.(K+1)` nor `NAME.(K+2)`, plain or `.gz`, exists. A rotation caught
 *   half-way through its shifts leaves one number empty, and that empty
 *   number moves down to 1 as the shifts go on. Opened from the top down
 *   with no number found empty, each file is the one its number held
 *   before the shift. A file that was shifted from below into a number
 *   that was still to be opened means the empty number is further down
 *   too, and the reader reaches it. A file that the listing missed, because
 *   its compression finished during one read of the folder and the shift
 *   renamed it during the other, is at `K+1`, or at `K+2` once shifted.
 *   Kubelet's names have gaps by design and never move: this rule ignores
 *   them.
 *
 * A compression that finishes meanwhile changes neither the file being
 * written nor the numbers: the listing misses no file for it, and a file
 * listed uncompressed and compressed since is opened as `.gz`. A gap that
 * stays the same (the same files at the same paths) for 100 ms is no
 * rotation. Either someone deleted files by hand or a writer stopped
 * half-way through, and the files that exist are returned.
 *
 * A missing log file beside rotated files is a writer between the rename
 * of the old file and the new one: the set is opened again for up to a
 * second. Still missing then, the writer was killed there (the next one
 * makes the file again): the rotated files are returned on their own.
 *
 * Needs `--allow-read` for the folder.
 *
 * @param path The log file's path.
 * @param options `attempts`: how many disturbed attempts (a rotation, or a
 *   gap that changed) to make before giving up.
 * @returns The open files, oldest first; the caller closes them.
 * @throws {Deno.errors.NotFound} If the log file does not exist.
 * @throws {Error} If the files keep rotating faster than they can be opened.
 */
export function openLogFiles(
  path: string,
  options: { attempts?: number } = {},
): OpenLogFile[] {
  const attempts = options.attempts ?? 100;
  let missing = 0;
  // The last set seen with a gap in Docker's numbers, and since when.
  let gap: { seen: string; since: number } | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const opened: OpenLogFile[] = [];
    try {
      const current = openLogFile(path, false);
      opened.push(current);
      const rotated: OpenLogFile[] = [];
      const numbers: number[] = []; // Docker's, as opened: highest first
      for (const name of listRotatedFiles(path)) {
        const file = tryOpen(name);
        if (file === undefined) continue; // compressed or deleted meanwhile
        rotated.push(file);
        opened.push(file);
        if (name.order < 0) numbers.push(-name.order);
      }
      // Before the check of the file being written, which ends the window
      // in which at most one rotation is under way (see above).
      const k = numbers.length;
      const whole = numbers.every((n, i) => n === k - i) &&
        !exists(`${path}.${k + 1}`) && !exists(`${path}.${k + 2}`);
      if (sameFile(path, current.ino)) {
        if (whole) return [...rotated, current];
        const seen = opened.map((f) => `${f.ino} ${f.path}`).join("\n");
        const now = performance.now();
        if (gap?.seen !== seen) {
          gap = { seen, since: now }; // changed: counts as an attempt
        } else if (now - gap.since >= 100) {
          return [...rotated, current]; // static: what exists
        } else {
          closeAll(opened);
          sleepSync(1);
          attempt--;
          continue;
        }
      }
    } catch (error) {
      closeAll(opened);
      // Between the rename (or removal) of the old file and the creation of
      // the new one, which a busy writer may take a while to reach: while
      // there are signs of a writer, try again for up to a second.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      if (++missing > 1000) {
        // A writer killed between the two: what it rotated is the log.
        const rotated = openRotatedOnly(path);
        if (rotated.length > 0) return rotated;
        throw error;
      }
      if (!hasWriterTraces(path)) throw error;
      sleepSync(1);
      attempt--;
      continue;
    }
    closeAll(opened);
  }
  throw new Error(
    `Cannot open "${path}" and its rotated files: it keeps rotating`,
  );
}

/**
 * The rotated files of a log whose file is missing, oldest first; none
 * when it has none. No writer is rotating them (see
 * {@linkcode openLogFiles}).
 */
function openRotatedOnly(path: string): OpenLogFile[] {
  const files: OpenLogFile[] = [];
  for (const name of listRotatedFiles(path)) {
    const file = tryOpen(name);
    if (file !== undefined) files.push(file);
  }
  return files;
}

/** Whether a writer has left files beside a missing log file. */
function hasWriterTraces(path: string): boolean {
  return exists(`${path}.lock`) || listRotatedFiles(path).length > 0 ||
    listRetiredFiles(path).length > 0;
}

/** Blocks the thread for `ms` milliseconds (no event loop turn). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Opens one file of a log.
 *
 * @param path Its path.
 * @param compressed Whether it is gzipped.
 * @returns The open file.
 * @throws {Deno.errors.NotFound} If it does not exist.
 */
export function openLogFile(path: string, compressed: boolean): OpenLogFile {
  const file = Deno.openSync(path, { read: true });
  try {
    const info = file.statSync();
    if (info.isDirectory) {
      throw new Deno.errors.IsADirectory(`"${path}" is a directory`);
    }
    return { path, file, ino: info.ino ?? 0, compressed };
  } catch (error) {
    file.close();
    throw error;
  }
}

function tryOpen(name: RotatedName): OpenLogFile | undefined {
  try {
    return openLogFile(name.path, name.compressed);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (!name.compressed) {
        // Compressed since it was listed: the .gz holds the same entries.
        try {
          return openLogFile(`${name.path}.gz`, true);
        } catch (again) {
          if (again instanceof Deno.errors.NotFound) return undefined;
          throw again;
        }
      }
      return undefined;
    }
    throw error;
  }
}

/**
 * Whether `path` is (still) the file with inode `ino`.
 *
 * @param path A path.
 * @param ino An inode number.
 * @returns True if it exists and is that file.
 */
export function sameFile(path: string, ino: number): boolean {
  try {
    return Deno.statSync(path).ino === ino;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Closes files, ignoring those already closed.
 *
 * @param files The files.
 */
export function closeAll(files: Iterable<OpenLogFile>): void {
  for (const f of files) {
    try {
      f.file.close();
    } catch {
      // already closed
    }
  }
}

/** What the header and trailer of a gzip file say. */
export interface GzipFacts {
  /**
   * The `lastTime` of Docker's gzip extra field `{"lastTime":"…"}`: the time
   * of the last entry in the file, as text; absent when the header has none.
   */
  lastTime?: string;
  /** The uncompressed size modulo 2³², from the trailer. */
  size: number;
}

/**
 * Reads the facts of a gzip file without decompressing it: Docker's
 * `lastTime` from the header's extra field and the size from the trailer.
 * The file's position is left where it was.
 *
 * @param file The open file.
 * @returns The facts, or `undefined` when it is not a gzip file.
 */
export function gzipFacts(file: Deno.FsFile): GzipFacts | undefined {
  const position = file.seekSync(0, Deno.SeekMode.Current);
  try {
    const head = new Uint8Array(12 + 256);
    file.seekSync(0, Deno.SeekMode.Start);
    const n = readFully(file, head);
    if (n < 18 || head[0] !== 0x1f || head[1] !== 0x8b) return undefined;
    let lastTime: string | undefined;
    if ((head[3] & 0x04) !== 0) {
      const length = head[10] | (head[11] << 8);
      if (12 + length <= n) {
        try {
          const extra = JSON.parse(
            new TextDecoder().decode(head.subarray(12, 12 + length)),
          );
          if (typeof extra?.lastTime === "string") lastTime = extra.lastTime;
        } catch {
          // not Docker's metadata
        }
      }
    }
    const end = file.seekSync(-4, Deno.SeekMode.End);
    if (end < 14) return undefined;
    const trailer = new Uint8Array(4);
    if (readFully(file, trailer) < 4) return undefined;
    const size = new DataView(trailer.buffer).getUint32(0, true);
    return lastTime === undefined ? { size } : { lastTime, size };
  } finally {
    file.seekSync(position, Deno.SeekMode.Start);
  }
}

/**
 * Reads until `buffer` is full or the file ends.
 *
 * @param file The file.
 * @param buffer Where to read to.
 * @returns How many bytes were read.
 */
export function readFully(file: Deno.FsFile, buffer: Uint8Array): number {
  let n = 0;
  while (n < buffer.length) {
    const got = file.readSync(buffer.subarray(n));
    if (got === null || got === 0) break;
    n += got;
  }
  return n;
}

/**
 * Decompresses gzip bytes as a stream of chunks, so that a large file need
 * not be held decompressed. The bytes go in 64 KiB at a time, so that what
 * comes before damage comes out before the stream errors.
 *
 * @param bytes The compressed bytes.
 * @returns The decompressed chunks.
 */
export function gunzip(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      const end = Math.min(offset + GUNZIP_INPUT_CHUNK, bytes.length);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
    },
  });
  return input.pipeThrough(
    new DecompressionStream("gzip") as unknown as ReadableWritablePair<
      Uint8Array,
      Uint8Array
    >,
  );
}

const GUNZIP_INPUT_CHUNK = 64 * 1024;

/**
 * Decompresses gzip bytes as {@linkcode gunzip} does, and gives as much as
 * can be had of a damaged file: when the platform's decompressor fails (it
 * drops the output of the input chunk where the damage is, and refuses
 * trailing garbage), `node:zlib`'s raw inflate goes on from there over the
 * deflate data after the gzip header (it stops at the end of that data,
 * whatever follows, and gives all it can before a cut). Only the first
 * gzip member is read then (the driver writes one per file).
 *
 * @param bytes The compressed bytes.
 * @param onBroken Told once, at the end, when the bytes were not one whole
 *   gzip stream: how many bytes came out in all, and what was wrong.
 * @returns The decompressed chunks, in order, none twice.
 */
export async function* gunzipRecovering(
  bytes: Uint8Array,
  onBroken: (unzipped: number, error: unknown) => void,
): AsyncGenerator<Uint8Array> {
  let unzipped = 0;
  let failure: unknown;
  try {
    for await (const chunk of gunzip(bytes)) {
      unzipped += chunk.length;
      yield chunk;
    }
    return;
  } catch (error) {
    failure = error;
  }
  const start = deflateStart(bytes);
  if (start !== undefined) {
    // Again from the start of the deflate data, past what was given.
    let skip = unzipped;
    const inflate = createInflateRaw();
    inflate.end(bytes.subarray(start));
    try {
      for await (const part of inflate) {
        let chunk = part as Uint8Array;
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
          if (chunk.length === 0) continue;
        }
        unzipped += chunk.length;
        yield chunk;
      }
      failure = new Error("bytes after the end of its gzip data, ignored");
    } catch (error) {
      failure = error; // says more than the platform's ("unexpected end")
    } finally {
      inflate.destroy();
    }
  }
  onBroken(unzipped, failure);
}

/**
 * Where a gzip member's deflate data begins: after the 10-byte header and
 * the optional extra field, name, comment and header CRC (RFC 1952);
 * `undefined` when the bytes do not start with a gzip header.
 */
function deflateStart(b: Uint8Array): number | undefined {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) {
    return undefined;
  }
  const flags = b[3];
  let i = 10;
  if (flags & 4) i += 2 + (b[i] | (b[i + 1] << 8)); // FEXTRA
  for (const flag of [8, 16]) { // FNAME, FCOMMENT: zero-terminated
    if (flags & flag) {
      while (i < b.length && b[i] !== 0) i++;
      i++;
    }
  }
  if (flags & 2) i += 2; // FHCRC
  return i <= b.length ? i : undefined;
}

/** A file of a log held by a {@linkcode LogFileSet}, by id. */
export interface KeptFile {
  /** Its id in the set; ids grow in the order of the log. */
  id: number;
  /** The path it had when it was opened. */
  path: string;
  /** Gzip-compressed. */
  compressed: boolean;
  /**
   * The files between the one before it and it were rotated away before
   * they could be opened: entries are missing before this file.
   */
  gapBefore: boolean;
}

/**
 * The open files of one log, by id, oldest first: the set opened at the
 * start ({@linkcode LogFileSet.open}), then each file the writer starts,
 * opened as soon as {@linkcode LogFileSet.discover} sees it, so that it can
 * be read later even if it is renamed, compressed or deleted meanwhile.
 *
 * A file that has just been rotated is found among the rotated files by its
 * inode or, once compressed, by its size and first bytes; the files newer
 * than it are opened too. If it is gone (deleted by rotation), files may
 * have been missed: the next file is marked with `gapBefore`.
 *
 * Needs `--allow-read` for the log's folder.
 */
export class LogFileSet {
  /** The log file's path. */
  readonly path: string;
  #files = new Map<number, OpenLogFile>();
  #nextId = 0;
  /** The newest file: the one being written when last looked at. */
  #newest: OpenLogFile | undefined;
  /**
   * Whether the log rotates in kubelet's scheme, once known (see
   * {@linkcode LogFileSet.discover}).
   */
  #kubelet: boolean | undefined;
  /** Since when the log file is missing (`performance.now()`), if it is. */
  #missingSince: number | undefined;

  /**
   * Prepares to hold the files of a log; {@linkcode LogFileSet.open} opens them.
   *
   * @param path The log file's path.
   */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Opens the log's files as a consistent set (see
   * {@linkcode openLogFiles}).
   *
   * @returns The files, oldest first.
   * @throws {Deno.errors.NotFound} If the log file does not exist.
   */
  open(): KeptFile[] {
    const files = openLogFiles(this.path);
    this.#newest = files[files.length - 1];
    return files.map((f) => this.#keep(f, false));
  }

  #keep(file: OpenLogFile, gapBefore: boolean): KeptFile {
    const id = this.#nextId++;
    this.#files.set(id, file);
    return { id, path: file.path, compressed: file.compressed, gapBefore };
  }

  #get(id: number): OpenLogFile {
    const file = this.#files.get(id);
    if (file === undefined) throw new RangeError(`No open log file ${id}`);
    return file;
  }

  /**
   * Reads bytes of a file (compressed bytes for a `.gz`).
   *
   * @param id The file.
   * @param offset Where to start.
   * @param size How many bytes at most.
   * @returns The bytes; fewer at the end of the file.
   */
  read(id: number, offset: number, size: number): Uint8Array {
    const { file } = this.#get(id);
    const out = new Uint8Array(size);
    file.seekSync(offset, Deno.SeekMode.Start);
    return out.subarray(0, readFully(file, out));
  }

  /**
   * The current size of a file.
   *
   * @param id The file.
   * @returns Its size in bytes.
   */
  size(id: number): number {
    return this.#get(id).file.statSync().size;
  }

  /**
   * Closes a file that is no longer needed.
   *
   * @param id The file.
   */
  release(id: number): void {
    const file = this.#files.get(id);
    if (file === undefined) return;
    this.#files.delete(id);
    if (file !== this.#newest) closeAll([file]);
  }

  /** Closes all files. */
  close(): void {
    closeAll(this.#files.values());
    if (this.#newest !== undefined) closeAll([this.#newest]);
    this.#files.clear();
    this.#newest = undefined;
  }

  /**
   * Looks for files the writer started since the last look, and opens them.
   * Synchronous and quick when nothing changed (one `stat`), so that it
   * can run every millisecond.
   *
   * @param final The writer is gone (its lock released): a missing log
   *   file is not coming back (a writer killed between renaming its full
   *   file and making the next), and the rotated files newer than the last
   *   one found are taken at once. Without it they are taken once the log
   *   file has been missing for a second (a writer stuck there).
   * @returns The new files, oldest first; none most of the time.
   */
  discover(final = false): KeptFile[] {
    const last = this.#newest;
    if (last === undefined) return [];
    if (this.#files.size >= 4096) return []; // too far behind to keep up
    try {
      const ino = Deno.statSync(this.path).ino;
      this.#missingSince = undefined;
      if (ino === last.ino) return [];
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      const now = performance.now();
      this.#missingSince ??= now;
      if (final || now - this.#missingSince >= 1000) {
        return this.#rotatedAfter(last);
      }
      return [];
    }
    const found = this.#isKubelet(last)
      ? this.#kubeletFilesAfter(last)
      : this.#dockerFilesAfter(last);
    if (found === undefined) return [];
    if (!this.#isKept(last)) closeAll([last]);
    this.#newest = found.files[found.files.length - 1];
    return found.files.map((f) => this.#keep(f, found.gaps.has(f)));
  }

  /**
   * Whether the log rotates in kubelet's scheme (stamped names) rather than
   * Docker's (numbers). Known for good from the content of the file being
   * written, as the writers tie scheme to format: a CRI line begins with
   * its time (`2026-11-30T`), a json-file entry with `{`. Before there is
   * content, from kubelet's names in a listing, known for good once seen: a
   * folder full of retired files read while they change is no snapshot and
   * may show none, and Docker's walk would pass kubelet's files by.
   */
  #isKubelet(last: OpenLogFile): boolean {
    if (this.#kubelet !== undefined) return this.#kubelet;
    const head = last.compressed
      ? ""
      : String.fromCharCode(...readHead(last.file, 11));
    if (head.startsWith("{")) return this.#kubelet = false;
    if (/^\d{4}-\d\d-\d\dT$/.test(head)) return this.#kubelet = true;
    if (listRotatedFiles(this.path).some((r) => r.order > 0)) {
      return this.#kubelet = true;
    }
    return false;
  }

  /**
   * The rotated files newer than `last`, when the writer is gone and left
   * no log file: nothing moves them any more, so one listing holds.
   */
  #rotatedAfter(last: OpenLogFile): KeptFile[] {
    const rotated = openRotatedOnly(this.path);
    const at = rotated.findIndex((f) => isSameFile(f, last));
    closeAll(rotated.slice(0, at + 1));
    const newer = at === -1 ? [] : rotated.slice(at + 1);
    if (at === -1) closeAll(rotated);
    if (newer.length === 0) return [];
    if (!this.#isKept(last)) closeAll([last]);
    this.#newest = newer[newer.length - 1];
    return newer.map((f) => this.#keep(f, false));
  }

  #isKept(file: OpenLogFile): boolean {
    for (const f of this.#files.values()) if (f === file) return true;
    return false;
  }

  /**
   * Docker's scheme, where each rotation shifts `NAME.N` to `NAME.N+1`: the
   * files newer than `last`, oldest first, the file being written last.
   * They are found by walking up from `NAME.1` until `last` (by inode, or
   * by size and first bytes once compressed). A walk is trusted only if
   * `NAME` did not change during it (else a file could be seen out of
   * order); the files a disturbed walk opened are kept, so none can be
   * deleted before it is read, and matched again by the next walk. When
   * `last` has been rotated away, the files the writer retired instead of
   * deleting them ({@linkcode retiredPath}) come first (see
   * {@linkcode retiredAfter}); `gaps` holds the files before which files may
   * have been missed.
   */
  #dockerFilesAfter(last: OpenLogFile): FilesAfter | undefined {
    const pool: OpenLogFile[] = [];
    // Each walk's view, newest first: valid up to where it was disturbed.
    const chains: OpenLogFile[][] = [];
    const matchPool = (candidate: OpenLogFile) => {
      for (const p of pool) {
        if (isSameFile(candidate, p)) {
          closeAll([candidate]);
          return p;
        }
      }
      pool.push(candidate);
      return candidate;
    };
    let walk: { rotated: number; lastFound: boolean } | undefined;
    let fresh: OpenLogFile | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      let opened: OpenLogFile;
      try {
        opened = openLogFile(this.path, false);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue; // mid-rotation
        throw error;
      }
      if (opened.ino === last.ino) {
        closeAll([opened]);
        break;
      }
      fresh = matchPool(opened);
      const chain = [fresh];
      chains.push(chain);
      let disturbed = false;
      let lastFound = false;
      for (let k = 1; k < 10_000; k++) {
        const candidate = tryOpen({
          path: `${this.path}.${k}`,
          compressed: false,
          order: -k,
        });
        if (!sameFile(this.path, fresh.ino)) {
          if (candidate !== undefined) closeAll([candidate]);
          disturbed = true;
          break;
        }
        if (candidate === undefined) {
          // The end, unless a shift is under way: Docker renames from the
          // top down before it renames NAME, leaving a hole for a moment,
          // with the number above it filled until NAME is renamed. So NAME
          // is looked at again after that number: if this rotation ended
          // meanwhile, the next one's shift may have emptied it too, and
          // the files above would be neither walked nor retired.
          if (
            exists(`${this.path}.${k + 1}`) ||
            !sameFile(this.path, fresh.ino)
          ) disturbed = true;
          break;
        }
        if (isSameFile(candidate, last)) {
          closeAll([candidate]);
          lastFound = true;
          break;
        }
        const file = matchPool(candidate);
        if (!chain.includes(file)) chain.push(file);
      }
      walk = disturbed ? undefined : { rotated: chain.length - 1, lastFound };
      if (!disturbed) break;
    }
    if (walk === undefined || fresh === undefined) {
      // Rotating too fast to get a clear view: look again later.
      closeAll(pool);
      return undefined;
    }
    const files = oldestFirst(pool, chains);
    if (walk.lastFound) return { files, gaps: new Set() };
    // `last` was rotated away: the files the writer retired since come
    // before the files seen here.
    // Files only earlier, disturbed walks saw may have been rotated away
    // and deleted since.
    const current = new Set(chains[chains.length - 1]);
    const stale = new Set(files.filter((f) => !current.has(f)));
    return withRetired(this.path, last, files, walk.rotated > 0, stale);
  }

  /**
   * Kubelet's scheme, where a rotated file keeps its name: the rotated
   * files newer than `last` and the file being written, oldest first; when
   * `last` has been rotated away, the retired files after it too.
   */
  #kubeletFilesAfter(last: OpenLogFile): FilesAfter | undefined {
    let fresh: OpenLogFile;
    try {
      fresh = openLogFile(this.path, false);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    // Names do not move, but rotations may go on while the folder is
    // listed: files newer than `fresh` may be listed, after its new name.
    // Compressions finishing meanwhile hide no file (see listRotatedFiles).
    const rotated = listRotatedFiles(this.path);
    const freshIsCurrent = sameFile(this.path, fresh.ino);
    let found = -1;
    for (let i = rotated.length - 1; i >= 0; i--) {
      const candidate = tryOpen(rotated[i]);
      if (candidate === undefined) continue;
      const same = isSameFile(candidate, last);
      closeAll([candidate]);
      if (same) {
        found = i;
        break;
      }
    }
    const files: OpenLogFile[] = [];
    let freshSeen = false;
    let vanished = false;
    for (const name of rotated.slice(found + 1)) {
      const opened = tryOpen(name);
      if (opened === undefined) {
        // Rotated away (retired) since it was listed, and `last` with it
        // (the oldest go first): it is among the retired files, which are
        // merged in below. Giving up here instead would never end while the
        // writer rotates faster than the folder can be listed.
        vanished = true;
        continue;
      }
      if (isSameFile(opened, fresh)) {
        // Files listed after it are newer: the next look takes them.
        closeAll([opened]);
        freshSeen = true;
        break;
      }
      files.push(opened);
    }
    if (!freshIsCurrent && !freshSeen) {
      // `fresh` was rotated, and maybe removed, while the folder was
      // listed: the order of what was seen is unknown. If it was retired
      // since, so were all files before it (the oldest go first): the
      // retired files after `last` up to `fresh` are the files wanted, and
      // what is still listed is newer, for the next look. A writer that
      // rotates during every listing would otherwise never be caught up.
      closeAll(files);
      if (retiredIndex(listRetiredFiles(this.path), fresh) === -1) {
        closeAll([fresh]);
        return undefined; // look again later
      }
      return withRetired(this.path, last, [fresh], true);
    }
    files.push(fresh);
    if (found !== -1 && !vanished) return { files, gaps: new Set() };
    if (found !== -1) {
      // A newer file vanished while `last` was listed: `last` must have
      // been retired first; if it is still there, look again later.
      const again = tryOpen(rotated[found]);
      const still = again !== undefined && isSameFile(again, last);
      if (again !== undefined) closeAll([again]);
      if (still) {
        closeAll(files);
        return undefined;
      }
    }
    return withRetired(this.path, last, files, rotated.length > 0);
  }
}

/**
 * Orders the files seen by successive walks, oldest first. Each chain lists
 * what one walk saw, newest first, and is right as far as it goes; a file
 * that no chain places against another was deleted from the old end of the
 * log before a later walk, so the file first seen by an earlier walk is the
 * older.
 */
function oldestFirst(
  files: OpenLogFile[],
  chains: OpenLogFile[][],
): OpenLogFile[] {
  const newer = new Map<OpenLogFile, Set<OpenLogFile>>();
  const firstSeen = new Map<OpenLogFile, [number, number]>();
  chains.forEach((chain, attempt) => {
    chain.forEach((file, k) => {
      if (!firstSeen.has(file)) firstSeen.set(file, [attempt, -k]);
      for (const younger of chain.slice(0, k)) {
        if (!newer.has(file)) newer.set(file, new Set());
        newer.get(file)!.add(younger);
      }
    });
  });
  const isOlder = (a: OpenLogFile, b: OpenLogFile) =>
    newer.get(a)?.has(b) ?? false;
  const left = [...files];
  const out: OpenLogFile[] = [];
  while (left.length > 0) {
    // The files nothing left is known to be older than.
    const ready = left.filter((f) => !left.some((o) => isOlder(o, f)));
    const pick = (ready.length > 0 ? ready : left).reduce((a, b) => {
      const [aa, ak] = firstSeen.get(a) ?? [0, 0];
      const [ba, bk] = firstSeen.get(b) ?? [0, 0];
      return aa < ba || (aa === ba && ak <= bk) ? a : b;
    });
    out.push(pick);
    left.splice(left.indexOf(pick), 1);
  }
  return out;
}

/** Files newer than the last one seen, oldest first, and where gaps are. */
export interface FilesAfter {
  files: OpenLogFile[];
  /** The files before which files may have been missed. */
  gaps: Set<OpenLogFile>;
}

/**
 * Merges the files the writer retired after `last` with `seen` (the files
 * seen among the log's current files, oldest first, the file being written
 * last). Retirement keeps the order of rotation and deletes the oldest
 * first, so the retired files newer than `last` (all of them when `last` is
 * not among them: it was deleted first) are in order, and a file seen
 * earlier may have been retired since: the two orders are merged, and
 * retired files newer than the file being written are left for the next
 * look. A `stale` file (seen only by an earlier look) that is not retired
 * now was deleted since, so it is older than every retired file: it comes
 * first.
 *
 * Gaps: before the first file when `last` was deleted and the writer keeps
 * rotated files (`rotated`, or any retired file; a writer with `max-file=1`
 * that deletes its file leaves no trace, and the new file is then taken to
 * follow the old one), after stale files when `last` was deleted, and
 * wherever a retired file was deleted before it could be opened.
 */
export function withRetired(
  path: string,
  last: OpenLogFile,
  seen: OpenLogFile[],
  rotated: boolean,
  stale: Set<OpenLogFile> = new Set(),
): FilesAfter {
  const retired = listRetiredFiles(path);
  const gaps = new Set<OpenLogFile>();
  const at = retiredIndex(retired, last);
  const found = at !== -1;
  const from = at + 1;
  // Each retired file after `last`, opened, and which seen file it is.
  const after = retired.slice(from).map((name) => {
    const file = tryOpen(name);
    const k = file === undefined
      ? -1
      : seen.findIndex((s) => isSameFile(file, s));
    if (k !== -1) closeAll([file!]);
    return { file, k };
  });
  const matched = new Set(after.map((a) => a.k));
  const deleted = seen.filter((s, k) => stale.has(s) && !matched.has(k));
  let gap = !found && (rotated || retired.length > 0);
  const files: OpenLogFile[] = [];
  const take = (file: OpenLogFile) => {
    if (gap) gaps.add(file);
    gap = false;
    files.push(file);
  };
  for (const file of deleted) take(file);
  if (deleted.length > 0 && !found) gap = true;
  const rest = seen.filter((s) => !deleted.includes(s));
  let next = 0; // the first file of `rest` not taken yet
  for (const [i, { file, k }] of after.entries()) {
    if (file === undefined) {
      gap = true; // deleted before it could be opened
      continue;
    }
    if (k === -1) {
      take(file);
      continue;
    }
    // Seen files before it are older: they were deleted, not retired.
    const r = rest.indexOf(seen[k]);
    while (next <= r) take(rest[next++]);
    if (k === seen.length - 1) {
      // The rest are newer than all seen: left for the next look.
      for (const later of after.slice(i + 1)) {
        if (later.k === -1 && later.file) closeAll([later.file]);
      }
      break;
    }
  }
  while (next < rest.length) take(rest[next++]);
  return { files, gaps };
}

/**
 * Where `file` is among the retired files, looking from the newest; -1 when
 * it is not there.
 */
function retiredIndex(retired: RotatedName[], file: OpenLogFile): number {
  for (let i = retired.length - 1; i >= 0; i--) {
    const candidate = tryOpen(retired[i]);
    if (candidate === undefined) continue;
    const same = isSameFile(candidate, file);
    closeAll([candidate]);
    if (same) return i;
  }
  return -1;
}

/** Whether a path exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    try {
      Deno.statSync(`${path}.gz`);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Whether an open file of a log is `file`: the same inode, or its gzip copy
 * (same size and same first bytes).
 */
function isSameFile(candidate: OpenLogFile, file: OpenLogFile): boolean {
  if (candidate.compressed === file.compressed) {
    return candidate.ino === file.ino;
  }
  const [gz, plain] = candidate.compressed
    ? [candidate, file]
    : [file, candidate];
  try {
    const facts = gzipFacts(gz.file);
    const size = plain.file.statSync().size;
    if (facts === undefined || facts.size !== size % 2 ** 32) return false;
    const head = readHead(plain.file, Math.min(size, 4096));
    const unzipped = gunzipSync(readHead(gz.file, gz.file.statSync().size));
    return equalBytes(head, unzipped.subarray(0, head.length));
  } catch {
    return false;
  }
}

function readHead(file: Deno.FsFile, size: number): Uint8Array {
  const position = file.seekSync(0, Deno.SeekMode.Current);
  try {
    file.seekSync(0, Deno.SeekMode.Start);
    const head = new Uint8Array(size);
    return head.subarray(0, readFully(file, head));
  } finally {
    file.seekSync(position, Deno.SeekMode.Start);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The functions of this module, for the source of the follower's worker
 * (see `log_keeper.ts`). Add any new function here.
 */
export const WORKER_CODE: readonly (
  | ((...args: never[]) => unknown)
  | (abstract new (...args: never[]) => unknown)
)[] = [
  folderOf,
  namesIn,
  listRotatedFiles,
  retiredPath,
  listRetiredFiles,
  withRetired,
  retiredIndex,
  oldestFirst,
  exists,
  hasWriterTraces,
  sleepSync,
  openLogFiles,
  openRotatedOnly,
  openLogFile,
  tryOpen,
  sameFile,
  closeAll,
  gzipFacts,
  readFully,
  gunzip,
  LogFileSet,
  isSameFile,
  readHead,
  equalBytes,
];

/**
 * Gzip of rotated log files in a Worker, so that compression never runs on
 * the thread that reads the container's pipes and writes its log.
 *
 * @module
 */

import { gzipHeader } from "./gzip.ts";

/**
 * The worker's code: the platform's `CompressionStream` (measured faster
 * here than `node:zlib` streams). It is loaded from
 * a `blob:` URL so that it needs no read permission on this source tree (the
 * driver may read only its fds and log folder); it inherits the driver's
 * permissions for the files.
 */
const WORKER_SOURCE = `
// One file at a time: compressions in parallel would only share the same
// core and multiply the buffers held.
let queue = Promise.resolve();
self.onmessage = (event) => {
  queue = queue.then(() => compress(event.data));
};
// FsFile.write(), not FsFile.writable: Deno 2.9's writable stream reports
// success when a write fails with ENOSPC, which would leave an empty .gz in
// place of the rotated file.
async function writeAll(file, bytes) {
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}
async function compress({ id, source, target, header }) {
  let input, output;
  try {
    input = await Deno.open(source, { read: true });
    output = await Deno.open(target, { write: true, createNew: true, mode: 0o640 });
    await writeAll(output, header);
    let skip = 10; // the platform's plain 10-byte header, replaced by ours
    const reader = input.readable.pipeThrough(new CompressionStream("gzip")).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let chunk = value;
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
      }
      if (chunk.length > 0) await writeAll(output, chunk);
    }
    output.close();
    output = undefined;
    self.postMessage({ id });
  } catch (error) {
    try { input?.close(); } catch { /* closed by its stream */ }
    try { output?.close(); } catch { /* closed by its stream */ }
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
}
`;

interface Job {
  resolve: () => void;
  reject: (error: Error) => void;
}

let worker: Worker | undefined;
let workerUrl: string | undefined;
let nextId = 0;
const jobs = new Map<number, Job>();

function startWorker(): Worker {
  workerUrl ??= URL.createObjectURL(
    new Blob([WORKER_SOURCE], { type: "application/javascript" }),
  );
  const started = new Worker(workerUrl, { type: "module" });
  started.onmessage = (event: MessageEvent<{ id: number; error?: string }>) => {
    const job = jobs.get(event.data.id);
    if (job === undefined) return;
    jobs.delete(event.data.id);
    if (event.data.error === undefined) job.resolve();
    else job.reject(new Error(event.data.error));
    stopIfIdle();
  };
  started.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    for (const job of jobs.values()) {
      job.reject(new Error(`Gzip worker failed: ${event.message}`));
    }
    jobs.clear();
    stopIfIdle();
  };
  return started;
}

/**
 * The rejection of a compression stopped by {@linkcode abandonCompressions}:
 * not a failure to report, its file simply stays uncompressed.
 */
export class CompressionAbandoned extends Error {
  constructor() {
    super("Compression abandoned: the driver is stopping");
    this.name = "CompressionAbandoned";
  }
}

/**
 * Stops the compressions running or queued at once: the Worker is
 * terminated and their promises reject with {@linkcode CompressionAbandoned}
 * (each caller deletes its partial output). For a driver that must exit
 * before containerd kills it.
 */
export function abandonCompressions(): void {
  const abandoned = [...jobs.values()];
  jobs.clear();
  worker?.terminate();
  worker = undefined;
  for (const job of abandoned) job.reject(new CompressionAbandoned());
}

function stopIfIdle(): void {
  if (jobs.size === 0 && worker !== undefined) {
    worker.terminate();
    worker = undefined;
  }
}

/**
 * Compresses the file `source` into a new file `target` (mode 0640) as gzip,
 * in a Worker started when needed and stopped when it has nothing left to
 * do. The gzip header carries `extra` when given (Docker puts
 * `{"lastTime":"…"}` there, as moby's `compressFile`); otherwise it is
 * Go's plain header with an empty extra field.
 *
 * Needs read permission on `source` and write permission on `target`.
 *
 * @param source The file to compress; it is not removed.
 * @param target The gzip file to create; must not exist.
 * @param extra The gzip extra field, at most 65,535 bytes.
 * @returns When the file is written and closed.
 * @throws {Error} If reading, compressing or writing fails, with the reason.
 */
export function gzipFileOffThread(
  source: string,
  target: string,
  extra?: Uint8Array,
): Promise<void> {
  const header = extra === undefined
    ? new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff])
    : gzipHeader(extra);
  worker ??= startWorker();
  const id = nextId++;
  return new Promise<void>((resolve, reject) => {
    jobs.set(id, { resolve, reject });
    worker!.postMessage({ id, source, target, header });
  });
}

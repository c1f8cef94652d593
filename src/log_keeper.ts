/**
 * Access to the files of a log for a reader: in the reader's own thread, or,
 * when following, through a worker thread that does nothing but look for the
 * files the writer starts and keep them open ({@linkcode LogFileSet}). A
 * writer at full speed may rotate hundreds of times a second and delete a
 * file after `max-file` rotations; the worker looks about every half
 * millisecond even while the reader is busy decoding (it sleeps in
 * `Atomics.wait`, which wakes on time far more reliably than a timer or a
 * file watcher under load), and once a file is open it cannot be lost.
 *
 * @module
 */

import {
  type KeptFile,
  LogFileSet,
  WORKER_CODE,
  WORKER_IMPORTS,
} from "./log_files.ts";

export type { KeptFile };

/** What a reader can do with the files of a log. */
export interface LogFileAccess {
  /**
   * Opens the log's files as a consistent set.
   *
   * @returns The files, oldest first.
   * @throws {Deno.errors.NotFound} If the log file does not exist.
   */
  open(): Promise<KeptFile[]>;
  /**
   * Reads bytes of a file (compressed bytes for a `.gz`).
   *
   * @returns The bytes; fewer at the end of the file.
   */
  read(id: number, offset: number, size: number): Promise<Uint8Array>;
  /** The current size of a file. */
  size(id: number): Promise<number>;
  /** Closes a file that is no longer needed. */
  release(id: number): void;
  /**
   * The files the writer started since the last call, oldest first; only
   * when following.
   *
   * @param now Look at the folder now, rather than report what the last
   *   look found: the final look, once the writer is gone (see
   *   `LogFileSet.discover`).
   */
  discovered(now?: boolean): Promise<KeptFile[]>;
  /** Waits `ms` milliseconds, or less if new files are found meanwhile. */
  wait(ms: number): Promise<void>;
  /** Closes everything. */
  close(): Promise<void>;
}

/** Access in the reader's thread, with no discovery: for reading once. */
export class LocalFileAccess implements LogFileAccess {
  #set: LogFileSet;
  #discover: boolean;

  /**
   * Prepares access to a log's files from this thread.
   *
   * @param path The log file's path.
   * @param discover Look for new files (slowly: only when asked).
   */
  constructor(path: string, discover = false) {
    this.#set = new LogFileSet(path);
    this.#discover = discover;
  }

  open(): Promise<KeptFile[]> {
    return Promise.resolve(this.#set.open());
  }

  read(id: number, offset: number, size: number): Promise<Uint8Array> {
    return Promise.resolve(this.#set.read(id, offset, size));
  }

  size(id: number): Promise<number> {
    return Promise.resolve(this.#set.size(id));
  }

  release(id: number): void {
    this.#set.release(id);
  }

  discovered(now = false): Promise<KeptFile[]> {
    return Promise.resolve(this.#discover ? this.#set.discover(now) : []);
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  close(): Promise<void> {
    this.#set.close();
    return Promise.resolve();
  }
}

/** Operations of the worker, by code in the shared control block. */
const OP = { read: 1, size: 2, release: 3, discover: 4, close: 5 } as const;

/** A message from the worker. */
export type KeeperMessage =
  | { kind: "done"; seq: number; value: unknown }
  | { kind: "failed"; seq: number; error: { name: string; message: string } }
  | { kind: "files"; files: KeptFile[] }
  | { kind: "broken"; error: { name: string; message: string } };

/**
 * Access through a worker thread that keeps the files open and looks for new
 * ones about every `pollMs` milliseconds. Requests go through a shared
 * control block (the worker never returns to its event loop), answers come
 * back as messages.
 *
 * Needs `--allow-read` for the log's folder (the worker inherits the
 * permissions, and is made from source text, so it needs no permission for
 * this package's files).
 */
export class WorkerFileAccess implements LogFileAccess {
  #path: string;
  #pollMs: number;
  #worker: Worker | undefined;
  #control = new SharedArrayBuffer(64);
  #ints = new Int32Array(this.#control, 0, 4);
  #args = new Float64Array(this.#control, 16, 2);
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  #news: KeptFile[] = [];
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  /**
   * Prepares access through a worker; {@linkcode WorkerFileAccess.open}
   * starts it.
   *
   * @param path The log file's path.
   * @param pollMs How often the worker looks for new files.
   */
  constructor(path: string, pollMs = 0.5) {
    this.#path = path;
    this.#pollMs = pollMs;
  }

  /** Sends one request; requests go one at a time. */
  #call<T>(op: number, id = 0, offset = 0, size = 0): Promise<T> {
    const run = () => {
      if (this.#failure !== undefined) return Promise.reject(this.#failure);
      const seq = ++this.#seq;
      const answer = new Promise<T>((resolve, reject) => {
        this.#pending.set(seq, {
          resolve: resolve as (v: unknown) => void,
          reject,
        });
      });
      this.#ints[1] = op;
      this.#ints[2] = id;
      this.#args[0] = offset;
      this.#args[1] = size;
      Atomics.store(this.#ints, 0, seq);
      Atomics.notify(this.#ints, 0);
      return answer;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #onMessage = (event: MessageEvent<KeeperMessage>) => {
    const message = event.data;
    if (message.kind === "files") {
      this.#news.push(...message.files);
      this.#wake?.();
      return;
    }
    if (message.kind === "broken") {
      this.#fail(toError(message.error));
      return;
    }
    const pending = this.#pending.get(message.seq);
    if (pending === undefined) return;
    this.#pending.delete(message.seq);
    if (message.kind === "done") pending.resolve(message.value);
    else pending.reject(toError(message.error));
  };

  #onError = (event: ErrorEvent) => {
    event.preventDefault();
    this.#fail(new Error(`Log file worker failed: ${event.message}`));
  };

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const p of this.#pending.values()) p.reject(this.#failure);
    this.#pending.clear();
    this.#wake?.();
  }

  open(): Promise<KeptFile[]> {
    // From source text, so that no read permission for this package's
    // files is needed (a worker from a file: URL needs one).
    workerUrl ??= URL.createObjectURL(
      new Blob([workerSource()], { type: "text/javascript" }),
    );
    this.#worker = new Worker(workerUrl, { type: "module" });
    this.#worker.addEventListener("message", this.#onMessage);
    this.#worker.addEventListener("error", this.#onError);
    const seq = 0;
    const answer = new Promise<KeptFile[]>((resolve, reject) => {
      this.#pending.set(seq, {
        resolve: resolve as (v: unknown) => void,
        reject,
      });
    });
    this.#worker.postMessage({
      control: this.#control,
      path: this.#path,
      pollMs: this.#pollMs,
    });
    // A worker that could not open the log has ended: nothing more to ask.
    return answer.catch((error) => {
      this.#fail(error);
      throw error;
    });
  }

  read(id: number, offset: number, size: number): Promise<Uint8Array> {
    return this.#call(OP.read, id, offset, size);
  }

  size(id: number): Promise<number> {
    return this.#call(OP.size, id);
  }

  release(id: number): void {
    this.#call(OP.release, id).catch(() => {});
  }

  async discovered(now = false): Promise<KeptFile[]> {
    // The worker sends what it finds before it answers.
    if (now) await this.#call(OP.discover, 1); // 1: the final look
    if (this.#failure !== undefined) throw this.#failure;
    return this.#news.splice(0);
  }

  wait(ms: number): Promise<void> {
    if (this.#news.length > 0 || this.#failure !== undefined) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    try {
      if (this.#failure === undefined) await this.#call(OP.close);
    } catch {
      // terminating anyway
    } finally {
      worker.terminate();
      this.#fail(new Error("Log file access is closed"));
    }
  }
}

const ERRORS: Record<string, new (message: string) => Error> = {
  NotFound: Deno.errors.NotFound,
  PermissionDenied: Deno.errors.PermissionDenied,
  NotCapable: Deno.errors.NotCapable,
  IsADirectory: Deno.errors.IsADirectory,
  RangeError,
  TypeError,
  SyntaxError,
};

/** Turns an error sent by the worker back into an error of its class. */
function toError(error: { name: string; message: string }): Error {
  const ErrorClass = ERRORS[error.name] ?? Error;
  return new ErrorClass(error.message);
}

let workerUrl: string | undefined;

function workerSource(): string {
  return [
    WORKER_IMPORTS,
    ...WORKER_CODE.map((code) => code.toString()),
    `const OP = ${JSON.stringify(OP)};`,
    `self.onmessage = (event) => (${keeperWorker.toString()})(event.data);`,
  ].join("\n");
}

/**
 * The worker's main loop: opens the log, then sleeps in `Atomics.wait`
 * until a request comes or `pollMs` passes, serves the request, and looks
 * for new files. It runs from source text beside {@linkcode WORKER_CODE},
 * so it uses nothing else (`OP` is defined there too).
 */
function keeperWorker(
  start: { control: SharedArrayBuffer; path: string; pollMs: number },
): void {
  const scope = globalThis as unknown as {
    postMessage(message: KeeperMessage, transfer?: Transferable[]): void;
  };
  const errorOf = (error: unknown) =>
    error instanceof Error
      ? { name: error.name, message: error.message }
      : { name: "Error", message: String(error) };
  const ints = new Int32Array(start.control, 0, 4);
  const args = new Float64Array(start.control, 16, 2);
  const set = new LogFileSet(start.path);
  try {
    scope.postMessage({ kind: "done", seq: 0, value: set.open() });
  } catch (error) {
    scope.postMessage({ kind: "failed", seq: 0, error: errorOf(error) });
    return;
  }
  let seen = 0;
  for (;;) {
    Atomics.wait(ints, 0, seen, start.pollMs);
    const seq = Atomics.load(ints, 0);
    if (seq !== seen) {
      seen = seq;
      const op = ints[1];
      const id = ints[2];
      try {
        if (op === OP.read) {
          const bytes = set.read(id, args[0], args[1]);
          const copy = bytes.length === bytes.buffer.byteLength
            ? bytes
            : bytes.slice();
          scope.postMessage({ kind: "done", seq, value: copy }, [
            copy.buffer as ArrayBuffer,
          ]);
        } else if (op === OP.size) {
          scope.postMessage({ kind: "done", seq, value: set.size(id) });
        } else if (op === OP.release) {
          set.release(id);
          scope.postMessage({ kind: "done", seq, value: undefined });
        } else if (op === OP.discover) {
          const files = set.discover(id === 1);
          if (files.length > 0) scope.postMessage({ kind: "files", files });
          scope.postMessage({ kind: "done", seq, value: undefined });
        } else if (op === OP.close) {
          set.close();
          scope.postMessage({ kind: "done", seq, value: undefined });
          return;
        }
      } catch (error) {
        scope.postMessage({ kind: "failed", seq, error: errorOf(error) });
      }
    }
    try {
      const files = set.discover();
      if (files.length > 0) scope.postMessage({ kind: "files", files });
    } catch (error) {
      scope.postMessage({ kind: "broken", error: errorOf(error) });
      set.close();
      return;
    }
  }
}

/** Runs the real driver.ts as containerd would: fds 3, 4 and 5 on FIFOs. */

import { makeFifos } from "../src/fifo.ts";
import { libcCandidates } from "../src/libc_path.ts";

const DRIVER = new URL("../driver.ts", import.meta.url).pathname;

/** A running driver and the test's ends of its pipes. */
export interface DriverProcess {
  /** The driver (pid of `sh`, which execs Deno). */
  child: Deno.ChildProcess;
  /** Write end of the container's stdout (fd 3). */
  stdout: Deno.FsFile;
  /** The FIFO behind fd 3. */
  stdoutPath: string;
  /** Write end of the container's stderr (fd 4). */
  stderr: Deno.FsFile;
  /** The FIFO behind fd 4. */
  stderrPath: string;
  /**
   * Resolves with the ready byte, or nothing if the driver exited without
   * one (the inherited fd 5 stays open in the driver, so EOF comes only
   * when it exits).
   */
  ready: Promise<Uint8Array>;
  /**
   * Waits for the exit; resolves with the status, the driver's stderr, and
   * its stdout when `options.stdout` was true ("" otherwise).
   */
  finish(): Promise<
    { code: number; stderr: string; stdout: string; ready: Uint8Array }
  >;
}

/** Options of {@linkcode driverArgv}. */
export interface DriverArgvOptions {
  /** Grant the C library (the default) or not. */
  ffi?: boolean;
  /** Passed as `--v8-flags`. */
  v8Flags?: string;
  /** Variables granted besides CONTAINER_ID and CONTAINER_NAMESPACE. */
  env?: string[];
}

/**
 * The command line of driver.ts with the narrow permissions of the README,
 * the Deno executable first, then `args`.
 */
export function driverArgv(
  dir: string,
  args: string[],
  options: DriverArgvOptions = {},
): string[] {
  const libc = options.ffi === false ? [] : libcCandidates();
  return [
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--no-config",
    `--allow-read=/dev/fd/3,/dev/fd/4,${dir}`,
    `--allow-write=/dev/fd/5,${dir}`,
    `--allow-env=${
      ["CONTAINER_ID", "CONTAINER_NAMESPACE", ...options.env ?? []].join(",")
    }`,
    ...(libc.length > 0 ? [`--allow-ffi=${libc.join(",")}`] : []),
    ...(options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : []),
    DRIVER,
    ...args,
  ];
}

/**
 * The driver's environment: the container's ids, and Deno's cache folders.
 */
export function driverEnv(
  ids: { id: string; namespace: string } = { id: "c1", namespace: "default" },
): Record<string, string> {
  return {
    CONTAINER_ID: ids.id,
    CONTAINER_NAMESPACE: ids.namespace,
    ...(Deno.env.get("HOME") ? { HOME: Deno.env.get("HOME")! } : {}),
    ...(Deno.env.get("DENO_DIR")
      ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
      : {}),
  };
}

/**
 * Starts driver.ts with the narrow permissions of the README: read on
 * /dev/fd/3 and /dev/fd/4 and `dir`, write on /dev/fd/5 and `dir`, env
 * CONTAINER_ID and CONTAINER_NAMESPACE only, FFI for the C library unless
 * `options.ffi` is false (then it reads through Deno's async reads);
 * `options.v8Flags` are passed as `--v8-flags`; with `options.stdout` the
 * driver's stdout (where V8's traces go) is kept.
 */
export async function startDriver(
  dir: string,
  args: string[],
  ids: { id: string; namespace: string } = { id: "c1", namespace: "default" },
  options: { ffi?: boolean; v8Flags?: string; stdout?: boolean } = {},
): Promise<DriverProcess> {
  const fifos = await Deno.makeTempDir();
  const [out, err, readyPath] = ["out", "err", "ready"].map((n) =>
    `${fifos}/${n}`
  );
  await makeFifos([out, err, readyPath]);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'o=$1 e=$2 r=$3; shift 3; exec "$@" 3<"$o" 4<"$e" 5>"$r"',
      "sh",
      out,
      err,
      readyPath,
      ...driverArgv(dir, args, options),
    ],
    clearEnv: true,
    env: driverEnv(ids),
    stdin: "null",
    stdout: options.stdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  const readyFile = Deno.open(readyPath, { read: true });
  const ready = readyFile.then(async (f) => {
    try {
      const byte = new Uint8Array(1);
      const n = await f.read(byte);
      return byte.subarray(0, n ?? 0);
    } finally {
      f.close();
    }
  });
  const [stdout, stderr] = await Promise.all([
    Deno.open(out, { write: true }),
    Deno.open(err, { write: true }),
  ]);
  const errText = new Response(child.stderr).text();
  const outText = options.stdout
    ? new Response(child.stdout).text()
    : Promise.resolve("");
  return {
    child,
    stdout,
    stdoutPath: out,
    stderr,
    stderrPath: err,
    ready,
    async finish() {
      // As a shim does: hold the write ends until the driver is ready or has
      // exited, so it never meets a FIFO without a writer.
      const readyBytes = await ready;
      for (const f of [stdout, stderr]) {
        try {
          f.close();
        } catch { /* closed by the test */ }
      }
      const status = await child.status;
      const text = await errText;
      const out = await outText;
      await Deno.remove(fifos, { recursive: true });
      return {
        code: status.code,
        stderr: text,
        stdout: out,
        ready: readyBytes,
      };
    },
  };
}

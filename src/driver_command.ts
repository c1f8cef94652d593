/**
 * How `driver.ts` is run: the Deno flags shared by the containerd wrapper
 * (`scripts/install_driver.ts`), the shim and the benchmark, so that all
 * three run the driver alike.
 *
 * @module
 */

import { libcCandidates } from "./libc_path.ts";

/**
 * The variable in which a shim gives its driver its own pid: the driver's
 * parent, which may die while Deno starts, before the driver could read its
 * parent's pid itself (see `runLoggingDriver`). containerd sets no such
 * variable.
 */
export const PARENT_PID_ENV = "SHIMLOG_PARENT_PID";

/** Options of {@linkcode driverRunArgs}. */
export interface DriverRunOptions {
  /**
   * Grant reading {@linkcode PARENT_PID_ENV} as well, for a shim that sets
   * it.
   * @default {false}
   */
  parentPid?: boolean;
  /**
   * Grant `--allow-ffi` for the C library (fast pipe reads). Without it the
   * driver keeps Deno's sandbox whole and reads through Deno's async I/O.
   * @default {true}
   */
  ffi?: boolean;
}

/**
 * The `deno` arguments that run `driver.ts` with the narrowest permissions:
 * read fd 3 and fd 4 (pipes or FIFOs) and the log folders, write fd 5 and
 * the log folders, read `CONTAINER_ID` and `CONTAINER_NAMESPACE`; call the
 * C library at its usual paths (`--allow-ffi=…libc.so.6,…`, see
 * {@linkcode libcCandidates}) unless `ffi` is false: the driver then reads
 * its pipes without a thread hand-off per read, 1.2 to 1.8 times as fast
 * on lines of 1 to 64 KiB, but FFI lets it do anything the C library can, so this
 * weakens Deno's sandbox to that of a native driver; no prompt, no config
 * file (the driver imports nothing through one). V8's
 * young generation is capped at 1 MiB per semi-space: the copy loop makes
 * little garbage, and this keeps about 10 MB off each busy driver's peak
 * RSS (a node runs one driver per container) at no measured cost in speed.
 * V8's `gc` is exposed (`--expose-gc`) so that the driver can promote what
 * start-up left in the young generation before it signals ready (see
 * `promoteStartupHeap` in `heap.ts`).
 *
 * @param driverPath The path of `driver.ts`.
 * @param dirs The folders the driver writes its logs in.
 * @param options Whether to grant the C library.
 * @returns The arguments after the Deno executable, ending with the path;
 *   the driver's own `key value` arguments come after them.
 *
 * @example Usage
 * ```ts
 * import { driverRunArgs } from "./driver_command.ts";
 * import assert from "node:assert/strict";
 * const args = driverRunArgs("/opt/shimlog/driver.ts", ["/var/log/c"]);
 * assert.equal(args[0], "run");
 * assert.ok(args.includes("--allow-write=/dev/fd/5,/var/log/c"));
 * assert.equal(args.at(-1), "/opt/shimlog/driver.ts");
 * ```
 */
export function driverRunArgs(
  driverPath: string,
  dirs: readonly string[],
  options: DriverRunOptions = {},
): string[] {
  const libc = options.ffi === false ? [] : libcCandidates();
  const ffi = libc.length > 0 ? [`--allow-ffi=${libc.join(",")}`] : [];
  return [
    "run",
    "--no-prompt",
    "--no-config",
    "--v8-flags=--max-semi-space-size=1,--expose-gc",
    `--allow-read=${["/dev/fd/3", "/dev/fd/4", ...dirs].join(",")}`,
    `--allow-write=${["/dev/fd/5", ...dirs].join(",")}`,
    `--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE${
      options.parentPid ? `,${PARENT_PID_ENV}` : ""
    }`,
    ...ffi,
    driverPath,
  ];
}

/**
 * The folders, each followed by the folder it really is when a symbolic
 * link leads there: Deno checks a permission on where a path leads, so a
 * driver granted only `/var/lib/shimlog`, a link to `/data/shimlog`, could
 * open none of its files. A folder that does not exist yet is resolved
 * through its nearest existing parent; one that cannot be read is kept as
 * given.
 *
 * Needs `--allow-read` for the folders (without it, they are kept as given).
 *
 * @param dirs Absolute paths of folders.
 * @returns The folders and their real paths, each once, in that order.
 *
 * @example Usage
 * ```ts
 * import { withRealPaths } from "./driver_command.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/real`);
 * await Deno.symlink(`${dir}/real`, `${dir}/link`);
 * const real = await Deno.realPath(`${dir}/real`);
 * assert.deepEqual(withRealPaths([`${dir}/link/logs`]), [
 *   `${dir}/link/logs`,
 *   `${real}/logs`,
 * ]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function withRealPaths(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    for (const path of [dir, realPathOf(dir)]) {
      if (!out.includes(path)) out.push(path);
    }
  }
  return out;
}

function realPathOf(path: string): string {
  let head = path;
  let tail = "";
  for (;;) {
    try {
      return Deno.realPathSync(head) + tail;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) return path;
      const slash = head.lastIndexOf("/");
      if (slash <= 0) return path;
      tail = head.slice(slash) + tail;
      head = head.slice(0, slash);
    }
  }
}

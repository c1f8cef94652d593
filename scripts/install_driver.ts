/**
 * Writes an executable `sh` wrapper that runs `driver.ts` as a containerd
 * binary logging driver, for use as `binary://OUT_PATH?key=value&...`.
 *
 * containerd starts a logging binary with only `CONTAINER_ID` and
 * `CONTAINER_NAMESPACE` in its environment: no `PATH`, no `HOME`. The wrapper
 * therefore names Deno and `driver.ts` by absolute path, points `DENO_DIR` at
 * the installing user's Deno cache, and passes the driver's exact permissions.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env=DENO_DIR,XDG_CACHE_HOME,HOME \
 *   scripts/install_driver.ts /usr/local/bin/shimlog-driver \
 *   --allow-dir /var/lib/shimlog
 * ctr run --log-uri "binary:///usr/local/bin/shimlog-driver?data-root=/var/lib/shimlog" ...
 * ```
 *
 * The wrapper runs the Deno running this script (`Deno.execPath()`); under
 * `npx` that one lives in npm's cache, so pass `--deno PATH` for a lasting
 * install. containerd 1.6 discards the driver's stderr: to see why it
 * refuses a configuration, run the wrapper by hand with the same `key value`
 * arguments and `CONTAINER_ID`/`CONTAINER_NAMESPACE` set.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { driverRunArgs, withRealPaths } from "../src/driver_command.ts";

/** The directory the driver may use when no `--allow-dir` is given. */
export const DEFAULT_ALLOW_DIR = "/var/lib/shimlog";

/** Options for {@linkcode wrapperScript}. */
export interface WrapperScriptOptions {
  /** Absolute path of the Deno executable. */
  denoPath: string;
  /** Absolute path of `driver.ts`. */
  driverPath: string;
  /**
   * Absolute directories the driver may read and write (its data root, its
   * log paths).
   *
   * @default {["/var/lib/shimlog"]}
   */
  dirs?: readonly string[];
  /**
   * Absolute path of the Deno cache to use (`DENO_DIR`), so that the driver
   * runs from the installing user's cache. Left unset when omitted: Deno then
   * uses the cache of the user containerd runs the driver as.
   */
  denoDir?: string;
  /**
   * Grant `--allow-ffi` for the C library, for fast pipe reads (see
   * `driverRunArgs`); false keeps Deno's sandbox whole.
   *
   * @default {true}
   */
  ffi?: boolean;
}

/**
 * Quotes a string as one `sh` word: single quotes, with each `'` written as
 * `'\''`.
 *
 * @param value The string to quote.
 * @returns The quoted word.
 */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function checkPath(what: string, path: string): void {
  if (!isAbsolute(path)) {
    throw new RangeError(`Cannot use ${what} "${path}": not an absolute path`);
  }
  if (path.includes("\0")) {
    throw new RangeError(`Cannot use ${what} "${path}": contains a NUL byte`);
  }
}

/**
 * Builds the text of the wrapper script: a `#!/bin/sh` script that sets what
 * Deno needs and `exec`s Deno (so that containerd's signals reach it
 * directly) on `driver.ts` with the exact permission flags
 * `run --no-prompt --no-config --allow-read=/dev/fd/3,/dev/fd/4,DIRS
 * --allow-write=/dev/fd/5,DIRS --allow-env=CONTAINER_ID,CONTAINER_NAMESPACE`
 * (and `--allow-ffi` for the C library, unless `ffi` is false), followed by
 * containerd's arguments (`key value` pairs).
 *
 * @param options The paths to write into the script.
 * @returns The script text.
 * @throws {RangeError} If a path is not absolute or contains a NUL byte, if a
 * directory contains a comma (Deno's permission lists are comma-separated),
 * or if `dirs` is empty.
 *
 * @example Build a wrapper
 * ```ts
 * import assert from "node:assert/strict";
 * import { wrapperScript } from "./install_driver.ts";
 *
 * const text = wrapperScript({
 *   denoPath: "/usr/bin/deno",
 *   driverPath: "/opt/shimlog/driver.ts",
 *   dirs: ["/var/lib/shimlog"],
 * });
 * assert.ok(text.startsWith("#!/bin/sh\n"));
 * assert.ok(text.includes("exec '/usr/bin/deno' 'run' '--no-prompt'"));
 * ```
 */
export function wrapperScript(options: WrapperScriptOptions): string {
  const dirs = options.dirs ?? [DEFAULT_ALLOW_DIR];
  if (dirs.length === 0) {
    throw new RangeError("Cannot build a wrapper without a directory to allow");
  }
  checkPath("Deno path", options.denoPath);
  checkPath("driver path", options.driverPath);
  for (const dir of dirs) {
    checkPath("directory", dir);
    if (dir.includes(",")) {
      throw new RangeError(`Cannot use directory "${dir}": contains a comma`);
    }
  }
  const lines = [
    "#!/bin/sh",
    "# shimlog: containerd binary logging driver. Written by scripts/install_driver.ts;",
    "# use as binary://THIS_FILE?key=value&... (containerd passes argv `key value ...`",
    "# and only CONTAINER_ID and CONTAINER_NAMESPACE in the environment).",
  ];
  if (options.denoDir !== undefined) {
    checkPath("Deno cache directory", options.denoDir);
    lines.push(`DENO_DIR=${shellQuote(options.denoDir)}`, "export DENO_DIR");
  }
  lines.push(
    "DENO_NO_UPDATE_CHECK=1",
    "export DENO_NO_UPDATE_CHECK",
    [
      "exec",
      shellQuote(options.denoPath),
      ...driverRunArgs(options.driverPath, dirs, { ffi: options.ffi })
        .map(shellQuote),
      '"$@"',
    ].join(" "),
  );
  return lines.join("\n") + "\n";
}

/** Options for {@linkcode installDriver}. */
export interface InstallDriverOptions {
  /**
   * Directories the driver may read and write; relative ones are resolved
   * against the current directory.
   *
   * @default {["/var/lib/shimlog"]}
   */
  dirs?: readonly string[];
  /** The Deno cache directory (`DENO_DIR`) for the wrapper to use. */
  denoDir?: string;
  /** As {@linkcode WrapperScriptOptions.ffi}. @default {true} */
  ffi?: boolean;
  /**
   * The Deno executable to run.
   *
   * @default {Deno.execPath()}
   */
  denoPath?: string;
  /**
   * The driver to run.
   *
   * @default {"driver.ts" next to this script's folder}
   */
  driverPath?: string;
}

/** The absolute path of `driver.ts` in this checkout. */
export function defaultDriverPath(): string {
  return fileURLToPath(new URL("../driver.ts", import.meta.url));
}

/**
 * Writes the wrapper script built by {@linkcode wrapperScript} to `outPath`
 * with mode 0755, replacing any file there atomically (written beside it,
 * then renamed), so a containerd starting the driver meanwhile never runs a
 * half-written script.
 *
 * Requires read permission (for `Deno.execPath()` and the current
 * directory) and write permission for the folder of `outPath`.
 *
 * @param outPath Where to write the wrapper; relative paths are resolved
 * against the current directory.
 * @param options Paths to put in the wrapper.
 * @returns The absolute path of the wrapper.
 * @throws {RangeError} As {@linkcode wrapperScript}.
 * @throws {Deno.errors.NotFound} If Deno or the driver is not there.
 * @throws {Error} If the wrapper cannot be written.
 */
export async function installDriver(
  outPath: string,
  options: InstallDriverOptions = {},
): Promise<string> {
  const out = resolve(outPath);
  const denoPath = options.denoPath ?? Deno.execPath();
  const driverPath = options.driverPath ?? defaultDriverPath();
  // containerd 1.6 discards a logger's stderr: catch what we can now.
  for (const [what, path] of [["Deno", denoPath], ["the driver", driverPath]]) {
    try {
      if (!(await Deno.stat(path)).isFile) throw new Deno.errors.NotFound();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Deno.errors.NotFound(`Cannot find ${what} at "${path}"`);
    }
  }
  const text = wrapperScript({
    denoPath,
    driverPath,
    // Both the folders as given and where links among them lead.
    dirs: withRealPaths(
      (options.dirs ?? [DEFAULT_ALLOW_DIR]).map((dir) => resolve(dir)),
    ),
    denoDir: options.denoDir === undefined
      ? undefined
      : resolve(options.denoDir),
    ffi: options.ffi,
  });
  const temp = `${dirname(out)}/.${basename(out)}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o755, createNew: true });
    await Deno.chmod(temp, 0o755); // the umask may have removed bits
    await Deno.rename(temp, out);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(`Cannot write "${out}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  return out;
}

/** Reads an environment variable if allowed to, without prompting. */
function envIfAllowed(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) || undefined : undefined;
}

/**
 * Where this Deno keeps its cache, as Deno computes it: `DENO_DIR`, else the
 * platform's cache folder. `undefined` without permission to read the
 * environment.
 */
function denoCacheDir(): string | undefined {
  const denoDir = envIfAllowed("DENO_DIR");
  if (denoDir !== undefined) return resolve(denoDir);
  const home = envIfAllowed("HOME");
  if (Deno.build.os === "darwin") {
    return home === undefined ? undefined : `${home}/Library/Caches/deno`;
  }
  const cache = envIfAllowed("XDG_CACHE_HOME");
  if (cache !== undefined && isAbsolute(cache)) return `${cache}/deno`;
  return home === undefined ? undefined : `${home}/.cache/deno`;
}

const SHORT_USAGE =
  `Usage: deno run --allow-read --allow-write [--allow-env=DENO_DIR,XDG_CACHE_HOME,HOME] \\
  scripts/install_driver.ts OUT_PATH [--allow-dir DIR]... [--deno-dir DIR] [--deno PATH] [--no-ffi]`;

const USAGE = `${SHORT_USAGE}

Writes an executable sh wrapper at OUT_PATH that runs driver.ts, for use as
containerd's --log-uri "binary://OUT_PATH?key=value&...".

  --allow-dir DIR  a directory the driver may read and write (repeatable;
                   default ${DEFAULT_ALLOW_DIR})
  --deno-dir DIR   the Deno cache for the driver (default: this user's, read
                   from DENO_DIR, XDG_CACHE_HOME or HOME when allowed)
  --deno PATH      the Deno executable (default: the one running this
                   script; under npx it lives in npm's cache, so pass a
                   stable one for a lasting install)
  --no-ffi         no --allow-ffi for the C library: Deno's sandbox stays
                   whole, and the driver reads its pipes through Deno's
                   async reads (slower on large lines)
  -h, --help       show this help`;

async function main(args: string[]): Promise<void> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        "allow-dir": { type: "string", multiple: true },
        "deno-dir": { type: "string" },
        deno: { type: "string" },
        "no-ffi": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    }));
    if (values.help) {
      console.log(USAGE);
      return;
    }
    for (const option of ["allow-dir", "deno-dir", "deno"] as const) {
      const given = values[option];
      for (const value of Array.isArray(given) ? given : [given]) {
        if (value === "") {
          throw new TypeError(
            `Invalid --${option} "": give a path (an empty one would mean the current folder)`,
          );
        }
      }
    }
    if (positionals.length === 1 && positionals[0] === "") {
      throw new TypeError(
        'Invalid OUT_PATH "": give the path of the wrapper to write',
      );
    }
    if (positionals.length !== 1) {
      throw new TypeError(
        positionals.length === 0
          ? "Missing OUT_PATH"
          : `Expected one OUT_PATH, got ${positionals.length}: ${
            positionals.map((p) => `"${p}"`).join(", ")
          }`,
      );
    }
  } catch (error) {
    console.error(
      `install_driver: ${(error as Error).message}\n${SHORT_USAGE}\n` +
        "(--help for details)",
    );
    Deno.exit(2);
  }
  const denoDir = values["deno-dir"] ?? denoCacheDir();
  try {
    const out = await installDriver(positionals[0], {
      dirs: values["allow-dir"],
      denoDir,
      denoPath: values.deno === undefined ? undefined : resolve(values.deno),
      ffi: !values["no-ffi"],
    });
    const dirs = (values["allow-dir"] ?? [DEFAULT_ALLOW_DIR]).map((dir) =>
      resolve(dir)
    );
    console.log(`Wrote ${out}`);
    console.log(
      `Use it as: --log-uri "binary://${out}?data-root=${
        dirs[0]
      }&max-size=10m&max-file=3"`,
    );
    if (denoDir === undefined) {
      console.error(
        "install_driver: note: the wrapper sets no DENO_DIR (no permission to read " +
          "DENO_DIR, XDG_CACHE_HOME or HOME, and no --deno-dir): Deno will use the " +
          "cache of the user that runs it",
      );
    }
  } catch (error) {
    console.error(`install_driver: ${(error as Error).message}`);
    Deno.exit(error instanceof RangeError ? 2 : 1);
  }
}

if (import.meta.main) await main(Deno.args);

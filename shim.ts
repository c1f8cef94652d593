/**
 * Runs an app through the shimlog log driver, as `nerdctl run` runs a
 * container with a logging driver: the app's stdout and stderr go straight
 * to `driver.ts` (fds 3 and 4, containerd's `binary://` protocol), which
 * writes a Docker-compatible json-file log.
 *
 * ```sh
 * deno run --allow-run --allow-read --allow-write --allow-env shim.ts \
 *   --name web --log-opt max-size=10m --log-opt max-file=3 -- ls -l /
 * ```
 *
 * With `-t` the app runs on a new pseudo-terminal and its output is logged
 * as `stdout` with the terminal's `\r\n`; `-it` also types the shim's stdin
 * into it and shows the output (on a terminal: raw mode, every key passed
 * on, Ctrl-C included, and the window size followed):
 *
 * ```sh
 * deno run --allow-run --allow-read --allow-write --allow-env --allow-ffi \
 *   shim.ts --name box -it -- sh
 * ```
 *
 * With no command it runs the example app (`app.ts`). The shim exits with
 * the app's exit code (128+n if a signal n killed it), 125 if the shim or
 * the driver failed, 126/127 if the command cannot run or is not found, and
 * 2 for bad options. See {@linkcode runShim} for the steps and
 * {@linkcode parseShimArgs} for the options.
 *
 * Permissions: `--allow-run` (it runs arbitrary commands, through
 * `/bin/sh`), `--allow-read` (PATH lookup), `--allow-write` (data root,
 * temporary FIFOs) and `--allow-env` (the app inherits the environment);
 * with `-t` also `--allow-ffi` (the pseudo-terminal comes from the C
 * library; Linux only, and util-linux's `setsid` must be installed).
 *
 * @module
 */

import { parseShimArgs, SHIM_USAGE } from "./src/shim_args.ts";
import {
  FORWARDED_SIGNALS,
  runShim,
  SHIM_FAILURE_EXIT_CODE,
} from "./src/shim.ts";

export {
  DRIVER_ENV_PASSTHROUGH,
  runShim,
  SHIM_FAILURE_EXIT_CODE,
  shimLogPath,
  type ShimOptions,
} from "./src/shim.ts";
export { DEFAULT_WINDOW_SIZE, type WindowSize } from "./src/pty.ts";
export {
  defaultDataRoot,
  parseShimArgs,
  type ParseShimArgsOptions,
  SHIM_LOG_DRIVERS,
  SHIM_USAGE,
  type ShimArgs,
} from "./src/shim_args.ts";

async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseShimArgs(args);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      console.error(
        `shimlog: ${error.message}\nRun "shim.ts --help" for usage.`,
      );
      return 2;
    }
    if (error instanceof Deno.errors.NotCapable) {
      console.error(
        `shimlog: ${error.message}\nshim.ts needs --allow-run --allow-read --allow-write --allow-env (and --allow-ffi for -t)`,
      );
      return SHIM_FAILURE_EXIT_CODE; // not a bad flag: the shim's own setup
    }
    throw error;
  }
  if (options.help) {
    await Deno.stdout.write(new TextEncoder().encode(SHIM_USAGE));
    return 0;
  }
  // Until Deno.exit: a signal that comes as the shim ends, once runShim has
  // let go of its own listeners, must not end it with another exit code.
  for (const signal of FORWARDED_SIGNALS) {
    Deno.addSignalListener(signal, () => {});
  }
  try {
    return await runShim(options);
  } catch (error) {
    // No stack trace for the user: the message says what failed.
    console.error(
      `shimlog: ${error instanceof Error ? error.message : String(error)}`,
    );
    return SHIM_FAILURE_EXIT_CODE;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * The shimlog example app: what `shim.ts` runs when given no command.
 *
 * With no flags it prints the current time to stdout once a second, five
 * times, then exits 0. Flags make it useful for tests and benchmarks:
 * `--count N`, `--interval MS`, `--stderr`, `--exit-code N`, and fast mode,
 * `--lines N --line-size BYTES [--no-newline]`, which writes N numbered lines
 * of BYTES bytes each in large chunks. Bad flags print a message and exit 2.
 *
 * Needs no permissions: `deno run --no-prompt app.ts [flags]`.
 *
 * @example Usage
 * ```sh
 * deno run --no-prompt app.ts --lines 3 --line-size 10 --exit-code 3
 * ```
 *
 * @module
 */

import { APP_USAGE, parseAppArgs } from "./src/app_args.ts";
import { runApp } from "./src/app_output.ts";

export { APP_USAGE, type AppOptions, parseAppArgs } from "./src/app_args.ts";
export {
  type AppClock,
  appLine,
  appLineChunks,
  type AppLineChunksOptions,
  runApp,
} from "./src/app_output.ts";

async function main(args: string[]): Promise<void> {
  let options;
  try {
    options = parseAppArgs(args);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      console.error(`app: ${error.message}\nRun "app.ts --help" for usage.`);
      Deno.exit(2);
    }
    throw error;
  }
  if (options.help) {
    await Deno.stdout.write(new TextEncoder().encode(APP_USAGE));
    return;
  }
  try {
    await runApp(
      options,
      options.stderr ? Deno.stderr.writable : Deno.stdout.writable,
    );
  } catch (error) {
    // The reader went away: exit as a process killed by SIGPIPE would.
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(128 + 13);
    throw error;
  }
  Deno.exit(options.exitCode);
}

if (import.meta.main) await main(Deno.args);

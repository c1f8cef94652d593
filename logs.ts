/**
 * Prints a container's log as `docker logs` does, for logs written by the
 * shimlog driver (json-file or CRI), by Docker, or by conmon:
 *
 * ```sh
 * deno run --allow-read=$HOME/.local/share/shimlog --allow-env=SHIMLOG_DATA_ROOT,XDG_DATA_HOME,HOME \
 *   logs.ts --tail 10 --timestamps web
 * deno run --allow-read=/var/lib/docker/containers logs.ts -f --path /var/lib/docker/containers/ID/ID-json.log
 * ```
 *
 * stdout entries go to stdout and stderr entries to stderr, raw bytes as
 * logged, from the rotated (and compressed) files first. See
 * {@linkcode LOGS_USAGE} for the options. Unlike `docker logs`, `--tail`
 * counts logical lines (a long line split into pieces counts once), and
 * `-t` stamps each line once, never in the middle of it.
 *
 * Permissions: `--allow-read` for the data root (or the folder of
 * `--path`), and `--allow-env=SHIMLOG_DATA_ROOT,XDG_DATA_HOME,HOME` when a
 * container is named without `--data-root`.
 *
 * Exit status: 0; 1 when the container or its log does not exist or cannot
 * be read; 2 for bad options.
 *
 * @module
 */

import { describe } from "./src/containerd_logging.ts";
import { ContainerLogNotFound, locateContainerLog } from "./src/log_locate.ts";
import { LogPrinter } from "./src/log_output.ts";
import { readLogBatches } from "./src/log_reader.ts";
import { LOGS_USAGE, type LogsArgs, parseLogsArgs } from "./src/logs_args.ts";
import { defaultDataRoot } from "./src/shim_args.ts";

export {
  LOGS_USAGE,
  type LogsArgs,
  parseLogsArgs,
  type ParseLogsArgsOptions,
  parseTimeArg,
} from "./src/logs_args.ts";

const NAME = "logs.ts";

async function main(args: string[]): Promise<number> {
  let options: LogsArgs;
  try {
    options = parseLogsArgs(args);
  } catch (error) {
    if (
      error instanceof TypeError || error instanceof RangeError ||
      error instanceof SyntaxError
    ) {
      console.error(
        `${NAME}: ${error.message}\nRun "logs.ts --help" for usage.`,
      );
      return 2;
    }
    throw error;
  }
  if (options.help) {
    await Deno.stdout.write(new TextEncoder().encode(LOGS_USAGE));
    return 0;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let path: string | undefined;
  try {
    path = options.path ?? await locateContainerLog({
      dataRoot: options.dataRoot ?? findDataRoot(),
      namespace: options.namespace,
      id: options.id!,
    });
    const printer = new LogPrinter(
      { stdout: Deno.stdout, stderr: Deno.stderr },
      options,
    );
    try {
      for await (
        const batch of readLogBatches(path, {
          tail: options.tail,
          since: options.since,
          until: options.until,
          follow: options.follow,
          signal: stop.signal,
          onWarning: (message) => console.error(`${NAME}: ${message}`),
        })
      ) {
        await printer.print(batch);
        if (options.follow) await printer.flush();
      }
    } finally {
      await printer.flush().catch(() => {});
    }
    return 0;
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return 0; // e.g. `| head`
    console.error(`${NAME}: ${message(error, path)}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

function findDataRoot(): string {
  const env: Record<string, string | undefined> = {};
  for (const name of ["SHIMLOG_DATA_ROOT", "XDG_DATA_HOME", "HOME"]) {
    try {
      env[name] = Deno.env.get(name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new ContainerLogNotFound(
        `Cannot read $${name} to find the data root: give --data-root DIR, or run with --allow-env=SHIMLOG_DATA_ROOT,XDG_DATA_HOME,HOME`,
      );
    }
  }
  const root = defaultDataRoot(env);
  if (root === null) {
    throw new ContainerLogNotFound(
      "Cannot find the data root: give --data-root, or set SHIMLOG_DATA_ROOT, XDG_DATA_HOME or HOME",
    );
  }
  return root;
}

function message(error: unknown, path: string | undefined): string {
  if (error instanceof Deno.errors.NotFound && path !== undefined) {
    return `No such log file: "${path}"`;
  }
  if (error instanceof Deno.errors.IsADirectory && path !== undefined) {
    return `Not a log file: "${path}" is a folder`;
  }
  return describe(error);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

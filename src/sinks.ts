/**
 * The sinks a driver can write to, by log-driver name.
 *
 * @module
 */

import type { DriverConfig } from "./driver_config.ts";
import { CRI_OPTION_KEYS, CriSink, parseCriOptions } from "./cri_sink.ts";
import { extraAttributes } from "./log_attrs.ts";
import { jsonFileLogPath, nextCriLogPath } from "./log_paths.ts";
import {
  JSON_FILE_OPTION_KEYS,
  parseJsonFileOptions,
} from "./json_file_options.ts";
import { JsonFileSink } from "./json_file_sink.ts";
import type { LogRetirer } from "./log_retire.ts";
import type { LogSink } from "./sink.ts";
import type { LogFileEventHandler } from "./log_file_events.ts";

/**
 * The log drivers {@linkcode openSink} knows: Docker's `json-file`, the CRI
 * format kubelet reads as containerd writes it (`cri`), and as podman's
 * conmon writes it (`k8s-file`).
 */
export const LOG_DRIVERS: readonly string[] = ["json-file", "cri", "k8s-file"];

/** The option keys of each log driver. */
const OPTION_KEYS: Record<string, readonly string[]> = {
  "json-file": JSON_FILE_OPTION_KEYS,
  "cri": CRI_OPTION_KEYS,
  "k8s-file": CRI_OPTION_KEYS,
};

/** An open sink and where it writes. */
export interface OpenedSink {
  /** The sink. */
  sink: LogSink;
  /** The log file's path. */
  path: string;
}

/**
 * Where a driver with these settings writes: `log-path` when given, else the
 * driver's default path under the data root:
 * - `json-file`: `<data-root>/containers/<namespace>/<id>/<id>-json.log`;
 * - `cri`, `k8s-file`: `<data-root>/pods/<namespace>_<id>/<id>/N.log`, the
 *   next run's file (see {@linkcode nextCriLogPath}): ask before the driver
 *   starts, as the answer moves on once the run has created its file. Needs
 *   `--allow-read` for that folder.
 *
 * @param config The driver's settings.
 * @returns The log file's path.
 * @throws {RangeError} If neither `log-path` nor a data root is given, or the
 *   driver is unknown.
 */
export function logPathFor(
  config: Pick<DriverConfig, "driver" | "dataRoot" | "namespace" | "id"> & {
    opts: Record<string, string>;
  },
): string {
  checkDriver(config.driver);
  const logPath = config.opts["log-path"];
  if (logPath !== undefined) return logPath;
  if (config.dataRoot === undefined) {
    throw new RangeError(
      "No data-root or log-path given: a containerd logger has no HOME, so set one in the log URI (binary:///path/to/driver?data-root=/var/lib/shimlog or ?log-path=/abs/file.log)",
    );
  }
  if (config.driver === "json-file") {
    return jsonFileLogPath(config.dataRoot, config.namespace, config.id);
  }
  return nextCriLogPath(config.dataRoot, config.namespace, config.id);
}

/**
 * Validates the options and opens the sink the settings name.
 *
 * Needs `--allow-read` and `--allow-write` for the log's folder.
 *
 * @param config The driver's settings.
 * @returns The sink, open and writable, and its path.
 * @throws {RangeError} If the driver or an option is unknown or out of range.
 * @throws {SyntaxError} If an option's value cannot be parsed.
 * @throws {Error} If the file cannot be created, naming it.
 */
export function openSink(config: DriverConfig): OpenedSink {
  return prepareSink(config).open();
}

/** A sink whose settings are checked, ready to be opened. */
export interface PreparedSink {
  /** The log file's path. */
  path: string;
  /** The `max-size` the file rotates at, in bytes; `Infinity` for none. */
  maxSize: number;
  /**
   * Opens (creates) the log file.
   *
   * @param options `retirer`: removes the files rotation discards (see
   *   {@linkcode LogRetirer}); they are deleted without one.
   *   `onEvent`: told when a failed write drops entries and when
   *   writes work again (see `RotationOptions.onEvent`).
   * @throws {Error} If the file cannot be created, naming it.
   */
  open(
    options?: { retirer?: LogRetirer; onEvent?: LogFileEventHandler },
  ): OpenedSink;
}

/**
 * Checks the driver and its options and works out the path, without
 * touching the file system beyond reading the log folder (for `cri`'s run
 * number). {@linkcode openSink} is this plus `open()`.
 *
 * @param config The driver's settings.
 * @returns The checked sink, to open.
 * @throws {RangeError} If the driver or an option is unknown or out of range.
 * @throws {SyntaxError} If an option's value cannot be parsed.
 */
export function prepareSink(config: DriverConfig): PreparedSink {
  checkDriver(config.driver);
  const keys = OPTION_KEYS[config.driver];
  for (const key of Object.keys(config.opts)) {
    if (!keys.includes(key)) {
      throw new RangeError(
        `Unknown log opt "${key}" for ${config.driver} log driver; valid options: ${
          [...keys].sort().join(", ")
        }`,
      );
    }
  }
  let maxSize: number;
  let open: (
    path: string,
    retirer?: LogRetirer,
    onEvent?: LogFileEventHandler,
  ) => LogSink;
  if (config.driver === "json-file") {
    const options = parseJsonFileOptions(config.opts);
    const attrs = extraAttributes(options, config);
    maxSize = options.maxSize;
    open = (path, retirer, onEvent) =>
      JsonFileSink.open({ ...options, path, attrs, retirer, onEvent });
  } else {
    const options = parseCriOptions(config.opts, config.driver);
    const flavour = config.driver === "k8s-file" ? "k8s-file" : "cri";
    maxSize = options.maxSize;
    open = (path, retirer, onEvent) =>
      CriSink.open({ ...options, path, flavour, retirer, onEvent });
  }
  const path = logPathFor(config);
  return {
    path,
    maxSize,
    open(options = {}) {
      try {
        return {
          sink: open(path, options.retirer, options.onEvent),
          path,
        };
      } catch (error) {
        throw new Error(
          `Cannot open log file "${path}": ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
  };
}

function checkDriver(driver: string): void {
  if (!LOG_DRIVERS.includes(driver)) {
    throw new RangeError(
      `Unknown log driver "${driver}"; valid drivers: ${
        LOG_DRIVERS.join(", ")
      }`,
    );
  }
}

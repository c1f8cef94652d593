/**
 * Where a container's log is, as the shim and the driver put it under a
 * data root: nerdctl's layout for json-file, kubelet's for CRI logs, or the
 * `log-path` of the container's `log-config.json`.
 *
 * @module
 */

import { readLogConfig } from "./driver_config.ts";
import {
  containerDir,
  jsonFileLogPath,
  latestCriLogPath,
  logConfigPath,
} from "./log_paths.ts";
import { logPathFor } from "./sinks.ts";

/** A container whose log cannot be found; its message names what is missing. */
export class ContainerLogNotFound extends Error {
  /**
   * Makes the error.
   *
   * @param message What was looked for, and where.
   */
  constructor(message: string) {
    super(message);
    this.name = "ContainerLogNotFound";
  }
}

/** Which container, for {@linkcode locateContainerLog}. */
export interface ContainerRef {
  /** Absolute path of the data root. */
  dataRoot: string;
  /** A valid containerd namespace. */
  namespace: string;
  /** A valid container id. */
  id: string;
}

/**
 * Finds the log file of a container, as the shim wrote it:
 * - `<data-root>/containers/<ns>/<id>/log-config.json` names the driver and
 *   may give a `log-path`;
 * - json-file logs default to `<data-root>/containers/<ns>/<id>/<id>-json.log`
 *   (the driver's `logPathFor`);
 * - CRI logs (`cri`, `k8s-file`) to the latest run's
 *   `<data-root>/pods/<ns>_<id>/<id>/N.log`.
 *
 * Needs `--allow-read` for the data root.
 *
 * @param ref The data root, namespace and id.
 * @returns The log file's path (it exists, or its folder does).
 * @throws {ContainerLogNotFound} If the container has no log there, or logs
 *   with the driver `none`.
 * @throws {SyntaxError} If `log-config.json` is not valid.
 */
export async function locateContainerLog(ref: ContainerRef): Promise<string> {
  const { dataRoot, namespace, id } = ref;
  const configPath = logConfigPath(dataRoot, namespace, id);
  const config = await readLogConfig(configPath);
  const driver = config.driver ?? "json-file";
  const logPath = config.opts?.["log-path"];
  if (driver === "none") {
    throw new ContainerLogNotFound(
      `Container "${id}" logs with the driver "none": it has no log`,
    );
  }
  if (logPath !== undefined) return logPath;
  if (driver === "json-file") {
    const path = logPathFor({
      driver,
      dataRoot,
      namespace,
      id,
      opts: config.opts ?? {},
    });
    if (await exists(path) || config.driver !== undefined) return path;
  }
  const cri = latestCriLogPath(dataRoot, namespace, id);
  if (cri !== undefined) return cri;
  if (config.driver !== undefined && driver !== "json-file") {
    throw new ContainerLogNotFound(
      `Container "${id}" has no ${driver} log yet under ${dataRoot}/pods/${namespace}_${id}/${id}`,
    );
  }
  throw new ContainerLogNotFound(
    `No such container: "${id}" in namespace "${namespace}" (no log at ${
      jsonFileLogPath(dataRoot, namespace, id)
    }${
      await exists(containerDir(dataRoot, namespace, id))
        ? ""
        : `, and no folder ${containerDir(dataRoot, namespace, id)}`
    })`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory
    ) return false;
    throw error;
  }
}

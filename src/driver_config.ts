/**
 * The driver's settings: containerd's argv pairs merged over nerdctl's
 * `log-config.json`.
 *
 * @module
 */

import { validateIdentifier } from "./identifiers.ts";
import { logConfigPath } from "./log_paths.ts";

/** Keys the driver itself takes; all others belong to the sink. */
export const DRIVER_KEYS: readonly string[] = ["data-root", "log-driver"];

/** Everything a driver run needs to open its sink. */
export interface DriverConfig {
  /** Container id, from `CONTAINER_ID`. */
  id: string;
  /** Namespace, from `CONTAINER_NAMESPACE`. */
  namespace: string;
  /** Which sink, e.g. `json-file`. */
  driver: string;
  /** The data root (absolute), when given. */
  dataRoot?: string;
  /** The sink's options (`max-size`, `log-path`, …), argv over file. */
  opts: Record<string, string>;
  /** The container's labels, from `log-config.json`. */
  labels: Record<string, string>;
  /** The container's environment, from `log-config.json`. */
  env: Record<string, string>;
}

/** The content of `log-config.json`, as nerdctl's `LogConfig` plus ours. */
export interface LogConfigFile {
  /** The log driver, e.g. `json-file`. */
  driver?: string;
  /** The driver's options. */
  opts?: Record<string, string>;
  /** The container's labels (shimlog's addition, for `labels`). */
  labels?: Record<string, string>;
  /** The container's environment (shimlog's addition, for `env`). */
  env?: Record<string, string>;
}

/**
 * Reads containerd's logger argv: the log URI's query
 * `?k=v&k2=v2` arrives as `k v k2 v2`, keys in any order.
 *
 * @param args The argv after the program name.
 * @returns Keys and values.
 * @throws {RangeError} If the count is odd, a key is empty or given twice.
 */
export function parseDriverArgs(
  args: readonly string[],
): Record<string, string> {
  if (args.length % 2 !== 0) {
    throw new RangeError(
      `Invalid arguments "${
        args.join(" ")
      }": expected KEY VALUE pairs (from binary:///path?KEY=VALUE&...), got an odd count`,
    );
  }
  const pairs: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i];
    if (key === "") throw new RangeError("Invalid argument: empty key");
    if (Object.hasOwn(pairs, key)) {
      throw new RangeError(`Invalid argument "${key}": given twice`);
    }
    pairs[key] = args[i + 1];
  }
  return pairs;
}

/**
 * Builds the driver's settings from its argv and environment, as a
 * containerd binary logger receives them. When
 * `<data-root>/containers/<namespace>/<id>/log-config.json` exists (written
 * by the shim, nerdctl's layout) it supplies the driver and options; argv
 * wins over it.
 *
 * Needs `--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE` when `env` is
 * `Deno.env`, and `--allow-read` for the data root.
 *
 * @param args The argv after the program name.
 * @param env Where `CONTAINER_ID` and `CONTAINER_NAMESPACE` come from.
 * @returns The settings.
 * @throws {RangeError} If a value is missing or invalid.
 * @throws {SyntaxError} If `log-config.json` is not valid.
 */
export async function loadDriverConfig(
  args: readonly string[],
  env: { get(name: string): string | undefined },
): Promise<DriverConfig> {
  const id = validateIdentifier(
    "container id (CONTAINER_ID)",
    required(env, "CONTAINER_ID"),
  );
  const namespace = validateIdentifier(
    "namespace (CONTAINER_NAMESPACE)",
    required(env, "CONTAINER_NAMESPACE"),
  );
  const pairs = parseDriverArgs(args);
  const dataRoot = pairs["data-root"];
  if (dataRoot !== undefined && !dataRoot.startsWith("/")) {
    throw new RangeError(
      `Invalid data-root "${dataRoot}": must be an absolute path`,
    );
  }
  let file: LogConfigFile = {};
  if (dataRoot !== undefined) {
    file = await readLogConfig(logConfigPath(dataRoot, namespace, id));
  }
  const opts: Record<string, string> = { ...file.opts };
  for (const [key, value] of Object.entries(pairs)) {
    if (!DRIVER_KEYS.includes(key)) opts[key] = value;
  }
  return {
    id,
    namespace,
    driver: pairs["log-driver"] ?? file.driver ?? "json-file",
    dataRoot,
    opts,
    labels: file.labels ?? {},
    env: file.env ?? {},
  };
}

function required(
  env: { get(name: string): string | undefined },
  name: string,
): string {
  const value = env.get(name);
  if (value === undefined) {
    throw new RangeError(
      `Missing ${name} in the environment: containerd sets CONTAINER_ID and CONTAINER_NAMESPACE for a binary logger`,
    );
  }
  return value;
}

/**
 * Reads a `log-config.json`; a missing file is an empty config.
 *
 * @param path The file.
 * @returns Its content, checked.
 * @throws {SyntaxError} If it is not JSON of the expected shape.
 */
export async function readLogConfig(path: string): Promise<LogConfigFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory
    ) return {};
    throw new Error(
      `Cannot read "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse "${path}": ${(error as Error).message}`,
    );
  }
  if (!isRecord(value)) {
    throw new SyntaxError(`Cannot parse "${path}": expected a JSON object`);
  }
  const config: LogConfigFile = {};
  if (value.driver !== undefined) {
    if (typeof value.driver !== "string") {
      throw new SyntaxError(
        `Cannot parse "${path}": "driver" must be a string`,
      );
    }
    config.driver = value.driver;
  }
  for (const key of ["opts", "labels", "env"] as const) {
    const map = value[key];
    if (map === undefined) continue;
    if (
      !isRecord(map) || !Object.values(map).every((v) => typeof v === "string")
    ) {
      throw new SyntaxError(
        `Cannot parse "${path}": "${key}" must map strings to strings`,
      );
    }
    config[key] = map as Record<string, string>;
  }
  return config;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

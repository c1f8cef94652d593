/**
 * Where log files live under a data root, in nerdctl's and kubelet's layouts.
 *
 * @module
 */

import { namesIn } from "./_files.ts";

/**
 * The folder of one container's state under `dataRoot`, as nerdctl's
 * `<data-root>/containers/<namespace>/<id>`. `log-config.json` and the
 * json-file log live here.
 *
 * @param dataRoot Absolute path of the data root.
 * @param namespace A validated containerd namespace.
 * @param id A validated container id.
 * @returns The folder's path.
 */
export function containerDir(
  dataRoot: string,
  namespace: string,
  id: string,
): string {
  return `${trimSlash(dataRoot)}/containers/${namespace}/${id}`;
}

/**
 * Path of the `log-config.json` the shim writes for a container
 * (nerdctl's layout: `{"driver": "json-file", "opts": {...}}`).
 *
 * @param dataRoot Absolute path of the data root.
 * @param namespace A validated containerd namespace.
 * @param id A validated container id.
 * @returns The file's path.
 */
export function logConfigPath(
  dataRoot: string,
  namespace: string,
  id: string,
): string {
  return `${containerDir(dataRoot, namespace, id)}/log-config.json`;
}

/**
 * Default json-file log path, as nerdctl's
 * `<data-root>/containers/<namespace>/<id>/<id>-json.log`.
 *
 * @param dataRoot Absolute path of the data root.
 * @param namespace A validated containerd namespace.
 * @param id A validated container id.
 * @returns The log file's path.
 */
export function jsonFileLogPath(
  dataRoot: string,
  namespace: string,
  id: string,
): string {
  return `${containerDir(dataRoot, namespace, id)}/${id}-json.log`;
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/**
 * The folder of one container's CRI logs under `dataRoot`, in kubelet's
 * layout (`/var/log/pods/<namespace>_<pod>_<uid>/<container>/`):
 * `<data-root>/pods/<namespace>_<id>/<id>`.
 *
 * @param dataRoot Absolute path of the data root.
 * @param namespace A validated containerd namespace.
 * @param id A validated container id.
 * @returns The folder's path.
 */
export function criLogDir(
  dataRoot: string,
  namespace: string,
  id: string,
): string {
  return `${trimSlash(dataRoot)}/pods/${namespace}_${id}/${id}`;
}

const RUN_LOG = /^(\d{1,9})\.log(?:\..*)?$/;

/**
 * The run numbers that have a log in a CRI log folder: `N` for each `N.log`
 * or rotated `N.log.*` there, as kubelet names a container's log after its
 * restart count.
 *
 * Needs `--allow-read` for the folder.
 *
 * @param dir The folder (see {@linkcode criLogDir}).
 * @returns The numbers, ascending; none if the folder does not exist.
 */
export function criLogRuns(dir: string): number[] {
  const runs = new Set<number>();
  for (const name of namesIn(dir)) {
    const match = RUN_LOG.exec(name);
    if (match !== null) runs.add(Number(match[1]));
  }
  return [...runs].sort((a, b) => a - b);
}

/**
 * Default CRI log path for the next run of a container:
 * `<data-root>/pods/<namespace>_<id>/<id>/N.log`, where `N` is 0 for the
 * first run and one more than the highest run with a log for later runs
 * (a number is never reused, even if its log was deleted, unless all
 * were).
 *
 * Needs `--allow-read` for the folder.
 *
 * @param dataRoot Absolute path of the data root.
 * @param namespace A validated containerd namespace.
 * @param id A validated container id.
 * @returns The log file's path.
 */
export function nextCriLogPath(
  dataRoot: string,
  namespace: string,
  id: string,
): string {
  const dir = criLogDir(dataRoot, namespace, id);
  const runs = criLogRuns(dir);
  return `${dir}/${runs.length === 0 ? 0 : runs[runs.length - 1] + 1}.log`;
}

/**
 * CRI log path of the latest run of a container that has a log, for
 * readers: `<data-root>/pods/<namespace>_<id>/<id>/N.log` with the highest
 * `N` (its rotated files sit beside it).
 *
 * Needs `--allow-read` for the folder.
 *
 * @param dataRoot Absolute path of the data root.
 * @param namespace A validated containerd namespace.
 * @param id A validated container id.
 * @returns The log file's path, or `undefined` if no run has a log.
 */
export function latestCriLogPath(
  dataRoot: string,
  namespace: string,
  id: string,
): string | undefined {
  const dir = criLogDir(dataRoot, namespace, id);
  const runs = criLogRuns(dir);
  return runs.length === 0 ? undefined : `${dir}/${runs.at(-1)}.log`;
}

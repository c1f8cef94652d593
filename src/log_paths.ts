/**
 * Where log files live under a data root, in nerdctl's and kubelet's layouts.
 *
 * @module
 */

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

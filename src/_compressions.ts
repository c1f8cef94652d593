/**
 * The end of a rotating file's compressions, shared by the json-file and
 * CRI rotations.
 *
 * @module
 */

import { abandonCompressions } from "./gzip_worker.ts";

/**
 * Waits while compressions follow one another (each, as it ends, may begin
 * the next) until none runs. Once `signal` aborts, `stop` is called so that
 * no further one begins, and only the one running is awaited; once
 * `abandon` aborts, that one is stopped too (see
 * {@linkcode abandonCompressions}) and its file stays uncompressed.
 *
 * @param running The compression running now, if any; it settles once its
 *   caller has cleaned up after it, abandoned or not.
 * @param stop Keeps further compressions from beginning.
 * @param signal Cuts the wait short.
 * @param abandon Cuts the compression running short.
 */
export async function awaitCompressions(
  running: () => Promise<unknown> | undefined,
  stop: () => void,
  signal?: AbortSignal,
  abandon?: AbortSignal,
): Promise<void> {
  const giveUp = () => {
    stop();
    abandonCompressions();
  };
  if (signal?.aborted) stop();
  signal?.addEventListener("abort", stop, { once: true });
  if (abandon?.aborted) giveUp();
  abandon?.addEventListener("abort", giveUp, { once: true });
  try {
    for (let job = running(); job !== undefined; job = running()) await job;
  } finally {
    signal?.removeEventListener("abort", stop);
    abandon?.removeEventListener("abort", giveUp);
  }
}

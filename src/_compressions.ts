/**
 * The end of a rotating file's compressions, shared by the json-file and
 * CRI rotations.
 *
 * @module
 */

/**
 * Waits while compressions follow one another (each, as it ends, may begin
 * the next) until none runs. Once `signal` aborts, `stop` is called so that
 * no further one begins, and only the one running is awaited.
 *
 * @param running The compression running now, if any.
 * @param stop Keeps further compressions from beginning.
 * @param signal Cuts the wait short.
 */
export async function awaitCompressions(
  running: () => Promise<unknown> | undefined,
  stop: () => void,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) stop();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for (let job = running(); job !== undefined; job = running()) await job;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

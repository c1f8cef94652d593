/** Helpers shared by the shim's tests. */

import { runShim, type ShimOptions } from "../src/shim.ts";

export { withTempDir } from "./_helpers.ts";

/** Runs runShim() with the messages it prints captured. */
export async function runShimCaptured(
  options: ShimOptions,
): Promise<{ code: number; stderr: string }> {
  const chunks: Uint8Array[] = [];
  const stderr = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk.slice());
    },
  });
  const code = await runShim({ ...options, stderr });
  const decoder = new TextDecoder();
  return { code, stderr: chunks.map((c) => decoder.decode(c)).join("") };
}

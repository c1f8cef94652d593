/** Helpers shared by the shim's tests. */

import { runShim, type ShimOptions } from "../src/shim.ts";

/** Runs `fn` with a new temporary folder, removed afterwards. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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

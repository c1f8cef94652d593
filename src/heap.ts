/**
 * The JavaScript heap at the end of start-up, before the copy loop runs.
 *
 * @module
 */

/** V8's `gc` function, as `--expose-gc` defines it. */
type ExposedGc = (options: { type: "minor" | "major" }) => void;

/**
 * Moves what start-up left in V8's young generation (module code, the
 * parsed settings, the sink) to the old generation, with two minor
 * collections (scavenges): V8 promotes an object at the second scavenge it
 * survives. Without this, the copy loop's first scavenge copies it all
 * while the container's output waits: 1 to 4 ms, against about 0.4 ms for a
 * scavenge of the loop's own garbage (`--trace-gc`, the benchmark's
 * 100-byte and 64 KiB lines). The two scavenges take about as long at
 * start-up instead, before the ready byte.
 *
 * Needs V8's `gc` function (`--v8-flags=--expose-gc`, which
 * `driverRunArgs` in `driver_command.ts` passes); does nothing without it.
 *
 * @returns Whether it collected: false when `gc` is not exposed.
 *
 * @example Usage
 * ```ts
 * import { promoteStartupHeap } from "./heap.ts";
 * import assert from "node:assert/strict";
 * // `deno test` does not expose gc: nothing to do.
 * assert.equal(promoteStartupHeap(), "gc" in globalThis);
 * ```
 */
export function promoteStartupHeap(): boolean {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  if (typeof gc !== "function") return false;
  gc({ type: "minor" });
  gc({ type: "minor" });
  return true;
}

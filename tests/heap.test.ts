import assert from "node:assert/strict";

const HEAP = new URL("../src/heap.ts", import.meta.url).href;

/**
 * Runs promoteStartupHeap() in a fresh Deno with V8's `--trace-gc` and
 * `flags`; returns what it returned and the collections V8 logged as asked
 * for (V8's log goes through C's buffered stdout: its lines come after
 * console.log's, at exit).
 */
async function promoteIn(
  flags: string[],
): Promise<{ collected: string; collections: string[] }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-config",
      `--v8-flags=${["--trace-gc", ...flags].join(",")}`,
      `import { promoteStartupHeap } from ${JSON.stringify(HEAP)};
       console.log("collected=" + promoteStartupHeap());`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(stderr), "");
  assert.equal(code, 0);
  const lines = new TextDecoder().decode(stdout).split("\n");
  const at = lines.findIndex((l) => l.startsWith("collected="));
  assert.notEqual(at, -1, lines.join("\n"));
  return {
    collected: lines[at],
    // V8 names a collection asked for through gc() "testing".
    collections: lines.filter((l) => /\btesting\b/.test(l))
      .map((l) =>
        l.match(/(Scavenge|Minor Mark-Sweep|Mark-Compact)/)?.[0] ??
          l
      ),
  };
}

Deno.test("promoteStartupHeap() runs two minor collections when V8's gc is exposed (--expose-gc), so start-up's objects reach the old generation", async () => {
  const { collected, collections } = await promoteIn(["--expose-gc"]);
  assert.equal(collected, "collected=true");
  assert.deepEqual(collections, ["Scavenge", "Scavenge"]);
});

Deno.test("promoteStartupHeap() does nothing without --expose-gc", async () => {
  const { collected, collections } = await promoteIn([]);
  assert.equal(collected, "collected=false");
  assert.deepEqual(collections, []);
});

import assert from "node:assert/strict";
import { writeEventReporter } from "../src/write_report.ts";

const full = new Error("No space left on device (os error 28)");

Deno.test("writeEventReporter() says each kind of trouble at once, then at most once every 10 s while it goes on", () => {
  const lines: string[] = [];
  let now = 0;
  const tell = writeEventReporter("/l/c.log", (l) => lines.push(l), {
    now: () => now,
  });
  tell({ kind: "dropped", error: full, droppedBytes: 10 });
  tell({ kind: "rotation-failed", error: full, retryMs: 1000 });
  now = 5_000;
  tell({ kind: "dropped", error: full, droppedBytes: 20 });
  tell({ kind: "rotation-failed", error: full, retryMs: 1000 });
  now = 10_000;
  tell({ kind: "dropped", error: full, droppedBytes: 30 });
  tell({ kind: "rotation-failed", error: full, retryMs: 1000 });
  tell({ kind: "compression-failed", error: full, path: "/l/c.log.1" });
  tell({ kind: "resumed", droppedBytes: 60 });
  now = 11_000;
  tell({ kind: "dropped", error: full, droppedBytes: 5 }); // a new run of drops
  assert.deepEqual(lines, [
    'cannot write "/l/c.log": No space left on device (os error 28); dropping log entries until it can (10 bytes so far)',
    'cannot rotate "/l/c.log": No space left on device (os error 28); it grows past max-size, rotation is tried again every 1 s',
    'still cannot write "/l/c.log": No space left on device (os error 28) (60 bytes of log entries dropped)',
    'cannot rotate "/l/c.log": No space left on device (os error 28); it grows past max-size, rotation is tried again every 1 s',
    'cannot compress "/l/c.log.1": No space left on device (os error 28); it stays uncompressed',
    'writing "/l/c.log" again after dropping 60 bytes of log entries',
    'cannot write "/l/c.log": No space left on device (os error 28); dropping log entries until it can (5 bytes so far)',
  ]);
});

Deno.test("writeEventReporter() gives a rotation that stopped for good its own message", () => {
  const lines: string[] = [];
  const tell = writeEventReporter("/l/c.log", (l) => lines.push(l));
  tell({
    kind: "rotation-failed",
    error: new Error('Cannot rotate "/l/c.log", rotation stopped: gone'),
    retryMs: Infinity,
  });
  assert.deepEqual(lines, ['Cannot rotate "/l/c.log", rotation stopped: gone']);
});

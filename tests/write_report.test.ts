import assert from "node:assert/strict";
import { writeEventReporter } from "../src/write_report.ts";

const full = new Error("No space left on device (os error 28)");

/**
 * A reporter on a clock and timers the test runs, and the lines it said.
 */
function reporterAt() {
  const clock = { now: 0 };
  const lines: string[] = [];
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
  const reporter = writeEventReporter("/l/c.log", (l) => lines.push(l), {
    now: () => clock.now,
    schedule: (fn, ms) => {
      const timer = { fn, at: clock.now + ms, cancelled: false };
      timers.push(timer);
      return () => timer.cancelled = true;
    },
  });
  /** Moves the clock to `at`, running the timers due by then. */
  const advance = (at: number) => {
    clock.now = at;
    for (const t of timers.splice(0)) {
      if (t.cancelled) continue;
      if (t.at <= at) t.fn();
      else timers.push(t);
    }
  };
  return { clock, lines, timers, advance, ...reporter };
}

Deno.test("writeEventReporter() says trouble with writes at once, then at most once every 10 s however often it comes and goes, and what is left unsaid at the end", () => {
  const { clock, lines, onEvent, finish } = reporterAt();
  onEvent({ kind: "dropped", error: full, droppedBytes: 10 });
  // A disk that fills and empties many times a second: no line each time.
  for (let i = 0; i < 20; i++) {
    clock.now += 100;
    onEvent({ kind: "resumed", droppedBytes: 10 });
    onEvent({ kind: "dropped", error: full, droppedBytes: 10 });
  }
  clock.now = 10_000;
  onEvent({ kind: "dropped", error: full, droppedBytes: 5 });
  clock.now = 12_000;
  onEvent({ kind: "resumed", droppedBytes: 5 });
  finish();
  assert.deepEqual(lines, [
    'cannot write "/l/c.log": No space left on device (os error 28); dropping log entries until it can (10 bytes dropped so far)',
    'still cannot write "/l/c.log": No space left on device (os error 28); dropping log entries until it can (215 bytes dropped so far)',
    'writing "/l/c.log" again (215 bytes of log entries dropped in all)',
  ]);
});

Deno.test("writeEventReporter() says failed rotations and compressions at once, then at most once every 10 s each", () => {
  const { clock, lines, onEvent, finish } = reporterAt();
  onEvent({ kind: "rotation-failed", error: full, retryMs: 1000 });
  onEvent({ kind: "compression-failed", error: full, path: "/l/c.log.1" });
  clock.now = 5_000;
  onEvent({ kind: "rotation-failed", error: full, retryMs: 1000 });
  clock.now = 10_000;
  onEvent({ kind: "rotation-failed", error: full, retryMs: 1000 });
  finish();
  assert.deepEqual(lines, [
    'cannot rotate "/l/c.log": No space left on device (os error 28); it grows past max-size, rotation is tried again every 1 s',
    'cannot compress "/l/c.log.1": No space left on device (os error 28); it stays uncompressed',
    'cannot rotate "/l/c.log": No space left on device (os error 28); it grows past max-size, rotation is tried again every 1 s',
  ]);
});

Deno.test("writeEventReporter() gives a rotation that stopped for good its own message", () => {
  const lines: string[] = [];
  const { onEvent } = writeEventReporter("/l/c.log", (l) => lines.push(l));
  onEvent({
    kind: "rotation-failed",
    error: new Error('Cannot rotate "/l/c.log", rotation stopped: gone'),
    retryMs: Infinity,
  });
  assert.deepEqual(lines, ['Cannot rotate "/l/c.log", rotation stopped: gone']);
});

Deno.test("writeEventReporter() says that writes work again when the pacing window ends, not only at the next drop or at exit", () => {
  const { lines, timers, advance, onEvent, finish } = reporterAt();
  onEvent({ kind: "dropped", error: full, droppedBytes: 10 });
  advance(2_000);
  onEvent({ kind: "resumed", droppedBytes: 10 }); // held back: 2 s after
  assert.equal(lines.length, 1);
  assert.equal(timers.length, 1);
  advance(9_999);
  assert.equal(lines.length, 1);
  advance(10_000);
  assert.deepEqual(lines.slice(1), [
    'writing "/l/c.log" again (10 bytes of log entries dropped in all)',
  ]);
  finish();
  assert.equal(lines.length, 2, "nothing left unsaid");
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { formatRfc3339Nano, LogClock, parseRfc3339Nano } from "../src/clock.ts";

Deno.test("LogClock.now() never goes back and stays within 1 ms of Date.now()", () => {
  const clock = new LogClock();
  let last = clock.now();
  for (let i = 0; i < 200_000; i++) {
    const before = Date.now();
    const t = clock.now();
    const after = Date.now();
    const ms = t.sec * 1000 + t.nsec / 1e6;
    assert.ok(
      t.sec > last.sec || (t.sec === last.sec && t.nsec >= last.nsec),
      "monotonic",
    );
    assert.ok(
      ms >= before - 1 && ms <= after + 1,
      `${ms} vs ${before}..${after}`,
    );
    assert.ok(Number.isInteger(t.nsec) && t.nsec >= 0 && t.nsec < 1e9);
    last = t;
  }
});

Deno.test("LogClock.now() has resolution below the millisecond", () => {
  const clock = new LogClock();
  const fractions = new Set<number>();
  for (let i = 0; i < 10_000; i++) fractions.add(clock.now().nsec % 1_000_000);
  assert.ok(fractions.size > 10, `${fractions.size} distinct sub-ms values`);
});

Deno.test("LogClock.now() behind the wall clock gives the wall clock's millisecond, then goes on from it below the millisecond (a monotonic clock slower than the wall clock)", () => {
  // Hand-driven clocks (each monotonic reading adds 0.01 ms): the anchor is
  // taken where the wall clock ticks to 1,000,001 ms, at 0.51 monotonic.
  let wall = 1_000_000;
  let mono = 0;
  const clock = new LogClock({
    wallMs: () => wall,
    monoMs: () => {
      mono += 0.01;
      if (mono >= 0.5 && wall === 1_000_000) wall = 1_000_001;
      return mono;
    },
  });
  // The wall clock has gone 10 ms on, the monotonic one 9.8 ms: behind.
  wall = 1_000_011;
  mono = 10.3;
  assert.deepEqual(clock.now(), { sec: 1000, nsec: 11_000_000 });
  // 0.4 ms later: that much past the wall clock's millisecond, not 0.2.
  mono = 10.7;
  const next = clock.now();
  assert.equal(next.sec, 1000);
  assert.ok(
    next.nsec > 11_390_000 && next.nsec < 11_410_000,
    `${next.nsec} ns`,
  );
});

Deno.test("formatRfc3339Nano() writes Go's RFC3339Nano in UTC: trailing zeros trimmed, no dot for whole seconds", () => {
  const sec = Date.UTC(2026, 10, 29, 15, 53, 54) / 1000;
  assert.equal(
    formatRfc3339Nano({ sec, nsec: 273119833 }),
    "2026-11-29T15:53:54.273119833Z",
  );
  assert.equal(
    formatRfc3339Nano({ sec, nsec: 273182200 }),
    "2026-11-29T15:53:54.2731822Z",
  );
  assert.equal(
    formatRfc3339Nano({ sec, nsec: 5 }),
    "2026-11-29T15:53:54.000000005Z",
  );
  assert.equal(formatRfc3339Nano({ sec, nsec: 0 }), "2026-11-29T15:53:54Z");
});

Deno.test("parseRfc3339Nano() reads Z and offsets at full precision", () => {
  const z = parseRfc3339Nano("2026-11-29T15:53:54.2731822Z");
  assert.deepEqual(z, {
    sec: Date.UTC(2026, 10, 29, 15, 53, 54) / 1000,
    nsec: 273182200,
  });
  assert.deepEqual(parseRfc3339Nano("2026-11-29T16:53:54.273182200+01:00"), z);
  assert.deepEqual(parseRfc3339Nano("2026-11-29T10:23:54.2731822-05:30"), z);
  assert.throws(() => parseRfc3339Nano("yesterday"), {
    name: "SyntaxError",
    message: /"yesterday"/,
  });
  // Go's time.Parse: "day out of range" (Date.UTC would give 2 March).
  assert.throws(() => parseRfc3339Nano("2026-02-30T00:00:00Z"), {
    name: "SyntaxError",
    message: /"2026-02-30T00:00:00Z".*a day of that month/,
  });
  assert.throws(() => parseRfc3339Nano("2026-11-29T15:53:54Ž"), SyntaxError);
  // Years below 100 are not taken as 19xx (Date.UTC would).
  assert.equal(parseRfc3339Nano("0050-01-01T00:00:00Z").sec, -60589296000);
});

Deno.test("parseRfc3339Nano(formatRfc3339Nano(t)) is t (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4_000_000_000 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      (sec, nsec) => {
        assert.deepEqual(parseRfc3339Nano(formatRfc3339Nano({ sec, nsec })), {
          sec,
          nsec,
        });
      },
    ),
  );
});

Deno.test("LogClock.now() keeps sub-millisecond digits on the first call after a pause", async () => {
  let whole = 0;
  const n = 40;
  for (let i = 0; i < n; i++) {
    const clock = new LogClock();
    await new Promise((r) => setTimeout(r, 3 + (i % 5)));
    const t = clock.now();
    if (t.nsec % 1_000_000 === 0 || t.nsec % 1_000_000 === 999_999) whole++;
  }
  assert.ok(
    whole <= n / 8,
    `${whole} of ${n} first times at a millisecond's edge`,
  );
});

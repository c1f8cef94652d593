import assert from "node:assert/strict";
import fc from "fast-check";
import { copyStreams } from "../src/logger.ts";
import { JsonFileSink } from "../src/json_file_sink.ts";
import { chunkReader, concat, RecordingSink } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("copyStreams() copies both streams to the end, keeping each stream's order", async () => {
  const sink = new RecordingSink();
  const out = ["a1\na2\n", "a3\nfinal"].map((s) => enc.encode(s));
  const err = ["e1\n", "e2\ne3\n"].map((s) => enc.encode(s));
  const result = await copyStreams(
    { stdout: chunkReader(out), stderr: chunkReader(err) },
    sink,
  );
  const text = (stream: string) =>
    sink.pieces.filter((p) => p.stream === stream).map((p) =>
      dec.decode(p.bytes)
    );
  assert.deepEqual(text("stdout"), ["a1\n", "a2\n", "a3\n", "final"]);
  assert.deepEqual(text("stderr"), ["e1\n", "e2\n", "e3\n"]);
  assert.deepEqual(result.bytes, { stdout: 14, stderr: 9 });
  assert.deepEqual(result.ended.sort(), ["stderr", "stdout"]);
  const last = sink.pieces.find((p) => dec.decode(p.bytes) === "final");
  assert.equal(last?.partial, true);
});

Deno.test("copyStreams() gives every piece of one line the time of its first piece", async () => {
  const sink = new RecordingSink();
  const big = new Uint8Array(40000).fill(0x61);
  big[39999] = 0x0a;
  const chunks = [
    big.subarray(0, 10000),
    big.subarray(10000),
    enc.encode("next\n"),
  ];
  await copyStreams({ stdout: chunkReader(chunks) }, sink, { readSize: 10000 });
  assert.deepEqual(sink.pieces.map((p) => p.bytes.length), [
    16384,
    16384,
    7232,
    5,
  ]);
  const [a, b, c, d] = sink.pieces.map((p) => p.time);
  assert.equal(b, a);
  assert.equal(c, a);
  assert.ok(d.sec > a.sec || (d.sec === a.sec && d.nsec >= a.nsec));
  assert.deepEqual(concat(sink.pieces.map((p) => p.bytes)).length, 40005);
});

for (const readNow of [false, true]) {
  Deno.test(
    `copyStreams()${
      readNow ? " with readNow" : ""
    }: when one stream's read fails, the other stream is read no more, and the promise rejects once both loops have stopped`,
    async () => {
      const sink = new RecordingSink();
      const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
      let stderrReads = 0;
      const failing = {
        async read(buffer: Uint8Array) {
          await delay(60);
          buffer.set(enc.encode("x"));
          throw new Error("boom");
        },
      };
      const endless = {
        async read(buffer: Uint8Array) {
          stderrReads++;
          await delay(10);
          buffer.set(enc.encode("e\n"));
          return 2;
        },
        ...(readNow ? { readNow: () => 0 } : {}),
      };
      await assert.rejects(
        copyStreams({ stdout: failing, stderr: endless }, sink),
        { message: "boom" },
      );
      const readsAtRejection = stderrReads;
      assert.ok(readsAtRejection >= 2, `${readsAtRejection} reads`);
      await delay(100);
      assert.equal(
        stderrReads,
        readsAtRejection,
        "no read after the rejection",
      );
      const logged = sink.pieces.filter((p) => p.stream === "stderr").length;
      // Every completed read but the one left in flight was logged.
      assert.ok(logged >= readsAtRejection - 1, `${logged} logged`);
    },
  );
}

Deno.test("copyStreams() flushes once per read, not per line", async () => {
  const sink = new RecordingSink();
  const chunk = enc.encode("x\n".repeat(1000));
  await copyStreams({ stdout: chunkReader([chunk, chunk]) }, sink);
  assert.equal(sink.pieces.length, 2000);
  assert.ok(sink.flushes <= 3, `${sink.flushes} flushes`);
});

Deno.test("copyStreams() stops on abort, writes the fragment it holds and reports the stream as not ended", async () => {
  const sink = new RecordingSink();
  const stop = new AbortController();
  let reads = 0;
  const stdout = {
    read(buffer: Uint8Array): Promise<number | null> {
      if (reads++ === 0) {
        buffer.set(enc.encode("done\nhalf"));
        return Promise.resolve(9);
      }
      stop.abort();
      return new Promise<number | null>(() => {}); // never answers
    },
  };
  const result = await copyStreams({ stdout }, sink, { signal: stop.signal });
  assert.deepEqual(sink.pieces.map((p) => [dec.decode(p.bytes), p.partial]), [
    ["done\n", false],
    ["half", true],
  ]);
  assert.deepEqual(result.ended, []);
});

/**
 * A reader with `readNow`: each step of `script` is a chunk that is there at
 * once (`now`), or one that only a waiting `read` gets (`wait`). `onWait`
 * runs as each `read` starts.
 */
function scriptedReader(
  script: { bytes: Uint8Array; now: boolean }[],
  onWait: () => void = () => {},
) {
  let i = 0;
  let off = 0;
  let reading = false;
  const take = (buffer: Uint8Array): number => {
    const step = script[i];
    const n = Math.min(buffer.length, step.bytes.length - off);
    buffer.set(step.bytes.subarray(off, off + n));
    off += n;
    if (off === step.bytes.length) {
      i++;
      off = 0;
    }
    return n;
  };
  return {
    waits: 0,
    readNow(buffer: Uint8Array): number | null {
      assert.equal(reading, false, "readNow() while a read() is pending");
      if (i >= script.length) return null;
      return script[i].now || off > 0 ? take(buffer) : 0;
    },
    read(buffer: Uint8Array): Promise<number | null> {
      this.waits++;
      onWait();
      reading = true;
      return Promise.resolve().then(() => {
        reading = false;
        return i >= script.length ? null : take(buffer);
      });
    },
  };
}

Deno.test("copyStreams() with readNow: reads without waiting while data is there, and flushes before every wait", async () => {
  const sink = new RecordingSink();
  let unflushedAtWait = -1;
  let piecesAtFlush = 0;
  const flush = sink.flush.bind(sink);
  sink.flush = () => {
    flush();
    piecesAtFlush = sink.pieces.length;
  };
  const script = [
    { bytes: enc.encode("a1\na2\n"), now: false },
    { bytes: enc.encode("a3\n"), now: true },
    { bytes: enc.encode("a4\nhal"), now: true },
    { bytes: enc.encode("f\nb1\n"), now: false },
    { bytes: enc.encode("b2\n"), now: true },
  ];
  const reader = scriptedReader(script, () => {
    unflushedAtWait = Math.max(
      unflushedAtWait,
      sink.pieces.length - piecesAtFlush,
    );
  });
  const result = await copyStreams({ stdout: reader }, sink);
  assert.deepEqual(sink.pieces.map((p) => dec.decode(p.bytes)), [
    "a1\n",
    "a2\n",
    "a3\n",
    "a4\n",
    "half\n",
    "b1\n",
    "b2\n",
  ]);
  // Two chunks came only through read(); the end is seen by readNow.
  assert.equal(reader.waits, 2);
  assert.equal(unflushedAtWait, 0);
  assert.deepEqual(result.ended, ["stdout"]);
  assert.equal(result.bytes.stdout, 23);
});

Deno.test("copyStreams() with readNow: a stream that never pauses lets the other stream and the abort signal in, every turnBytes", async () => {
  const sink = new RecordingSink();
  const stop = new AbortController();
  const line = enc.encode("flood\n");
  const stdout = {
    pending: Promise.resolve(0),
    readNow(buffer: Uint8Array): number {
      buffer.set(line);
      return line.length;
    },
    // A real wait goes through the event loop, as Deno's reads do.
    read(buffer: Uint8Array): Promise<number> {
      return this.pending = new Promise((resolve) =>
        setTimeout(() => resolve(this.readNow(buffer)), 0)
      );
    },
  };
  const stderr = chunkReader([enc.encode("err\n")]);
  const timer = setTimeout(() => stop.abort(), 50);
  const result = await copyStreams({ stdout, stderr }, sink, {
    signal: stop.signal,
    turnBytes: 600,
  });
  clearTimeout(timer);
  await stdout.pending; // the read the abort left behind
  const errAt = sink.pieces.findIndex((p) => p.stream === "stderr");
  assert.ok(errAt > 0 && errAt <= 100, `stderr's line came at ${errAt}`);
  assert.ok(sink.pieces.length > 200, `${sink.pieces.length} pieces`);
  assert.deepEqual(result.ended, ["stderr"]);
});

Deno.test("copyStreams() with readNow: after an abort, takes what the pipe holds at the stop (the container wrote it before), then returns without EOF", async () => {
  const sink = new RecordingSink();
  const stop = new AbortController();
  const write = sink.write.bind(sink);
  sink.write = (...args: Parameters<RecordingSink["write"]>) => {
    write(...args);
    stop.abort(); // at the first piece
  };
  const reader = scriptedReader([
    { bytes: enc.encode("a\n"), now: true },
    { bytes: enc.encode("b\nc"), now: true },
    { bytes: enc.encode("\n"), now: true },
    { bytes: enc.encode("later\n"), now: false }, // only a wait gets it
  ]);
  const result = await copyStreams({ stdout: reader }, sink, {
    signal: stop.signal,
  });
  assert.deepEqual(sink.pieces.map((p) => dec.decode(p.bytes)), [
    "a\n",
    "b\n",
    "c\n",
  ]);
  assert.equal(reader.waits, 0);
  assert.deepEqual(result.ended, []);
  assert.equal(result.bytes.stdout, 6);
});

Deno.test("copyStreams() with readNow: after an abort, takes at most stopBytes from a writer that keeps going", async () => {
  const sink = new RecordingSink();
  const stop = new AbortController();
  stop.abort();
  const line = enc.encode("flood\n");
  const stdout = {
    readNow(buffer: Uint8Array): number {
      const n = Math.min(buffer.length, line.length);
      buffer.set(line.subarray(0, n));
      return n;
    },
    read(): Promise<number> {
      throw new Error("no wait after the stop");
    },
  };
  const result = await copyStreams({ stdout }, sink, {
    signal: stop.signal,
    stopBytes: 600,
  });
  assert.equal(result.bytes.stdout, 600);
  assert.equal(sink.pieces.length, 100);
  assert.deepEqual(result.ended, []);
});

Deno.test("copyStreams() with readNow: a turn also ends after turnMs, however few bytes it read (a slow sink)", async () => {
  const stop = new AbortController();
  const line = enc.encode("flood\n");
  let reads = 0;
  const stdout = {
    pending: Promise.resolve(0),
    readNow(buffer: Uint8Array): number {
      if (reads === 200) return 0; // then the pipe runs dry: a wait
      reads++;
      buffer.set(line);
      return line.length;
    },
    read(buffer: Uint8Array): Promise<number> {
      return this.pending = new Promise((resolve) =>
        setTimeout(() => resolve(this.readNow(buffer)), 0)
      );
    },
  };
  // Each piece takes 2 ms, as a rotation every few lines can.
  const sink = new RecordingSink();
  const slow = {
    write: (...args: Parameters<RecordingSink["write"]>) => {
      const until = performance.now() + 2;
      while (performance.now() < until) { /* busy */ }
      sink.write(...args);
    },
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
  let readsAtAbort = -1;
  setTimeout(() => {
    readsAtAbort = reads;
    stop.abort();
  }, 30);
  await copyStreams({ stdout }, slow, {
    signal: stop.signal,
    turnBytes: 1 << 30,
    turnMs: 10,
    stopBytes: 0,
  });
  await stdout.pending;
  // The abort's timer runs at the end of the turn it falls in (10-12 ms of
  // pieces each), not once the flood stops after 200 reads.
  assert.ok(
    readsAtAbort >= 5 && readsAtAbort <= 40,
    `${readsAtAbort} reads before the abort`,
  );
});

for (const mode of ["read ahead", "readNow"] as const) {
  Deno.test(`copyStreams() (${mode}) gives the sink's read buffers back, one with a read left in flight only once that read is done`, async () => {
    const stop = new AbortController();
    let finishRead: (n: number) => void = () => {};
    let readInto: Uint8Array | undefined;
    const reader = {
      read(buffer: Uint8Array): Promise<number> {
        readInto = buffer;
        buffer.set(enc.encode("late\n"));
        return new Promise((resolve) => finishRead = resolve);
      },
      ...(mode === "readNow" ? { readNow: () => 0 } : {}),
    };
    const sink = new RecordingSink();
    const leased: Uint8Array[] = [];
    const released: Uint8Array[] = [];
    const lending = {
      write: sink.write.bind(sink),
      flush: sink.flush.bind(sink),
      close: sink.close.bind(sink),
      readBuffer: (n: number) => {
        leased.push(new Uint8Array(n));
        return leased.at(-1)!;
      },
      releaseReadBuffer: (b: Uint8Array) => released.push(b),
    };
    setTimeout(() => stop.abort(), 10);
    await copyStreams({ stdout: reader }, lending, {
      signal: stop.signal,
      lateReadMs: 5,
    });
    assert.ok(readInto !== undefined && leased.includes(readInto));
    assert.equal(released.includes(readInto), false, "still being read into");
    assert.equal(released.length, leased.length - 1);
    finishRead(5);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(released.length, leased.length);
    assert.ok(released.includes(readInto));
  });
}

Deno.test("property: copyStreams() frames the same pieces whether chunks come through readNow or read", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          bytes: fc.uint8Array({ minLength: 1, maxLength: 40000 }).map((b) =>
            b.map((x) => x % 3 === 0 ? 0x0a : x)
          ),
          now: fc.boolean(),
        }),
        { maxLength: 8 },
      ),
      async (script) => {
        const viaNow = new RecordingSink();
        await copyStreams({ stdout: scriptedReader(script) }, viaNow, {
          readSize: 30000,
        });
        const viaRead = new RecordingSink();
        await copyStreams(
          { stdout: chunkReader(script.map((s) => s.bytes)) },
          viaRead,
          { readSize: 30000 },
        );
        const pieces = (s: RecordingSink) =>
          s.pieces.map((p) => [Array.from(p.bytes).join(","), p.partial]);
        assert.deepEqual(pieces(viaNow), pieces(viaRead));
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("property: copyStreams() writes the same json-file, times included, whether the sink's writeLines fast path takes long lines or the framer cuts them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Each read has its own time: a piece stamped with the wrong one shows.
    let tick = 0;
    const clock = { now: () => ({ sec: 1700000000, nsec: ++tick }) };
    const piece = fc.oneof(
      fc.constantFrom("é", "€", "😀", "\u2028", "\n", '"', "a"),
      fc.integer({ min: 1, max: 40000 }).map((n) => "x".repeat(n)),
      // Long runs of 2-, 3- and 4-byte characters: pieces cut inside them.
      fc.tuple(
        fc.constantFrom("é", "€", "😀"),
        fc.integer({ min: 1, max: 15000 }),
      ).map(([ch, n]) => ch.repeat(n)),
    );
    const bytes = fc.oneof(
      fc.array(piece, { maxLength: 30 }).map((p) => enc.encode(p.join(""))),
      fc.uint8Array({ maxLength: 3000 }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(bytes, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 70000 }),
        async (parts, readSize) => {
          const input = concat(parts);
          const chunks: Uint8Array[] = [];
          for (let at = 0; at < input.length; at += readSize) {
            chunks.push(input.subarray(at, at + readSize));
          }
          const write = async (fast: boolean) => {
            tick = 0;
            const path = `${dir}/${run++}.log`;
            const sink = JsonFileSink.open({ path });
            const framerOnly = {
              write: sink.write.bind(sink),
              flush: sink.flush.bind(sink),
              close: sink.close.bind(sink),
            };
            await copyStreams(
              { stdout: chunkReader(chunks) },
              fast ? sink : framerOnly,
              { clock, readSize },
            );
            await sink.close();
            return await Deno.readFile(path);
          };
          const [viaWriteLines, viaFramer] = [
            await write(true),
            await write(
              false,
            ),
          ];
          assert.equal(dec.decode(viaWriteLines), dec.decode(viaFramer));
        },
      ),
      { numRuns: 80 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const mode of ["read ahead", "readNow"] as const) {
  Deno.test(`copyStreams() (${mode}) writes what a read in flight at the abort brings within lateReadMs, and no more`, async () => {
    const sink = new RecordingSink();
    const stop = new AbortController();
    let reads = 0;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const answer = (buffer: Uint8Array, text: string, ms: number) =>
      new Promise<number>((resolve) => {
        timers.push(setTimeout(() => {
          buffer.set(enc.encode(text));
          resolve(text.length);
        }, ms));
      });
    const stdout = {
      read(buffer: Uint8Array): Promise<number | null> {
        reads++;
        if (reads === 1) {
          buffer.set(enc.encode("first\n"));
          return Promise.resolve(6);
        }
        if (reads === 2) {
          stop.abort(); // the driver's drain time is over
          return answer(buffer, "taken\n", 20);
        }
        return answer(buffer, "too late\n", 1000);
      },
      ...(mode === "readNow" ? { readNow: () => 0 } : {}),
    };
    const result = await copyStreams({ stdout }, sink, {
      signal: stop.signal,
      lateReadMs: 200,
    });
    timers.forEach(clearTimeout);
    assert.deepEqual(sink.pieces.map((p) => dec.decode(p.bytes)), [
      "first\n",
      "taken\n",
    ]);
    assert.deepEqual(result.ended, []);
    assert.equal(result.bytes.stdout, 12);
  });
}

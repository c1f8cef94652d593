import assert from "node:assert/strict";
import { copyStreams } from "../src/logger.ts";
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

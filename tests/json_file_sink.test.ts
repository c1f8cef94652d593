import assert from "node:assert/strict";
import fc from "fast-check";
import { JsonFileEncoder } from "../src/json_file.ts";
import { JsonFileSink } from "../src/json_file_sink.ts";
import { LineFramer } from "../src/line_framer.ts";
import { copyStreams } from "../src/logger.ts";
import { chunkReader, concat } from "./_helpers.ts";

const TIME = { sec: 1_800_000_000, nsec: 5 };
const TIME_TEXT = "2027-01-15T08:00:00.000000005Z";
const dec = new TextDecoder();

/** The reference: every piece from the framer, encoded one by one. */
function reference(input: Uint8Array): string {
  const encoder = new JsonFileEncoder();
  const framer = new LineFramer();
  const time = new TextEncoder().encode(TIME_TEXT);
  let out = "";
  const emit = (piece: Uint8Array) => {
    const buf = new Uint8Array(encoder.maxEntryLength(piece.length));
    out += dec.decode(
      buf.subarray(0, encoder.encode(buf, 0, piece, "stdout", time)),
    );
  };
  framer.push(input, emit);
  framer.end(emit);
  return out;
}

Deno.test("JsonFileSink's whole-line fast path writes exactly what framing piece by piece writes (property)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let run = 0;
    const enc = new TextEncoder();
    const line = fc.oneof(
      fc.string({ unit: "binary", maxLength: 30 }).map((s) =>
        enc.encode(s + "\n")
      ),
      fc.constant(enc.encode("x".repeat(16383) + "\n")),
      fc.constant(enc.encode("y".repeat(16384) + "\n")),
      fc.constant(enc.encode("€".repeat(6000))),
      fc.uint8Array({ maxLength: 20 }), // raw bytes: invalid UTF-8, no newline
      fc.uint8Array({ maxLength: 20 }).map((b) => Uint8Array.from([...b, 10])),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 40000 }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (lines, sizes) => {
          const input = concat(lines);
          const chunks: Uint8Array[] = [];
          for (let off = 0, k = 0; off < input.length; k++) {
            const n = sizes[k % sizes.length];
            chunks.push(input.subarray(off, off + n));
            off += n;
          }
          const path = `${dir}/${run++}.log`;
          const sink = JsonFileSink.open({ path });
          await copyStreams({ stdout: chunkReader(chunks) }, sink, {
            clock: { now: () => TIME },
            readSize: 70000,
          });
          await sink.close();
          assert.equal(await Deno.readTextFile(path), reference(input));
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

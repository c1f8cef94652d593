import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_MAX_PIECE, LineFramer } from "../src/line_framer.ts";
import { utf8SequenceLength } from "../src/utf8.ts";
import { concat } from "./_helpers.ts";

const enc = new TextEncoder();

interface Piece {
  bytes: Uint8Array;
  partial: boolean;
}

function frame(chunks: Uint8Array[], max = DEFAULT_MAX_PIECE): Piece[] {
  const framer = new LineFramer(max);
  const pieces: Piece[] = [];
  const emit = (bytes: Uint8Array, partial: boolean) =>
    pieces.push({ bytes: bytes.slice(), partial });
  for (const chunk of chunks) framer.push(chunk, emit);
  framer.end(emit);
  return pieces;
}

/** Splits `bytes` at the given cut points. */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

Deno.test("LineFramer gives a line of up to 16,384 bytes counting its \\n as one piece", () => {
  const line = enc.encode("c".repeat(16383) + "\n");
  const pieces = frame([line]);
  assert.equal(pieces.length, 1);
  assert.equal(pieces[0].bytes.length, 16384);
  assert.equal(pieces[0].partial, false);
});

Deno.test("LineFramer cuts 16,384 bytes plus \\n into a full piece and a piece of only \\n", () => {
  const pieces = frame([enc.encode("b".repeat(16384) + "\n")]);
  assert.deepEqual(pieces.map((p) => [p.bytes.length, p.partial]), [
    [16384, true],
    [1, false],
  ]);
});

Deno.test("LineFramer writes a final fragment without \\n as a partial piece at the end", () => {
  const pieces = frame([enc.encode("first\nlast")]);
  assert.deepEqual(
    pieces.map((p) => [new TextDecoder().decode(p.bytes), p.partial]),
    [["first\n", false], ["last", true]],
  );
});

Deno.test("LineFramer ends a piece before a multibyte character that straddles 16 KiB, even across reads", () => {
  const input = enc.encode("x".repeat(16383) + "€tail\n"); // € is 3 bytes
  for (let cut = 16380; cut <= 16388; cut++) {
    const pieces = frame([input.subarray(0, cut), input.subarray(cut)]);
    assert.equal(pieces[0].bytes.length, 16383, `read split at ${cut}`);
    assert.equal(new TextDecoder().decode(pieces[1].bytes), "€tail\n");
  }
});

Deno.test("LineFramer holds at most one piece of a line of several MiB", () => {
  const framer = new LineFramer();
  const chunk = new Uint8Array(65536).fill(0x61);
  let pieces = 0;
  let bytes = 0;
  for (let i = 0; i < 128; i++) { // 8 MiB, no newline
    framer.push(chunk, (p, partial) => {
      assert.ok(partial);
      assert.equal(p.length, 16384);
      pieces++;
      bytes += p.length;
    });
  }
  framer.end((p) => (bytes += p.length));
  assert.equal(bytes, 8 * 1024 * 1024);
  assert.ok(pieces >= 511);
});

Deno.test("LineFramer: any chunking gives the same pieces, which rebuild the input exactly (property)", () => {
  const byteArb = fc.oneof(
    fc.constantFrom(0x0a, 0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff),
    fc.integer({ min: 0, max: 255 }),
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }).chain((raw) =>
        fc.tuple(
          fc.array(byteArb, { minLength: raw.length, maxLength: raw.length }),
          fc.array(fc.nat(), { maxLength: 8 }),
          fc.integer({ min: 4, max: 40 }),
        )
      ),
      ([bytes, cuts, max]) => {
        const input = new Uint8Array(bytes);
        const whole = frame([input], max);
        const pieces = frame(chunked(input, cuts), max);
        assert.deepEqual(pieces, whole);
        assert.deepEqual(concat(pieces.map((p) => p.bytes)), input);
        for (const [i, p] of pieces.entries()) {
          assert.ok(p.bytes.length <= max && p.bytes.length > 0);
          const endsLine = p.bytes[p.bytes.length - 1] === 0x0a;
          assert.equal(p.partial, !endsLine, `piece ${i}`);
          if (endsLine) {
            assert.equal(p.bytes.indexOf(0x0a), p.bytes.length - 1);
          } else assert.equal(p.bytes.indexOf(0x0a), -1);
        }
        // No valid character is cut between two pieces of one line.
        let off = 0;
        for (const p of pieces.slice(0, -1)) {
          off += p.bytes.length;
          if (!p.partial) continue;
          for (let back = 1; back <= 3 && off - back >= 0; back++) {
            const n = utf8SequenceLength(input, off - back, input.length);
            assert.ok(n === 0 || n <= back, `character cut at ${off}`);
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("LineFramer frames long and short lines alike, whichever newline search it uses (property)", () => {
  // ASCII only, so that pieces are cut at exactly maxPiece bytes.
  function reference(input: Uint8Array, max: number): Piece[] {
    const pieces: Piece[] = [];
    let start = 0;
    while (start < input.length) {
      const nl = input.indexOf(0x0a, start);
      const end = nl === -1 ? input.length : nl + 1;
      for (let p = start; p < end; p += max) {
        const stop = Math.min(end, p + max);
        pieces.push({
          bytes: input.slice(p, stop),
          partial: nl === -1 || stop < end,
        });
      }
      start = end;
    }
    return pieces;
  }
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 200 }),
          fc.integer({ min: 3000, max: 70_000 }),
        ),
        { maxLength: 12 },
      ),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 150_000 }), { maxLength: 6 }),
      (lengths, lastWhole, cuts) => {
        const parts = lengths.map((n, k) =>
          new Uint8Array(n + 1).fill(0x61 + (k % 26)).fill(0x0a, n)
        );
        let input = concat(parts);
        if (!lastWhole && input.length > 0) {
          input = input.subarray(0, input.length - 1);
        }
        let sum = 0;
        const points = cuts.map((c) => (sum += c));
        assert.deepEqual(
          frame(chunked(input, points.filter((p) => p < input.length))),
          reference(input, DEFAULT_MAX_PIECE),
        );
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("LineFramer.finishPiece() takes only what finishes the held piece: to its line's \\n, or to a full piece", () => {
  const framer = new LineFramer(8);
  const pieces: string[] = [];
  const emit = (bytes: Uint8Array, partial: boolean) =>
    pieces.push(`${new TextDecoder().decode(bytes)}${partial ? "…" : ""}`);
  framer.push(enc.encode("abc"), emit);
  // The line ends within the piece: up to and with its \n.
  assert.equal(framer.finishPiece(enc.encode("de\nfg\n"), emit), 3);
  assert.deepEqual(pieces, ["abcde\n"]);
  assert.equal(framer.pending, false);
  // No \n within the piece's room: 5 bytes fill it, the rest is left.
  framer.push(enc.encode("xyz"), emit);
  assert.equal(framer.finishPiece(enc.encode("123456789\n"), emit), 5);
  assert.deepEqual(pieces, ["abcde\n", "xyz12345…"]);
  assert.equal(framer.pending, false);
  // A chunk shorter than the room is all taken and held.
  framer.push(enc.encode("p"), emit);
  assert.equal(framer.finishPiece(enc.encode("qr"), emit), 2);
  assert.equal(framer.pending, true);
  // A fill that ends inside the second "€" (3 bytes) keeps its first byte.
  assert.equal(framer.finishPiece(enc.encode("s€€"), emit), 5);
  assert.deepEqual(pieces.slice(2), ["pqrs€…"]);
  assert.equal(framer.pending, true);
  assert.equal(
    framer.finishPiece(new Uint8Array([0x82, 0xac, 0x0a]), emit),
    3,
  );
  assert.deepEqual(pieces.slice(3), ["€\n"]);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { JsonEscapeWasm } from "../src/json_escape_wasm.ts";
import { escapeJsonBytes, JsonFileEncoder } from "../src/json_file.ts";
import { JsonFileSink } from "../src/json_file_sink.ts";
import { buildJsonEscapeModule } from "../scripts/build_wasm.ts";
import { utf8SafeCut } from "../src/utf8.ts";
import { concat } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const TIME = enc.encode("2027-01-15T08:00:00.000000005Z");
const MAX_PIECE = 16 * 1024;

/** The JavaScript escaper: the reference. */
function escapeJs(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length * 6);
  return out.subarray(0, escapeJsonBytes(src, out, 0));
}

function escapeWasm(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length * 6 + 3);
  out.fill(0xaa);
  const end = JsonEscapeWasm.get().escape(src, out, 3);
  assert.deepEqual([...out.subarray(0, 3)], [0xaa, 0xaa, 0xaa]);
  assert.ok(out.subarray(end).every((b) => b === 0xaa), "wrote past its end");
  return out.subarray(3, end);
}

/**
 * Bytes the escaper treats specially, and the edges of its classes: the
 * property tests draw most bytes from here, so that escapes, U+2028, bad
 * UTF-8 and surrogates come often.
 */
const SPECIAL = [
  0x00,
  0x01,
  0x08,
  0x09,
  0x0a,
  0x0c,
  0x0d,
  0x1f,
  0x20,
  0x21,
  0x22,
  0x26,
  0x27,
  0x2f,
  0x3c,
  0x3d,
  0x3e,
  0x5c,
  0x7e,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xa8,
  0xa9,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xe2,
  0xed,
  0xef,
  0xf0,
  0xf3,
  0xf4,
  0xf5,
  0xff,
];

/** Runs of plain text, characters, and special or random bytes. */
const piece = fc.oneof(
  fc.constantFrom(...SPECIAL).map((b) => Uint8Array.of(b)),
  fc.integer({ min: 0, max: 255 }).map((b) => Uint8Array.of(b)),
  fc.constantFrom(
    "\u2028",
    "\u2029",
    "\u2027",
    "€",
    "😀",
    "é",
    "\ufffd",
    "\ud7ff",
    "\ue000",
    "\u{10ffff}",
  ).map((s) => enc.encode(s)),
  fc.integer({ min: 1, max: 40 }).map((n) => enc.encode("abcdefgh".repeat(n))),
);
const bytes = (maxLength: number) =>
  fc.array(piece, { maxLength }).map((parts) => concat(parts));

Deno.test("src/_json_escape_wasm.ts is what scripts/build_wasm.ts makes of src/json_escape.wat", async () => {
  const committed = await Deno.readTextFile(
    new URL("../src/_json_escape_wasm.ts", import.meta.url),
  );
  assert.equal(committed, await buildJsonEscapeModule());
});

Deno.test("JsonEscapeWasm.escape() writes what escapeJsonBytes() writes, for every single byte and pair", () => {
  for (let a = 0; a < 256; a++) {
    assert.deepEqual(escapeWasm(Uint8Array.of(a)), escapeJs(Uint8Array.of(a)));
    for (let b = 0; b < 256; b++) {
      const src = Uint8Array.of(a, b, 0x41);
      assert.deepEqual(escapeWasm(src), escapeJs(src), `${a} ${b}`);
    }
  }
});

Deno.test("JsonEscapeWasm.escape() writes what escapeJsonBytes() writes, for any bytes (property)", () => {
  fc.assert(
    fc.property(bytes(200), fc.nat(40), (src, skip) => {
      // Every alignment of the 16-byte scan against the special bytes.
      const view = src.subarray(Math.min(skip, src.length));
      assert.deepEqual(escapeWasm(view), escapeJs(view));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("JsonEscapeWasm.escape() handles inputs up to its limit, special bytes at either end", () => {
  const max = JsonEscapeWasm.maxEscapeLength;
  for (const n of [15, 16, 17, 31, 32, 33, 16383, 16384, 16385, max]) {
    for (const edge of [0x0a, 0xe2, 0xf0, 0x22, 0xc3]) {
      const src = new Uint8Array(n).fill(0x61);
      src[0] = edge;
      src[n - 1] = edge;
      assert.deepEqual(escapeWasm(src), escapeJs(src), `${n} ${edge}`);
    }
  }
  assert.throws(
    () =>
      JsonEscapeWasm.get().escape(
        new Uint8Array(max + 1),
        new Uint8Array(0),
        0,
      ),
    RangeError,
  );
});

/**
 * Entries for whole lines, and for the pieces LineFramer cuts from longer
 * lines, encoded by the JavaScript escaper.
 */
function referenceLines(
  src: Uint8Array,
  maxPiece: number,
  trailer: Uint8Array,
  budget: number,
  room: number,
): { out: Uint8Array; lineEnd: number } {
  const parts: Uint8Array[] = [];
  let written = 0;
  let i = 0;
  while (i < src.length && written < budget) {
    const nl = src.indexOf(0x0a, i);
    const whole = nl >= 0 && nl - i + 1 <= maxPiece;
    if (!whole && src.length - i < maxPiece) break;
    const need = 6 * Math.min(src.length - i, maxPiece) + trailer.length + 48;
    if (room - written < need) break;
    const end = whole ? nl + 1 : utf8SafeCut(src, i, i + maxPiece);
    const entry = concat([
      enc.encode('{"log":"'),
      escapeJs(src.subarray(i, end)),
      trailer,
    ]);
    parts.push(entry);
    written += entry.length;
    i = end;
  }
  return { out: concat(parts), lineEnd: i };
}

const line = (maxPiece: number) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: bytes(30).map((b) => concat([b, enc.encode("\n")])),
    },
    { weight: 1, arbitrary: bytes(30) }, // may hold no newline
    {
      weight: 1,
      arbitrary: fc.integer({ min: -3, max: 3 }).map((d) =>
        concat([enc.encode("z".repeat(maxPiece - 1 + d)), enc.encode("\n")])
      ),
    },
    {
      // Longer than a piece, with characters of 2 to 4 bytes (or broken
      // ones) across the cut.
      weight: 1,
      arbitrary: fc.tuple(
        fc.integer({ min: 1, max: 2 * maxPiece + 5 }),
        fc.constantFrom("é", "€", "😀", "\u2028", "\xff", "a"),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
      ).map(([n, ch, shift, newline]) => {
        const head = enc.encode("q".repeat(Math.max(0, n - shift)));
        const mid = ch === "\xff"
          ? new Uint8Array([0xe2, 0x82, 0xff, 0xf0, 0x9f])
          : enc.encode(ch.repeat(3));
        return concat([head, mid, enc.encode(newline ? "tail\n" : "")]);
      }),
    },
  );

/**
 * `bytes` in a buffer leased from the escaper's memory when `leased`, which
 * it then reads in place; `use` runs, and the buffer is given back.
 */
function placed<T>(
  bytes: Uint8Array,
  leased: boolean,
  use: (placed: Uint8Array) => T,
): T {
  if (!leased) return use(bytes);
  const wasm = JsonEscapeWasm.get();
  const buffer = wasm.lease(Math.max(1, bytes.length));
  assert.ok(buffer !== null, `lease of ${bytes.length} bytes`);
  try {
    buffer.set(bytes);
    return use(buffer.subarray(0, bytes.length));
  } finally {
    wasm.release(buffer);
  }
}

Deno.test("JsonFileEncoder.encodeLines() writes what the JavaScript escaper writes, line by line, whatever the budget, room and maxPiece, in leased buffers or not (property)", () => {
  const encoder = new JsonFileEncoder({ tag: "t<1>" });
  fc.assert(
    fc.property(
      fc.constantFrom(4, 17, 100, MAX_PIECE).chain((maxPiece) =>
        fc.tuple(
          fc.constant(maxPiece),
          fc.array(line(maxPiece), { maxLength: 30 }),
        )
      ),
      fc.nat(),
      fc.option(fc.integer({ min: 1, max: 5000 }), { nil: Infinity }),
      fc.integer({ min: 0, max: 300_000 }),
      fc.boolean(),
      fc.boolean(),
      ([maxPiece, lines], offset, budget, room, leasedSrc, leasedOut) => {
        const start = offset % 7;
        const plainSrc = concat([new Uint8Array(start), ...lines]);
        const trailer = new Uint8Array(
          encoder.maxEntryLength(0, TIME.length),
        );
        // The trailer: what encode() writes after the escaped piece.
        const probe = encoder.encode(
          trailer,
          0,
          new Uint8Array(0),
          "stderr",
          TIME,
        );
        const trailerBytes = trailer.subarray(8, probe);
        const expected = referenceLines(
          plainSrc.subarray(start),
          maxPiece,
          trailerBytes,
          budget,
          room,
        );
        placed(
          plainSrc,
          leasedSrc,
          (src) =>
            placed(new Uint8Array(room + 5), leasedOut, (out) => {
              const end = encoder.encodeLines(
                out,
                5,
                src,
                start,
                src.length,
                maxPiece,
                "stderr",
                TIME,
                budget,
              );
              assert.equal(
                dec.decode(out.subarray(5, end)),
                dec.decode(expected.out),
              );
              assert.deepEqual(out.subarray(5, end), expected.out);
              assert.equal(encoder.lineEnd, start + expected.lineEnd);
            }),
        );
      },
    ),
    { numRuns: 600 },
  );
});

Deno.test("JsonEscapeWasm.lease() hands out disjoint buffers until its 4 MiB arena is used up, and release() makes them whole again", () => {
  const wasm = JsonEscapeWasm.get();
  const MiB = 1024 * 1024;
  const leased: Uint8Array[] = [];
  for (let b = wasm.lease(100_000); b !== null; b = wasm.lease(100_000)) {
    b.fill(leased.length + 1);
    leased.push(b);
  }
  // Each takes its length and 64 bytes of slack, rounded up to 64 bytes.
  const block = Math.ceil((100_000 + 64) / 64) * 64;
  assert.equal(leased.length, Math.floor(4 * MiB / block));
  leased.forEach((b, k) =>
    assert.ok(b.every((x) => x === k + 1), `buffer ${k}`)
  );
  assert.equal(wasm.lease(100_000), null);
  // Given back in a jumbled order, the free blocks merge into one.
  for (let k = 0; k < leased.length; k += 2) wasm.release(leased[k]);
  assert.equal(wasm.lease(300_000), null, "no three neighbours free yet");
  for (let k = leased.length - 1; k >= 0; k--) {
    if (k % 2 === 1) wasm.release(leased[k]);
  }
  wasm.release(leased[0]); // twice: ignored
  const all = wasm.lease(4 * MiB - 64);
  assert.ok(all !== null, "the whole arena at once");
  assert.equal(all.length, 4 * MiB - 64);
  wasm.release(all);
  // Ordinary arrays are not the arena's: release() ignores them.
  wasm.release(new Uint8Array(100));
  const again = wasm.lease(4 * MiB - 64);
  assert.ok(again !== null);
  wasm.release(again);
});

Deno.test("JsonFileSink leases read buffers and its batch from the escaper's memory: releaseReadBuffer() and close() give them back", async () => {
  const dir = await Deno.makeTempDir();
  const wasm = JsonEscapeWasm.get();
  try {
    const sink = JsonFileSink.open({ path: `${dir}/x.log` });
    const read = sink.readBuffer(256 * 1024);
    const probe = wasm.lease(1);
    assert.ok(probe !== null);
    wasm.release(probe);
    assert.ok(read.buffer === probe.buffer, "a view of its memory");
    read.set(enc.encode("a\nb\n"));
    assert.equal(
      sink.writeLines("stdout", read, 0, 4, MAX_PIECE, { sec: 1, nsec: 0 }),
      4,
    );
    assert.equal(wasm.lease(4 * 1024 * 1024 - 64), null, "held while open");
    sink.releaseReadBuffer(read);
    await sink.close();
    const all = wasm.lease(4 * 1024 * 1024 - 64);
    assert.ok(all !== null, "all given back");
    wasm.release(all);
    assert.deepEqual(
      (await Deno.readTextFile(`${dir}/x.log`)).split("\n").map((l) =>
        l && JSON.parse(l).log
      ),
      ["a\n", "b\n", ""],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JsonFileSink and CriSink give their batch back to the escaper's memory even when the last write fails (a full disk: /dev/full), and tell of the drop", async () => {
  // In a process of its own: /dev/full needs --allow-all.
  const src = new URL("../src/", import.meta.url).href;
  const code = `
    import { JsonEscapeWasm } from "${src}json_escape_wasm.ts";
    import { JsonFileSink } from "${src}json_file_sink.ts";
    import { CriSink } from "${src}cri_sink.ts";
    const wasm = JsonEscapeWasm.get();
    const whole = () => {
      const all = wasm.lease(4 * 1024 * 1024 - 64);
      if (all !== null) wasm.release(all);
      return all !== null;
    };
    const seen = [whole()];
    for (const open of [JsonFileSink.open, CriSink.open]) {
      const sink = open({
        path: "/dev/full",
        onEvent: (e) => seen.push(e.kind + " " + e.error.code + " " + e.droppedBytes),
      });
      sink.write("stdout", new TextEncoder().encode("hi\\n"), false, { sec: 1, nsec: 0 });
      seen.push(whole());
      seen.push(await sink.close().then(() => "closed", (e) => e.code ?? e.name));
      seen.push(whole());
    }
    console.log(JSON.stringify(seen));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(dec.decode(out.stdout)), [
    true, // the arena whole
    false, // a batch leased
    "dropped ENOSPC 63", // the last write fails: its entry (63 bytes) is dropped
    "closed", // and close() goes on
    true, // the batch given back all the same
    false,
    "dropped ENOSPC 33", // the CRI record
    "closed",
    true,
  ]);
});

Deno.test("JsonFileEncoder.encodeLines() takes chunks longer than its input window, lines across the window's edge", () => {
  const encoder = new JsonFileEncoder();
  const lines: Uint8Array[] = [];
  for (let n = 1; lines.reduce((a, l) => a + l.length, 0) < 300_000; n += 997) {
    lines.push(enc.encode("é".repeat(n % 8000) + '"\u2028\n'));
  }
  const src = concat(lines);
  const out = new Uint8Array(src.length * 6 + 100_000);
  const end = encoder.encodeLines(
    out,
    0,
    src,
    0,
    src.length,
    MAX_PIECE,
    "stdout",
    TIME,
  );
  assert.equal(encoder.lineEnd, src.length);
  const entries = dec.decode(out.subarray(0, end)).split("\n").filter((l) => l);
  assert.equal(entries.length, lines.length);
  entries.forEach((e, k) => {
    assert.equal(JSON.parse(e).log, dec.decode(lines[k]));
  });
});

Deno.test("JsonFileSink.writeLines() rotates as entry-by-entry writes do: an entry begins only while the file is below max-size (property)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.integer({ min: 0, max: 400 }).map((n) =>
            enc.encode("r".repeat(n) + "\n")
          ),
          { minLength: 1, maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 3000 }),
        async (lines, maxSize) => {
          const time = { sec: 1_800_000_000, nsec: 5 };
          const options = { maxSize, maxFile: 1000 };
          const batched = `${dir}/${run}-batched.log`;
          const single = `${dir}/${run++}-single.log`;
          const a = JsonFileSink.open({ path: batched, ...options });
          const b = JsonFileSink.open({ path: single, ...options });
          const src = concat(lines);
          assert.equal(
            a.writeLines("stdout", src, 0, src.length, MAX_PIECE, time),
            src.length,
          );
          for (const l of lines) b.write("stdout", l, false, time);
          await a.close();
          await b.close();
          for (let k = 0;; k++) {
            const suffix = k === 0 ? "" : `.${k}`;
            const x = await readOrNull(batched + suffix);
            const y = await readOrNull(single + suffix);
            assert.equal(x, y, `file ${k}`);
            if (x === null) break;
            // Every rotated file reached max-size with its last entry only.
            if (k > 0) {
              const last = x.lastIndexOf("\n", x.length - 2) + 1;
              assert.ok(enc.encode(x.slice(0, last)).length < maxSize);
              assert.ok(enc.encode(x).length >= maxSize);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

Deno.test("JsonEscapeWasm.indexOfNewline() finds what indexOf(0x0a) finds, near, far and nowhere (property)", () => {
  const wasm = JsonEscapeWasm.get();
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 200_000 }),
      fc.array(fc.nat(200_000), { maxLength: 3 }),
      fc.nat(200_000),
      (length, newlines, from) => {
        const bytes = new Uint8Array(length).fill(0x0b);
        for (const k of newlines) if (k < length) bytes[k] = 0x0a;
        const start = Math.min(from, length);
        assert.equal(
          wasm.indexOfNewline(bytes, start),
          bytes.indexOf(0x0a, start),
        );
      },
    ),
    { numRuns: 300 },
  );
  for (let n = 0; n < 70; n++) {
    for (let k = 0; k <= n; k++) {
      const bytes = new Uint8Array(n).fill(0x0b);
      if (k < n) bytes[k] = 0x0a;
      assert.equal(wasm.indexOfNewline(bytes, 0), k < n ? k : -1);
    }
  }
});

Deno.test("JsonFileEncoder.encodeLines() writes the same without WebAssembly, when the trailer is too long for it (attrs of 5 KB)", () => {
  const attrs = { big: "<&>".repeat(1700) };
  const encoder = new JsonFileEncoder(attrs);
  const probe = new Uint8Array(encoder.maxEntryLength(0, TIME.length));
  const trailer = probe.subarray(
    8,
    encoder.encode(probe, 0, new Uint8Array(0), "stdout", TIME),
  );
  assert.ok(trailer.length > 4096);
  const lines = [
    "a\n",
    'é\u2028"\\\n',
    "x".repeat(MAX_PIECE - 1) + "\n",
    "y".repeat(MAX_PIECE) + "\n",
  ];
  const src = enc.encode(lines.join(""));
  for (const budget of [1, 20_000, Infinity]) {
    const out = new Uint8Array(300_000);
    const end = encoder.encodeLines(
      out,
      0,
      src,
      0,
      src.length,
      MAX_PIECE,
      "stdout",
      TIME,
      budget,
    );
    const expected = referenceLines(src, MAX_PIECE, trailer, budget, 300_000);
    assert.deepEqual(out.subarray(0, end), expected.out);
    assert.equal(encoder.lineEnd, expected.lineEnd);
  }
});

/** CRI records for the whole lines of `src`, as `CriSink` writes them. */
function referenceCri(
  src: Uint8Array,
  prefix: Uint8Array,
  maxContent: number,
  dropCr: boolean,
  budget: number,
  room: number,
  window: number,
): { out: Uint8Array; lineEnd: number } {
  const parts: Uint8Array[] = [];
  let written = 0;
  let i = 0;
  while (i < src.length && written < budget) {
    const nl = src.indexOf(0x0a, i);
    if (nl === -1 || nl - i >= window) break;
    const end = dropCr && nl > i && src[nl - 1] === 0x0d ? nl - 1 : nl;
    if (maxContent > 0 && end - i > maxContent) break;
    // Room: the record, and the 16-byte stores of the copy (never past it).
    const stores = prefix.length + 16 * (Math.floor((nl - i) / 16) + 1);
    if (room - written < Math.max(stores, prefix.length + 32)) break;
    const record = concat([prefix, src.subarray(i, end), enc.encode("\n")]);
    parts.push(record);
    written += record.length;
    i = nl + 1;
  }
  return { out: concat(parts), lineEnd: i };
}

Deno.test("JsonEscapeWasm.encodeCriLines() writes CriSink's F records for whole lines, whatever the budget, room and max-line-size, in leased buffers or not (property)", () => {
  const wasm = JsonEscapeWasm.get();
  const prefix = enc.encode("2026-11-29T15:54:16.5677335Z stderr F ");
  const cri = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom("a", " ", "\r", "\n", "€", "\xff"),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom("x", "😀"), fc.nat(20_000)).map((
        [unit, n],
      ) => unit.repeat(n)),
    },
  );
  fc.assert(
    fc.property(
      fc.array(cri, { maxLength: 60 }).map((p) => enc.encode(p.join(""))),
      fc.constantFrom(0, 5, 100, 16_384),
      fc.boolean(),
      fc.option(fc.integer({ min: 1, max: 5000 }), { nil: Infinity }),
      fc.integer({ min: 0, max: 300_000 }),
      fc.boolean(),
      fc.boolean(),
      (src, maxContent, dropCr, budget, room, leasedSrc, leasedOut) => {
        const expected = referenceCri(
          src,
          prefix,
          maxContent,
          dropCr,
          budget,
          room,
          leasedSrc ? Infinity : 64 * 1024,
        );
        placed(
          src,
          leasedSrc,
          (s) =>
            placed(new Uint8Array(room + 3), leasedOut, (out) => {
              const end = wasm.encodeCriLines(
                out,
                3,
                s,
                0,
                s.length,
                prefix,
                maxContent,
                dropCr,
                budget,
              );
              assert.deepEqual(out.subarray(3, end), expected.out);
              assert.equal(wasm.lineEnd, expected.lineEnd);
            }),
        );
      },
    ),
    { numRuns: 500 },
  );
});

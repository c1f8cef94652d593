import assert from "node:assert/strict";
import fc from "fast-check";
import type { LogClock, LogTime } from "../src/clock.ts";
import {
  type CriFlavour,
  CriLineJoiner,
  type CriRecord,
  decodeCriLine,
} from "../src/cri.ts";
import {
  CRI_OPTION_KEYS,
  CriSink,
  type CriSinkOptions,
  DEFAULT_MAX_LINE_SIZE,
  parseCriOptions,
} from "../src/cri_sink.ts";
import { copyStreams } from "../src/logger.ts";
import type { StreamName } from "../src/sink.ts";
import { utf8SequenceLength } from "../src/utf8.ts";
import { chunkReader, concat, fixture, fixtureInputs } from "./_helpers.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();
/** 2026-11-29T15:54:16Z */
const SEC = 1795967656;
const TIME: LogTime = { sec: SEC, nsec: 567_733_500 };

function fixedClock(time: LogTime = TIME): LogClock {
  return { now: () => time } as unknown as LogClock;
}

/** A clock a microsecond later at each call. */
function tickingClock(): LogClock {
  let n = 0;
  return { now: () => ({ sec: SEC, nsec: 1000 * ++n }) } as unknown as LogClock;
}

/** Splits a log into its lines (each must end with `\n`) and decodes them. */
function records(log: Uint8Array): CriRecord[] {
  const out: CriRecord[] = [];
  let start = 0;
  while (start < log.length) {
    const nl = log.indexOf(0x0a, start);
    assert.notEqual(nl, -1, "every record ends with a newline");
    out.push(decodeCriLine(log.subarray(start, nl + 1)));
    start = nl + 1;
  }
  return out;
}

/** Joins records into each stream's bytes, `\n` after each finished line. */
function joined(recs: CriRecord[]): Record<StreamName, Uint8Array> {
  const joiner = new CriLineJoiner();
  const parts: Record<StreamName, Uint8Array[]> = { stdout: [], stderr: [] };
  const add = (
    line: { stream: StreamName; content: Uint8Array; newline: boolean },
  ) => {
    parts[line.stream].push(line.content.slice());
    if (line.newline) parts[line.stream].push(utf8.encode("\n"));
  };
  for (const r of recs) {
    const line = joiner.push(r);
    if (line) add(line);
  }
  for (const line of joiner.end()) add(line);
  return { stdout: concat(parts.stdout), stderr: concat(parts.stderr) };
}

/** Tags and contents, for compact assertions. */
function shape(recs: CriRecord[]): string[] {
  return recs.map((r) =>
    `${r.stream} ${r.partial ? "P" : "F"} ${
      r.content.length > 40
        ? `<${r.content.length} bytes>`
        : text.decode(r.content)
    }`
  );
}

/** Runs `stdout` (and `stderr`) through copyStreams into a CriSink. */
async function logThrough(
  stdout: Uint8Array | Uint8Array[],
  options: Omit<CriSinkOptions, "path"> & {
    stderr?: Uint8Array[];
    clock?: LogClock;
    /** Hide the sink's fast path: every line through the framer's pieces. */
    piecesOnly?: boolean;
  } = {},
): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/0.log`;
    const sink = CriSink.open({ ...options, path });
    const piecesOnly = {
      write: sink.write.bind(sink),
      flush: sink.flush.bind(sink),
      close: sink.close.bind(sink),
    };
    const result = await copyStreams(
      {
        stdout: chunkReader(Array.isArray(stdout) ? stdout : [stdout]),
        stderr: chunkReader(options.stderr ?? []),
      },
      options.piecesOnly ? piecesOnly : sink,
      { clock: options.clock ?? fixedClock() },
    );
    await sink.close(result.ended);
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Feeds pieces straight to a sink, bypassing the framer. */
async function logPieces(
  pieces: [Uint8Array, boolean][],
  options: Omit<CriSinkOptions, "path">,
  ended: StreamName[] = ["stdout"],
): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/0.log`;
    const sink = CriSink.open({ ...options, path });
    for (const [piece, partial] of pieces) {
      sink.write("stdout", piece, partial, TIME);
      sink.flush();
    }
    await sink.close(ended);
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function xs(n: number, byte = 0x78): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

Deno.test("CriSink (cri) writes UTC times with Z and trailing zeros trimmed, as containerd", async () => {
  const log = await logThrough(fixture("inputs/simple.bin"));
  assert.equal(
    text.decode(log),
    "2026-11-29T15:54:16.5677335Z stdout F hello\n" +
      "2026-11-29T15:54:16.5677335Z stdout F world\n",
  );
  const whole = await logThrough(utf8.encode("a\n"), {
    clock: fixedClock({ sec: SEC, nsec: 0 }),
  });
  assert.equal(text.decode(whole), "2026-11-29T15:54:16Z stdout F a\n");
});

Deno.test("CriSink (cri) drops the \\r of a \\r\\n line end and keeps a lone \\r, as containerd", async () => {
  const recs = records(await logThrough(fixture("inputs/crlf.bin")));
  assert.deepEqual(shape(recs), [
    "stdout F one",
    "stdout F two",
    "stdout F lone\rcr",
  ]);
  const only = records(await logThrough(utf8.encode("\r\n\r\r\n")));
  assert.deepEqual(shape(only), ["stdout F ", "stdout F \r"]);
});

Deno.test("CriSink (k8s-file) keeps \\r and writes conmon's time: local, nine digits, numeric offset", async () => {
  const log = await logThrough(fixture("inputs/crlf.bin"), {
    flavour: "k8s-file",
    clock: fixedClock({ sec: SEC, nsec: 5 }),
  });
  const recs = records(log);
  assert.deepEqual(shape(recs), [
    "stdout F one\r",
    "stdout F two\r",
    "stdout F lone\rcr",
  ]);
  for (const l of text.decode(log).trimEnd().split("\n")) {
    assert.match(
      l,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000005[+-]\d\d:\d\d stdout F /,
    );
  }
});

Deno.test("CriSink (k8s-file) writes conmon 2.1's records for every fixture of short lines", async () => {
  for (const name of fixtureInputs()) {
    if (
      name.startsWith("long_") || name === "multibyte_at_16k" ||
      name === "no_trailing_newline"
    ) continue;
    const ours = records(
      await logThrough(fixture(`inputs/${name}.bin`), { flavour: "k8s-file" }),
    );
    const conmon = records(fixture(`conmon-2.1-k8s-file/${name}.log`));
    assert.deepEqual(
      ours.map(({ stream, partial, content }) => ({
        stream,
        partial,
        content,
      })),
      conmon.map(({ stream, partial, content }) => ({
        stream,
        partial,
        content,
      })),
      name,
    );
  }
});

Deno.test("CriSink (k8s-file) matches every conmon 2.1 fixture once P records are joined, and closes the final fragment with an empty F", async () => {
  for (const name of fixtureInputs()) {
    const input = fixture(`inputs/${name}.bin`);
    const ours = records(await logThrough(input, { flavour: "k8s-file" }));
    const conmon = records(fixture(`conmon-2.1-k8s-file/${name}.log`));
    const oursJoined = joined(ours).stdout;
    const conmonJoined = joined(conmon).stdout;
    if (input.at(-1) === 0x0a) {
      assert.deepEqual(oursJoined, conmonJoined, name);
      assert.deepEqual(oursJoined, input, name);
      assert.equal(
        ours.at(-1)!.partial,
        false,
        `${name} ends with an F record`,
      );
    } else {
      // conmon 2.1.6 leaves the P open; we close it with an empty F, so a
      // reader sees the fragment as a finished line.
      assert.equal(conmon.at(-1)!.partial, true, name);
      assert.deepEqual(conmonJoined, input, name);
      assert.deepEqual(oursJoined, concat([input, utf8.encode("\n")]), name);
      assert.deepEqual(shape(ours.slice(-2)).map((s) => s.slice(0, 9)), [
        "stdout P ",
        "stdout F ",
      ]);
      assert.equal(ours.at(-1)!.content.length, 0);
    }
    // Each of our records holds a whole line unless the line is longer
    // than 16,384 bytes: F after every line end, P only within long lines.
    for (const r of ours) assert.ok(r.content.length <= DEFAULT_MAX_LINE_SIZE);
  }
});

Deno.test("CriSink splits at containerd's 16,384 bytes, not counting the newline", async () => {
  const cases: Record<string, string[]> = {
    long_16383: ["stdout F <16383 bytes>"],
    long_16384: ["stdout F <16384 bytes>"],
    long_16385: ["stdout P <16384 bytes>", "stdout F a"],
    long_20000: ["stdout P <16384 bytes>", "stdout F <3616 bytes>"],
    long_50000_nonl: [
      "stdout P <16384 bytes>",
      "stdout P <16384 bytes>",
      "stdout P <16384 bytes>",
      "stdout P <848 bytes>",
      "stdout F ",
    ],
  };
  for (const [name, want] of Object.entries(cases)) {
    const input = fixture(`inputs/${name}.bin`);
    const recs = records(await logThrough(input));
    const got = shape(recs);
    // long_16385's last byte may be any letter: compare lengths there.
    assert.deepEqual(
      got.map((s) => s.replace(/^(stdout F )[a-z]$/, "$1a")),
      want,
      name,
    );
  }
});

Deno.test("CriSink never cuts a valid multibyte character: the P record ends before it", async () => {
  const recs = records(
    await logThrough(fixture("inputs/multibyte_at_16k.bin")),
  );
  assert.deepEqual(shape(recs), ["stdout P <16383 bytes>", "stdout F €tail"]);
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (const r of recs) fatal.decode(r.content);
  // Docker's fixture shows the damage this avoids: U+FFFD on both sides.
  assert.match(
    text.decode(fixture("docker-20.10-json-file/multibyte_at_16k.json")),
    /\\ufffd/,
  );
});

Deno.test("CriSink with a 4-byte character at the limit cuts before it, and cuts invalid bytes anywhere", async () => {
  const emoji = utf8.encode("😀");
  const line = concat([xs(5), emoji, utf8.encode("\n")]);
  assert.deepEqual(
    shape(records(await logThrough(line, { maxLineSize: 7 }))),
    ["stdout P xxxxx", "stdout F 😀"],
  );
  const invalid = concat([
    xs(6),
    new Uint8Array([0xff, 0xff, 0xff]),
    utf8.encode("\n"),
  ]);
  const recs = records(await logThrough(invalid, { maxLineSize: 7 }));
  assert.deepEqual(recs.map((r) => r.content.length), [7, 2]);
});

Deno.test("CriSink (cri) counts a line's length after dropping the \\r of \\r\\n, even when a read or piece ends between them", async () => {
  const line = concat([xs(16384), utf8.encode("\r\n")]);
  // The framer cuts at 16,384 bytes: the \r and \n come in the second piece.
  assert.deepEqual(shape(records(await logThrough(line))), [
    "stdout F <16384 bytes>",
  ]);
  // Pieces cut between \r and \n, straight to the sink.
  const pieces: [Uint8Array, boolean][] = [
    [concat([xs(16384), utf8.encode("\r")]), true],
    [utf8.encode("\n"), false],
  ];
  assert.deepEqual(shape(records(await logPieces(pieces, {}))), [
    "stdout F <16384 bytes>",
  ]);
  assert.deepEqual(
    shape(records(await logPieces(pieces, { flavour: "k8s-file" }))),
    ["stdout P <16384 bytes>", "stdout F \r"],
  );
  // A \r that ends the stream is content.
  assert.deepEqual(
    shape(
      records(
        await logPieces([[concat([xs(8), utf8.encode("\r")]), true]], {
          maxLineSize: 8,
        }),
      ),
    ),
    ["stdout P xxxxxxxx", "stdout P \r", "stdout F "],
  );
});

Deno.test("CriSink with max-line-size 0 writes any line as one F record", async () => {
  const line = concat([xs(100_000), utf8.encode("\n")]);
  assert.deepEqual(
    shape(records(await logThrough(line, { maxLineSize: 0 }))),
    ["stdout F <100000 bytes>"],
  );
});

Deno.test("CriSink closes a final fragment with an empty F record, `TIME STREAM F ` with the space", async () => {
  const log = await logThrough(utf8.encode("first\nfrag"));
  assert.equal(
    text.decode(log),
    "2026-11-29T15:54:16.5677335Z stdout F first\n" +
      "2026-11-29T15:54:16.5677335Z stdout P frag\n" +
      "2026-11-29T15:54:16.5677335Z stdout F \n",
  );
  // Nothing more when the stream ends with a newline.
  assert.equal(
    text.decode(await logThrough(utf8.encode("a\n"))).split("\n").length,
    2,
  );
});

Deno.test("CriSink closes only the streams that reached end of file; a stopped stream's P stays open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/0.log`;
    const sink = CriSink.open({ path, maxLineSize: 4 });
    sink.write("stdout", utf8.encode("out-fragment"), true, TIME);
    sink.write("stderr", utf8.encode("err"), true, TIME);
    await sink.close(["stderr"]);
    assert.deepEqual(shape(records(await Deno.readFile(path))), [
      "stdout P out-",
      "stdout P frag",
      "stdout P ment",
      "stderr P err",
      "stderr F ",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CriSink gives every record of a line the time the line began", async () => {
  const line = concat([xs(40_000), utf8.encode("\n")]);
  const chunks = [
    line.subarray(0, 10_000),
    line.subarray(10_000, 30_000),
    line.subarray(30_000),
  ];
  const recs = records(await logThrough(chunks, { clock: tickingClock() }));
  assert.equal(recs.length, 3);
  assert.ok(recs.every((r) => r.time.nsec === recs[0].time.nsec));
});

Deno.test("CriSink interleaves stdout and stderr records, each stream's lines whole", async () => {
  const out = utf8.encode("o1\no2-" + "x".repeat(30_000) + "\n");
  const err = [utf8.encode("e1\ne"), utf8.encode("2\n")];
  const recs = records(await logThrough(out, { stderr: err }));
  const j = joined(recs);
  assert.deepEqual(j.stdout, out);
  assert.deepEqual(j.stderr, concat(err));
});

Deno.test("CriSink batches records: nothing reaches the file before flush(), then all in one write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/0.log`;
    const sink = CriSink.open({ path });
    for (let i = 0; i < 1000; i++) {
      sink.write(
        i % 2 ? "stdout" : "stderr",
        utf8.encode(`line ${i}\n`),
        false,
        TIME,
      );
    }
    assert.equal((await Deno.stat(path)).size, 0);
    sink.flush();
    assert.equal(records(await Deno.readFile(path)).length, 1000);
    await sink.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CriSink.open() refuses a max-line-size that cannot hold a character, and an unknown flavour", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.throws(
      () => CriSink.open({ path: `${dir}/0.log`, maxLineSize: 3 }),
      {
        name: "RangeError",
        message: /max-line-size 3: must be 0 \(no limit\) or at least 4 bytes/,
      },
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => CriSink.open({ path: `${dir}/0.log`, flavour: "json" as any }),
      /Unknown CRI flavour "json"; valid flavours: cri, k8s-file/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no file created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- Properties: any bytes come back, with the documented rules. ----

/** What a reader gets back: `\r\n` as `\n` in `cri`, and a final `\n`. */
function expectedBack(input: Uint8Array, flavour: CriFlavour): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    if (flavour === "cri" && input[i] === 0x0d && input[i + 1] === 0x0a) {
      continue;
    }
    out.push(input[i]);
  }
  if (out.length > 0 && out.at(-1) !== 0x0a) out.push(0x0a);
  return new Uint8Array(out);
}

/** Checks the records of a log of `input` against every rule. */
function checkRecords(
  log: Uint8Array,
  input: Uint8Array,
  flavour: CriFlavour,
  maxLineSize: number,
): void {
  const recs = records(log);
  assert.deepEqual(joined(recs).stdout, expectedBack(input, flavour));
  let line: CriRecord[] = [];
  for (const r of recs) {
    if (maxLineSize > 0) {
      assert.ok(r.content.length <= maxLineSize, "record too long");
    }
    line.push(r);
    if (r.partial) continue;
    // Cuts fall between characters: never inside a valid UTF-8 sequence.
    const whole = concat(line.map((x) => x.content));
    const inside = new Set<number>();
    for (let i = 0; i < whole.length;) {
      const n = utf8SequenceLength(whole, i, whole.length) || 1;
      for (let k = 1; k < n; k++) inside.add(i + k);
      i += n;
    }
    let at = 0;
    for (const part of line.slice(0, -1)) {
      assert.ok(part.content.length > 0, "no empty P record");
      at += part.content.length;
      assert.ok(!inside.has(at), `cut at ${at} inside a character`);
    }
    line = [];
  }
  assert.equal(line.length, 0, "no P left open after end of file");
}

const interestingByte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x61, 0x20) },
  { weight: 2, arbitrary: fc.constantFrom(0x0a, 0x0d) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      0xe2,
      0x82,
      0xac,
      0xf0,
      0x9f,
      0x98,
      0x80,
      0xc3,
      0xa9,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

/** Bytes made of short random runs and, sometimes, a long repeated one. */
const streamBytes = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: fc.array(interestingByte, { maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constantFrom([0x78], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [
          0x0d,
        ]),
        fc.integer({ min: 1, max: 9000 }),
      ).map(([unit, times]) =>
        Array.from({ length: times }, () => unit).flat()
      ),
    },
  ),
  { maxLength: 12 },
).map((runs) => new Uint8Array(runs.flat()));

const maxLineSizes = fc.oneof(
  fc.integer({ min: 4, max: 24 }),
  fc.constantFrom(0, DEFAULT_MAX_LINE_SIZE),
);
const flavours = fc.constantFrom<CriFlavour>("cri", "k8s-file");

Deno.test("property: any bytes through copyStreams and CriSink read back as written (cri: \\r\\n as \\n; a final fragment gains \\n)", async () => {
  await fc.assert(
    fc.asyncProperty(
      streamBytes,
      maxLineSizes,
      flavours,
      fc.array(fc.integer({ min: 1, max: 20_000 }), {
        minLength: 1,
        maxLength: 6,
      }),
      async (input, maxLineSize, flavour, sizes) => {
        const chunks: Uint8Array[] = [];
        for (let off = 0, k = 0; off < input.length; k++) {
          const n = sizes[k % sizes.length];
          chunks.push(input.subarray(off, off + n));
          off += n;
        }
        const log = await logThrough(chunks, { maxLineSize, flavour });
        checkRecords(log, input, flavour, maxLineSize);
      },
    ),
    { numRuns: 120 },
  );
});

Deno.test("property: CriSink writes the same log, times included, whether its writeLines fast path takes whole lines or the framer's pieces come one by one", async () => {
  const chunksOf = (input: Uint8Array, sizes: number[]) => {
    const chunks: Uint8Array[] = [];
    for (let off = 0, k = 0; off < input.length; k++) {
      const n = sizes[k % sizes.length];
      chunks.push(input.subarray(off, off + n));
      off += n;
    }
    return chunks;
  };
  // Lines longer than the framer's 16 KiB pieces, across reads.
  const longLines = fc.array(
    fc.tuple(
      fc.constantFrom("x", "€", "😀"),
      fc.integer({ min: 1, max: 20_000 }),
      fc.constantFrom("\n", "\r\n", ""),
    ).map(([unit, n, end]) => utf8.encode(unit.repeat(n) + end)),
    { maxLength: 4 },
  ).map(concat);
  const bytes = fc.oneof(streamBytes, longLines);
  await fc.assert(
    fc.asyncProperty(
      bytes,
      bytes,
      maxLineSizes,
      flavours,
      fc.array(fc.integer({ min: 1, max: 70_000 }), {
        minLength: 1,
        maxLength: 6,
      }),
      async (out, err, maxLineSize, flavour, sizes) => {
        const options = (piecesOnly: boolean) => ({
          maxLineSize,
          flavour,
          stderr: chunksOf(err, sizes.toReversed()),
          clock: tickingClock(),
          piecesOnly,
        });
        const fast = await logThrough(chunksOf(out, sizes), options(false));
        const pieces = await logThrough(chunksOf(out, sizes), options(true));
        assert.equal(text.decode(fast), text.decode(pieces));
        assert.deepEqual(fast, pieces);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("CriSink's fast path: \r\n, a lone \r, an empty line, a line at max-line-size and one past it", async () => {
  const input = utf8.encode(
    "a\r\nb\rc\n\n" + "x".repeat(10) + "\n" + "y".repeat(11) + "\r\nz\n",
  );
  for (const flavour of ["cri", "k8s-file"] as const) {
    const log = text.decode(
      await logThrough([input], { maxLineSize: 10, flavour }),
    );
    const body = log.split("\n").slice(0, -1).map((l) =>
      l.slice(l.indexOf(" ") + 1)
    );
    assert.deepEqual(
      body,
      flavour === "cri"
        ? [
          "stdout F a",
          "stdout F b\rc",
          "stdout F ",
          `stdout F ${"x".repeat(10)}`,
          `stdout P ${"y".repeat(10)}`,
          "stdout F y",
          "stdout F z",
        ]
        : [
          "stdout F a\r",
          "stdout F b\rc",
          "stdout F ",
          `stdout F ${"x".repeat(10)}`,
          `stdout P ${"y".repeat(10)}`,
          "stdout F y\r",
          "stdout F z",
        ],
    );
  }
});

Deno.test("property: any pieces written straight to CriSink, cut anywhere (between \\r and \\n too), read back as written", async () => {
  await fc.assert(
    fc.asyncProperty(
      streamBytes,
      maxLineSizes,
      flavours,
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }),
      async (input, maxLineSize, flavour, sizes) => {
        // Pieces as the LogSink contract allows: a line's last piece ends
        // with \n and is not partial; every other piece is partial.
        const pieces: [Uint8Array, boolean][] = [];
        let k = 0;
        for (let start = 0; start < input.length;) {
          const nl = input.indexOf(0x0a, start);
          const end = nl === -1 ? input.length : nl + 1;
          for (let off = start; off < end;) {
            const cut = Math.min(end, off + sizes[k++ % sizes.length]);
            pieces.push([input.subarray(off, cut), cut < end || nl === -1]);
            off = cut;
          }
          start = end;
        }
        const log = await logPieces(pieces, { maxLineSize, flavour });
        checkRecords(log, input, flavour, maxLineSize);
      },
    ),
    { numRuns: 200 },
  );
});

// ---- Options ----

Deno.test("parseCriOptions() defaults: no rotation, 16,384-byte lines, max-file 5 once max-size is set", () => {
  assert.deepEqual(parseCriOptions({}), {
    logPath: undefined,
    maxSize: Infinity,
    maxFile: 5,
    maxLineSize: 16384,
  });
  assert.deepEqual(
    parseCriOptions({
      "max-size": "512Ki",
      "max-file": "3",
      "log-path": "/x/0.log",
    }),
    { logPath: "/x/0.log", maxSize: 524_288, maxFile: 3, maxLineSize: 16384 },
  );
  assert.equal(parseCriOptions({ "max-size": "10M" }).maxSize, 10_000_000);
  assert.equal(parseCriOptions({ "max-size": "500k" }).maxSize, 500_000);
  assert.equal(parseCriOptions({ "max-size": "4096" }).maxSize, 4096);
});

Deno.test("parseCriOptions() refuses max-size with a lowercase m, saying it is milli in Kubernetes", () => {
  assert.throws(() => parseCriOptions({ "max-size": "10m" }), {
    name: "RangeError",
    message:
      /^Invalid max-size "10m": "m" means milli \(1\/1000\) in a Kubernetes quantity, not mega as in Docker's max-size; write 10M .* or 10Mi/,
  });
  assert.throws(() => parseCriOptions({ "max-size": "10MB" }), {
    name: "SyntaxError",
    message:
      /^Cannot parse max-size "10MB": unknown suffix "MB"; valid suffixes: Ki, Mi/,
  });
  assert.throws(() => parseCriOptions({ "max-size": "0" }), {
    name: "RangeError",
    message:
      'Invalid max-size "0": must be at least 1 byte; leave max-size out for no rotation',
  });
});

Deno.test("parseCriOptions() wants max-file of 2 or more, and only with max-size", () => {
  assert.throws(() => parseCriOptions({ "max-size": "1Mi", "max-file": "1" }), {
    name: "RangeError",
    message: /^Invalid max-file "1": must be 2 or more/,
  });
  assert.throws(
    () => parseCriOptions({ "max-size": "1Mi", "max-file": "two" }),
    {
      name: "SyntaxError",
      message:
        'Cannot parse max-file "two": expected a whole number of 2 or more',
    },
  );
  assert.throws(() => parseCriOptions({ "max-file": "3" }), {
    name: "RangeError",
    message:
      'Invalid max-file "3": max-file needs max-size (without max-size there is no rotation)',
  });
});

Deno.test("parseCriOptions() reads max-line-size as bytes or a quantity; 0 and containerd's -1 mean no limit", () => {
  assert.equal(parseCriOptions({ "max-line-size": "0" }).maxLineSize, 0);
  assert.equal(parseCriOptions({ "max-line-size": "-1" }).maxLineSize, 0);
  assert.equal(parseCriOptions({ "max-line-size": "8Ki" }).maxLineSize, 8192);
  assert.equal(parseCriOptions({ "max-line-size": "100" }).maxLineSize, 100);
  assert.throws(() => parseCriOptions({ "max-line-size": "2" }), {
    name: "RangeError",
    message:
      /^Invalid max-line-size "2": must be 0 \(no limit\) or at least 4 bytes/,
  });
  assert.throws(
    () => parseCriOptions({ "max-line-size": "-5" }),
    /must not be negative/,
  );
});

Deno.test("parseCriOptions() refuses unknown keys naming the valid ones, and a relative log-path", () => {
  assert.throws(() => parseCriOptions({ compress: "true" }, "k8s-file"), {
    name: "RangeError",
    message:
      `Unknown log opt "compress" for k8s-file log driver; valid options: ${
        CRI_OPTION_KEYS.join(", ")
      }`,
  });
  assert.deepEqual(CRI_OPTION_KEYS, [
    "log-path",
    "max-file",
    "max-line-size",
    "max-size",
  ]);
  assert.throws(() => parseCriOptions({ "log-path": "logs/0.log" }), {
    name: "RangeError",
    message: 'Invalid log-path "logs/0.log": must be an absolute path',
  });
});

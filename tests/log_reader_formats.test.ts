import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatRfc3339Nano,
  parseRfc3339Bytes,
  parseRfc3339Nano,
} from "../src/clock.ts";
import { encodeCriRecord } from "../src/cri.ts";
import {
  decodeJsonFileLine,
  JsonFileDecoder,
  JsonFileEncoder,
} from "../src/json_file.ts";
import {
  decodeOrRecover,
  detectLogFormat,
  type LogEntry,
  LogLineDecoder,
} from "../src/log_entry.ts";
import { readLogs } from "../src/log_reader.ts";
import { utf8SequenceLength } from "../src/utf8.ts";
import { concat, fixture, fixtureInputs, FIXTURES } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What Docker stores for bytes: each invalid byte (Go's rules) as U+FFFD. */
function goReplaceInvalid(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = utf8SequenceLength(bytes, i, bytes.length);
    if (n === 0) {
      out.push(0xef, 0xbf, 0xbd);
      i++;
    } else {
      for (let k = 0; k < n; k++) out.push(bytes[i + k]);
      i += n;
    }
  }
  return new Uint8Array(out);
}

async function readAll(
  path: string,
): Promise<{ entries: LogEntry[]; warnings: string[] }> {
  const entries: LogEntry[] = [];
  const warnings: string[] = [];
  for await (
    const entry of readLogs(path, { onWarning: (m) => warnings.push(m) })
  ) entries.push(entry);
  return { entries, warnings };
}

for (const name of fixtureInputs()) {
  Deno.test(`readLogs() gives back the bytes of ${name} from Docker 20.10's json-file log, up to Docker's U+FFFD`, async () => {
    const path = new URL(`docker-20.10-json-file/${name}.json`, FIXTURES)
      .pathname;
    const { entries, warnings } = await readAll(path);
    assert.deepEqual(warnings, []);
    const input = fixture(`inputs/${name}.bin`);
    // What Docker stored: its own damage (multibyte_at_16k) included.
    const stored = enc.encode(
      dec.decode(fixture(`docker-20.10-json-file/${name}.json`)).split("\n")
        .filter((l) => l !== "").map((l) => JSON.parse(l).log).join(""),
    );
    const bytes = concat(entries.map((e) => e.bytes));
    assert.deepEqual(bytes, stored);
    if (name !== "multibyte_at_16k") {
      assert.deepEqual(bytes, goReplaceInvalid(input));
    }
    assert.ok(entries.every((e) => e.stream === "stdout"));
    // Only the last piece of a line ends with \n; a final fragment has none.
    for (const e of entries) {
      assert.equal(e.partial, e.bytes.at(-1) !== 0x0a);
    }
  });

  Deno.test(`readLogs() gives back the bytes of ${name} from conmon 2.1's k8s-file log exactly`, async () => {
    const path = new URL(`conmon-2.1-k8s-file/${name}.log`, FIXTURES)
      .pathname;
    const { entries, warnings } = await readAll(path);
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      concat(entries.map((e) => e.bytes)),
      fixture(`inputs/${name}.bin`),
    );
  });
}

Deno.test("readLogs() reads Docker's rotation fixture oldest first across .2.gz, .1.gz and the current file", async () => {
  const path = new URL(
    "docker-20.10-rotation/container-json.log",
    FIXTURES,
  ).pathname;
  const { entries, warnings } = await readAll(path);
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    entries.map((e) => dec.decode(e.bytes)),
    Array.from(
      { length: 30 },
      (_, i) => `line ${30 + i} padding-padding-padding\n`,
    ),
  );
});

Deno.test("decodeJsonFileLine() undoes what JsonFileEncoder does, for any bytes (property)", () => {
  const encoder = new JsonFileEncoder({ tag: "web", "a\u2028b": "<&>" });
  const decoder = new JsonFileDecoder();
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom("stdout" as const, "stderr" as const),
      fc.integer({ min: 0, max: 4102444800 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      (log, stream, sec, nsec) => {
        const time = { sec, nsec };
        const out = new Uint8Array(encoder.maxEntryLength(log.length));
        const end = encoder.encode(
          out,
          0,
          log,
          stream,
          enc.encode(formatRfc3339Nano(time)),
        );
        const record = decoder.decode(out.subarray(0, end));
        assert.deepEqual(record.log, goReplaceInvalid(log));
        assert.equal(record.stream, stream);
        assert.deepEqual(record.time, time);
        assert.deepEqual(record.attrs, { tag: "web", "a\u2028b": "<&>" });
      },
    ),
  );
});

Deno.test("decodeJsonFileLine() takes keys in any order, whitespace, unknown keys and every JSON escape", () => {
  const line = enc.encode(
    ' { "time" : "2026-11-29T16:53:54.000000001+01:00", "extra": {"a": [1, -2.5e3, true, null, "x\\"y"]},' +
      ' "stream":"stderr", "log":"\\ud83d\\ude00 \\/\\b\\f\\t\\r\\n\\u00e9\\ud800x\\udc00" } \n',
  );
  const record = decodeJsonFileLine(line);
  assert.equal(record.stream, "stderr");
  assert.deepEqual(record.time, { sec: 1795967634, nsec: 1 });
  assert.equal(
    dec.decode(record.log),
    "😀 /\b\f\t\r\né\ufffdx\ufffd",
  );
  assert.equal(record.attrs, undefined);
});

Deno.test("decodeJsonFileLine() refuses damaged lines with a SyntaxError naming the column", () => {
  const cases: [string, RegExp][] = [
    ["", /end of line where '\{' was expected at column 1/],
    ["\0\0\0", /'\{' expected at column 1/],
    ['{"log":"x\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"', /'\}'/],
    ['{"log":"x","stream":"stdout"}', /no "time" field/],
    ['{"log":"x","time":"2026-11-29T15:53:54Z"}', /no "stream" field/],
    [
      '{"log":"x","stream":"stdin","time":"2026-11-29T15:53:54Z"}',
      /neither "stdout" nor "stderr"/,
    ],
    [
      '{"log":"x","stream":"stdout","time":"yesterday"}',
      /"time" is not an RFC 3339 time at column 37/,
    ],
    [
      '{"log":"a\tb","stream":"stdout","time":"2026-11-29T15:53:54Z"}',
      /control byte in a string at column 10/,
    ],
    [
      '{"log":"\\x","stream":"stdout","time":"2026-11-29T15:53:54Z"}',
      /bad escape in a string at column 9/,
    ],
    [
      '{"log":"x","stream":"stdout","time":"2026-11-29T15:53:54Z"} x',
      /text after the entry/,
    ],
    ['{"log":"unterminated', /unterminated string/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => decodeJsonFileLine(enc.encode(text)),
      (error: unknown) =>
        error instanceof SyntaxError && message.test(error.message),
      text,
    );
  }
});

Deno.test("parseRfc3339Bytes() reads Z and offsets as Date does, and refuses fields out of range as Go (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 86400, max: 253402300799 - 86400 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      fc.integer({ min: 1, max: 9 }),
      (sec, nsec, offsetMin, digits) => {
        const cut = Math.floor(nsec / 10 ** (9 - digits)) * 10 ** (9 - digits);
        const local = new Date((sec + offsetMin * 60) * 1000).toISOString()
          .slice(0, 19);
        const sign = offsetMin < 0 ? "-" : "+";
        const abs = Math.abs(offsetMin);
        const zone = offsetMin === 0
          ? "Z"
          : `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${
            String(abs % 60).padStart(2, "0")
          }`;
        const text = `${local}.${
          String(cut).padStart(9, "0").slice(0, digits)
        }${zone}`;
        const bytes = enc.encode(text);
        const ours = parseRfc3339Bytes(bytes, 0, bytes.length);
        assert.deepEqual(ours, parseRfc3339Nano(text));
        assert.deepEqual(ours, { sec, nsec: cut });
      },
    ),
  );
  for (
    const bad of [
      "2026-11-29T15:53:54",
      "2026-13-29T15:53:54Z",
      "2026-11-29T15:53:54.Z",
      "2026-11-29T15:53:54.1234567890Z",
      "2026-11-29T15:53:54+0100",
      "2026-11-29X15:53:54Z",
      // Out of range, as Go's time.Parse: "month/day/hour/second out of range".
      "2026-00-29T15:53:54Z",
      "2026-11-00T15:53:54Z",
      "2026-11-31T15:53:54Z",
      "2026-02-29T15:53:54Z",
      "2100-02-29T15:53:54Z",
      "2026-11-29T24:00:00Z",
      "2026-11-29T15:60:54Z",
      "2016-12-31T23:59:60Z",
      "2026-11-29T99:99:99Z",
      "2026-11-29T15:53:54+24:00",
    ]
  ) {
    const bytes = enc.encode(bad);
    assert.equal(parseRfc3339Bytes(bytes, 0, bytes.length), undefined, bad);
  }
  for (const leap of ["2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z"]) {
    const bytes = enc.encode(leap);
    assert.deepEqual(parseRfc3339Bytes(bytes, 0, bytes.length), {
      sec: Date.parse(leap) / 1000,
      nsec: 0,
    });
  }
});

Deno.test("LogLineDecoder tells json-file from CRI by the first byte and gives CRI F records their \\n back", () => {
  const decoder = new LogLineDecoder();
  const json = enc.encode(
    '{"log":"a\\n","stream":"stdout","attrs":{"tag":"t"},"time":"2026-11-29T15:53:54Z"}\n',
  );
  const cri = enc.encode("2026-11-29T16:53:54.5+01:00 stderr F b\r\n");
  const partial = encodeCriRecord({
    time: { sec: 1, nsec: 2 },
    stream: "stdout",
    partial: true,
    content: enc.encode("piece"),
  });
  assert.equal(detectLogFormat(json), "json-file");
  assert.equal(detectLogFormat(cri), "cri");
  assert.equal(detectLogFormat(enc.encode("\0\0")), undefined);
  assert.deepEqual(decoder.decode(json), {
    time: { sec: 1795967634, nsec: 0 },
    stream: "stdout",
    bytes: enc.encode("a\n"),
    partial: false,
    attrs: { tag: "t" },
  });
  assert.deepEqual(decoder.decode(cri), {
    time: { sec: 1795967634, nsec: 500_000_000 },
    stream: "stderr",
    bytes: enc.encode("b\r\n"),
    partial: false,
  });
  assert.deepEqual(decoder.decode(partial), {
    time: { sec: 1, nsec: 2 },
    stream: "stdout",
    bytes: enc.encode("piece"),
    partial: true,
  });
  assert.throws(() => decoder.decode(enc.encode("hello\n")), SyntaxError);
});

Deno.test("decodeOrRecover() finds the entry written after a run of NUL bytes or a half-written entry", () => {
  const decoder = new LogLineDecoder();
  const entry =
    '{"log":"after\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"}\n';
  const nul = concat([new Uint8Array(100), enc.encode(entry)]);
  const recovered = decodeOrRecover(decoder, nul);
  assert.equal(recovered.skipped, 100);
  assert.equal(recovered.reason, "a run of NUL bytes");
  assert.equal(dec.decode(recovered.entry!.bytes), "after\n");
  const half = enc.encode('{"log":"cut sho' + entry);
  const again = decodeOrRecover(decoder, half);
  assert.equal(again.skipped, 15);
  assert.equal(dec.decode(again.entry!.bytes), "after\n");
  const cri = enc.encode(
    "2026-11-29T15:5\u00002026-11-29T15:53:54Z stdout F x\n",
  );
  assert.equal(dec.decode(decodeOrRecover(decoder, cri).entry!.bytes), "x\n");
  const hopeless = decodeOrRecover(decoder, enc.encode("not a log line\n"));
  assert.equal(hopeless.entry, undefined);
  assert.equal(hopeless.skipped, 15);
});

import assert from "node:assert/strict";
import {
  CriEncoder,
  CriLineJoiner,
  type CriRecord,
  decodeCriLine,
  encodeCriRecord,
  formatLocalRfc3339Nano,
} from "../src/cri.ts";
import { concat, fixture, fixtureInputs } from "./_helpers.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** 2026-11-29T15:54:16Z */
const SEC = 1795967656;

function line(s: string): Uint8Array {
  return utf8.encode(s);
}

Deno.test("decodeCriLine() reads containerd's record: UTC time with Z and trimmed digits", () => {
  const record = decodeCriLine(
    line("2026-11-29T15:54:16.5677335Z stdout F hello world\n"),
  );
  assert.deepEqual(record.time, { sec: SEC, nsec: 567_733_500 });
  assert.equal(record.stream, "stdout");
  assert.equal(record.partial, false);
  assert.equal(text.decode(record.content), "hello world");
});

Deno.test("decodeCriLine() reads conmon's record: nine digits and a numeric offset", () => {
  const record = decodeCriLine(
    line("2026-11-29T16:54:16.567733509+01:00 stderr P part"),
  );
  assert.deepEqual(record.time, { sec: SEC, nsec: 567_733_509 });
  assert.equal(record.stream, "stderr");
  assert.equal(record.partial, true);
  assert.equal(text.decode(record.content), "part");
  assert.deepEqual(
    decodeCriLine(line("2026-11-29T10:24:16.5-05:30 stdout F x")).time,
    { sec: SEC, nsec: 500_000_000 },
  );
});

Deno.test("decodeCriLine() accepts 0 to 9 fractional digits", () => {
  assert.deepEqual(
    decodeCriLine(line("2026-11-29T15:54:16Z stdout F x")).time,
    {
      sec: SEC,
      nsec: 0,
    },
  );
  for (let digits = 1; digits <= 9; digits++) {
    const frac = "123456789".slice(0, digits);
    const record = decodeCriLine(
      line(`2026-11-29T15:54:16.${frac}Z stdout F x`),
    );
    assert.equal(record.time.nsec, Number(frac.padEnd(9, "0")), frac);
  }
});

Deno.test("decodeCriLine() keeps content byte for byte: spaces, \\r, NUL, invalid UTF-8, a trailing space", () => {
  const content = new Uint8Array([
    0x20,
    0x61,
    0x0d,
    0x00,
    0xff,
    0xc0,
    0xaf,
    0x20,
  ]);
  const record = decodeCriLine(
    concat([line("2026-11-29T15:54:16Z stdout F "), content, line("\n")]),
  );
  assert.deepEqual([...record.content], [...content]);
});

Deno.test("decodeCriLine() reads an empty record `TIME STREAM F ` as empty content", () => {
  const record = decodeCriLine(line("2026-11-29T15:54:16Z stderr F \n"));
  assert.equal(record.partial, false);
  assert.equal(record.content.length, 0);
});

Deno.test("decodeCriLine() ignores tags after a colon, as kubelet does for forward compatibility", () => {
  assert.equal(
    decodeCriLine(line("2026-11-29T15:54:16Z stdout P:x y")).partial,
    true,
  );
  assert.equal(
    decodeCriLine(line("2026-11-29T15:54:16Z stdout F:a:b y")).partial,
    false,
  );
});

Deno.test("decodeCriLine() returns a view of the line, not a copy", () => {
  const bytes = line("2026-11-29T15:54:16Z stdout F abc");
  const record = decodeCriLine(bytes);
  assert.equal(record.content.buffer, bytes.buffer);
  assert.equal(record.content.byteOffset, bytes.length - 3);
});

Deno.test("decodeCriLine() throws SyntaxError on a bad line, saying what is wrong and quoting it", () => {
  const cases: [string, RegExp][] = [
    ["", /no space after the time/],
    ["\n", /no space after the time/],
    ["hello world", /the time is not RFC 3339/],
    ["2026-11-29 15:54:16Z stdout F x", /the time is not RFC 3339/],
    ["2026-11-29T15:54:16.1234567890Z stdout F x", /the time is not RFC 3339/],
    ["2026-11-29T15:54:16Z stdout", /no space after the stream/],
    [
      "2026-11-29T15:54:16Z stdin F x",
      /unknown stream "stdin"; expected stdout or stderr/,
    ],
    [
      "2026-11-29T15:54:16Z stdout F",
      /no space after the tag \(an empty record is written `TIME STREAM F `\)/,
    ],
    ["2026-11-29T15:54:16Z stdout F\n", /no space after the tag/],
    ["2026-11-29T15:54:16Z stdout X x", /unknown tag "X"; expected F or P/],
    ["2026-11-29T15:54:16Z stdout FP x", /unknown tag "FP"/],
    ["2026-11-29T15:54:16Z stdout  x", /unknown tag ""/],
  ];
  for (const [input, why] of cases) {
    assert.throws(() => decodeCriLine(line(input)), (error: Error) => {
      assert.ok(error instanceof SyntaxError, input);
      assert.match(error.message, why, input);
      assert.ok(
        error.message.startsWith(
          `Cannot parse CRI log line ${JSON.stringify(input.slice(0, 60))}`,
        ),
        error.message,
      );
      return true;
    });
  }
  const long = "x".repeat(100);
  assert.throws(() => decodeCriLine(line(long)), {
    message: `Cannot parse CRI log line "${
      "x".repeat(60)
    }"…: no space after the time`,
  });
});

Deno.test("CriEncoder writes containerd's time: UTC, trailing zeros trimmed, no dot for whole seconds", () => {
  const record = (nsec: number): CriRecord => ({
    time: { sec: SEC, nsec },
    stream: "stdout",
    partial: false,
    content: line("x"),
  });
  assert.equal(
    text.decode(encodeCriRecord(record(567_733_500))),
    "2026-11-29T15:54:16.5677335Z stdout F x\n",
  );
  assert.equal(
    text.decode(encodeCriRecord(record(1))),
    "2026-11-29T15:54:16.000000001Z stdout F x\n",
  );
  assert.equal(
    text.decode(encodeCriRecord(record(0))),
    "2026-11-29T15:54:16Z stdout F x\n",
  );
});

Deno.test("CriEncoder writes P and F tags, the stream, and raw content with one final newline", () => {
  const encoder = new CriEncoder("cri");
  const out = new Uint8Array(200);
  const content = new Uint8Array([0xff, 0x0d, 0x00, 0x20]);
  let end = encoder.encode(out, 0, {
    time: { sec: SEC, nsec: 0 },
    stream: "stderr",
    partial: true,
    content,
  });
  end = encoder.encode(out, end, {
    time: { sec: SEC, nsec: 0 },
    stream: "stderr",
    partial: false,
    content: new Uint8Array(0),
  });
  assert.deepEqual(
    [...out.subarray(0, end)],
    [
      ...line("2026-11-29T15:54:16Z stderr P "),
      ...content,
      0x0a,
      ...line("2026-11-29T15:54:16Z stderr F \n"),
    ],
  );
  assert.ok(end <= 2 * encoder.maxRecordLength(4));
});

Deno.test("CriEncoder refuses an unknown flavour, naming the valid ones", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new CriEncoder("docker" as any),
    {
      name: "RangeError",
      message: 'Unknown CRI flavour "docker"; valid flavours: cri, k8s-file',
    },
  );
});

Deno.test("formatLocalRfc3339Nano() writes conmon's time: local, nine digits, +hh:mm offset (checked in four time zones)", async () => {
  const module = new URL("../src/cri.ts", import.meta.url).href;
  const code = `import { formatLocalRfc3339Nano as f } from ${
    JSON.stringify(module)
  };
console.log([f({ sec: ${SEC}, nsec: 5 }), f({ sec: ${SEC}, nsec: 567733509 })].join(","));`;
  const expected: Record<string, string> = {
    UTC:
      "2026-11-29T15:54:16.000000005+00:00,2026-11-29T15:54:16.567733509+00:00",
    "Asia/Kolkata":
      "2026-11-29T21:24:16.000000005+05:30,2026-11-29T21:24:16.567733509+05:30",
    "America/New_York":
      "2026-11-29T10:54:16.000000005-05:00,2026-11-29T10:54:16.567733509-05:00",
    "America/St_Johns":
      "2026-11-29T12:24:16.000000005-03:30,2026-11-29T12:24:16.567733509-03:30",
  };
  for (const [tz, want] of Object.entries(expected)) {
    const { code: status, stdout, stderr } = await new Deno.Command(
      Deno.execPath(),
      {
        args: ["eval", "--no-check", code],
        env: { TZ: tz },
        stdin: "null",
      },
    ).output();
    assert.equal(status, 0, text.decode(stderr));
    assert.equal(text.decode(stdout).trim(), want, tz);
  }
});

Deno.test("formatLocalRfc3339Nano() agrees with Date in this process's time zone", () => {
  const s = formatLocalRfc3339Nano({ sec: SEC, nsec: 42 });
  assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000042[+-]\d\d:\d\d$/);
  const offset = -new Date(SEC * 1000).getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, "0")}:${
    String(abs % 60).padStart(2, "0")
  }`;
  assert.ok(s.endsWith(`${sign}${hhmm}`), s);
  assert.equal(Date.parse(s.replace(/\.\d+/, "")), SEC * 1000);
});

Deno.test("encodeCriRecord() and decodeCriLine() round-trip both flavours", () => {
  const record: CriRecord = {
    time: { sec: SEC, nsec: 123_000_789 },
    stream: "stderr",
    partial: true,
    content: new Uint8Array([0x00, 0xe2, 0x82, 0x20, 0xff, 0x0d]),
  };
  for (const flavour of ["cri", "k8s-file"] as const) {
    assert.deepEqual(decodeCriLine(encodeCriRecord(record, flavour)), record);
  }
});

Deno.test("CriLineJoiner joins P records and their F per stream, with other streams in between", () => {
  const joiner = new CriLineJoiner();
  const r = (
    stream: "stdout" | "stderr",
    partial: boolean,
    s: string,
    sec = SEC,
  ): CriRecord => ({
    time: { sec, nsec: 0 },
    stream,
    partial,
    content: utf8.encode(s),
  });
  assert.equal(joiner.push(r("stdout", true, "hel", SEC)), undefined);
  const other = joiner.push(r("stderr", false, "err", SEC + 1))!;
  assert.deepEqual([other.stream, text.decode(other.content), other.newline], [
    "stderr",
    "err",
    true,
  ]);
  assert.equal(joiner.push(r("stdout", true, "lo ", SEC + 2)), undefined);
  const done = joiner.push(r("stdout", false, "world", SEC + 3))!;
  assert.equal(text.decode(done.content), "hello world");
  assert.equal(done.time.sec, SEC, "the time of the first record");
  assert.equal(done.newline, true);
  assert.deepEqual(joiner.end(), []);
});

Deno.test("CriLineJoiner.end() returns lines left open by P records, without newline", () => {
  const joiner = new CriLineJoiner();
  const content = utf8.encode("frag");
  joiner.push({
    time: { sec: SEC, nsec: 0 },
    stream: "stderr",
    partial: true,
    content,
  });
  content.fill(0x21); // the joiner copied what it keeps
  const [open] = joiner.end();
  assert.deepEqual([open.stream, text.decode(open.content), open.newline], [
    "stderr",
    "frag",
    false,
  ]);
  assert.deepEqual(joiner.end(), []);
});

Deno.test("decodeCriLine() and CriLineJoiner read every conmon 2.1 fixture back to the bytes the container wrote", () => {
  for (const name of fixtureInputs()) {
    const input = fixture(`inputs/${name}.bin`);
    const log = fixture(`conmon-2.1-k8s-file/${name}.log`);
    const joiner = new CriLineJoiner();
    const parts: Uint8Array[] = [];
    let start = 0;
    while (start < log.length) {
      const nl = log.indexOf(0x0a, start);
      const record = decodeCriLine(log.subarray(start, nl + 1));
      assert.match(
        text.decode(log.subarray(start, log.indexOf(0x20, start))),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00$/,
      );
      const done = joiner.push(record);
      if (done) parts.push(done.content.slice(), utf8.encode("\n"));
      start = nl + 1;
    }
    // conmon 2.1.6 leaves a final fragment's P open: no newline there.
    for (const open of joiner.end()) parts.push(open.content);
    assert.deepEqual(concat(parts), input, name);
  }
});

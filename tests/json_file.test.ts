import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeAttrs,
  escapeJsonBytes,
  JsonFileEncoder,
} from "../src/json_file.ts";
import { LineFramer } from "../src/line_framer.ts";
import { fixture, fixtureInputs } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes input the way the driver does, with Docker's time of each line. */
function encodeLikeDriver(input: Uint8Array, times: string[]): string {
  const encoder = new JsonFileEncoder();
  const framer = new LineFramer();
  const out: string[] = [];
  const emit = (piece: Uint8Array) => {
    const buf = new Uint8Array(encoder.maxEntryLength(piece.length));
    const time = enc.encode(times[out.length] ?? "2026-01-01T00:00:00Z");
    const end = encoder.encode(buf, 0, piece, "stdout", time);
    out.push(dec.decode(buf.subarray(0, end)));
  };
  framer.push(input, emit);
  framer.end(emit);
  return out.join("");
}

for (const name of fixtureInputs()) {
  if (name === "multibyte_at_16k") continue;
  Deno.test(`JsonFileEncoder writes ${name} byte for byte as Docker 20.10`, () => {
    const docker = dec.decode(fixture(`docker-20.10-json-file/${name}.json`));
    const times = docker.split("\n").filter((l) => l).map((l) =>
      JSON.parse(l).time
    );
    const ours = encodeLikeDriver(fixture(`inputs/${name}.bin`), times);
    assert.equal(ours, docker);
  });
}

Deno.test("JsonFileEncoder keeps a character whole where Docker cut it at 16 KiB (multibyte_at_16k)", () => {
  const input = fixture("inputs/multibyte_at_16k.bin");
  const docker = dec.decode(
    fixture("docker-20.10-json-file/multibyte_at_16k.json"),
  );
  const dockerEntries = docker.split("\n").filter((l) => l).map((l) =>
    JSON.parse(l)
  );
  // Docker wrote U+FFFD on both sides of the cut: damage.
  assert.ok(dockerEntries[1].log.startsWith("\ufffd\ufffd"));
  const ours = encodeLikeDriver(input, []).split("\n").filter((l) => l).map(
    (l) => JSON.parse(l),
  );
  assert.equal(ours.length, 2);
  assert.equal(ours.map((e) => e.log).join(""), dec.decode(input));
  assert.ok(!ours.map((e) => e.log).join("").includes("\ufffd"));
  assert.ok(enc.encode(ours[0].log).length <= 16384);
});

Deno.test("escapeJsonBytes() writes one \\ufffd per invalid byte, as Go", () => {
  const cases: [number[], string][] = [
    [[0xff], "\\ufffd"],
    [[0xe2, 0x82, 0x20], "\\ufffd\\ufffd "],
    [[0xc0, 0xaf], "\\ufffd\\ufffd"],
    [[0xed, 0xa0, 0x80], "\\ufffd\\ufffd\\ufffd"],
    [[0xf4, 0x90, 0x80, 0x80], "\\ufffd\\ufffd\\ufffd\\ufffd"],
    [[0xef, 0xbf, 0xbd], "\ufffd"],
    [[0xf0, 0x9f, 0x98, 0x80], "😀"],
    [[0x7f], "\x7f"],
    [[0xe2, 0x80, 0xa8, 0xe2, 0x80, 0xa9], "\\u2028\\u2029"],
  ];
  for (const [bytes, expected] of cases) {
    const out = new Uint8Array(bytes.length * 6);
    const end = escapeJsonBytes(new Uint8Array(bytes), out, 0);
    assert.equal(dec.decode(out.subarray(0, end)), expected, `${bytes}`);
  }
});

Deno.test("escapeJsonBytes() output parses back to the input for valid UTF-8 (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 64 }), (text) => {
      const src = enc.encode(text);
      const out = new Uint8Array(src.length * 6);
      const end = escapeJsonBytes(src, out, 0);
      assert.equal(
        JSON.parse(`"${dec.decode(out.subarray(0, end))}"`),
        dec.decode(src),
      );
    }),
    { numRuns: 1000 },
  );
});

Deno.test("JsonFileEncoder puts attrs between stream and time, keys sorted, as Docker", () => {
  const encoder = new JsonFileEncoder({ zeta: "<z>", alpha: "a" });
  const buf = new Uint8Array(200);
  const end = encoder.encode(
    buf,
    0,
    enc.encode("hi\n"),
    "stderr",
    enc.encode("2026-11-29T15:53:54.2731822Z"),
  );
  assert.equal(
    dec.decode(buf.subarray(0, end)),
    '{"log":"hi\\n","stream":"stderr","attrs":{"alpha":"a","zeta":"\\u003cz\\u003e"},"time":"2026-11-29T15:53:54.2731822Z"}\n',
  );
  assert.equal(encodeAttrs({}).length, 0);
});

Deno.test("encodeAttrs writes what Go 1.19's json.Marshal of a map[string]string writes: tab as \\t, keys in UTF-8 byte order", () => {
  // Go's output for the same map (go run, encoding/json), where `lone` came
  // from json.Unmarshal of "x\\ud800y", as labels and env reach moby.
  const attrs = {
    E: 'a\tb\n\r"\\<>&\x01\x7f\u2028\b\f',
    "\uffff": "1",
    "\u{1f600}": "2",
    lone: "x\ud800y",
  };
  assert.equal(
    dec.decode(encodeAttrs(attrs)),
    '{"E":"a\\tb\\n\\r\\"\\\\\\u003c\\u003e\\u0026\\u0001\x7f\\u2028\\u0008\\u000c","lone":"x\ufffdy","\uffff":"1","\u{1f600}":"2"}',
  );
});

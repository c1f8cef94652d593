import assert from "node:assert/strict";
import type { LogEntry } from "../src/log_entry.ts";
import {
  type ByteWriter,
  formatDetails,
  formatTimestampFixed,
  LogPrinter,
  queryEscape,
} from "../src/log_output.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A writer that records each write, at most `max` bytes at a time. */
class Recorder implements ByteWriter {
  writes: string[] = [];
  constructor(
    readonly name: string,
    readonly log: string[],
    readonly max = Infinity,
  ) {}
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.max);
    this.log.push(`${this.name}:${dec.decode(p.subarray(0, n))}`);
    return Promise.resolve(n);
  }
}

function entry(
  stream: "stdout" | "stderr",
  text: string,
  nsec = 0,
  attrs?: Record<string, string>,
): LogEntry {
  const bytes = enc.encode(text);
  return {
    time: { sec: 1795967634, nsec },
    stream,
    bytes,
    partial: !text.endsWith("\n"),
    ...(attrs ? { attrs } : {}),
  };
}

Deno.test("formatTimestampFixed() always writes nine fractional digits, in UTC", () => {
  assert.equal(
    formatTimestampFixed({ sec: 1795967634, nsec: 0 }),
    "2026-11-29T15:53:54.000000000Z",
  );
  assert.equal(
    formatTimestampFixed({ sec: 0, nsec: 999_999_999 }),
    "1970-01-01T00:00:00.999999999Z",
  );
});

Deno.test("queryEscape() escapes as Go's url.QueryEscape", () => {
  assert.equal(queryEscape("aZ09-_.~"), "aZ09-_.~");
  assert.equal(queryEscape("a b+c"), "a+b%2Bc");
  assert.equal(
    queryEscape("!*'();:@&=$,/?#[]"),
    "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%2F%3F%23%5B%5D",
  );
  assert.equal(queryEscape("é😀"), "%C3%A9%F0%9F%98%80");
});

Deno.test("formatDetails() writes sorted key=value pairs joined by commas, then a space, as moby's attrsByteSlice", () => {
  assert.equal(formatDetails({ b: "2", a: "1 1" }), "a=1+1,b=2 ");
  assert.equal(formatDetails({}), " ");
  assert.equal(formatDetails(undefined), " ");
});

Deno.test("LogPrinter sends each stream to its writer in order, prefixing each logical line once", async () => {
  const log: string[] = [];
  const printer = new LogPrinter(
    { stdout: new Recorder("out", log), stderr: new Recorder("err", log) },
    { timestamps: true, details: true },
  );
  await printer.print([
    entry("stdout", "long ", 1, { tag: "t" }),
    entry("stderr", "oops\n", 2),
    entry("stdout", "line\n", 1, { tag: "t" }),
    entry("stdout", "frag", 3),
  ]);
  await printer.flush();
  assert.deepEqual(log, [
    "out:2026-11-29T15:53:54.000000001Z tag=t long ",
    "err:2026-11-29T15:53:54.000000002Z  oops\n",
    "out:line\n2026-11-29T15:53:54.000000003Z  frag",
  ]);
});

Deno.test("LogPrinter writes everything even when writers take a few bytes at a time, and big entries past its buffer", async () => {
  const log: string[] = [];
  const printer = new LogPrinter(
    { stdout: new Recorder("", log, 7), stderr: new Recorder("", log, 7) },
    {},
  );
  const big = "x".repeat(300_000) + "\n";
  await printer.print([entry("stdout", "small\n"), entry("stdout", big)]);
  await printer.flush();
  assert.ok(log.every((w) => w.startsWith(":") && w.length <= 8));
  assert.ok(log.map((w) => w.slice(1)).join("") === "small\n" + big);
});

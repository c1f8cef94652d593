import assert from "node:assert/strict";
import { formatRfc3339Nano, type LogTime } from "../src/clock.ts";
import { encodeCriRecord } from "../src/cri.ts";
import { gzipWithExtra } from "../src/gzip.ts";
import { JsonFileEncoder } from "../src/json_file.ts";
import type { LogEntry, StreamName } from "../src/log_entry.ts";
import { readLogs, type ReadLogsOptions } from "../src/log_reader.ts";
import { concat, FIXTURES } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const T0 = 1795967634; // 2026-11-29T15:53:54Z

/** One json-file line, as the driver writes it. */
function jsonLine(
  log: string,
  stream: StreamName = "stdout",
  time: LogTime = { sec: T0, nsec: 0 },
): string {
  const encoder = new JsonFileEncoder();
  const bytes = enc.encode(log);
  const out = new Uint8Array(encoder.maxEntryLength(bytes.length));
  const end = encoder.encode(
    out,
    0,
    bytes,
    stream,
    enc.encode(formatRfc3339Nano(time)),
  );
  return dec.decode(out.subarray(0, end));
}

async function gzip(text: string, lastTime?: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await gzipWithExtra(
    new Blob([text]).stream(),
    new WritableStream({ write: (c) => void chunks.push(c) }),
    enc.encode(lastTime === undefined ? "" : JSON.stringify({ lastTime })),
  );
  return concat(chunks);
}

async function read(
  path: string,
  options: ReadLogsOptions = {},
): Promise<{ text: string[]; entries: LogEntry[]; warnings: string[] }> {
  const entries: LogEntry[] = [];
  const warnings: string[] = [];
  for await (
    const e of readLogs(path, {
      ...options,
      onWarning: (m) => warnings.push(m),
    })
  ) entries.push(e);
  return {
    text: entries.map((e) => `${e.stream}:${dec.decode(e.bytes)}`),
    entries,
    warnings,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-reader-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ROTATION = new URL(
  "docker-20.10-rotation/container-json.log",
  FIXTURES,
).pathname;

Deno.test("readLogs() with tail reads the last lines across Docker's compressed rotated files", async () => {
  const lines = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => `stdout:line ${60 - n + i} padding-padding-padding\n`,
    );
  assert.deepEqual((await read(ROTATION, { tail: 15 })).text, lines(15));
  assert.deepEqual((await read(ROTATION, { tail: 10 })).text, lines(10));
  assert.deepEqual((await read(ROTATION, { tail: 25 })).text, lines(25));
  assert.deepEqual((await read(ROTATION, { tail: 1000 })).text, lines(30));
  assert.deepEqual((await read(ROTATION, { tail: 0 })).text, []);
});

Deno.test("readLogs() with tail counts logical lines: pieces joined, a final fragment counted, streams apart", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const t = (nsec: number) => ({ sec: T0, nsec });
    await Deno.writeTextFile(
      path,
      [
        jsonLine("a1\n", "stdout", t(1)),
        jsonLine("long-", "stdout", t(2)), // piece 1 of a split line
        jsonLine("e1\n", "stderr", t(3)),
        jsonLine("line-", "stdout", t(2)), // piece 2
        jsonLine("end\n", "stdout", t(2)), // piece 3
        jsonLine("e2-", "stderr", t(4)),
        jsonLine("frag", "stdout", t(5)), // final fragment of stdout
        jsonLine("more\n", "stderr", t(4)),
      ].join(""),
    );
    const tail = async (n: number) => (await read(path, { tail: n })).text;
    assert.deepEqual(await tail(1), ["stderr:e2-", "stderr:more\n"]);
    assert.deepEqual(await tail(2), [
      "stderr:e2-",
      "stdout:frag",
      "stderr:more\n",
    ]);
    assert.deepEqual(await tail(3), [
      "stdout:long-",
      "stdout:line-",
      "stdout:end\n",
      "stderr:e2-",
      "stdout:frag",
      "stderr:more\n",
    ]);
    assert.deepEqual((await tail(4)).length, 7);
    assert.deepEqual((await tail(5)).length, 8);
    assert.deepEqual(await tail(99), await tail(5));
  });
});

Deno.test("readLogs() with tail joins CRI P records and counts conmon's final P record as a line", async () => {
  const path = (n: string) =>
    new URL(`conmon-2.1-k8s-file/${n}.log`, FIXTURES).pathname;
  const long = await read(path("long_50000_nonl"), { tail: 1 });
  assert.equal(long.entries.length, 7); // conmon's 8 KiB records
  assert.equal(concat(long.entries.map((e) => e.bytes)).length, 50000);
  assert.deepEqual(
    (await read(path("no_trailing_newline"), { tail: 1 })).text,
    [
      "stdout:last line without newline",
    ],
  );
  assert.deepEqual((await read(path("simple"), { tail: 1 })).text, [
    "stdout:world\n",
  ]);
});

Deno.test("readLogs() with since and until keeps lines in [since, until) to the nanosecond, by the time of their first piece", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const at = (nsec: number) =>
      nsec < 1e9 ? { sec: T0, nsec } : { sec: T0 + 1, nsec: nsec - 1e9 };
    const lines = [];
    for (let i = 0; i < 6; i++) {
      lines.push(jsonLine(`n${i}\n`, "stdout", at(999_999_997 + i)));
    }
    await Deno.writeTextFile(path, lines.join(""));
    const names = async (options: ReadLogsOptions) =>
      (await read(path, options)).text.map((t) => t.slice(7, 9));
    assert.deepEqual(await names({ since: at(999_999_999) }), [
      "n2",
      "n3",
      "n4",
      "n5",
    ]);
    assert.deepEqual(await names({ until: at(1e9) }), ["n0", "n1", "n2"]);
    assert.deepEqual(
      await names({ since: at(999_999_998), until: at(1e9 + 1) }),
      ["n1", "n2", "n3"],
    );
    assert.deepEqual(
      await names({ since: at(999_999_998), until: at(1e9 + 1), tail: 2 }),
      ["n2", "n3"],
    );
    assert.deepEqual(await names({ since: at(1e9 + 3) }), []);
  });
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const record = (nsec: number, partial: boolean, text: string) =>
      encodeCriRecord({
        time: { sec: T0, nsec },
        stream: "stdout",
        partial,
        content: enc.encode(text),
      });
    await Deno.writeFile(
      path,
      concat([
        record(10, true, "a"),
        record(20, false, "b"),
        record(30, true, "c"),
        record(40, false, "d"),
      ]),
    );
    const since = { sec: T0, nsec: 20 };
    assert.deepEqual((await read(path, { since })).text, [
      "stdout:c",
      "stdout:d\n",
    ]);
    assert.deepEqual(
      (await read(path, { until: { sec: T0, nsec: 30 } })).text,
      [
        "stdout:a",
        "stdout:b\n",
      ],
    );
  });
});

Deno.test("readLogs() with since and tail counts lines after an older one, when a run whose clock was behind appended to the log", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    // A first run stamped its lines far ahead; the next, right, appended.
    await Deno.writeTextFile(
      path,
      [
        jsonLine("ahead-1\n", "stdout", { sec: T0 + 100, nsec: 0 }),
        jsonLine("ahead-2\n", "stdout", { sec: T0 + 101, nsec: 0 }),
        jsonLine("now-1\n", "stdout", { sec: T0, nsec: 0 }),
        jsonLine("now-2\n", "stderr", { sec: T0 + 1, nsec: 0 }),
      ].join(""),
    );
    const since = { sec: T0 + 50, nsec: 0 };
    const forward = (await read(path, { since })).text;
    assert.deepEqual(forward, ["stdout:ahead-1\n", "stdout:ahead-2\n"]);
    assert.deepEqual((await read(path, { since, tail: 5 })).text, forward);
    assert.deepEqual((await read(path, { since, tail: 1 })).text, [
      "stdout:ahead-2\n",
    ]);
  });
});

Deno.test("readLogs() with since skips compressed files whose gzip header ends before it, without decompressing them", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const old = await gzip(
      jsonLine("old\n", "stdout", { sec: T0 - 100, nsec: 0 }),
      formatRfc3339Nano({ sec: T0 - 100, nsec: 0 }),
    );
    // Corrupt the compressed data after the header: reading it would fail.
    old.fill(0xff, 60, old.length - 8);
    await Deno.writeFile(`${path}.2.gz`, old);
    await Deno.writeFile(
      `${path}.1.gz`,
      await gzip(
        jsonLine("mid\n", "stdout", { sec: T0, nsec: 5 }),
        formatRfc3339Nano({ sec: T0, nsec: 5 }),
      ),
    );
    await Deno.writeTextFile(
      path,
      jsonLine("new\n", "stdout", { sec: T0 + 1, nsec: 0 }),
    );
    const since = { sec: T0, nsec: 5 };
    const result = await read(path, { since });
    assert.deepEqual(result.text, ["stdout:mid\n", "stdout:new\n"]);
    assert.deepEqual(result.warnings, []);
    const tailed = await read(path, { since, tail: 10 });
    assert.deepEqual(tailed.text, ["stdout:mid\n", "stdout:new\n"]);
    assert.deepEqual(tailed.warnings, []);
  });
});

Deno.test("readLogs() reads past a gzip file that ends early or is garbage, saying how much of it was read, with and without tail", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const lines = (from: number, to: number) =>
      [...Array(to - from).keys()].map((i) => jsonLine(`line ${from + i}\n`))
        .join("");
    await Deno.writeFile(`${path}.3.gz`, await gzip(lines(0, 3)));
    // Cut inside its deflate data, then garbage: neither can be read whole.
    const cut = await gzip(lines(3, 2000));
    await Deno.writeFile(`${path}.2.gz`, cut.subarray(0, cut.length >> 1));
    await Deno.writeFile(`${path}.1.gz`, enc.encode("not gzip at all\n"));
    await Deno.writeTextFile(path, lines(2000, 2002));
    for (const tail of [undefined, 1_000_000]) {
      const { text, warnings } = await read(path, { tail });
      const numbers = text.map((t) => Number(/line (\d+)/.exec(t)![1]));
      // The first lines of the cut file come, in order, then the plain file.
      assert.deepEqual(numbers.slice(0, 3), [0, 1, 2]);
      assert.deepEqual(numbers.slice(-2), [2000, 2001]);
      const fromCut = numbers.slice(3, -2);
      assert.ok(
        fromCut.length > 0 && fromCut.length < 1997,
        `${fromCut.length}`,
      );
      assert.deepEqual(fromCut, [...fromCut.keys()].map((i) => i + 3));
      assert.equal(warnings.length, 2, warnings.join("\n"));
      warnings.sort().reverse(); // tail looks at the newest file first
      assert.match(
        warnings[0],
        /^Skipped the rest of ".*\/c-json\.log\.2\.gz" after \d+ bytes of its uncompressed data: /,
      );
      assert.match(
        warnings[1],
        /^Skipped the rest of ".*\/c-json\.log\.1\.gz" after 0 bytes of its uncompressed data: /,
      );
    }
  });
});

Deno.test("readLogs() gives all a gzip file holds before trailing garbage, zeros or text (the platform's decompressor refuses it), with one note saying so", async () => {
  for (
    const garbage of [new Uint8Array(4096), enc.encode("some text\nmore\n")]
  ) {
    await withDir(async (dir) => {
      const path = `${dir}/c-json.log`;
      const lines = [...Array(20_000).keys()].map((i) =>
        jsonLine(`line ${i}\n`)
      );
      await Deno.writeFile(
        `${path}.1.gz`,
        concat([await gzip(lines.join("")), garbage]),
      );
      await Deno.writeTextFile(path, jsonLine("current\n"));
      const { text, warnings } = await read(path);
      const numbers = text.slice(0, -1).map((t) =>
        Number(/line (\d+)/.exec(t)![1])
      );
      assert.deepEqual(numbers, [...Array(20_000).keys()]);
      assert.equal(text.at(-1), "stdout:current\n");
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(
        warnings[0],
        /\.1\.gz" after \d+ bytes of its uncompressed data: bytes after the end of its gzip data, ignored$/,
      );
    });
  }
});

Deno.test("readLogs() skips damage, says once per file what and where, and carries on", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    await Deno.writeFile(
      path,
      concat([
        enc.encode(jsonLine("one\n")),
        enc.encode("this is not json\n"),
        enc.encode(jsonLine("two\n")),
        new Uint8Array(4096), // NULs after a crash, then a restart
        enc.encode(jsonLine("three\n")),
        enc.encode('{"log":"half-wri'),
      ]),
    );
    const { text, warnings } = await read(path);
    assert.deepEqual(text, ["stdout:one\n", "stdout:two\n", "stdout:three\n"]);
    const first = jsonLine("one\n").length;
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(
      warnings[0],
      new RegExp(
        `^Skipped damaged data in "${path}" at byte ${first} \\(17 bytes\\): Not a log entry`,
      ),
    );
    assert.match(
      warnings[1],
      /^Skipped 3 damaged parts \(4129 bytes\) in all in ".*c-json\.log"$/,
    );
  });
});

Deno.test("readLogs() reads kubelet's rotated names (N.log.YYYYMMDD-hhmmss[.gz]) oldest first", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const rec = (text: string) =>
      encodeCriRecord({
        time: { sec: T0, nsec: 0 },
        stream: "stdout",
        partial: false,
        content: enc.encode(text),
      });
    await Deno.writeFile(
      `${path}.20261129-155410.gz`,
      await gzip(dec.decode(rec("a"))),
    );
    await Deno.writeFile(`${path}.20261129-155411`, rec("b"));
    await Deno.writeFile(path, rec("c"));
    await Deno.writeFile(`${path}.20261129-155411.tmp`, rec("junk"));
    assert.deepEqual((await read(path)).text, [
      "stdout:a\n",
      "stdout:b\n",
      "stdout:c\n",
    ]);
    assert.deepEqual((await read(path, { tail: 2 })).text, [
      "stdout:b\n",
      "stdout:c\n",
    ]);
  });
});

Deno.test("readLogs() throws NotFound for a missing log file", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      () => read(`${dir}/missing.log`),
      Deno.errors.NotFound,
    );
  });
});

Deno.test("readLogs() without follow reads what the file held when it started", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    await Deno.writeTextFile(path, jsonLine("one\n") + jsonLine("two\n"));
    const seen: string[] = [];
    for await (const e of readLogs(path)) {
      seen.push(dec.decode(e.bytes));
      await Deno.writeTextFile(path, jsonLine("late\n"), { append: true });
    }
    assert.deepEqual(seen, ["one\n", "two\n"]);
  });
});

Deno.test("readLogs() gives back CRI records longer than 8 MiB (max-line-size 0) in pieces, with and without tail", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const record = (
      sec: number,
      stream: StreamName,
      partial: boolean,
      content: Uint8Array,
    ) =>
      encodeCriRecord({
        time: { sec: T0 + sec, nsec: 0 },
        stream,
        partial,
        content,
      });
    const a = new Uint8Array(10_000_000).fill(0x61);
    const b = new Uint8Array(9 << 20).fill(0x62);
    const c = new Uint8Array(1000).fill(0x63);
    await Deno.writeFile(
      path,
      concat([
        record(0, "stdout", false, enc.encode("before")),
        record(1, "stdout", false, a),
        record(2, "stderr", true, b),
        record(3, "stderr", false, c),
        record(4, "stdout", false, enc.encode("after")),
      ]),
    );
    const joined = (entries: LogEntry[], stream: StreamName) =>
      concat(entries.filter((e) => e.stream === stream).map((e) => e.bytes));
    const newline = enc.encode("\n");
    const all = await read(path);
    assert.deepEqual(all.warnings, []);
    assert.deepEqual(
      joined(all.entries, "stdout"),
      concat([enc.encode("before\n"), a, newline, enc.encode("after\n")]),
    );
    assert.deepEqual(joined(all.entries, "stderr"), concat([b, c, newline]));
    // Every piece of a record has the record's time; none is much over
    // 8 MiB (a line so long is given out from there, a read at a time).
    assert.ok(all.entries.every((e) => e.bytes.length <= 9 << 20));
    const times = all.entries.filter((e) => e.stream === "stdout").map((e) =>
      e.time.sec - T0
    );
    assert.deepEqual([...new Set(times)], [0, 1, 4]);
    assert.ok(times.filter((t) => t === 1).length > 1, "in pieces");
    const three = await read(path, { tail: 3 });
    assert.deepEqual(three.warnings, []);
    assert.deepEqual(
      joined(three.entries, "stdout"),
      concat([a, newline, enc.encode("after\n")]),
    );
    assert.deepEqual(joined(three.entries, "stderr"), concat([b, c, newline]));
    assert.deepEqual((await read(path, { tail: 1 })).text, ["stdout:after\n"]);
  });
});

Deno.test("readLogs() with since and tail reads past a compressed file wholly before since to older files with later times", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const ahead = { sec: T0 + 100, nsec: 0 };
    await Deno.writeTextFile(`${path}.3`, jsonLine("ahead\n", "stdout", ahead));
    await Deno.writeFile(
      `${path}.2.gz`,
      await gzip(
        jsonLine("old\n", "stdout", { sec: T0, nsec: 0 }),
        formatRfc3339Nano({ sec: T0, nsec: 0 }),
      ),
    );
    await Deno.writeTextFile(`${path}.1`, jsonLine("old too\n"));
    await Deno.writeTextFile(path, jsonLine("now\n"));
    const since = { sec: T0 + 50, nsec: 0 };
    assert.deepEqual((await read(path, { since })).text, ["stdout:ahead\n"]);
    assert.deepEqual((await read(path, { since, tail: 10 })).text, [
      "stdout:ahead\n",
    ]);
  });
});

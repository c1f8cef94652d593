import assert from "node:assert/strict";
import { parseRfc3339Nano } from "../src/clock.ts";
import { gzipExtra } from "../src/gzip.ts";
import { JsonFileSink } from "../src/json_file_sink.ts";
import { readLogs } from "../src/log_reader.ts";
import {
  type LogFileEvent,
  RotatingFile,
  ROTATION_RETRY_MS,
} from "../src/rotating_file.ts";
import { fixture, withTempDir } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/**
 * Writes `count` entries, `line(i)` for i from `from` (about 100 bytes by
 * default), as a sink does, flushing each unless `flush` is false.
 *
 * @returns The entries written.
 */
function writeEntries(
  file: RotatingFile,
  from: number,
  count: number,
  line = (i: number) => `entry ${i} ${"x".repeat(80 + (i % 17))}\n`,
  flush = true,
): string[] {
  const written: string[] = [];
  for (let i = from; i < from + count; i++) {
    written.push(line(i));
    const bytes = enc.encode(written.at(-1)!);
    const pos = file.reserve(bytes.length);
    file.buffer.set(bytes, pos);
    file.commit(pos + bytes.length, `t${i}`);
    if (flush) file.flush();
  }
  return written;
}

Deno.test("JsonFileSink reproduces Docker's rotation fixture (max-size=1k max-file=3 compress)", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const base = "docker-20.10-rotation/container-json.log";
    const kept = [
      ...(await gunzip(fixture(`${base}.2.gz`))).split("\n"),
      ...(await gunzip(fixture(`${base}.1.gz`))).split("\n"),
      ...dec.decode(fixture(base)).split("\n"),
    ].filter((l) => l).map((l) => JSON.parse(l));
    assert.equal(kept.length, 30);
    const path = `${dir}/container-json.log`;
    const sink = JsonFileSink.open({
      path,
      maxSize: 1000,
      maxFile: 3,
      compress: true,
    });
    for (let i = 0; i < 60; i++) {
      // Lines 0-29 were discarded by Docker; give them full-length times,
      // before those of the lines kept.
      const time = i < 30
        ? { sec: 1_790_000_000, nsec: 123_456_789 + i }
        : parseRfc3339Nano(kept[i - 30].time);
      sink.write(
        "stdout",
        enc.encode(`line ${i} padding-padding-padding\n`),
        false,
        time,
      );
      sink.flush();
    }
    await sink.close();
    assert.deepEqual(listDir(dir), [
      "container-json.log",
      "container-json.log.1.gz",
      "container-json.log.2.gz",
    ]);
    assert.equal(
      Deno.readTextFileSync(path),
      dec.decode(fixture(base)),
    );
    for (const n of [1, 2]) {
      const ours = Deno.readFileSync(`${path}.${n}.gz`);
      const docker = fixture(`${base}.${n}.gz`);
      assert.equal(await gunzip(ours), await gunzip(docker));
      assert.equal(
        dec.decode(gzipExtra(ours)),
        dec.decode(gzipExtra(docker)),
        `gzip extra field of .${n}.gz`,
      );
      // Docker's header: FEXTRA flag, no mtime, OS 255.
      assert.deepEqual([...ours.subarray(0, 10)], [...docker.subarray(0, 10)]);
    }
  }));

Deno.test("JsonFileSink gives a compressed file's gzip header its latest time, not its last entry's, so that readLogs({since}) skips no entry of it", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const t1 = { sec: 1_795_967_656, nsec: 0 };
    const t2 = { sec: 1_795_967_657, nsec: 500 };
    const t3 = { sec: 1_795_967_658, nsec: 0 };
    const found: Record<string, string[]> = {};
    for (const compress of [false, true]) {
      const path = `${dir}/${compress}.log`;
      const sink = JsonFileSink.open({
        path,
        maxSize: 150,
        maxFile: 3,
        compress,
      });
      // A long line's pieces share its first piece's time, so the file's
      // last entry (the line's end, at t1) is older than the stderr entry
      // written between its pieces (t2).
      sink.write("stdout", enc.encode("long, part 1"), true, t1);
      sink.write("stderr", enc.encode("err at t2\n"), false, t2);
      sink.write("stdout", enc.encode("long, part 2\n"), false, t1);
      sink.flush();
      sink.write("stdout", enc.encode("later at t3\n"), false, t3);
      await sink.close();
      if (compress) {
        assert.deepEqual(listDir(dir).filter((n) => n.startsWith("true")), [
          "true.log",
          "true.log.1.gz",
        ]);
        assert.equal(
          dec.decode(gzipExtra(Deno.readFileSync(`${path}.1.gz`))),
          '{"lastTime":"2026-11-29T15:54:17.0000005Z"}',
        );
      }
      found[String(compress)] = [];
      for await (const e of readLogs(path, { since: t2 })) {
        found[String(compress)].push(dec.decode(e.bytes));
      }
    }
    assert.deepEqual(found.false, ["err at t2\n", "later at t3\n"]);
    assert.deepEqual(found.true, found.false);
  }));

Deno.test("JsonFileSink.open() refuses rotation options out of range, as the driver's string options are refused, and makes no file", () =>
  withTempDir("shimlog-rotating-", (dir) => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ maxSize: -1 }, /^Invalid max-size -1: must be at least 1 byte$/],
      [{ maxSize: 0 }, /^Invalid max-size 0/],
      [{ maxSize: NaN }, /^Invalid max-size NaN/],
      [{ maxSize: 50, maxFile: 0 }, /^Invalid max-file 0: must be a whole/],
      [{ maxSize: 50, maxFile: 1.5 }, /^Invalid max-file 1\.5/],
      [{ compress: true }, /^Invalid compress: it needs max-size/],
      [{ compress: true, maxSize: 50 }, /^Invalid compress/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => JsonFileSink.open({ path: `${dir}/x.log`, ...options }),
        (e: unknown) => e instanceof RangeError && message.test(e.message),
        JSON.stringify(options),
      );
    }
    assert.deepEqual(listDir(dir), []);
  }));

Deno.test("JsonFileSink after close(): a write throws, saying the file is closed, and a second close() does nothing", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const sink = JsonFileSink.open({ path, maxSize: 1000, maxFile: 2 });
    const t = { sec: 1_795_967_656, nsec: 0 };
    sink.write("stdout", enc.encode("before\n"), false, t);
    await sink.close();
    assert.throws(
      () => sink.write("stdout", enc.encode("after\n"), false, t),
      /^Error: Cannot write an entry: the log file is closed/,
    );
    sink.flush();
    await sink.close();
    assert.equal(
      Deno.readTextFileSync(path),
      '{"log":"before\\n","stream":"stdout","time":"2026-11-29T15:54:16Z"}\n',
    );
  }));

Deno.test("RotatingFile.close() with abandon stops the compression running: its file stays uncompressed, nothing of it is left, and no failure is told", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const events: LogFileEvent[] = [];
    const file = RotatingFile.open(path, {
      maxSize: 40_000_000,
      maxFile: 2,
      compress: true,
      onEvent: (event) => events.push(event),
    });
    // 40 MB that gzip is slow on (random text), then one entry that rotates.
    const random = new Uint8Array(48 * 1024);
    const line = (i: number) => {
      crypto.getRandomValues(random);
      return `${i} ${btoa(String.fromCharCode(...random))}\n`;
    };
    const written = [
      ...writeEntries(file, 0, 620, line, false),
      ...writeEntries(file, 620, 1, line),
    ];
    const abandon = new AbortController();
    setTimeout(() => abandon.abort(), 50);
    await file.close({ signal: AbortSignal.abort(), abandon: abandon.signal });
    assert.deepEqual(listDir(dir), ["x.log", "x.log.1"]);
    const kept = Deno.readTextFileSync(`${path}.1`) +
      Deno.readTextFileSync(path);
    assert.ok(kept === written.join(""), "every entry once, in order");
    assert.deepEqual(events, []);
  }));

Deno.test("RotatingFile rotates before the entry that finds the file at max-size, never splitting one", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const file = RotatingFile.open(path, { maxSize: 10, maxFile: 3 });
    const put = (text: string) => {
      const bytes = enc.encode(text);
      const pos = file.reserve(bytes.length);
      file.buffer.set(bytes, pos);
      file.commit(pos + bytes.length, "t");
    };
    put("123456789\n"); // 10 bytes: exactly max-size
    put("a\n"); // the file is at max-size: rotate first
    put("bbbbbbbbbbbbbbbbbbbb\n"); // 2 bytes < 10: no rotation, file grows past max
    put("c\n");
    await file.close();
    assert.equal(Deno.readTextFileSync(`${path}.2`), "123456789\n");
    assert.equal(
      Deno.readTextFileSync(`${path}.1`),
      "a\nbbbbbbbbbbbbbbbbbbbb\n",
    );
    assert.equal(Deno.readTextFileSync(path), "c\n");
  }));

Deno.test("RotatingFile with max-file=1 unlinks the full file, so a reader holding it can finish it", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const file = RotatingFile.open(path, { maxSize: 4, maxFile: 1 });
    const put = (text: string) => {
      const bytes = enc.encode(text);
      const pos = file.reserve(bytes.length);
      file.buffer.set(bytes, pos);
      file.commit(pos + bytes.length, "t");
      file.flush();
    };
    put("old\n");
    using reader = Deno.openSync(path);
    put("new\n");
    await file.close();
    assert.deepEqual(listDir(dir), ["x.log"]);
    assert.equal(Deno.readTextFileSync(path), "new\n");
    const buf = new Uint8Array(16);
    const n = reader.readSync(buf);
    assert.equal(dec.decode(buf.subarray(0, n ?? 0)), "old\n");
  }));

Deno.test("RotatingFile appends to an existing file and counts its size", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, "first run\n");
    const file = RotatingFile.open(path, { maxSize: 10, maxFile: 2 });
    assert.equal(file.size, 10);
    const bytes = enc.encode("second\n");
    const pos = file.reserve(bytes.length);
    file.buffer.set(bytes, pos);
    file.commit(pos + bytes.length, "t");
    await file.close();
    assert.equal(Deno.readTextFileSync(`${path}.1`), "first run\n");
    assert.equal(Deno.readTextFileSync(path), "second\n");
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o640);
  }));

Deno.test("RotatingFile with compress loses and duplicates nothing when rotations outrun gzip", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const maxFile = 4;
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile,
      compress: true,
    });
    // Many rotations, back to back, with no await between.
    const lines = writeEntries(
      file,
      0,
      2000,
      (i) => `entry ${i} ${"x".repeat(i % 97)}\n`,
    );
    await file.close();
    const names = listDir(dir);
    assert.deepEqual(names, [
      "x.log",
      "x.log.1.gz",
      "x.log.2.gz",
      "x.log.3.gz",
    ]);
    let text = "";
    for (let n = maxFile - 1; n >= 1; n--) {
      text += await gunzip(Deno.readFileSync(`${path}.${n}.gz`));
    }
    text += Deno.readTextFileSync(path);
    const all = lines.join("");
    assert.ok(
      all.endsWith(text),
      "kept files are the exact tail of what was written",
    );
    assert.ok(
      text.startsWith("entry "),
      "the oldest kept file starts at an entry",
    );
  }));

/** The kept files' text, oldest first, gunzipping `.gz`. */
async function keptText(path: string, maxFile: number): Promise<string> {
  let text = "";
  for (let n = maxFile - 1; n >= 1; n--) {
    const names = listDir(path.slice(0, path.lastIndexOf("/")));
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (names.includes(`${name}.${n}.gz`)) {
      text += await gunzip(Deno.readFileSync(`${path}.${n}.gz`));
    } else if (names.includes(`${name}.${n}`)) {
      text += Deno.readTextFileSync(`${path}.${n}`);
    }
  }
  return text + Deno.readTextFileSync(path);
}

Deno.test("RotatingFile with compress gzips one file at a time and never a file rotation has discarded: the disk holds max-file files and one compression", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const maxFile = 4;
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile,
      compress: true,
    });
    const kept = new Set(["x.log", "x.log.1", "x.log.2", "x.log.3"]);
    for (let i = 0; i < 300; i++) {
      writeEntries(file, i * 10, 10); // one rotation or so, no await
      const extra = listDir(dir).filter((n) =>
        !kept.has(n.replace(/\.gz$/, ""))
      );
      // The compression running: its private link to the source, and its
      // output. Before, each rotation began one: hundreds at once.
      assert.ok(
        extra.length <= 2 &&
          extra.filter((n) => n.startsWith("x.log.rotated-")).length <= 1 &&
          extra.filter((n) => n.startsWith("x.log.compressing-")).length <= 1,
        `after ${i + 1} rounds: ${extra.join(" ")}`,
      );
    }
    await file.close();
    assert.deepEqual(listDir(dir), [
      "x.log",
      "x.log.1.gz",
      "x.log.2.gz",
      "x.log.3.gz",
    ]);
  }));

Deno.test("RotatingFile.close() with an aborted signal waits only for the compression running: files waiting for theirs stay uncompressed, every entry kept", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const maxFile = 5;
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile,
      compress: true,
    });
    // Three rotations: the first rotated file (now .3) began its
    // compression at once; .2 and .1 wait for their turn.
    const lines = writeEntries(file, 0, 35);
    const stop = new AbortController();
    stop.abort();
    await file.close({ signal: stop.signal });
    assert.deepEqual(listDir(dir), [
      "x.log",
      "x.log.1",
      "x.log.2",
      "x.log.3.gz",
    ]);
    const text = await keptText(path, maxFile);
    assert.ok(lines.join("").endsWith(text));
    assert.ok(text.startsWith("entry "));
  }));

Deno.test("RotatingFile.close() without a signal compresses every rotated file still waiting", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile: 5,
      compress: true,
    });
    const lines = writeEntries(file, 0, 200);
    await file.close();
    assert.deepEqual(listDir(dir), [
      "x.log",
      "x.log.1.gz",
      "x.log.2.gz",
      "x.log.3.gz",
      "x.log.4.gz",
    ]);
    const text = await keptText(path, 5);
    assert.ok(lines.join("").endsWith(text));
    assert.ok(text.startsWith("entry "));
  }));

Deno.test("RotatingFile with a large max-file renames only the files that exist, keeping every entry", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.1`, "from an earlier run\n");
    const file = RotatingFile.open(path, { maxSize: 100, maxFile: 100_000 });
    const lines = writeEntries(
      file,
      0,
      400,
      (i) => `entry ${i} ${"y".repeat(40)}\n`,
      false,
    );
    await file.close();
    const names = listDir(dir);
    const rotated = names.length - 1;
    let text = "";
    for (let n = rotated; n >= 1; n--) {
      text += Deno.readTextFileSync(`${path}.${n}`);
    }
    text += Deno.readTextFileSync(path);
    assert.equal(text, "from an earlier run\n" + lines.join(""));
  }));

Deno.test("RotatingFile writes a big batch only up to a page boundary of the file, and the rest at flush", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, "x".repeat(1000) + "\n"); // not page-aligned
    const file = RotatingFile.open(path, {});
    const entry = enc.encode("e".repeat(999) + "\n");
    const sizes = new Set<number>();
    for (let i = 0; i < 3000; i++) {
      const pos = file.reserve(entry.length);
      file.buffer.set(entry, pos);
      file.commit(pos + entry.length, "t");
      sizes.add(Deno.statSync(path).size);
    }
    sizes.delete(1001); // before the first write
    assert.ok(sizes.size >= 2, `written ${sizes.size} times`);
    for (const size of sizes) assert.equal(size % 4096, 0, `size ${size}`);
    assert.equal(file.size, 1001 + 3000 * 1000);
    file.flush();
    assert.equal(Deno.statSync(path).size, 1001 + 3000 * 1000);
    const text = Deno.readTextFileSync(path);
    assert.equal(
      text.split("\n").filter((l) => l.startsWith("e")).length,
      3000,
    );
    await file.close();
  }));

Deno.test("RotatingFile.open() deletes what a killed writer's compression left, and keeps the rotated file it was compressing", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.1`, "kept\n");
    Deno.linkSync(`${path}.1`, `${path}.rotated-0b5e`);
    Deno.writeTextFileSync(`${path}.compressing-0b5e`, "\x1f\x8b half");
    Deno.writeTextFileSync(`${dir}/y.log.rotated-1`, "another log's");
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile: 3,
      compress: true,
    });
    await file.close();
    assert.deepEqual(listDir(dir), ["x.log", "x.log.1", "y.log.rotated-1"]);
    assert.equal(Deno.readTextFileSync(`${path}.1`), "kept\n");
  }));

Deno.test("RotatingFile whose rotation fails keeps writing to the full file, tells its handler, and rotates once the cause is gone (a retry 1 s later)", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    // In the way of the discard of x.log.1 (max-file 2): not removable.
    Deno.mkdirSync(`${path}.1`);
    Deno.writeTextFileSync(`${path}.1/keep`, "");
    const events: LogFileEvent[] = [];
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile: 2,
      onEvent: (e) => events.push(e),
    });
    const first = writeEntries(file, 0, 30); // about 3 rotations' worth
    assert.deepEqual(events.map((e) => e.kind), ["rotation-failed"]);
    assert.equal(
      (events[0] as { retryMs: number }).retryMs,
      ROTATION_RETRY_MS,
    );
    assert.equal(Deno.readTextFileSync(path), first.join(""));
    Deno.removeSync(`${path}.1`, { recursive: true });
    writeEntries(file, 30, 1); // too soon: no new try
    assert.equal(events.length, 1);
    assert.ok(Deno.statSync(path).size > 3000);
    await new Promise((r) => setTimeout(r, ROTATION_RETRY_MS + 100));
    const later = writeEntries(file, 31, 1);
    await file.close();
    assert.equal(events.length, 1, "the retry worked");
    assert.deepEqual(listDir(dir), ["x.log", "x.log.1"]);
    assert.equal(Deno.readTextFileSync(path), later.join(""));
    assert.ok(Deno.readTextFileSync(`${path}.1`).startsWith(first.join("")));
  }));

Deno.test("RotatingFile tells its handler of a compression that failed, naming the file, and close() does not throw it again; without a handler close() throws it", async () => {
  for (const handled of [true, false]) {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/x.log`;
      const events: LogFileEvent[] = [];
      const file = RotatingFile.open(path, {
        maxSize: 1000,
        maxFile: 5,
        compress: true,
        ...(handled ? { onEvent: (e: LogFileEvent) => events.push(e) } : {}),
      });
      // Two rotations: the first file's compression runs, the second waits.
      writeEntries(file, 0, 25);
      assert.deepEqual(listDir(dir).filter((n) => /\.\d$/.test(n)), [
        "x.log.1",
        "x.log.2",
      ]);
      Deno.removeSync(`${path}.1`); // the waiting one, gone by hand
      if (handled) {
        await file.close();
        assert.equal(events.length, 1);
        const [event] = events;
        assert.equal(event.kind, "compression-failed");
        assert.equal((event as { path: string }).path, `${path}.1`);
        assert.ok(
          (event as { error: unknown }).error instanceof Deno.errors.NotFound,
        );
      } else {
        await assert.rejects(() => file.close(), AggregateError);
      }
      assert.deepEqual(listDir(dir), ["x.log", "x.log.2.gz"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("RotatingFile whose new file cannot be made changes nothing: no rotated file shifted or discarded, retried 1 s later", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    const events: LogFileEvent[] = [];
    const file = RotatingFile.open(path, {
      maxSize: 1000,
      maxFile: 3,
      onEvent: (e) => events.push(e),
    });
    writeEntries(file, 0, 25); // two rotations: x.log.1 and x.log.2
    const before = listDir(dir).map((
      n,
    ) => [n, Deno.readTextFileSync(`${dir}/${n}`)]);
    // In the way of the new file's private name: it cannot be made.
    const fresh = `${path}.rotating-${Deno.pid}`;
    Deno.mkdirSync(fresh);
    Deno.writeTextFileSync(`${fresh}/keep`, "");
    const more = writeEntries(file, 25, 10);
    assert.deepEqual(events.map((e) => e.kind), ["rotation-failed"]);
    for (const [name, text] of before) {
      if (name === "x.log") continue;
      assert.equal(Deno.readTextFileSync(`${dir}/${name}`), text, name);
    }
    assert.ok(Deno.readTextFileSync(path).endsWith(more.join("")));
    Deno.removeSync(fresh, { recursive: true });
    await new Promise((r) => setTimeout(r, ROTATION_RETRY_MS + 100));
    const last = writeEntries(file, 35, 1);
    await file.close();
    assert.equal(events.length, 1, "the retry worked");
    assert.deepEqual(listDir(dir), ["x.log", "x.log.1", "x.log.2"]);
    assert.equal(Deno.readTextFileSync(path), last.join(""));
    assert.equal(
      Deno.readTextFileSync(`${path}.2`),
      before.find(([n]) => n === "x.log.1")![1],
      "the old .1 moved up once",
    );
  }));

Deno.test("RotatingFile.open() on a file that ends inside a line (a writer killed mid-entry) starts the next entry on a line of its own", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, '{"log":"whole\\n"}\n{"log":"cu');
    const file = RotatingFile.open(path);
    const next = writeEntries(file, 0, 1);
    await file.close();
    assert.equal(
      Deno.readTextFileSync(path),
      '{"log":"whole\\n"}\n{"log":"cu\n' + next.join(""),
    );
  }));

Deno.test("RotatingFile: a number left empty by a writer killed between two shifts loses no file above it", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/c.log`;
    // What a SIGKILL after "NAME.2 -> NAME.3" and before "NAME.1 -> NAME.2"
    // leaves: NAME.2 empty, NAME.3 and NAME.4 above it.
    Deno.writeTextFileSync(`${path}.4`, "oldest\n");
    Deno.writeTextFileSync(`${path}.3`, "older\n");
    Deno.writeTextFileSync(`${path}.1`, "newer\n");
    Deno.writeTextFileSync(path, "current file\n");
    const file = RotatingFile.open(path, { maxSize: 10, maxFile: 10 });
    const written = writeEntries(file, 0, 3, (i) => `new entry ${i}\n`);
    await file.close();
    const kept = listDir(dir).filter((n) => n.startsWith("c.log"))
      .map((n) => Deno.readTextFileSync(`${dir}/${n}`)).sort();
    assert.deepEqual(
      kept,
      ["oldest\n", "older\n", "newer\n", "current file\n", ...written].sort(),
    );
    // The numbers keep rotation order: the oldest file has the highest.
    assert.equal(Deno.readTextFileSync(`${path}.7`), "oldest\n");
    assert.equal(Deno.readTextFileSync(`${path}.6`), "older\n");
  }));

Deno.test("RotatingFile.open deletes NAME.N when a killed writer had put NAME.N.gz in place", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/c.log`;
    const gz = new Uint8Array(
      await new Response(
        new Blob(["rotated\n"]).stream().pipeThrough(
          new CompressionStream("gzip"),
        ),
      ).arrayBuffer(),
    );
    Deno.writeFileSync(`${path}.1.gz`, gz);
    Deno.writeTextFileSync(`${path}.1`, "rotated\n");
    Deno.writeTextFileSync(`${path}.2`, "older, never compressed\n");
    const file = RotatingFile.open(path, { maxSize: 10, maxFile: 5 });
    assert.deepEqual(listDir(dir), ["c.log", "c.log.1.gz", "c.log.2"]);
    writeEntries(file, 0, 1, (i) => `new entry ${i}\n`);
    writeEntries(file, 1, 1, (i) => `new entry ${i}\n`);
    await file.close();
    assert.deepEqual(listDir(dir), [
      "c.log",
      "c.log.1",
      "c.log.2.gz",
      "c.log.3",
    ]);
    assert.equal(await gunzip(Deno.readFileSync(`${path}.2.gz`)), "rotated\n");
  }));

Deno.test("RotatingFile.open with a smaller max-file than the last run deletes the rotated files beyond it, and only with max-size", () =>
  withTempDir("shimlog-rotating-", async (dir) => {
    const path = `${dir}/c.log`;
    const make = () => {
      for (
        const n of ["c.log", "c.log.1", "c.log.2.gz", "c.log.3", "c.log.7"]
      ) {
        Deno.writeTextFileSync(`${dir}/${n}`, `${n}\n`);
      }
    };
    make();
    // Without max-size nothing rotates: max-file means nothing, and what an
    // earlier run rotated is left alone.
    await RotatingFile.open(path, {}).close();
    assert.deepEqual(listDir(dir), [
      "c.log",
      "c.log.1",
      "c.log.2.gz",
      "c.log.3",
      "c.log.7",
    ]);
    await RotatingFile.open(path, { maxSize: 1000, maxFile: 2 }).close();
    assert.deepEqual(listDir(dir), ["c.log", "c.log.1"]);
    make();
    await RotatingFile.open(path, { maxSize: 1000, maxFile: 1 }).close();
    assert.deepEqual(listDir(dir), ["c.log"]);
  }));

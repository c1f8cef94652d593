import assert from "node:assert/strict";
import {
  KubeletRotatingFile,
  type KubeletRotationOptions,
  listKubeletLogs,
  rotationStamp,
} from "../src/kubelet_rotation.ts";
import { concat, finishGzip, listingsDuring } from "./_helpers.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** 2026-11-29T15:54:16.250Z */
const T0 = 1795967656250;

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads a log file, gunzipping `.gz`. */
async function readLog(path: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  return path.endsWith(".gz") ? await gunzip(bytes) : bytes;
}

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** Appends one entry: `entry` bytes, as a sink would. */
function put(file: KubeletRotatingFile, entry: string): void {
  const bytes = utf8.encode(entry);
  const pos = file.reserve(bytes.length);
  file.buffer.set(bytes, pos);
  file.commit(pos + bytes.length);
}

async function withDir(
  fn: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(
  path: string,
  options: KubeletRotationOptions,
): KubeletRotatingFile {
  return KubeletRotatingFile.open(path, options);
}

Deno.test("KubeletRotatingFile.close() with abandon stops the compression running: the rotated file stays plain, no .tmp is left, no failure is thrown", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    // Two rotations: the older rotated file is compressed (the newest stays
    // plain, as kubelet keeps it).
    const file = open(path, { maxSize: 20_000_000, maxFile: 3 });
    const random = new Uint8Array(48 * 1024);
    const written: string[] = [];
    for (let i = 0; i < 640; i++) {
      crypto.getRandomValues(random);
      written.push(`${i} ${btoa(String.fromCharCode(...random))}\n`);
      put(file, written.at(-1)!);
    }
    file.flush(); // after the second rotation: the compression has begun
    const abandon = new AbortController();
    setTimeout(() => abandon.abort(), 50);
    await file.close({ signal: AbortSignal.abort(), abandon: abandon.signal });
    const names = listDir(dir);
    assert.equal(names.length, 3, names.join(" "));
    assert.ok(names.every((n) => !n.endsWith(".gz") && !n.endsWith(".tmp")));
    const kept = names.filter((n) =>
      n !== "0.log"
    ).map((n) => Deno.readTextFileSync(`${dir}/${n}`)).join("") +
      Deno.readTextFileSync(path);
    assert.ok(kept === written.join(""), "every entry once, in order");
  });
});

Deno.test("KubeletRotatingFile never rotates without maxSize", async () => {
  await withDir(async (dir) => {
    const file = open(`${dir}/0.log`, {});
    for (let i = 0; i < 5000; i++) put(file, `entry ${i} ${"x".repeat(200)}\n`);
    await file.close();
    assert.deepEqual(listDir(dir), ["0.log"]);
    assert.ok((await Deno.stat(`${dir}/0.log`)).size > 1_000_000);
  });
});

Deno.test("KubeletRotatingFile renames the file to <path>.YYYYMMDD-hhmmss in local time before the entry that finds it at max-size", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 20, maxFile: 5, now: () => T0 });
    put(file, "0123456789\n"); // 11 bytes
    put(file, "abcdefghi\n"); // 21 bytes: at max-size, not yet rotated
    assert.deepEqual(listDir(dir), ["0.log"]);
    put(file, "next\n"); // finds the file at 21 >= 20: rotates first
    await file.close();
    const stamp = rotationStamp(T0);
    const d = new Date(T0);
    const pad = (n: number) => String(n).padStart(2, "0");
    assert.equal(
      stamp,
      `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${
        pad(d.getHours())
      }${pad(d.getMinutes())}${pad(d.getSeconds())}`,
    );
    assert.deepEqual(listDir(dir), ["0.log", `0.log.${stamp}`]);
    assert.equal(
      await Deno.readTextFile(`${path}.${stamp}`),
      "0123456789\nabcdefghi\n",
    );
    assert.equal(await Deno.readTextFile(path), "next\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
  });
});

Deno.test("KubeletRotatingFile gives rotations within one second the next free seconds, so names sort in rotation order and none is overwritten", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 1, maxFile: 100, now: () => T0 });
    for (let i = 0; i < 5; i++) put(file, `entry ${i}\n`);
    await file.close();
    const stamps = [0, 1, 2, 3].map((s) => rotationStamp(T0 + s * 1000));
    // Each rotated file but the newest is compressed.
    assert.deepEqual(file.rotatedFiles(), [
      `${path}.${stamps[0]}.gz`,
      `${path}.${stamps[1]}.gz`,
      `${path}.${stamps[2]}.gz`,
      `${path}.${stamps[3]}`,
    ]);
    const logs = listKubeletLogs(path);
    assert.deepEqual(logs, [...file.rotatedFiles(), path]);
    const contents = await Promise.all(logs.map(readLog));
    assert.deepEqual(
      contents.map((c) => text.decode(c)),
      [0, 1, 2, 3, 4].map((i) => `entry ${i}\n`),
    );
  });
});

Deno.test("KubeletRotatingFile keeps names in order when the clock steps back (a daylight-saving change, NTP)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const times = [T0, T0 - 3_600_000, T0 + 10_000];
    const file = open(path, {
      maxSize: 1,
      maxFile: 10,
      now: () => times.shift()!,
    });
    for (let i = 0; i < 4; i++) put(file, `entry ${i}\n`);
    await file.close();
    const names = file.rotatedFiles().map((p) => p.slice(path.length + 1));
    assert.deepEqual(names, [
      `${rotationStamp(T0)}.gz`,
      `${rotationStamp(T0 + 1000)}.gz`,
      rotationStamp(T0 + 10_000),
    ]);
    assert.deepEqual([...names].sort(), names);
  });
});

Deno.test("KubeletRotatingFile skips a name that another program took after it opened, leaving that file alone", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 1, maxFile: 5, now: () => T0 });
    await Deno.writeTextFile(`${path}.${rotationStamp(T0)}`, "not ours\n");
    put(file, "a\n");
    put(file, "b\n");
    await file.close();
    assert.equal(
      await Deno.readTextFile(`${path}.${rotationStamp(T0)}`),
      "not ours\n",
    );
    assert.equal(
      await Deno.readTextFile(`${path}.${rotationStamp(T0 + 1000)}`),
      "a\n",
    );
  });
});

Deno.test("KubeletRotatingFile gzips rotated files off the write path: right after a rotation the file is still plain", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 1, maxFile: 5, now: () => T0 });
    put(file, "first\n");
    put(file, "second\n"); // rotation 1
    put(file, "third\n"); // rotation 2: the first rotated file is now due
    file.flush(); // starts the compression, does not wait for it
    const first = `${path}.${rotationStamp(T0)}`;
    assert.deepEqual(listDir(dir).filter((n) => n.endsWith(".gz")), []);
    assert.equal(await Deno.readTextFile(first), "first\n");
    await file.close();
    assert.equal(
      text.decode(await gunzip(await Deno.readFile(`${first}.gz`))),
      "first\n",
    );
    assert.deepEqual(listDir(dir), [
      "0.log",
      `0.log.${rotationStamp(T0)}.gz`,
      `0.log.${rotationStamp(T0 + 1000)}`,
    ]);
  });
});

Deno.test("KubeletRotatingFile.close() with an aborted signal waits only for the compression running: files waiting for theirs stay uncompressed", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 1, maxFile: 5, now: () => T0 });
    for (const e of ["a\n", "b\n", "c\n", "d\n", "e\n"]) put(file, e);
    file.flush(); // begins compressing "a"; "b" and "c" wait, "d" is newest
    const stop = new AbortController();
    stop.abort();
    await file.close({ signal: stop.signal });
    assert.deepEqual(listDir(dir), [
      "0.log",
      `0.log.${rotationStamp(T0)}.gz`,
      `0.log.${rotationStamp(T0 + 1000)}`,
      `0.log.${rotationStamp(T0 + 2000)}`,
      `0.log.${rotationStamp(T0 + 3000)}`,
    ]);
    const logs = listKubeletLogs(path);
    const all = text.decode(concat(await Promise.all(logs.map(readLog))));
    assert.equal(all, "a\nb\nc\nd\ne\n");
  });
});

Deno.test("KubeletRotatingFile keeps max-file files in all, deleting the oldest, and loses no entry in those it keeps", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 30, maxFile: 3, now: () => T0 });
    const entries = Array.from(
      { length: 100 },
      (_, i) => `entry ${String(i).padStart(3, "0")}\n`,
    );
    for (const e of entries) {
      put(file, e);
      if (entries.indexOf(e) % 7 === 0) file.flush();
    }
    await file.close();
    const logs = listKubeletLogs(path);
    assert.equal(logs.length, 3);
    assert.deepEqual(listDir(dir).length, 3, "no .tmp or leftover file");
    assert.match(logs[0], /\.\d{8}-\d{6}\.gz$/);
    assert.match(logs[1], /\.\d{8}-\d{6}$/);
    const kept = text.decode(concat(await Promise.all(logs.map(readLog))));
    // Each file holds 3 entries (10 bytes each: rotate at >= 30 bytes).
    assert.equal(kept, entries.slice(-7).join(""));
  });
});

Deno.test("KubeletRotatingFile loses no entry across many rotations: all files read in kubelet's order give every entry once", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 100, maxFile: 1000, now: () => T0 });
    const entries = Array.from(
      { length: 2000 },
      (_, i) => `${i} ${"y".repeat(i % 37)}\n`,
    );
    for (let i = 0; i < entries.length; i++) {
      put(file, entries[i]);
      if (i % 13 === 0) file.flush();
    }
    await file.close();
    const logs = listKubeletLogs(path);
    assert.ok(logs.length > 100);
    const all = text.decode(concat(await Promise.all(logs.map(readLog))));
    assert.equal(all, entries.join(""));
  });
});

Deno.test("KubeletRotatingFile abandons the compression of a file deleted meanwhile, leaving no .tmp", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 1, maxFile: 3, now: () => T0 });
    const big = "z".repeat(1 << 20) + "\n";
    put(file, big);
    put(file, big); // rotation 1
    put(file, big); // rotation 2
    file.flush(); // starts compressing rotation 1's file
    put(file, "x\n"); // rotation 3 deletes that file (max-file 3)
    file.flush();
    put(file, "y\n"); // rotation 4
    await file.close();
    assert.deepEqual(listDir(dir), [
      "0.log",
      `0.log.${rotationStamp(T0 + 2000)}.gz`,
      `0.log.${rotationStamp(T0 + 3000)}`,
    ]);
  });
});

Deno.test("KubeletRotatingFile on open deletes leftovers of an interrupted compression and counts rotated files already there", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    await Deno.writeTextFile(`${path}.20260101-000000.gz`, "");
    await Deno.writeTextFile(`${path}.20260101-000001`, "compressed already\n");
    await Deno.writeTextFile(`${path}.20260101-000001.gz`, "");
    await Deno.writeTextFile(`${path}.20260101-000002`, "old\n");
    await Deno.writeTextFile(`${path}.20260101-000002.tmp`, "half");
    await Deno.writeTextFile(`${path}.unrelated`, "kept\n");
    await Deno.writeTextFile(path, "before\n");
    const file = open(path, { maxSize: 1, maxFile: 3, now: () => T0 });
    assert.deepEqual(listDir(dir), [
      "0.log",
      "0.log.20260101-000000.gz",
      "0.log.20260101-000001.gz",
      "0.log.20260101-000002",
      "0.log.unrelated",
    ]);
    put(file, "after\n"); // the file holds 7 bytes, at least max-size: rotate
    await file.close();
    assert.deepEqual(listDir(dir), [
      "0.log",
      "0.log.20260101-000002.gz",
      `0.log.${rotationStamp(T0)}`,
      "0.log.unrelated",
    ]);
    assert.equal(
      await Deno.readTextFile(`${path}.${rotationStamp(T0)}`),
      "before\n",
    );
    assert.equal(
      text.decode(
        await gunzip(await Deno.readFile(`${path}.20260101-000002.gz`)),
      ),
      "old\n",
    );
  });
});

Deno.test("listKubeletLogs() lists logs in use oldest first, then the current file, as kubelet's GetAllLogs", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/3.log`;
    for (
      const name of [
        "3.log.20261129-155417",
        "3.log.20261129-155416.gz",
        "3.log.20261129-155415",
        "3.log.20261129-155415.gz",
        "3.log.20261129-155418.tmp",
        "3.log.x",
        "30.log.20261129-155416",
      ]
    ) {
      await Deno.writeTextFile(`${dir}/${name}`, "");
    }
    assert.deepEqual(listKubeletLogs(path), [
      `${path}.20261129-155415.gz`,
      `${path}.20261129-155416.gz`,
      `${path}.20261129-155417`,
      path,
    ]);
    assert.deepEqual(listKubeletLogs(`${dir}/missing/0.log`), [
      `${dir}/missing/0.log`,
    ]);
  });
});

Deno.test("listKubeletLogs() lists every log once though compressions finish while the folder is listed", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const stamps = [
      "20261129-155410",
      "20261129-155411",
      "20261129-155412",
      "20261129-155413",
    ];
    await Deno.writeTextFile(`${path}.${stamps[0]}`, "0\n");
    finishGzip(`${path}.${stamps[0]}`);
    for (const stamp of stamps.slice(1)) {
      await Deno.writeTextFile(`${path}.${stamp}`, `${stamp}\n`);
    }
    await Deno.writeTextFile(path, "");
    // The next two are compressed, one during each listing, which then
    // shows neither the plain name nor the `.gz` name.
    const restore = listingsDuring(
      stamps.slice(1, 3).map((stamp) => () => finishGzip(`${path}.${stamp}`)),
    );
    let logs: string[];
    try {
      logs = listKubeletLogs(path);
    } finally {
      restore();
    }
    // One may be listed by its plain name though compressed meanwhile.
    assert.deepEqual(
      logs.map((log) => log.replace(/\.gz$/, "")),
      [...stamps.map((stamp) => `${path}.${stamp}`), path],
    );
  });
});

Deno.test("KubeletRotatingFile.open() refuses max-file below 2 and a max-size below 1 byte", async () => {
  await withDir((dir) => {
    assert.throws(() => open(`${dir}/0.log`, { maxFile: 1 }), {
      name: "RangeError",
      message: /^Invalid max-file 1: must be a whole number of at least 2/,
    });
    assert.throws(() => open(`${dir}/0.log`, { maxSize: 0 }), {
      name: "RangeError",
      message: "Invalid max-size 0: must be at least 1 byte",
    });
    assert.deepEqual(listDir(dir), []);
  });
});

Deno.test("KubeletRotatingFile starts a new file when the current one was deleted under it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const file = open(path, { maxSize: 1, maxFile: 3, now: () => T0 });
    put(file, "gone\n");
    file.flush();
    await Deno.remove(path);
    put(file, "new\n");
    await file.close();
    assert.deepEqual(listDir(dir), ["0.log"]);
    assert.equal(await Deno.readTextFile(path), "new\n");
  });
});

Deno.test("KubeletRotatingFile.open() on a file that ends inside a record starts the next record on a line of its own", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    Deno.writeTextFileSync(path, "2026-11-29T15:54:16Z stdout F who");
    const file = open(path, { maxSize: 1000, maxFile: 2, now: () => T0 });
    put(file, "2026-11-29T15:54:17Z stderr F next\n");
    await file.close();
    assert.equal(
      Deno.readTextFileSync(path),
      "2026-11-29T15:54:16Z stdout F who\n2026-11-29T15:54:17Z stderr F next\n",
    );
  });
});

import assert from "node:assert/strict";
import { CriLineJoiner, type CriRecord, decodeCriLine } from "../src/cri.ts";
import { listKubeletLogs } from "../src/kubelet_rotation.ts";
import type { StreamName } from "../src/sink.ts";
import { startDriver } from "./_driver_process.ts";
import { concat, isLogMarker } from "./_helpers.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Every record of a kubelet-style log and its rotated files, oldest first. */
async function readAll(path: string): Promise<CriRecord[]> {
  const records: CriRecord[] = [];
  for (const file of listKubeletLogs(path)) {
    let bytes: Uint8Array = await Deno.readFile(file);
    if (file.endsWith(".gz")) bytes = await gunzip(bytes);
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(0x0a, start);
      assert.notEqual(nl, -1, `${file} ends with a newline`);
      records.push(decodeCriLine(bytes.subarray(start, nl + 1)));
      start = nl + 1;
    }
  }
  return records;
}

/** Each stream's bytes as a reader gets them back. */
function joinStreams(records: CriRecord[]): Record<StreamName, string> {
  const joiner = new CriLineJoiner();
  const out: Record<StreamName, Uint8Array[]> = { stdout: [], stderr: [] };
  for (const r of records) {
    const line = joiner.push(r);
    if (line) out[line.stream].push(line.content.slice(), utf8.encode("\n"));
  }
  assert.deepEqual(joiner.end(), [], "no line left open");
  return {
    stdout: text.decode(concat(out.stdout)),
    stderr: text.decode(concat(out.stderr)),
  };
}

Deno.test("driver.ts with log-driver cri, max-size 1Ki and max-file 3 rotates as kubelet and every byte comes back", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, [
      "data-root",
      root,
      "log-driver",
      "cri",
      "max-size",
      "1Ki",
      "max-file",
      "3",
    ]);
    assert.deepEqual([...await d.ready], [1]);
    // 12 lines of 200 bytes: records of 211 to 241 bytes, so 5 per file
    // before it reaches 1 KiB, and three files in all: nothing is deleted.
    const line = (s: string, i: number) => `${s}${i} `.padEnd(200, "-");
    let out = "";
    let err = "";
    for (let i = 0; i < 8; i++) {
      const l = line("out ", i);
      await d.stdout.write(utf8.encode(i % 3 === 0 ? `${l}\r\n` : `${l}\n`));
      out += `${l}\n`;
      if (i % 2 === 0) {
        const e = line("err ", i);
        await d.stderr.write(utf8.encode(`${e}\n`));
        err += `${e}\n`;
      }
    }
    await d.stdout.write(utf8.encode("fragment"));
    out += "fragment\n"; // closed by an empty F record: read as a line
    const { code, stderr } = await d.finish();
    assert.equal(code, 0, stderr);
    const path = `${root}/pods/default_c1/c1/0.log`;
    const files = listKubeletLogs(path).map((f) => f.slice(path.length));
    assert.equal(files.length, 3, files.join(" "));
    assert.match(files[0], /^\.\d{8}-\d{6}\.gz$/);
    assert.match(files[1], /^\.\d{8}-\d{6}$/);
    assert.equal(files[2], "");
    const dir = [...Deno.readDirSync(`${root}/pods/default_c1/c1`)]
      .filter((e) => !isLogMarker(e.name));
    assert.equal(dir.length, 3, "no temporary file left");
    const records = await readAll(path);
    assert.deepEqual(joinStreams(records), { stdout: out, stderr: err });
    const last = records.filter((r) => r.stream === "stdout").slice(-2);
    assert.deepEqual(
      last.map((r) => [r.partial, text.decode(r.content)]),
      [[true, "fragment"], [false, ""]],
    );
    for (const file of listKubeletLogs(path).slice(1)) {
      assert.match(
        await Deno.readTextFile(file),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z (stdout|stderr) [FP] /,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts with log-driver k8s-file writes the next run to 1.log, keeping \\r, with conmon's times", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/pods/default_c1/c1`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/0.log`, "");
    const d = await startDriver(root, [
      "data-root",
      root,
      "log-driver",
      "k8s-file",
    ]);
    await d.ready;
    await d.stdout.write(utf8.encode("crlf\r\n"));
    await d.stderr.write(utf8.encode("err\n"));
    const { code, stderr } = await d.finish();
    assert.equal(code, 0, stderr);
    const log = await Deno.readTextFile(`${dir}/1.log`);
    const lines = log.split("\n").filter((l) => l !== "").sort((a, b) =>
      a.split(" ")[1].localeCompare(b.split(" ")[1])
    );
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d stderr F err$/,
    );
    assert.match(
      lines[1],
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d stdout F crlf\r$/,
    );
    assert.equal(
      await Deno.readTextFile(`${dir}/0.log`),
      "",
      "run 0 untouched",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts with log-driver cri exits 1 before ready on max-size 10m, explaining that m is milli", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, [
      "data-root",
      root,
      "log-driver",
      "cri",
      "max-size",
      "10m",
    ]);
    const { code, stderr, ready } = await d.finish();
    assert.equal(code, 1);
    assert.equal(ready.length, 0, "no ready byte");
    assert.match(
      stderr,
      /Invalid max-size "10m": "m" means milli \(1\/1000\) in a Kubernetes quantity, not mega/,
    );
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts with log-driver cri keeps memory bounded on a 32 MiB line without newline", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, [
      "log-path",
      `${root}/x.log`,
      "log-driver",
      "cri",
    ]);
    await d.ready;
    const chunk = new Uint8Array(1 << 20).fill(0x7a);
    for (let i = 0; i < 32; i++) await d.stdout.write(chunk);
    // Deno wants --allow-all to read /proc: ask cat.
    const { stdout } = await new Deno.Command("cat", {
      args: [`/proc/${d.child.pid}/status`],
    }).output();
    const status = text.decode(stdout);
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    const { code, stderr } = await d.finish();
    assert.equal(code, 0, stderr);
    assert.ok(hwmKb < 150_000, `peak RSS ${hwmKb} kB`);
    const records = await readAll(`${root}/x.log`);
    assert.equal(records.length, 2049);
    assert.ok(
      records.slice(0, -1).every((r) =>
        r.partial && r.content.length === 16384
      ),
    );
    assert.deepEqual([records[2048].partial, records[2048].content.length], [
      false,
      0,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Benchmark (not a test): `logs.ts --tail 10` on a 1 GB json-file log
 * against `tail -n 10` on the same file, start-up included. logs.ts reads
 * the file from its end, so it should answer in well under 0.3 s whatever
 * the size of the file.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run scripts/bench_tail.ts [--size-mb 1000] [--runs 7] [--file PATH]
 * ```
 *
 * Without `--file` it writes a log of `--size-mb` MB (10^6 bytes) of Docker
 * json-file entries (a fifth of them on stderr) to a temporary folder, and
 * removes it at the end; with `--file` it uses (and keeps) that file,
 * writing it first if it does not exist.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { JsonFileEncoder } from "../src/json_file.ts";
import { formatRfc3339Nano } from "../src/clock.ts";

const LOGS = new URL("../logs.ts", import.meta.url).pathname;

async function writeLog(path: string, sizeMb: number): Promise<number> {
  const encoder = new JsonFileEncoder();
  const utf8 = new TextEncoder();
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    const buffer = new Uint8Array(4 << 20);
    let total = 0;
    let i = 0;
    const start = 1795967634;
    while (total < sizeMb * 1e6) {
      let pos = 0;
      while (pos + 1024 < buffer.length) {
        const time = utf8.encode(
          formatRfc3339Nano({
            sec: start + Math.floor(i / 1e6),
            nsec: i % 1e6 * 1000,
          }),
        );
        const line = utf8.encode(
          `line ${i} <some> "padding" text & more padding to look like a log\n`,
        );
        pos = encoder.encode(
          buffer,
          pos,
          line,
          i % 5 === 4 ? "stderr" : "stdout",
          time,
        );
        i++;
      }
      let off = 0;
      while (off < pos) off += await file.write(buffer.subarray(off, pos));
      total += pos;
    }
    return total;
  } finally {
    file.close();
  }
}

async function time(
  command: string,
  args: string[],
): Promise<{ ms: number; out: string }> {
  const start = performance.now();
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdin: "null",
  }).output();
  const ms = performance.now() - start;
  if (code !== 0) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return { ms, out: new TextDecoder().decode(stdout) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      "size-mb": { type: "string", default: "1000" },
      runs: { type: "string", default: "7" },
      file: { type: "string" },
    },
  });
  const sizeMb = Number(values["size-mb"]);
  const runs = Number(values.runs);
  const dir = values.file === undefined ? await Deno.makeTempDir() : undefined;
  const path = values.file ?? `${dir}/bench-json.log`;
  try {
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch {
      console.log(`writing ${sizeMb} MB to ${path} …`);
      size = await writeLog(path, sizeMb);
    }
    const folder = path.slice(0, path.lastIndexOf("/")) || "/";
    const logsArgs = [
      "run",
      "--no-prompt",
      `--allow-read=${folder}`,
      LOGS,
      "--tail",
      "10",
      "--path",
      path,
    ];
    // Warm up: Deno's module cache, the page cache.
    const check = await time(Deno.execPath(), logsArgs);
    await time("tail", ["-n", "10", path]);
    const lines = check.out.split("\n").filter((l) => l !== "").length;
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push((await time(Deno.execPath(), logsArgs)).ms);
      theirs.push((await time("tail", ["-n", "10", path])).ms);
    }
    const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
    console.log(`file: ${path}, ${(size / 1e9).toFixed(2)} GB`);
    console.log(
      `logs.ts --tail 10 (start-up included, ${lines} lines on stdout):` +
        ` median ${fmt(median(ours))}, min ${fmt(Math.min(...ours))},` +
        ` max ${fmt(Math.max(...ours))} over ${runs} runs`,
    );
    console.log(
      `tail -n 10: median ${fmt(median(theirs))}, min ${
        fmt(Math.min(...theirs))
      }, max ${fmt(Math.max(...theirs))} over ${runs} runs`,
    );
    console.log(
      `target: logs.ts under 0.3 s: ${median(ours) < 300 ? "met" : "NOT met"}`,
    );
  } finally {
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main(Deno.args);

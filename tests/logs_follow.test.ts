/**
 * `logs.ts -f` against the real driver (driver.ts on FIFOs, as containerd
 * runs it) rotating many times a second. No timing is asserted: the writer
 * goes as fast as it can, and the follower's output is compared with what
 * the app wrote. The follower holds `<log>.followers`, so the driver keeps
 * the files it rotates away until the follower has read them.
 */

import assert from "node:assert/strict";
import { holdLogLock, type LogLock, logWriterState } from "../src/log_lock.ts";
import { startDriver } from "./_driver_process.ts";

const LOGS = new URL("../logs.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface FollowRun {
  /** What the app wrote. */
  expected: string;
  /** What the follower printed. */
  printed: string;
  /** The follower's stderr. */
  warnings: string;
  /** The files left in the log's folder at the end. */
  left: string[];
}

/** The app's output: numbered lines of 40 to 90 bytes. */
function appLines(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) {
    text += `line ${i} ${"<&>".repeat(i % 17)}${"y".repeat(i % 13)}\n`;
  }
  return text;
}

async function followDriver(
  driverArgs: string[],
  write: (put: (text: string) => Promise<void>) => Promise<void>,
): Promise<FollowRun> {
  const root = await Deno.makeTempDir({ prefix: "shimlog-follow-load-" });
  const path = `${root}/c-json.log`;
  let lock: LogLock | undefined;
  let follower: Deno.ChildProcess | undefined;
  const d = await startDriver(root, ["log-path", path, ...driverArgs]);
  try {
    await d.ready;
    // Until the driver holds its own lock, the test holds it for it.
    if (await logWriterState(path) !== "writing") {
      lock = await holdLogLock(path);
    }
    follower = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--allow-read=${root}`,
        LOGS,
        "-f",
        "--path",
        path,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const chunks: Uint8Array[] = [];
    let printedBytes = 0;
    const reading = (async () => {
      for await (const chunk of follower.stdout) {
        chunks.push(chunk);
        printedBytes += chunk.length;
      }
    })();
    const warnings = new Response(follower.stderr).text();
    let expected = "";
    const put = async (text: string) => {
      const bytes = enc.encode(text);
      expected += text;
      let off = 0;
      try {
        while (off < bytes.length) {
          off += await d.stdout.write(bytes.subarray(off));
        }
      } catch (error) {
        const { code, stderr } = await d.finish();
        throw new Error(
          `Cannot write to the driver (exit ${code}, stderr: ${stderr})`,
          { cause: error },
        );
      }
    };
    let exited = false;
    follower.status.then(() => exited = true);
    // The follower has opened the log once it prints the first line.
    await put("ready\n");
    while (printedBytes < 6) {
      assert.ok(!exited, "the follower exited early");
      await new Promise((r) => setTimeout(r, 10));
    }
    await write(put);
    // The driver ends once the follower has let go of the retired files.
    const finished = await d.finish();
    assert.equal(finished.code, 0, finished.stderr);
    lock?.release();
    lock = undefined;
    const status = await follower.status;
    follower = undefined;
    await reading;
    assert.equal(status.code, 0);
    const left = [...Deno.readDirSync(root)].map((e) => e.name);
    assert.deepEqual(
      left.filter((n) => n.includes(".retired-")),
      [],
      "retired files deleted at the end",
    );
    return {
      expected,
      printed: dec.decode(
        chunks.length === 1 ? chunks[0] : new Uint8Array(
          await new Blob(chunks as Uint8Array<ArrayBuffer>[]).arrayBuffer(),
        ),
      ),
      warnings: await warnings,
      left: left.sort(),
    };
  } finally {
    lock?.release();
    if (follower !== undefined) {
      follower.kill("SIGKILL");
      await follower.status;
      await follower.stdout.cancel().catch(() => {});
      await follower.stderr.cancel().catch(() => {});
    }
    await d.finish().catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
}

/** The follower printed the app's output exactly, and warned of nothing. */
function assertFollowed(run: FollowRun): void {
  assert.equal(run.warnings, "");
  assert.equal(run.printed.length, run.expected.length);
  assert.ok(run.printed === run.expected, "printed the app's output exactly");
}

const FULL_SPEED_LINES = 150_000; // about 10 MB of app output

async function fullSpeed(put: (text: string) => Promise<void>) {
  const chunks: string[] = [];
  for (let i = 0; i < FULL_SPEED_LINES; i += 1000) {
    chunks.push(appLines(i, i + 1000));
  }
  for (const chunk of chunks) await put(chunk);
}

Deno.test("logs.ts -f follows driver.ts writing at full speed with max-size=100k max-file=5: the app's output, exactly", async () => {
  const run = await followDriver(
    ["max-size", "100k", "max-file", "5"],
    fullSpeed,
  );
  assert.deepEqual(run.left, [
    "c-json.log",
    "c-json.log.1",
    "c-json.log.2",
    "c-json.log.3",
    "c-json.log.4",
    "c-json.log.followers",
    "c-json.log.lock",
  ]);
  assertFollowed(run);
});

Deno.test("logs.ts -f follows driver.ts writing at full speed with max-size=100k max-file=5 compress=true: the app's output, exactly", async () => {
  const run = await followDriver(
    ["max-size", "100k", "max-file", "5", "compress", "true"],
    fullSpeed,
  );
  assertFollowed(run);
  assert.deepEqual(run.left, [
    "c-json.log",
    "c-json.log.1.gz",
    "c-json.log.2.gz",
    "c-json.log.3.gz",
    "c-json.log.4.gz",
    "c-json.log.followers",
    "c-json.log.lock",
  ]);
});

Deno.test("logs.ts -f follows driver.ts with log-driver=cri writing at full speed with max-size=100k max-file=5 (kubelet's rotation): the app's output, exactly", async () => {
  const run = await followDriver(
    ["log-driver", "cri", "max-size", "100k", "max-file", "5"],
    fullSpeed,
  );
  assertFollowed(run);
  const rotated = run.left.filter((n) => /^c-json\.log\.\d{8}-\d{6}/.test(n));
  assert.equal(rotated.length, 4, run.left.join(" "));
});

Deno.test("logs.ts -f follows driver.ts with max-size=100k max-file=1 at a few rotations a second: the app's output, exactly", async () => {
  const run = await followDriver(
    ["max-size", "100k", "max-file", "1"],
    async (put) => {
      // About 75 KB of entries every 250 ms: under max-size, so rotations
      // come one at a time, three or four a second.
      for (let i = 0; i < 5_600; i += 350) {
        await put(appLines(i, i + 350));
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  );
  assertFollowed(run);
});

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

/** A `logs.ts -f --path PATH` process and what it printed. */
class Follower {
  readonly child: Deno.ChildProcess;
  #chunks: Uint8Array[] = [];
  printedBytes = 0;
  exited = false;
  readonly #reading: Promise<void>;
  readonly warnings: Promise<string>;

  constructor(root: string, path: string) {
    const child = new Deno.Command(Deno.execPath(), {
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
    this.child = child;
    this.#reading = (async () => {
      for await (const chunk of child.stdout) {
        this.#chunks.push(chunk);
        this.printedBytes += chunk.length;
      }
    })();
    this.warnings = new Response(child.stderr).text();
    child.status.then(() => this.exited = true);
  }

  /** Waits for the end; what it printed, after checking it exited 0. */
  async printed(): Promise<string> {
    const status = await this.child.status;
    await this.#reading;
    assert.equal(status.code, 0);
    return dec.decode(
      new Uint8Array(
        await new Blob(this.#chunks as Uint8Array<ArrayBuffer>[])
          .arrayBuffer(),
      ),
    );
  }

  async kill(): Promise<void> {
    if (!this.exited) this.child.kill("SIGKILL");
    await this.child.status;
    await this.child.stdout.cancel().catch(() => {});
    await this.child.stderr.cancel().catch(() => {});
  }
}

/** What a follower started while the app was writing printed. */
interface LateRun {
  printed: string;
  warnings: string;
}

async function followDriver(
  driverArgs: string[],
  write: (
    put: (text: string) => Promise<void>,
    addFollower: () => void,
  ) => Promise<void>,
): Promise<FollowRun & { late: LateRun[] }> {
  const root = await Deno.makeTempDir({ prefix: "shimlog-follow-load-" });
  const path = `${root}/c-json.log`;
  let lock: LogLock | undefined;
  const followers: Follower[] = [];
  const d = await startDriver(root, ["log-path", path, ...driverArgs]);
  try {
    await d.ready;
    // Until the driver holds its own lock, the test holds it for it.
    if (await logWriterState(path) !== "writing") {
      lock = await holdLogLock(path);
    }
    const first = new Follower(root, path);
    followers.push(first);
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
    // The follower has opened the log once it prints the first line.
    await put("ready\n");
    while (first.printedBytes < 6) {
      assert.ok(!first.exited, "the follower exited early");
      await new Promise((r) => setTimeout(r, 10));
    }
    await write(put, () => followers.push(new Follower(root, path)));
    // The driver ends once the followers have let go of the retired files.
    const finished = await d.finish();
    assert.equal(finished.code, 0, finished.stderr);
    lock?.release();
    lock = undefined;
    const printed: string[] = [];
    for (const f of followers) printed.push(await f.printed());
    const left = [...Deno.readDirSync(root)].map((e) => e.name);
    assert.deepEqual(
      left.filter((n) => n.includes(".retired-")),
      [],
      "retired files deleted at the end",
    );
    const late: LateRun[] = [];
    for (let i = 1; i < followers.length; i++) {
      late.push({ printed: printed[i], warnings: await followers[i].warnings });
    }
    return {
      expected,
      printed: printed[0],
      warnings: await first.warnings,
      left: left.sort(),
      late,
    };
  } finally {
    lock?.release();
    for (const f of followers) await f.kill();
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

Deno.test("logs.ts -f: four followers, three started while driver.ts writes about 40 MB at full speed with max-size=100k max-file=5, each print the app's output from where they start, none twice, none missing", async () => {
  const run = await followDriver(
    ["max-size", "100k", "max-file", "5"],
    async (put, addFollower) => {
      // Followers busy on the same two cores fall far behind, and find the
      // files they missed among those retired for them.
      for (let i = 0; i < 4 * FULL_SPEED_LINES; i += 1000) {
        if (i % FULL_SPEED_LINES === 0 && i > 0) addFollower();
        await put(appLines(i, i + 1000));
      }
    },
  );
  assertFollowed(run);
  assert.equal(run.late.length, 3);
  for (const late of run.late) {
    assert.equal(late.warnings, "");
    // It starts with the oldest file kept, at an entry's start, and goes
    // on to the end without a gap or a repeat.
    assert.ok(late.printed.length > 0, "printed something");
    assert.ok(run.expected.endsWith(late.printed), "a tail of the output");
    const start = run.expected.length - late.printed.length;
    assert.equal(run.expected[start - 1], "\n", "starts at a line");
  }
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

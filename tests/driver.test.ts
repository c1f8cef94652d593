import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { jsonLines, withTmpfs } from "./_helpers.ts";
import { driverArgv, driverEnv, startDriver } from "./_driver_process.ts";
import { holdLogLock } from "../src/log_lock.ts";
import { runLoggingDriver } from "../src/containerd_logging.ts";
import { makeFifos } from "../src/fifo.ts";
import {
  PIPE_CAPACITY,
  pipeCapacity,
  ROTATING_PIPE_CAPACITY,
} from "../src/pipe_reader.ts";

const enc = new TextEncoder();

/** driver.ts with its README permissions, fds set up by a shell `script`. */
function driverWithFds(
  root: string,
  script: string,
  scriptArg: string,
  stdout: "null" | "piped" = "null",
): Deno.Command {
  return new Deno.Command("sh", {
    args: [
      "-c",
      script,
      scriptArg,
      ...driverArgv(root, ["log-path", `${root}/x.log`], { ffi: false }),
    ],
    clearEnv: true,
    env: driverEnv(),
    stdout,
    stderr: "piped",
  });
}

/**
 * Runs driver.ts once with fds set up by `script` from a FIFO `in` (made
 * with `mode`) in a fresh folder, which the shell gets as `$0`: fd 7, the
 * shell's own, can hold it open for writing so that opens of it do not
 * wait. Returns the exit code, stderr and the folder's names at the end.
 */
async function driverOnFifo(script: string, mode = "0644") {
  const root = await Deno.makeTempDir();
  try {
    const fifo = `${root}/in`;
    await new Deno.Command("mkfifo", { args: ["-m", mode, fifo] }).output();
    const { code, stderr } = await driverWithFds(root, script, fifo).output();
    return {
      code,
      text: new TextDecoder().decode(stderr),
      names: [...Deno.readDirSync(root)].map((e) => e.name),
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("driver.ts signals ready with one byte, then logs both streams to the default path", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["data-root", root]);
    assert.deepEqual([...await d.ready], [1]);
    await d.stdout.write(enc.encode("out 1\nout 2\n"));
    await d.stderr.write(enc.encode("err 1\n"));
    await d.stdout.write(enc.encode("no newline"));
    const { code, stderr } = await d.finish();
    assert.equal(code, 0, stderr);
    const path = `${root}/containers/default/c1/c1-json.log`;
    const entries = jsonLines(await Deno.readTextFile(path));
    const logs = (s: string) =>
      entries.filter((e) => e.stream === s).map((e) => e.log);
    assert.deepEqual(logs("stdout"), ["out 1\n", "out 2\n", "no newline"]);
    assert.deepEqual(logs("stderr"), ["err 1\n"]);
    for (const e of entries) {
      assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    }
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts exits 1 before ready on a bad option, naming it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["data-root", root, "max-size", "10x"]);
    const { code, stderr, ready } = await d.finish();
    assert.equal(code, 1);
    assert.equal(ready.length, 0, "no ready byte");
    assert.match(stderr, /Cannot parse max-size "10x": expected a number/);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts exits 1 before ready when it cannot create the log file", async () => {
  const root = await Deno.makeTempDir();
  try {
    // Allowed by permissions, but a file stands where a folder must be.
    await Deno.writeTextFile(`${root}/containers`, "");
    const d = await startDriver(root, ["data-root", root]);
    const { code, stderr, ready } = await d.finish();
    assert.equal(code, 1);
    assert.equal(ready.length, 0);
    assert.match(stderr, /shimlog driver: .*containers/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts waits for another writer's lock on its log before it touches any of the log's files, then appends", async () => {
  const root = await Deno.makeTempDir();
  const path = `${root}/x.log`;
  // The first writer: still draining, its compression not yet done.
  const first = await holdLogLock(path);
  let released = false;
  try {
    const old =
      '{"log":"old\\n","stream":"stdout","time":"2026-11-30T00:00:00Z"}\n';
    await Deno.writeTextFile(path, old);
    await Deno.writeTextFile(`${path}.compressing-1`, "half a gzip");
    const d = await startDriver(root, ["log-path", path]);
    const early = await Promise.race([
      d.ready.then(() => "ready"),
      new Promise((r) => setTimeout(() => r("waiting"), 700)),
    ]);
    assert.equal(early, "waiting");
    assert.equal(
      await Deno.readTextFile(`${path}.compressing-1`),
      "half a gzip",
      "the first writer's compression output is left alone",
    );
    first.release();
    released = true;
    assert.deepEqual([...await d.ready], [1]);
    await assert.rejects(
      Deno.stat(`${path}.compressing-1`),
      Deno.errors.NotFound,
      "a finished writer's leftover is deleted",
    );
    await d.stdout.write(enc.encode("new\n"));
    const { code, stderr } = await d.finish();
    assert.equal(code, 0, stderr);
    const entries = jsonLines(await Deno.readTextFile(path));
    assert.deepEqual(entries.map((e) => e.log), ["old\n", "new\n"]);
  } finally {
    if (!released) first.release();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("runLoggingDriver() gives up on a log another driver keeps writing past lockWaitMs: it names it and exits 1 before ready (two containers, one log-path)", async () => {
  const root = await Deno.makeTempDir();
  const path = `${root}/shared.log`;
  const first = await holdLogLock(path); // the other container's driver
  try {
    const [out, err, ready] = ["out", "err", "ready"].map((n) =>
      `${root}/${n}`
    );
    await makeFifos([out, err, ready]);
    const messages: string[] = [];
    const run = runLoggingDriver(["log-path", path], {
      env: new Map([["CONTAINER_ID", "c2"], [
        "CONTAINER_NAMESPACE",
        "default",
      ]]),
      stdoutPath: out,
      stderrPath: err,
      readyPath: ready,
      lockWaitMs: 300,
      report: (message) => messages.push(message),
    });
    const ends = await Promise.all([
      Deno.open(out, { write: true }),
      Deno.open(err, { write: true }),
      Deno.open(ready, { read: true }),
    ]);
    assert.equal(await run, 1);
    assert.equal(await ends[2].read(new Uint8Array(1)), null, "no ready byte");
    for (const end of ends) end.close();
    assert.deepEqual(messages, [
      `shimlog driver: Another driver (pid ${Deno.pid}) has been writing "${path}" for 300 ms more (it holds ${path}.lock): two containers may not share one log-path; give each its own`,
    ]);
  } finally {
    first.release();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts refuses a container id that would escape the data root", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["data-root", root], {
      id: "..",
      namespace: "default",
    });
    const { code, stderr } = await d.finish();
    assert.equal(code, 1);
    assert.match(stderr, /Invalid container id \(CONTAINER_ID\) "\.\."/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts ignores SIGINT, SIGHUP, SIGQUIT and SIGUSR2 and, after SIGTERM, drains until EOF losing nothing", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["log-path", `${root}/x.log`]);
    await d.ready;
    await d.stdout.write(enc.encode("before\n"));
    for (const signal of ["SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR2"] as const) {
      d.child.kill(signal);
    }
    await new Promise((r) => setTimeout(r, 100));
    await d.stdout.write(enc.encode("after the four\n"));
    d.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    const late = "after SIGTERM ".repeat(5000) + "\n";
    await d.stdout.write(enc.encode(late));
    await d.stdout.write(enc.encode("tail"));
    const { code } = await d.finish();
    assert.equal(code, 0);
    const entries = jsonLines(await Deno.readTextFile(`${root}/x.log`));
    assert.equal(
      entries.map((e) => e.log).join(""),
      "before\nafter the four\n" + late + "tail",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts stops 2 s after SIGTERM when the writer never closes, writing the fragment it holds", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["log-path", `${root}/x.log`]);
    await d.ready;
    await d.stdout.write(enc.encode("line\nfragment"));
    await new Promise((r) => setTimeout(r, 200));
    d.child.kill("SIGTERM");
    const status = await d.child.status; // exits with the pipes still open
    assert.equal(status.code, 0);
    await d.finish();
    const entries = jsonLines(await Deno.readTextFile(`${root}/x.log`));
    assert.deepEqual(entries.map((e) => e.log), ["line\n", "fragment"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts keeps memory bounded on a 64 MiB line without newline", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["log-path", `${root}/x.log`]);
    await d.ready;
    const chunk = new Uint8Array(1 << 20).fill(0x7a);
    for (let i = 0; i < 64; i++) await d.stdout.write(chunk);
    // Deno wants --allow-all to read /proc: ask cat.
    const { stdout } = await new Deno.Command("cat", {
      args: [`/proc/${d.child.pid}/status`],
    }).output();
    const status = new TextDecoder().decode(stdout);
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    const { code } = await d.finish();
    assert.equal(code, 0);
    assert.ok(hwmKb < 150_000, `peak RSS ${hwmKb} kB`);
    const text = await Deno.readTextFile(`${root}/x.log`);
    const entries = jsonLines(text);
    assert.equal(entries.length, 4096);
    assert.ok(entries.every((e) => e.log.length === 16384));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts explains an fd that is not a pipe, and creates no log file", async () => {
  const root = await Deno.makeTempDir();
  try {
    const regular = `${root}/not-a-pipe`;
    await Deno.writeTextFile(regular, "x\n");
    const child = driverWithFds(
      root,
      'exec "$@" 3<"$0" 4<"$0" 5>/dev/null',
      regular,
    );
    const { code, stderr } = await child.output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1);
    assert.match(text, /fd 3 is not open, or not a pipe or FIFO/);
    assert.match(text, /3< <\(app\)/);
    await assert.rejects(Deno.stat(`${root}/x.log`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name:
    "driver.ts whose user may not open its pipe again says so, not that the fd is closed, before it makes any file",
  // Root without CAP_DAC_OVERRIDE meets the FIFO's mode as any user would.
  ignore: !existsSync("/usr/bin/setpriv"),
  async fn() {
    const { code, text, names } = await driverOnFifo(
      'exec 7<>"$0"; exec /usr/bin/setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-all "$@" 3<&7 4<&7 5>/dev/null',
      "0200",
    );
    assert.equal(code, 1, text);
    assert.match(
      text,
      /^shimlog driver: fd 3 is a pipe that the driver's user may not open again .*run the driver as the user who made its pipes, or as root/,
    );
    assert.deepEqual(names, ["in"], "no log file, lock or marker");
  },
});

Deno.test("driver.ts with fd 5 closed says fd 5 may not be open, before it makes any file", async () => {
  const { code, text, names } = await driverOnFifo(
    'exec 7<>"$0"; exec "$@" 3<&7 4<&7 5>&-',
  );
  assert.equal(code, 1, text);
  assert.match(text, /^shimlog driver: fd 5 is not open, or not a pipe/);
  assert.deepEqual(names, ["in"], "no log file, lock or marker");
});

Deno.test("driver.ts whose ready pipe has lost its reader says containerd stopped waiting, and exits 1", async () => {
  const root = await Deno.makeTempDir();
  try {
    const fifo = `${root}/streams`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    // fd 5 is the pipe to our stdout; the shell's opens of fds 3 and 4 wait
    // until the FIFO has a writer, by which time that pipe has no reader.
    const child = driverWithFds(
      root,
      'exec "$@" 3<"$0" 4<"$0" 5>&1',
      fifo,
      "piped",
    ).spawn();
    await child.stdout.cancel();
    const writer = await Deno.open(fifo, { write: true });
    const { code, stderr } = await child.output();
    writer.close();
    assert.equal(code, 1);
    assert.match(
      new TextDecoder().decode(stderr),
      /^shimlog driver: Cannot signal ready on fd 5: its reader is gone \(.*\); containerd stopped waiting for this driver\n$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts stops at once on SIGTERM while waiting for a writer before ready", async () => {
  const root = await Deno.makeTempDir();
  try {
    const fifo = `${root}/never-written`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    // fds 3 and 4: the read end of a FIFO that has no writer left, so the
    // driver's own open of /dev/fd/3 waits for one.
    const child = driverWithFds(
      root,
      'exec 7<>"$0"; exec 4<"$0"; exec 7<&-; exec "$@" 3<&4 5>/dev/null',
      fifo,
    ).spawn();
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGTERM");
    const { code, stderr } = await child.output();
    assert.equal(code, 1);
    assert.match(new TextDecoder().decode(stderr), /Stopped by SIGTERM/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("driver.ts logs the same entries whether it reads its pipes through the C library or through Deno", async () => {
  // Short lines, lines over 16 KiB, a 70 KiB line, invalid UTF-8, a
  // final fragment; written in uneven chunks to both streams.
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const len = [5, 80, 1000, 20000][random(4)];
    lines.push(`${i} ${'é\u0001"x'.repeat(len >> 2)}\n`);
  }
  lines.push("z".repeat(70000) + "\n", "fragment");
  const out = enc.encode(lines.join(""));
  out[100] = 0xff;
  const err = enc.encode(lines.slice(0, 500).join(""));
  const run = async (ffi: boolean) => {
    const root = await Deno.makeTempDir();
    try {
      const d = await startDriver(root, ["log-path", `${root}/x.log`], {
        id: "c1",
        namespace: "default",
      }, { ffi });
      await d.ready;
      // Through the C library, the driver raised its pipe's capacity.
      assert.equal(
        pipeCapacity(d.stdoutPath),
        ffi ? PIPE_CAPACITY : 65536,
      );
      const feed = async (file: Deno.FsFile, bytes: Uint8Array) => {
        for (let at = 0; at < bytes.length;) {
          const n = Math.min(bytes.length - at, 1 + random(300_000));
          await file.write(bytes.subarray(at, at + n));
          at += n;
        }
      };
      await Promise.all([feed(d.stdout, out), feed(d.stderr, err)]);
      const { code, stderr } = await d.finish();
      assert.equal(code, 0, stderr);
      return jsonLines(await Deno.readTextFile(`${root}/x.log`));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  };
  const viaLibc = await run(true);
  const viaDeno = await run(false);
  const logs = (entries: typeof viaLibc, stream: string) =>
    entries.filter((e) => e.stream === stream).map((e) => e.log);
  for (const stream of ["stdout", "stderr"]) {
    assert.deepEqual(logs(viaLibc, stream), logs(viaDeno, stream), stream);
  }
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(logs(viaLibc, "stdout").join(""), text(out));
  assert.equal(logs(viaLibc, "stderr").join(""), text(err));
  assert.equal(logs(viaLibc, "stdout").at(-1), "fragment");
});

Deno.test("driver.ts raises both pipes to 1 MiB when its log rotates at 1 MiB or more, to write on through rotations; to 256 KiB below", async () => {
  for (
    const [driver, opts, capacity] of [
      ["json-file", ["max-size", "2m"], ROTATING_PIPE_CAPACITY],
      ["cri", ["max-size", "1Mi"], ROTATING_PIPE_CAPACITY],
      // 1,000,000 bytes: a full pipe would hold more than one file.
      ["json-file", ["max-size", "1m"], PIPE_CAPACITY],
      ["cri", ["max-size", "10Ki"], PIPE_CAPACITY],
    ] as const
  ) {
    const root = await Deno.makeTempDir();
    try {
      const d = await startDriver(
        root,
        [
          "log-driver",
          driver,
          "log-path",
          `${root}/x.log`,
          ...opts,
        ],
        { id: "c1", namespace: "default" },
        { ffi: true },
      );
      await d.ready;
      assert.equal(pipeCapacity(d.stdoutPath), capacity, `${driver} ${opts}`);
      assert.equal(pipeCapacity(d.stderrPath), capacity, `${driver} ${opts}`);
      assert.equal(ROTATING_PIPE_CAPACITY, 1024 * 1024);
      const { code, stderr } = await d.finish();
      assert.equal(code, 0, stderr);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});

Deno.test("driver.ts without WebAssembly SIMD (V8 --no-enable-sse4-1, as a CPU without SSE4.1) writes the same json-file and CRI logs through its JavaScript paths", async () => {
  const input = enc.encode(
    "short\r\n" + 'é€😀 <&>"\\\n'.repeat(50) + "x".repeat(40_000) + "\n\n" +
      "y".repeat(300) + "\nno newline at the end",
  );
  const run = async (driver: string, v8Flags?: string) => {
    const dir = await Deno.makeTempDir();
    try {
      const d = await startDriver(
        dir,
        ["log-path", `${dir}/x.log`, "log-driver", driver],
        undefined,
        { v8Flags },
      );
      await d.ready;
      await d.stdout.write(input);
      const { code, stderr } = await d.finish();
      assert.equal(code, 0, stderr);
      const log = await Deno.readTextFile(`${dir}/x.log`);
      // Times differ from run to run: compare the rest.
      return driver === "json-file"
        ? log.replace(/"time":"[^"]*"/g, '"time":""')
        : log.replace(/^\S+ /gm, "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
  for (const driver of ["json-file", "cri"]) {
    const withSimd = await run(driver);
    const without = await run(driver, "--no-enable-sse4-1");
    assert.equal(without, withSimd, driver);
    assert.ok(withSimd.includes("x".repeat(1000)), driver);
  }
});

Deno.test("driver.ts, run with --expose-gc as driverRunArgs() runs it, asks V8 for two scavenges (start-up's objects out of the young generation), and only two", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["data-root", root], undefined, {
      v8Flags: "--max-semi-space-size=1,--expose-gc,--trace-gc",
      stdout: true,
    });
    assert.deepEqual([...await d.ready], [1]);
    const { code, stderr, stdout } = await d.finish();
    assert.equal(code, 0, stderr);
    // V8 logs a collection asked for through gc() as "testing".
    const asked = stdout.split("\n").filter((l) => /\btesting\b/.test(l));
    assert.equal(asked.length, 2, stdout);
    for (const line of asked) assert.match(line, /Scavenge/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Runs a command, failing the test when it fails. */
/** Waits until `path` holds at least `min` bytes and stops growing. */
async function settledSize(path: string, min: number): Promise<number> {
  let last = -1;
  for (let same = 0; same < 4;) {
    await new Promise((r) => setTimeout(r, 50));
    const size = (await Deno.stat(path)).size;
    same = size === last && size >= min ? same + 1 : 0;
    last = size;
  }
  return last;
}

Deno.test({
  name:
    "driver.ts on a full disk drops entries and says so once on stderr, keeps reading the container's pipe, and logs again once there is room (root: a 1 MiB tmpfs)",
  ignore: Deno.uid() !== 0,
  fn: () =>
    withTmpfs("size=1m", async (root, small) => {
      const filler = `${small}/filler`;
      await Deno.writeFile(filler, new Uint8Array(1024 * 1024 - 96 * 1024));
      const log = `${small}/c.log`;
      const d = await startDriver(root, ["log-path", log]);
      assert.deepEqual([...await d.ready], [1]);
      const line = (i: number) => `line ${i} ${"x".repeat(90)}\n`;
      const before: string[] = [];
      for (let i = 0; i < 3000; i++) before.push(line(i)); // 300 KB
      await d.stdout.write(enc.encode(before.join("")));
      const full = await settledSize(log, 32 * 1024);
      await Deno.remove(filler); // an operator makes room
      const after = [line(9000), line(9001)];
      await d.stdout.write(enc.encode(after.join("")));
      const { code, stderr } = await d.finish();
      assert.equal(code, 0, stderr);
      const messages = stderr.trim().split("\n");
      assert.equal(messages.length, 2, stderr);
      assert.match(
        messages[0],
        /^shimlog driver: cannot write ".*\/c\.log": No space left on device \(os error 28\); dropping log entries until it can \(\d+ bytes dropped so far\)$/,
      );
      assert.match(
        messages[1],
        /^shimlog driver: writing ".*\/c\.log" again \(\d+ bytes of log entries dropped in all\)$/,
      );
      const logs = jsonLines(await Deno.readTextFile(log)).map((e) => e.log);
      // Whole entries only: the first ones up to the full disk, then the
      // ones written once there was room.
      assert.ok(logs.length < before.length);
      assert.deepEqual(logs.slice(0, 3), before.slice(0, 3));
      assert.deepEqual(logs.slice(-2), after);
      assert.ok(full < 96 * 1024);
    }),
});

for (const driver of ["json-file", "cri"]) {
  Deno.test({
    name:
      `driver.ts (${driver}) for a new log on a disk already full signals ready and tells of the drops, so the container still starts with a reader on its pipes (root: a 1 MiB tmpfs)`,
    ignore: Deno.uid() !== 0,
    fn: () =>
      withTmpfs("size=1m", async (root, small) => {
        await Deno.writeFile(`${small}/filler`, new Uint8Array(1024 * 1024))
          .catch(() => {}); // no block left
        const log = `${small}/new.log`;
        const d = await startDriver(root, [
          "log-path",
          log,
          "log-driver",
          driver,
        ]);
        assert.deepEqual([...await d.ready], [1]);
        await d.stdout.write(enc.encode("dropped\n".repeat(1000)));
        const { code, stderr } = await d.finish();
        assert.equal(code, 0, stderr);
        assert.match(
          stderr,
          /^shimlog driver: cannot write ".*\/new\.log": No space left on device/,
        );
        assert.equal(Deno.statSync(log).size, 0);
      }),
  });
}

/**
 * The driver's arguments for `log` in `driver`'s format, rotated at about
 * `k` thousand bytes (KiB for cri, whose sizes are Kubernetes quantities),
 * three files kept.
 */
function rotating(log: string, driver: string, k: number): string[] {
  return [
    "log-path",
    log,
    "log-driver",
    driver,
    "max-size",
    driver === "cri" ? `${k}Ki` : `${k}k`,
    "max-file",
    "3",
  ];
}

for (const driver of ["json-file", "cri"]) {
  Deno.test({
    name:
      `driver.ts (${driver}) with no inode left for the new file keeps the full file current, says so once on stderr, and loses no entry (root: a tmpfs of 5 inodes)`,
    ignore: Deno.uid() !== 0,
    // The folder, the log, its lock and followers' marker, and one more:
    // the first rotation's new file.
    fn: () =>
      withTmpfs("size=4m,nr_inodes=5", async (root, small) => {
        const log = `${small}/c.log`;
        const d = await startDriver(root, rotating(log, driver, 10));
        assert.deepEqual([...await d.ready], [1]);
        const lines: string[] = [];
        for (let i = 0; i < 1000; i++) {
          lines.push(`line ${i} ${"x".repeat(90)}\n`);
        }
        await d.stdout.write(enc.encode(lines.join("")));
        const { code, stderr } = await d.finish();
        assert.equal(code, 0, stderr);
        const messages = stderr.trim().split("\n");
        assert.equal(messages.length, 1, stderr);
        assert.match(
          messages[0],
          /^shimlog driver: cannot rotate ".*\/c\.log": .*No space left on device.*; it grows past max-size, rotation is tried again every 1 s$/,
        );
        // The rotated file, then the current one: every line once, in order.
        const names = [...Deno.readDirSync(small)].map((e) => e.name)
          .filter((n) =>
            n.startsWith("c.log.") && /\.(\d|\d{8}-\d{6})$/.test(n)
          );
        assert.equal(names.length, 1, names.join(" "));
        if (driver === "json-file") assert.deepEqual(names, ["c.log.1"]);
        const text = [`${small}/${names[0]}`, log].map((p) =>
          Deno.readTextFileSync(p)
        ).join("");
        const logged = driver === "cri"
          ? text.split("\n").filter((l) => l).map((l) =>
            l.split(" ").slice(3).join(" ") + "\n"
          )
          : jsonLines(text).map((e) => e.log);
        assert.deepEqual(logged, lines);
        assert.ok(Deno.statSync(log).size > 20_000, "past max-size");
      }),
  });
}

for (const driver of ["json-file", "cri"]) {
  Deno.test({
    name:
      `driver.ts (${driver}) on a full disk with max-size below its 1 MiB batch rotates no empty file in: the files it kept stay (root: a 1 MiB tmpfs)`,
    ignore: Deno.uid() !== 0,
    fn: () =>
      withTmpfs("size=1m", async (root, small) => {
        const log = `${small}/c.log`;
        const d = await startDriver(root, rotating(log, driver, 100));
        assert.deepEqual([...await d.ready], [1]);
        const line = (i: number) => `line ${i} ${"x".repeat(90)}\n`;
        const lines = (from: number, to: number) =>
          [...Array(to - from).keys()].map((i) => line(from + i)).join("");
        await d.stdout.write(enc.encode(lines(0, 2500))); // 250 KB: rotated
        await settledSize(log, 1);
        const listing = () =>
          [...Deno.readDirSync(small)].map((e) => e.name)
            .filter((n) => n.startsWith("c.log.") && !/lock|followers/.test(n))
            .sort();
        const read = () =>
          [...listing(), "c.log"].map((n) =>
            Deno.readTextFileSync(`${small}/${n}`)
          );
        const kept = read();
        assert.equal(kept.length, 3, listing().join(" "));
        // Another file takes the rest of the disk; then much more output.
        const free = 1024 * 1024 - kept.join("").length - 64 * 1024;
        await Deno.writeFile(`${small}/filler`, new Uint8Array(free))
          .catch(() => {});
        await d.stdout.write(enc.encode(lines(2500, 12500))); // 1 MB
        const { code, stderr } = await d.finish();
        assert.equal(code, 0, stderr);
        assert.match(stderr, /No space left on device/);
        const after = read();
        assert.ok(after.every((text) => text.length > 0), "no empty file");
        // The oldest kept file is the same; what came after it, in order.
        assert.equal(after[0], kept[0]);
        assert.ok(after.join("").startsWith(kept.join("").slice(0, -1)));
      }),
  });
}

Deno.test({
  name:
    "driver.ts that cannot create its log (no inode left after its lock's) exits 1 before ready and leaves no marker behind (root: a tmpfs of 2 inodes)",
  ignore: Deno.uid() !== 0,
  fn: () =>
    withTmpfs("size=1m,nr_inodes=2", async (root, small) => {
      const d = await startDriver(root, ["log-path", `${small}/c.log`]);
      const { code, stderr, ready } = await d.finish();
      assert.equal(code, 1);
      assert.equal(ready.length, 0);
      assert.match(
        stderr,
        /^shimlog driver: Cannot open log file ".*\/c\.log": /,
      );
      assert.deepEqual([...Deno.readDirSync(small)], []);
    }),
});

Deno.test("driver.ts with a data root outside its permissions says how to grant it, before ready", async () => {
  const root = await Deno.makeTempDir();
  const other = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["data-root", other]);
    const { code, stderr, ready } = await d.finish();
    assert.equal(code, 1);
    assert.equal(ready.length, 0);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.ok(lines[0].startsWith("shimlog driver: "), stderr);
    assert.ok(lines[0].includes(other), "names the folder");
    assert.ok(
      lines[0].endsWith(
        " (the driver may read and write only the folders its --allow-read and --allow-write name: add this one, for the containerd wrapper with scripts/install_driver.ts --allow-dir DIR)",
      ),
      stderr,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("driver.ts whose parent dies before ready, the writers of its pipe gone with it, exits instead of waiting for ever", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-orphan-" });
  let pid = 0;
  try {
    const fifo = `${dir}/out`;
    await makeFifos([fifo]);
    // The parent opens the FIFO's write end and names itself, as the shim
    // does, then is SIGKILLed while Deno starts: the driver reopens
    // /dev/fd/3 when no writer is left.
    const parent = new Deno.Command("bash", {
      args: [
        "-c",
        `export SHIMLOG_PARENT_PID=$$
        "$@" 3<"${fifo}" 4< <(sleep 10) 5> >(cat >/dev/null) 2>"${dir}/stderr" &
        echo $! >"${dir}/pid"
        exec 7>"${fifo}"
        kill -9 $$`,
        "bash",
        ...driverArgv(dir, ["log-path", `${dir}/c.log`], {
          ffi: false,
          env: ["SHIMLOG_PARENT_PID"],
        }),
      ],
      clearEnv: true,
      env: driverEnv(),
    });
    const status = await parent.spawn().status;
    assert.equal(status.signal, "SIGKILL");
    pid = Number(await Deno.readTextFile(`${dir}/pid`));
    // Through ps: Deno reads /proc only with --allow-all.
    const alive = async () => {
      const { success, stdout } = await new Deno.Command("ps", {
        args: ["-o", "stat=", "-p", String(pid)],
      }).output();
      // A zombie has exited.
      return success && !new TextDecoder().decode(stdout).startsWith("Z");
    };
    for (let i = 0; i < 100 && await alive(); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await alive(), false, "the driver still runs 10 s later");
    const stderr = await Deno.readTextFile(`${dir}/stderr`);
    assert.match(
      stderr,
      /^shimlog driver: The driver's parent \(pid \d+\) exited before opening fd 3, before ready: nobody is left to start the container$/m,
    );
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["out", "pid", "stderr"],
      "no log made",
    );
  } finally {
    try {
      if (pid > 0) Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("driver.ts with a log-path that is a folder says so, before ready, and makes no file", async () => {
  const root = await Deno.makeTempDir();
  try {
    const d = await startDriver(root, ["log-path", root]);
    const { code, stderr, ready } = await d.finish();
    assert.equal(code, 1);
    assert.equal(ready.length, 0);
    assert.equal(
      stderr.trim(),
      `shimlog driver: Cannot open log file "${root}": it is a folder (log-path names the file to write)`,
    );
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("runLoggingDriver() without --allow-env for the container's variables says which flag to add, not which folder", async () => {
  const messages: string[] = [];
  const code = await runLoggingDriver(["log-path", "/nonexistent/x.log"], {
    env: {
      get(name: string): string | undefined {
        throw new Deno.errors.NotCapable(
          `Requires env access to "${name}", run again with the --allow-env flag`,
        );
      },
    },
    report: (message) => messages.push(message),
  });
  assert.equal(code, 1);
  assert.deepEqual(messages, [
    'shimlog driver: Requires env access to "CONTAINER_ID", run again with the --allow-env flag (run the driver with --allow-env=CONTAINER_ID,CONTAINER_NAMESPACE)',
  ]);
});

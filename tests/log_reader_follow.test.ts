import assert from "node:assert/strict";
import { JsonFileSink } from "../src/json_file_sink.ts";
import { holdLogLock, logLockPath, logWriterState } from "../src/log_lock.ts";
import { readLogs, type ReadLogsOptions } from "../src/log_reader.ts";
import { LogRetirer } from "../src/log_retire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-follow-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Follows a log in the background, collecting the text of each entry. */
function follow(path: string, options: ReadLogsOptions = {}) {
  const seen: string[] = [];
  const warnings: string[] = [];
  const done = (async () => {
    for await (
      const entry of readLogs(path, {
        ...options,
        follow: true,
        onWarning: (m) => warnings.push(m),
      })
    ) seen.push(`${entry.stream}:${dec.decode(entry.bytes)}`);
  })();
  return { seen, warnings, done };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !condition(); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(condition(), `timed out waiting for ${what}`);
}

Deno.test("logWriterState() tells a held lock, a released one and none apart", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    assert.equal(await logWriterState(path), "unknown");
    const lock = await holdLogLock(path);
    try {
      assert.equal(await logWriterState(path), "writing");
      assert.equal(
        (await Deno.readTextFile(logLockPath(path))).trim(),
        String(Deno.pid),
      );
    } finally {
      lock.release();
      lock.release();
    }
    assert.equal(await logWriterState(path), "finished");
  });
});

Deno.test("readLogs() with follow reads as RotatingFile writes, rotates and compresses, and ends once the writer's lock is released", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const lock = await holdLogLock(path);
    const sink = JsonFileSink.open({
      path,
      maxSize: 2000,
      maxFile: 3,
      compress: true,
    });
    const follower = follow(path);
    const expected: string[] = [];
    try {
      let time = { sec: 1795967634, nsec: 0 };
      const put = (stream: "stdout" | "stderr", text: string) => {
        time = { sec: time.sec, nsec: time.nsec + 1 };
        sink.write(stream, enc.encode(text), !text.endsWith("\n"), time);
        expected.push(`${stream}:${text}`);
      };
      put("stdout", "first\n");
      sink.flush();
      await until(() => follower.seen.length === 1, "the first line");
      for (let i = 0; i < 400; i++) {
        put(
          i % 7 === 0 ? "stderr" : "stdout",
          `line ${i} ${"x".repeat(i % 50)}\n`,
        );
        if (i % 10 === 9) {
          // At most one rotation before the follower has caught up: no
          // file is deleted unread, however slowly the follower runs.
          sink.flush();
          await until(
            () => follower.seen.length === expected.length,
            `line ${i}`,
          );
        }
      }
      put("stdout", "no newline at the end");
    } finally {
      await sink.close();
      lock.release();
    }
    await follower.done;
    assert.deepEqual(follower.seen, expected);
    assert.deepEqual(follower.warnings, []);
    assert.ok(
      [...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".2.gz")),
      "the log was rotated and compressed",
    );
  });
});

Deno.test("readLogs() with follow and tail prints the last lines, then what the writer adds", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const lock = await holdLogLock(path);
    const sink = JsonFileSink.open({ path, maxSize: 300, maxFile: 2 });
    const time = { sec: 1795967634, nsec: 1 };
    for (let i = 0; i < 10; i++) {
      sink.write("stdout", enc.encode(`old ${i}\n`), false, time);
    }
    sink.flush();
    const follower = follow(path, { tail: 2 });
    try {
      await until(() => follower.seen.length === 2, "the tail");
      for (let i = 0; i < 20; i++) {
        sink.write("stdout", enc.encode(`new ${i}\n`), false, time);
        sink.flush();
        await until(() => follower.seen.length === 3 + i, `new ${i}`);
      }
    } finally {
      await sink.close();
      lock.release();
    }
    await follower.done;
    assert.deepEqual(follower.seen, [
      "stdout:old 8\n",
      "stdout:old 9\n",
      ...Array.from({ length: 20 }, (_, i) => `stdout:new ${i}\n`),
    ]);
  });
});

Deno.test("readLogs() with follow keeps following a log that has no lock file until its signal aborts", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const line = (text: string) =>
      `{"log":"${text}\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"}\n`;
    await Deno.writeTextFile(path, line("a"));
    const stop = new AbortController();
    const follower = follow(path, { signal: stop.signal, pollMs: 5 });
    await until(() => follower.seen.length === 1, "the first line");
    await new Promise((r) => setTimeout(r, 100));
    await Deno.writeTextFile(path, line("b"), { append: true });
    await until(() => follower.seen.length === 2, "the second line");
    stop.abort();
    await follower.done;
    assert.deepEqual(follower.seen, ["stdout:a\n", "stdout:b\n"]);
  });
});

Deno.test("readLogs() with follow takes the followers' lock once the writer makes its marker, so that rotation starts keeping files for it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    await Deno.writeTextFile(
      path,
      `{"log":"a\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"}\n`,
    );
    const stop = new AbortController();
    const follower = follow(path, { signal: stop.signal, pollMs: 5 });
    const retirer = new LogRetirer(path);
    try {
      await until(() => follower.seen.length === 1, "the first line");
      assert.equal(retirer.followed, false); // no marker yet
      retirer.start(); // the writer starts after the follower
      await until(() => retirer.followed, "the follower's lock");
    } finally {
      stop.abort();
      await follower.done;
      await retirer.finish();
    }
  });
});

Deno.test("readLogs() with follow reports a half-written record left in a rotated file and reads on", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    const lock = await holdLogLock(path);
    const line = (text: string) =>
      `{"log":"${text}\\n","stream":"stdout","time":"2026-11-29T15:53:54Z"}\n`;
    await Deno.writeTextFile(path, line("a") + '{"log":"cut');
    const follower = follow(path);
    try {
      await until(() => follower.seen.length === 1, "the first line");
      await Deno.rename(path, `${path}.1`);
      await Deno.writeTextFile(path, line("b"));
      await until(() => follower.seen.length === 2, "the line after rotation");
    } finally {
      lock.release();
    }
    await follower.done;
    assert.deepEqual(follower.seen, ["stdout:a\n", "stdout:b\n"]);
    assert.equal(follower.warnings.length, 1);
    assert.match(
      follower.warnings[0],
      /^Skipped damaged data in ".*c-json\.log" at byte 62 \(11 bytes\): a half-written last record$/,
    );
  });
});

Deno.test("readLogs() following a log that does not exist fails at once with NotFound, leaving nothing running", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-follow-missing-" });
  try {
    await assert.rejects(async () => {
      for await (const _ of readLogs(`${dir}/none.log`, { follow: true })) {
        // nothing to read
      }
    }, Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { listRetiredFiles } from "../src/log_files.ts";
import { holdFollowerLock } from "../src/log_lock.ts";
import { LogRetirer } from "../src/log_retire.ts";
import { RotatingFile } from "../src/rotating_file.ts";
import { KubeletRotatingFile } from "../src/kubelet_rotation.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-retire-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function retiredNames(path: string, dir: string): string[] {
  return listRetiredFiles(path).map((r) => r.path.slice(dir.length + 1));
}

Deno.test("LogRetirer deletes what rotation discards while nobody follows, and retires it while a follower holds <log>.followers", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    const retirer = new LogRetirer(path, { now: () => 7000 });
    retirer.start();
    try {
      Deno.writeTextFileSync(`${path}.4`, "four\n");
      assert.equal(retirer.followed, false);
      retirer.remove(`${path}.4`);
      // Out of sight at once, under a name no reader takes for a file kept
      // for it; unlinked off the write path, once the caller's synchronous
      // work (the rest of the rotation's renames) is done.
      assert.deepEqual(retiredNames(path, dir), []);
      assert.ok(!names(dir).includes("x.log.4"));
      assert.deepEqual(
        names(dir).map((n) => n.replace(/-\d+-\d+$/, "-PID-N")),
        ["x.log.deleting-PID-N", "x.log.followers"],
      );
      await retirer.settle();
      assert.deepEqual(names(dir), ["x.log.followers"]);

      const follower = await holdFollowerLock(path);
      assert.ok(follower !== undefined);
      assert.equal(retirer.followed, true);
      Deno.writeTextFileSync(`${path}.4`, "four\n");
      Deno.writeTextFileSync(`${path}.3.gz`, "gz");
      retirer.remove(`${path}.4`);
      retirer.remove(`${path}.3.gz`);
      retirer.remove(`${path}.missing`); // not an error
      assert.deepEqual(retiredNames(path, dir), [
        "x.log.retired-7000-0",
        "x.log.retired-7000-1.gz",
      ]);
      assert.equal(Deno.readTextFileSync(`${path}.retired-7000-0`), "four\n");
      assert.equal(retirer.retiredBytes, 7);
      follower.release();
      assert.equal(retirer.followed, false);
    } finally {
      await retirer.finish();
    }
    assert.deepEqual(names(dir), ["x.log.followers"]);
  });
});

Deno.test("LogRetirer keeps retired files for graceMs and within maxBytes, the oldest going first; a file above maxBytes is deleted at once", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    let now = 5000;
    const retirer = new LogRetirer(path, {
      graceMs: 1000,
      maxBytes: 25,
      now: () => now,
    });
    retirer.start();
    const follower = await holdFollowerLock(path);
    try {
      const discard = (name: string, bytes: number) => {
        Deno.writeTextFileSync(`${dir}/${name}`, "x".repeat(bytes));
        retirer.remove(`${dir}/${name}`);
        now += 100;
      };
      discard("a", 10);
      discard("b", 10);
      assert.deepEqual(retiredNames(path, dir), [
        "x.log.retired-5000-0",
        "x.log.retired-5100-1",
      ]);
      discard("c", 10); // 30 bytes would be over 25: the oldest goes
      await retirer.settle();
      assert.deepEqual(retiredNames(path, dir), [
        "x.log.retired-5100-1",
        "x.log.retired-5200-2",
      ]);
      assert.equal(retirer.retiredBytes, 20);
      discard("big", 26); // larger than the whole budget
      await retirer.settle();
      assert.deepEqual(names(dir).filter((n) => n === "big"), []);
      assert.equal(retirer.retiredBytes, 20);
      now = 6150; // 5100 is 1050 ms old, 5200 is 950 ms
      discard("d", 1);
      await retirer.settle();
      assert.deepEqual(retiredNames(path, dir), [
        "x.log.retired-5200-2",
        "x.log.retired-6150-3",
      ]);
    } finally {
      follower?.release();
      await retirer.finish();
    }
    assert.deepEqual(retiredNames(path, dir), []);
    assert.throws(() => new LogRetirer(path, { graceMs: -1 }), RangeError);
  });
});

Deno.test("LogRetirer.start() deletes the files an earlier writer left retired or half deleted", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.retired-1-0`, "old\n");
    Deno.writeTextFileSync(`${path}.retired-2-1.gz`, "old");
    Deno.writeTextFileSync(`${path}.deleting-77-0`, "doomed");
    const retirer = new LogRetirer(path);
    assert.equal(retiredNames(path, dir).length, 2); // nothing before start
    retirer.start();
    await retirer.finish();
    assert.deepEqual(names(dir), ["x.log.followers"]);
  });
});

Deno.test("LogRetirer.finish() waits for the followers to let go (at most waitMs), then deletes every retired file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    const retirer = new LogRetirer(path);
    retirer.start();
    const follower = await holdFollowerLock(path);
    assert.ok(follower !== undefined);
    Deno.writeTextFileSync(`${path}.1`, "one\n");
    retirer.remove(`${path}.1`);
    let released = false;
    const finishing = retirer.finish({ waitMs: 30_000 }).then(() => {
      assert.ok(released, "finished before the follower let go");
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(retiredNames(path, dir).length, 1, "kept while followed");
    released = true;
    follower.release();
    await finishing;
    assert.deepEqual(names(dir), ["x.log.followers"]);

    // A follower that never lets go delays the end by waitMs only.
    const second = new LogRetirer(path);
    second.start();
    const stuck = await holdFollowerLock(path);
    try {
      Deno.writeTextFileSync(`${path}.1`, "one\n");
      second.remove(`${path}.1`);
      await second.finish({ waitMs: 20 });
      assert.deepEqual(retiredNames(path, dir), []);
    } finally {
      stuck?.release();
    }
  });
});

Deno.test("RotatingFile and KubeletRotatingFile retire the files they rotate away while a follower reads, and delete them otherwise", async () => {
  await withDir(async (dir) => {
    for (const kind of ["docker", "kubelet"] as const) {
      for (const followed of [false, true]) {
        const path = `${dir}/${kind}-${followed}.log`;
        Deno.writeTextFileSync(path, "");
        const retirer = new LogRetirer(path);
        retirer.start();
        const follower = followed ? await holdFollowerLock(path) : undefined;
        let second = 0;
        const options = {
          maxSize: 10,
          maxFile: 2,
          retirer,
          now: () => Date.UTC(2026, 10, 29, 12, 0, second++),
        };
        const file = kind === "docker"
          ? RotatingFile.open(path, options)
          : KubeletRotatingFile.open(path, options);
        const entry = new TextEncoder().encode("0123456789\n");
        try {
          for (let i = 0; i < 4; i++) {
            const pos = file.reserve(entry.length);
            file.buffer.set(entry, pos);
            file.commit(pos + entry.length, "2026-11-29T12:00:00Z"); // kubelet ignores the time
          }
        } finally {
          await file.close();
        }
        await retirer.settle();
        // 4 files' worth: the current one, one rotated, two discarded.
        assert.equal(retiredNames(path, dir).length, followed ? 2 : 0);
        follower?.release();
        await retirer.finish();
        assert.equal(retiredNames(path, dir).length, 0);
      }
    }
  });
});

Deno.test("LogRetirer deletes retired files once their grace period is over, even when no rotation follows", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    const retirer = new LogRetirer(path, { graceMs: 50 });
    retirer.start();
    const follower = await holdFollowerLock(path);
    try {
      Deno.writeTextFileSync(`${path}.1`, "one\n");
      retirer.remove(`${path}.1`);
      assert.equal(retiredNames(path, dir).length, 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(retiredNames(path, dir), []);
      assert.equal(retirer.retiredBytes, 0);
    } finally {
      follower?.release();
      await retirer.finish();
    }
  });
});

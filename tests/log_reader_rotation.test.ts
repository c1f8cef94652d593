import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  closeAll,
  type KeptFile,
  listRetiredFiles,
  listRotatedFiles,
  LogFileSet,
  type OpenLogFile,
  openLogFile,
  openLogFiles,
  readFully,
  retiredPath,
  withRetired,
} from "../src/log_files.ts";
import { LogRetirer } from "../src/log_retire.ts";
import { holdFollowerLock } from "../src/log_lock.ts";
import { WorkerFileAccess } from "../src/log_keeper.ts";
import { finishGzip, listingsDuring } from "./_helpers.ts";

const dec = new TextDecoder();

/**
 * A writer that rotates as `RotatingFile` does (Docker's scheme), one step
 * at a time, so that a test decides when the reader looks.
 */
class ScriptedWriter {
  #n = 0;
  constructor(
    readonly path: string,
    readonly maxFile: number,
    readonly options: { compress?: boolean; retirer?: LogRetirer } = {},
  ) {
    Deno.writeTextFileSync(path, "");
  }

  /** Appends a file's worth of lines: `<n>\n` for the next numbers. */
  write(lines = 3): void {
    let text = "";
    for (let i = 0; i < lines; i++) text += `${this.#n++}\n`;
    Deno.writeTextFileSync(this.path, text, { append: true });
  }

  #drop(path: string): void {
    if (this.options.retirer) this.options.retirer.remove(path);
    else Deno.removeSync(path);
  }

  rotate(): void {
    const name = this.path;
    const gz = this.options.compress ? ".gz" : "";
    if (this.maxFile < 2) {
      this.#drop(name);
    } else {
      for (let i = this.maxFile - 1; i >= 1; i--) {
        const from = `${name}.${i}${gz}`;
        if (!exists(from)) continue;
        if (i === this.maxFile - 1) this.#drop(from);
        else Deno.renameSync(from, `${name}.${i + 1}${gz}`);
      }
      Deno.renameSync(name, `${name}.1`);
      if (this.options.compress) this.compress();
    }
    Deno.writeTextFileSync(name, "");
  }

  /** Compresses `.1` to `.1.gz` as the driver does: a new file, then unlink. */
  compress(): void {
    const src = `${this.path}.1`;
    Deno.writeFileSync(`${src}.gz`, gzipSync(Deno.readFileSync(src)));
    Deno.removeSync(src);
  }

  get written(): number {
    return this.#n;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads kept files to text, oldest first, decompressing `.gz`. */
function contents(set: LogFileSet, files: KeptFile[]): string {
  return files.map((f) => {
    const bytes = set.read(f.id, 0, set.size(f.id));
    return dec.decode(f.compressed ? gunzipSync(bytes) : bytes);
  }).join("");
}

function numbers(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `${i}\n`;
  return text;
}

/**
 * A started retirer for `path` with a follower holding the followers'
 * marker, so that it retires; `end()` lets go of both.
 */
async function followedRetirer(path: string) {
  const retirer = new LogRetirer(path);
  retirer.start();
  const follower = await holdFollowerLock(path);
  assert.ok(follower !== undefined, "the marker exists once started");
  return {
    retirer,
    async end() {
      follower.release();
      await retirer.finish();
    },
  };
}

async function withDir(fn: (dir: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-rotation-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const compress of [false, true]) {
  const label = compress ? " with compress" : "";
  Deno.test(`LogFileSet.discover() opens each new file in order when it looks after every rotation${label}`, async () => {
    await withDir((dir) => {
      const writer = new ScriptedWriter(`${dir}/x.log`, 5, { compress });
      const set = new LogFileSet(writer.path);
      try {
        const files = set.open();
        assert.deepEqual(set.discover(), []);
        for (let r = 0; r < 12; r++) {
          writer.write();
          writer.rotate();
          const found = set.discover();
          assert.equal(found.length, 1);
          assert.equal(found[0].gapBefore, false);
          files.push(...found);
        }
        writer.write();
        assert.equal(contents(set, files), numbers(0, writer.written));
      } finally {
        set.close();
      }
    });
  });

  Deno.test(`LogFileSet.discover() finds every file in order after max-file-1 rotations unseen${label}`, async () => {
    await withDir((dir) => {
      const writer = new ScriptedWriter(`${dir}/x.log`, 5, { compress });
      const set = new LogFileSet(writer.path);
      try {
        const files = set.open();
        writer.write();
        for (let r = 0; r < 4; r++) {
          writer.rotate();
          writer.write();
        }
        const found = set.discover();
        assert.equal(found.length, 4);
        assert.ok(found.every((f) => !f.gapBefore));
        files.push(...found);
        assert.equal(contents(set, files), numbers(0, writer.written));
      } finally {
        set.close();
      }
    });
  });

  Deno.test(`LogFileSet.discover() reports a gap when a file was deleted unseen, and finds it among retired files when the writer retires them${label}`, async () => {
    await withDir(async (dir) => {
      for (const retire of [false, true]) {
        const path = `${dir}/${retire ? "r" : "d"}.log`;
        Deno.writeTextFileSync(path, "");
        const followed = retire ? await followedRetirer(path) : undefined;
        const writer = new ScriptedWriter(path, 5, {
          compress,
          retirer: followed?.retirer,
        });
        const set = new LogFileSet(path);
        try {
          const files = set.open();
          writer.write();
          for (let r = 0; r < 8; r++) {
            writer.rotate();
            writer.write();
          }
          const found = set.discover();
          files.push(...found);
          if (retire) {
            assert.equal(found.length, 8);
            assert.equal(found[0].gapBefore, false);
            assert.equal(contents(set, files), numbers(0, writer.written));
          } else {
            assert.equal(found.length, 5);
            assert.equal(found[0].gapBefore, true);
            // The first file, then a gap, then the newest 5.
            assert.equal(
              contents(set, files),
              numbers(0, 3) + numbers(12, writer.written),
            );
          }
        } finally {
          set.close();
          await followed?.end();
        }
      }
    });
  });
}

Deno.test("LogFileSet.discover() misses no file when, while it looks at the hole of one shift, that rotation ends and the next one's shift empties the number above", async () => {
  // The walk up from NAME.1 finds NAME.2 missing: the hole of a shift under
  // way, unless nothing is above it. Before it looks above, its thread
  // stalls while the writer ends that rotation and starts the next, whose
  // shift has just moved NAME.3 up to NAME.4: NAME.3 is missing too. Taken
  // for the end, that left the file in NAME.4, neither walked nor retired,
  // unread and untold.
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, "");
    const followed = await followedRetirer(path);
    const writer = new ScriptedWriter(path, 5, { retirer: followed.retirer });
    const set = new LogFileSet(path);
    const statSync = Deno.statSync;
    try {
      const files = set.open(); // file 0
      writer.write();
      for (let r = 0; r < 7; r++) {
        writer.rotate();
        writer.write();
      }
      // Files 0-2 retired; NAME.4 to NAME are files 3-7. A rotation begins:
      // file 3 retired, 4 and 5 shifted up, a hole at NAME.2.
      followed.retirer.remove(`${path}.4`);
      Deno.renameSync(`${path}.3`, `${path}.4`);
      Deno.renameSync(`${path}.2`, `${path}.3`);
      let stalled = false;
      Deno.statSync = (p) => {
        if (p === `${path}.3` && !stalled) {
          stalled = true;
          // That rotation ends (file 8 is written), the next one begins.
          Deno.renameSync(`${path}.1`, `${path}.2`);
          Deno.renameSync(path, `${path}.1`);
          Deno.writeTextFileSync(path, "");
          writer.write();
          followed.retirer.remove(`${path}.4`);
          Deno.renameSync(`${path}.3`, `${path}.4`);
        }
        return statSync(p);
      };
      files.push(...set.discover());
      assert.ok(stalled, "the walk looked above the hole");
      Deno.statSync = statSync;
      // The second rotation ends; file 9 is written.
      Deno.renameSync(`${path}.2`, `${path}.3`);
      Deno.renameSync(`${path}.1`, `${path}.2`);
      Deno.renameSync(path, `${path}.1`);
      Deno.writeTextFileSync(path, "");
      writer.write();
      files.push(...set.discover());
      assert.deepEqual(files.map((f) => f.gapBefore), files.map(() => false));
      assert.equal(contents(set, files), numbers(0, writer.written));
    } finally {
      Deno.statSync = statSync;
      set.close();
      await followed.end();
    }
  });
});

/**
 * Makes the next `times` listings of a folder slow, as in a large folder:
 * `during` runs while each one reads it, and the listing shows what
 * `readdir` may show of a folder changed meanwhile: every name there when
 * it began and, of the retired files added since, only the newest.
 * Returns the function that puts things back.
 */
function racyListings(times: number, during: () => void): () => void {
  const readDirSync = Deno.readDirSync;
  const retiredOrder = (name: string) =>
    Number(/\.retired-\d+-(\d+)/.exec(name)?.[1] ?? -1);
  let left = times;
  Deno.readDirSync = (path) => {
    const before = [...readDirSync(path)];
    if (left === 0) return before.values();
    left--;
    const names = new Set(before.map((e) => e.name));
    during();
    const retired = [...readDirSync(path)]
      .filter((e) => !names.has(e.name) && retiredOrder(e.name) !== -1)
      .sort((a, b) => retiredOrder(a.name) - retiredOrder(b.name));
    return [...before, ...retired.slice(-1)].values();
  };
  return () => {
    Deno.readDirSync = readDirSync;
  };
}

Deno.test("listRetiredFiles() lists no retired file without those retired before it, though a read of the folder misses names added during it", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    const retire = (n: number) =>
      Deno.writeTextFileSync(retiredPath(path, 10 + n, n, false), `${n}\n`);
    retire(0);
    let next = 1;
    // Each read shows 0 and the newest of the two retired during it.
    const restore = racyListings(2, () => {
      retire(next++);
      retire(next++);
    });
    try {
      // Complete up to 2, the newest of the first read; 3 and 4 are for
      // the next call.
      assert.deepEqual(
        listRetiredFiles(path).map((r) => r.path.slice(dir.length + 1)),
        ["x.log.retired-10-0", "x.log.retired-11-1", "x.log.retired-12-2"],
      );
    } finally {
      restore();
    }
  });
});

for (const compress of [false, true]) {
  const label = compress ? " with compress" : "";
  Deno.test(`LogFileSet.discover() reads each file once and in order when a listing of the folder misses a file retired during it${label}`, async () => {
    await withDir(async (dir) => {
      const path = `${dir}/x.log`;
      Deno.writeTextFileSync(path, "");
      const followed = await followedRetirer(path);
      const writer = new ScriptedWriter(path, 3, {
        compress,
        retirer: followed.retirer,
      });
      const set = new LogFileSet(path);
      let restore = () => {};
      try {
        const files = set.open();
        writer.write();
        for (let r = 0; r < 3; r++) {
          writer.rotate(); // the follower's file is retired on the third
          writer.write();
        }
        // The writer rotates 4 times during each of the next 6 listings, so
        // that each one shows a file newer than the file being written when
        // it began, and misses that file, retired during it too.
        restore = racyListings(6, () => {
          for (let r = 0; r < 4; r++) {
            writer.rotate();
            writer.write();
          }
        });
        for (let look = 0; look < 12; look++) files.push(...set.discover());
        restore();
        files.push(...set.discover());
        assert.ok(files.every((f) => !f.gapBefore));
        assert.equal(contents(set, files), numbers(0, writer.written));
      } finally {
        restore();
        set.close();
        await followed.end();
      }
    });
  });
}

/** Reads open log files to text, decompressing `.gz`. */
function readOpened(files: OpenLogFile[]): string {
  return files.map((f) => {
    const bytes = new Uint8Array(f.file.statSync().size);
    f.file.seekSync(0, Deno.SeekMode.Start);
    readFully(f.file, bytes);
    return dec.decode(f.compressed ? gunzipSync(bytes) : bytes);
  }).join("");
}

/**
 * Opens a log's files with {@linkcode openLogFiles} while the folder's
 * reads run `steps` (see `listingsDuring`), then puts the reads back.
 */
function openLogFilesDuring(
  path: string,
  steps: (() => void)[],
): OpenLogFile[] {
  const restore = listingsDuring(steps);
  try {
    return openLogFiles(path);
  } finally {
    restore();
  }
}

Deno.test("openLogFiles() opens each rotated file once though compressions finish while the folder is listed, with Docker's names and kubelet's", async () => {
  await withDir((dir) => {
    // Oldest first; the writers compress the oldest pending file first,
    // and kubelet never the newest rotated file.
    const logs = [{
      path: `${dir}/x.log`,
      rotated: [".4.gz", ".3", ".2", ".1"],
      compressing: [".3", ".2", ".1"],
    }, {
      path: `${dir}/0.log`,
      rotated: [
        ".20261129-155410.gz",
        ".20261129-155411",
        ".20261129-155412",
        ".20261129-155413",
      ],
      compressing: [".20261129-155411", ".20261129-155412"],
    }];
    for (const { path, rotated, compressing } of logs) {
      rotated.forEach((suffix, n) => {
        const text = `${n}\n`;
        if (suffix.endsWith(".gz")) {
          Deno.writeFileSync(`${path}${suffix}`, gzipSync(text));
        } else Deno.writeTextFileSync(`${path}${suffix}`, text);
      });
      Deno.writeTextFileSync(path, `${rotated.length}\n`);
      // A compression finishes during each listing: the listing shows
      // neither the file's plain name nor its `.gz` name.
      const files = openLogFilesDuring(
        path,
        compressing.map((suffix) => () => finishGzip(`${path}${suffix}`)),
      );
      try {
        assert.equal(readOpened(files), numbers(0, rotated.length + 1), path);
      } finally {
        closeAll(files);
      }
    }
  });
});

Deno.test("LogFileSet.discover() reads each file once and in order with kubelet's names though a compression finishes during each listing of the folder", async () => {
  await withDir((dir) => {
    const path = `${dir}/0.log`;
    let n = 0;
    const write = () => {
      Deno.writeTextFileSync(path, numbers(n, n + 3), { append: true });
      n += 3;
    };
    Deno.writeTextFileSync(path, "");
    const set = new LogFileSet(path);
    let restore = () => {};
    try {
      const files = set.open();
      write();
      const rotated: string[] = [];
      for (let r = 0; r < 6; r++) {
        const name = `${path}.20261129-15541${r}`;
        Deno.renameSync(path, name);
        Deno.writeTextFileSync(path, "");
        rotated.push(name);
        write();
      }
      // A burst of rotations: the first rotated file is compressed, the
      // next four are waiting for their turn, the newest stays as it is.
      finishGzip(rotated[0]);
      restore = listingsDuring(
        rotated.slice(1, -1).map((name) => () => finishGzip(name)),
      );
      const found = set.discover();
      restore();
      assert.ok(found.every((f) => !f.gapBefore));
      files.push(...found);
      assert.equal(contents(set, files), numbers(0, n));
    } finally {
      restore();
      set.close();
    }
  });
});

Deno.test("LogFileSet.discover() marks a gap where the writer's retirement budget ran out, and still reads the retired files kept after it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, "");
    const retirer = new LogRetirer(path, { maxBytes: 20 });
    retirer.start();
    const follower = await holdFollowerLock(path);
    const writer = new ScriptedWriter(path, 3, { retirer });
    const set = new LogFileSet(path);
    try {
      const files = set.open();
      writer.write();
      for (let r = 0; r < 8; r++) {
        writer.rotate();
        writer.write();
      }
      // Files 0-5 were rotated away: 4 and 5 (18 bytes) fit the budget.
      const found = set.discover();
      assert.deepEqual(found.map((f) => f.gapBefore), [
        true,
        false,
        false,
        false,
        false,
      ]);
      files.push(...found);
      assert.equal(
        contents(set, files),
        numbers(0, 3) + numbers(12, writer.written),
      );
    } finally {
      set.close();
      follower?.release();
      await retirer.finish();
    }
  });
});

Deno.test("withRetired() puts files an earlier look saw and that were deleted since first, then the retired files, then the current ones, with the gaps between", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    const make = (name: string, text: string) => {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
      return openLogFile(`${dir}/${name}`, false);
    };
    const last = make("last", "0\n"); // the last file read: deleted since
    const stale = [make("s1", "1\n"), make("s2", "2\n")]; // seen, deleted
    Deno.removeSync(`${dir}/last`);
    Deno.removeSync(`${dir}/s1`);
    Deno.removeSync(`${dir}/s2`);
    Deno.writeTextFileSync(retiredPath(path, 10, 0, false), "5\n");
    Deno.writeTextFileSync(retiredPath(path, 11, 1, false), "6\n");
    const current = [make("x.log.1", "7\n"), make("x.log", "8\n")];
    const seen = [...stale, ...current];
    const { files, gaps } = withRetired(path, last, seen, true, new Set(stale));
    try {
      const text = (f: typeof last) => {
        f.file.seekSync(0, Deno.SeekMode.Start);
        const b = new Uint8Array(8);
        return dec.decode(b.subarray(0, f.file.readSync(b) ?? 0));
      };
      assert.deepEqual(files.map(text), [
        "1\n",
        "2\n",
        "5\n",
        "6\n",
        "7\n",
        "8\n",
      ]);
      // Before s1: `last` is gone; before the first retired file: files
      // between s2 and it were deleted.
      assert.deepEqual(files.map((f) => gaps.has(f)), [
        true,
        false,
        true,
        false,
        false,
        false,
      ]);
    } finally {
      closeAll([last, ...files]);
    }
  });
});

Deno.test("withRetired() places a current file retired since it was seen in retirement order, and leaves retired files newer than the file being written for the next look", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    const last = openLogFile(
      (Deno.writeTextFileSync(retiredPath(path, 10, 0, false), "0\n"),
        retiredPath(path, 10, 0, false)),
      false,
    );
    Deno.writeTextFileSync(retiredPath(path, 11, 1, false), "1\n");
    Deno.writeTextFileSync(`${path}.1`, "2\n");
    Deno.writeTextFileSync(path, "3\n");
    const seen = [openLogFile(`${path}.1`, false), openLogFile(path, false)];
    // Both rotate away after the look: the writer retires them, then one more.
    Deno.renameSync(`${path}.1`, retiredPath(path, 12, 2, false));
    Deno.renameSync(path, retiredPath(path, 13, 3, false));
    Deno.writeTextFileSync(retiredPath(path, 14, 4, false), "4\n");
    const { files, gaps } = withRetired(path, last, seen, true);
    try {
      assert.deepEqual(files.map((f) => f.path.slice(dir.length + 1)), [
        "x.log.retired-11-1",
        "x.log.1",
        "x.log",
      ]);
      assert.equal(gaps.size, 0);
    } finally {
      closeAll([last, ...files]);
    }
  });
});

Deno.test("openLogFiles() waits for a writer caught between rotating its file away and creating the next", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.1`, "0\n");
    const writer = new Deno.Command("sh", {
      args: ["-c", `sleep 0.2; printf '1\\n' > '${path}'`],
    }).spawn();
    try {
      const files = openLogFiles(path); // blocks until the file is back
      try {
        assert.deepEqual(files.map((f) => f.path), [`${path}.1`, path]);
      } finally {
        closeAll(files);
      }
    } finally {
      await writer.status;
    }
    // With no trace of a writer, a missing file is an error at once.
    assert.throws(() => openLogFiles(`${dir}/none.log`), Deno.errors.NotFound);
  });
});

Deno.test("openLogFiles() gives the rotated files on their own, oldest first, once the log file has been missing for a second: a writer killed between rotating its file away and creating the next", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.2`, "0\n");
    Deno.writeTextFileSync(`${path}.1`, "1\n");
    Deno.writeTextFileSync(`${path}.rotating-1234`, "");
    const start = performance.now();
    const files = openLogFiles(path);
    try {
      assert.ok(performance.now() - start >= 1000, "waited for the writer");
      assert.deepEqual(files.map((f) => f.path), [`${path}.2`, `${path}.1`]);
    } finally {
      closeAll(files);
    }
  });
});

Deno.test("LogFileSet.discover() with max-file=1 follows the deleted file with the new one, and with retirement finds files it missed", async () => {
  await withDir(async (dir) => {
    const plain = new ScriptedWriter(`${dir}/a.log`, 1);
    const set = new LogFileSet(plain.path);
    try {
      const files = set.open();
      plain.write();
      plain.rotate();
      plain.write();
      const found = set.discover();
      assert.deepEqual(found.map((f) => f.gapBefore), [false]);
      files.push(...found);
      assert.equal(contents(set, files), numbers(0, 6));
    } finally {
      set.close();
    }
    const path = `${dir}/b.log`;
    Deno.writeTextFileSync(path, "");
    const followed = await followedRetirer(path);
    const retiring = new ScriptedWriter(path, 1, { retirer: followed.retirer });
    const set2 = new LogFileSet(path);
    try {
      const files = set2.open();
      for (let r = 0; r < 3; r++) {
        retiring.write();
        retiring.rotate();
      }
      retiring.write();
      const found = set2.discover();
      assert.equal(found.length, 3);
      assert.ok(found.every((f) => !f.gapBefore));
      files.push(...found);
      assert.equal(contents(set2, files), numbers(0, 12));
    } finally {
      set2.close();
      await followed.end();
    }
  });
});

Deno.test("LogFileSet.discover() follows kubelet's stamped names, with the newest rotated file uncompressed", async () => {
  await withDir((dir) => {
    const path = `${dir}/0.log`;
    let n = 0;
    const write = () =>
      Deno.writeTextFileSync(path, `${n++}\n`, { append: true });
    Deno.writeTextFileSync(path, "");
    const set = new LogFileSet(path);
    try {
      const files = set.open();
      const rotated: string[] = [];
      const rotate = (stamp: string) => {
        Deno.renameSync(path, `${path}.${stamp}`);
        Deno.writeTextFileSync(path, "");
        // Every rotated file but the newest is compressed.
        const previous = rotated.at(-1);
        if (previous !== undefined) {
          Deno.writeFileSync(
            `${previous}.gz`,
            gzipSync(Deno.readFileSync(previous)),
          );
          Deno.removeSync(previous);
        }
        rotated.push(`${path}.${stamp}`);
      };
      write();
      rotate("20261129-155410");
      write();
      files.push(...set.discover());
      rotate("20261129-155411");
      write();
      rotate("20261129-155412");
      write();
      files.push(...set.discover());
      assert.equal(contents(set, files), numbers(0, 4));
      assert.deepEqual(
        listRotatedFiles(path).map((r) => r.path.slice(dir.length + 1)),
        [
          "0.log.20261129-155410.gz",
          "0.log.20261129-155411.gz",
          "0.log.20261129-155412",
        ],
      );
    } finally {
      set.close();
    }
  });
});

Deno.test("openLogFiles() opens a log's files oldest first, preferring an uncompressed copy of a file being compressed", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, "0\n");
    Deno.writeTextFileSync(`${path}.1`, "1\n");
    Deno.writeFileSync(`${path}.1.gz`, gzipSync("1\n"));
    Deno.writeFileSync(`${path}.2.gz`, gzipSync("2\n"));
    Deno.writeTextFileSync(`${path}.3`, "3\n");
    Deno.writeTextFileSync(`${path}.compressing-1234`, "junk");
    Deno.writeTextFileSync(`${path}.lock`, "42\n");
    Deno.writeTextFileSync(`${path}.retired-1-0`, "old\n");
    const files = openLogFiles(path);
    try {
      assert.deepEqual(
        files.map((f) => [f.path.slice(dir.length + 1), f.compressed]),
        [["x.log.3", false], ["x.log.2.gz", true], ["x.log.1", false], [
          "x.log",
          false,
        ]],
      );
    } finally {
      closeAll(files);
    }
  });
});

/** The files as opened, relative to `dir`. */
function names(dir: string, files: OpenLogFile[]): string[] {
  return files.map((f) => f.path.slice(dir.length + 1));
}

/**
 * Counts the reads of folders (two a listing of rotated files) from now;
 * `restore()` puts things back.
 */
function countReads(): { reads: () => number; restore: () => void } {
  const readDirSync = Deno.readDirSync;
  let reads = 0;
  Deno.readDirSync = (path) => {
    reads++;
    return readDirSync(path);
  };
  return {
    reads: () => reads,
    restore: () => {
      Deno.readDirSync = readDirSync;
    },
  };
}

for (const compress of [false, true]) {
  for (const finishes of [true, false]) {
    const label = (compress ? " with compress" : "") +
      (finishes ? "" : ", when the writer stops there");
    Deno.test(`openLogFiles() leaves no rotated file out when a rotation shifts the numbers between the listing and the opens${label}`, async () => {
      await withDir((dir) => {
        const path = `${dir}/x.log`;
        const gz = compress ? ".gz" : "";
        // C is x.log.2, B x.log.1 (with compress, not compressed yet), A
        // x.log.
        Deno.writeFileSync(
          `${path}.2${gz}`,
          compress ? gzipSync("0\n") : new TextEncoder().encode("0\n"),
        );
        Deno.writeTextFileSync(`${path}.1`, "1\n");
        Deno.writeTextFileSync(path, "2\n");
        // During the second read of the first listing, the writer shifts
        // .2 to .3 and .1 to .2 (where B's compression then finishes): the
        // listing shows .2 and .1 as before, but .2 is now B, and .1 is
        // gone. The writer then renames x.log to .1 and starts a new
        // x.log, or stops half-way.
        const files = openLogFilesDuring(path, [
          () => {},
          () => {
            Deno.renameSync(`${path}.2${gz}`, `${path}.3${gz}`);
            Deno.renameSync(`${path}.1`, `${path}.2`);
            if (compress) finishGzip(`${path}.2`);
          },
          ...(finishes
            ? [() => {
              Deno.renameSync(path, `${path}.1`);
              Deno.writeTextFileSync(path, "3\n");
            }]
            : []),
        ]);
        try {
          assert.equal(readOpened(files), numbers(0, finishes ? 4 : 3));
          assert.deepEqual(
            names(dir, files),
            finishes
              ? [`x.log.3${gz}`, `x.log.2${gz}`, "x.log.1", "x.log"]
              : [`x.log.3${gz}`, `x.log.2${gz}`, "x.log"],
          );
        } finally {
          closeAll(files);
        }
      });
    });
  }
}

Deno.test("openLogFiles() finds the oldest file when its compression finishes during one read of the folder and the shift renames it during the other", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.2`, "0\n"); // C, being compressed
    Deno.writeTextFileSync(`${path}.1`, "1\n"); // B
    Deno.writeTextFileSync(path, "2\n"); // A
    // Neither read shows C under any name: the listing is .1 alone, whole
    // from 1; C is at .3.gz, past the next number.
    const files = openLogFilesDuring(path, [
      () => finishGzip(`${path}.2`),
      () => Deno.renameSync(`${path}.2.gz`, `${path}.3.gz`),
      () => {
        Deno.renameSync(`${path}.1`, `${path}.2`);
        Deno.renameSync(path, `${path}.1`);
        Deno.writeTextFileSync(path, "3\n");
      },
    ]);
    try {
      assert.equal(readOpened(files), numbers(0, 4));
    } finally {
      closeAll(files);
    }
  });
});

Deno.test("openLogFiles() returns the files that exist when one was deleted by hand, once nothing has changed for 100 ms, without using up its attempts", async () => {
  await withDir((dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.3`, "0\n");
    Deno.writeTextFileSync(`${path}.1`, "2\n"); // .2 deleted
    Deno.writeTextFileSync(path, "3\n");
    const start = performance.now();
    const files = openLogFiles(path, { attempts: 2 });
    try {
      assert.ok(performance.now() - start >= 100, "waited for a rotation");
      assert.deepEqual(names(dir, files), ["x.log.3", "x.log.1", "x.log"]);
    } finally {
      closeAll(files);
    }
  });
});

Deno.test("openLogFiles() takes a set at once when a file is compressed between the listing and its open, and with kubelet's names, whose gaps are no sign of a rotation", async () => {
  await withDir((dir) => {
    const docker = `${dir}/x.log`;
    Deno.writeTextFileSync(`${docker}.2`, "0\n");
    Deno.writeTextFileSync(`${docker}.1`, "1\n");
    Deno.writeTextFileSync(docker, "2\n");
    const kubelet = `${dir}/0.log`;
    Deno.writeFileSync(`${kubelet}.20261129-155410.gz`, gzipSync("0\n"));
    Deno.writeTextFileSync(`${kubelet}.20261129-155416`, "1\n");
    Deno.writeTextFileSync(kubelet, "2\n");
    for (const path of [docker, kubelet]) {
      // The compression of x.log.1 finishes during the second read.
      const restore = listingsDuring(
        path === docker ? [() => {}, () => finishGzip(`${docker}.1`)] : [],
      );
      const counted = countReads();
      let files: OpenLogFile[] = [];
      try {
        files = openLogFiles(path);
      } finally {
        counted.restore();
        restore();
      }
      try {
        assert.equal(counted.reads(), 2, "one listing");
        assert.equal(readOpened(files), numbers(0, 3));
        if (path === docker) {
          assert.deepEqual(names(dir, files), [
            "x.log.2",
            "x.log.1.gz",
            "x.log",
          ]);
        }
      } finally {
        closeAll(files);
      }
    }
  });
});

Deno.test("WorkerFileAccess opens, in its worker too, the rotated files of a log whose writer was killed between rotating its file away and creating the next, then follows the next writer's file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(`${path}.2`, "0\n");
    Deno.writeTextFileSync(`${path}.1`, "1\n");
    const access = new WorkerFileAccess(path, 60_000); // looks only when asked
    try {
      const files = await access.open();
      assert.deepEqual(files.map((f) => f.path), [`${path}.2`, `${path}.1`]);
      Deno.writeTextFileSync(path, "2\n"); // the next writer
      const found = await access.discovered(true);
      assert.deepEqual(found.map((f) => [f.path, f.gapBefore]), [[
        path,
        false,
      ]]);
      let text = "";
      for (const f of [...files, ...found]) {
        text += dec.decode(await access.read(f.id, 0, await access.size(f.id)));
      }
      assert.equal(text, numbers(0, 3));
    } finally {
      await access.close();
    }
  });
});

Deno.test("WorkerFileAccess runs discovery in its worker, through compressed, retired and missing files", async () => {
  await withDir(async (dir) => {
    for (const retire of [true, false]) {
      const path = `${dir}/${retire ? "r" : "d"}.log`;
      Deno.writeTextFileSync(path, "");
      const followed = retire ? await followedRetirer(path) : undefined;
      const writer = new ScriptedWriter(path, 3, {
        compress: true,
        retirer: followed?.retirer,
      });
      const access = new WorkerFileAccess(path, 60_000); // looks only when asked
      try {
        const files = await access.open();
        writer.write();
        for (let r = 0; r < 6; r++) {
          writer.rotate();
          writer.write();
        }
        const found = await access.discovered(true);
        assert.equal(found[0].gapBefore, !retire);
        files.push(...found);
        let text = "";
        for (const f of files) {
          const bytes = await access.read(f.id, 0, await access.size(f.id));
          text += dec.decode(f.compressed ? gunzipSync(bytes) : bytes);
        }
        assert.equal(
          text,
          retire ? numbers(0, writer.written) : numbers(0, 3) + numbers(12, 21),
        );
      } finally {
        await access.close();
        await followed?.end();
      }
    }
  });
});

Deno.test("LogFileSet.discover() keeps up with kubelet's names when the writer rotates during every listing of the folder and retires the files listed", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    Deno.writeTextFileSync(path, "");
    // A budget of about 40 files: a follower stuck for longer loses some.
    const retirer = new LogRetirer(path, { maxBytes: 40 * 12 });
    retirer.start();
    const follower = await holdFollowerLock(path);
    assert.ok(follower !== undefined);
    let n = 0;
    const write = () => {
      Deno.writeTextFileSync(path, numbers(n, n + 3), { append: true });
      n += 3;
    };
    // kubelet's scheme with max-file=2: one rotated file is kept, the one
    // before it is retired at each rotation.
    const rotated: string[] = [];
    let second = 0;
    const rotate = () => {
      const s = second++;
      const stamp = `20261129-15${String(Math.floor(s / 60)).padStart(2, "0")}${
        String(s % 60).padStart(2, "0")
      }`;
      Deno.renameSync(path, `${path}.${stamp}`);
      Deno.writeTextFileSync(path, "");
      rotated.push(`${path}.${stamp}`);
      while (rotated.length > 1) retirer.remove(rotated.shift()!);
      write();
    };
    const set = new LogFileSet(path);
    const readDirSync = Deno.readDirSync;
    try {
      const files = set.open();
      write();
      rotate();
      // The writer rotates once after each read of the folder: each file
      // a listing shows is retired before it can be opened.
      Deno.readDirSync = (p) => {
        const entries = [...readDirSync(p)];
        rotate();
        return entries[Symbol.iterator]();
      };
      let looks = 0;
      for (let look = 0; look < 10; look++) {
        const found = set.discover();
        if (found.length > 0) looks++;
        files.push(...found);
      }
      Deno.readDirSync = readDirSync;
      files.push(...set.discover());
      assert.ok(looks >= 5, `only ${looks} of 10 looks found files`);
      assert.deepEqual(files.filter((f) => f.gapBefore), []);
      assert.equal(contents(set, files), numbers(0, n));
    } finally {
      Deno.readDirSync = readDirSync;
      set.close();
      follower.release();
      await retirer.finish();
    }
  });
});

Deno.test("LogFileSet.discover() takes a CRI log for kubelet's scheme from its content, though a listing of the folder shows none of kubelet's names", async () => {
  await withDir((dir) => {
    const path = `${dir}/0.log`;
    const line = (n: number) =>
      `2026-11-30T10:00:0${n}.000000000Z stdout F line ${n}\n`;
    Deno.writeTextFileSync(path, line(0));
    const set = new LogFileSet(path);
    const readDirSync = Deno.readDirSync;
    try {
      const files = set.open();
      // Two rotations, as kubelet's: A and B get stamped names, C is written.
      Deno.renameSync(path, `${path}.20261130-100000`);
      Deno.writeTextFileSync(path, line(1));
      Deno.renameSync(path, `${path}.20261130-100001`);
      Deno.writeTextFileSync(path, line(2));
      // A read of a changing folder is no snapshot: reads made to tell the
      // scheme miss the stamped names (those made to follow kubelet's
      // scheme, once it is known, see them).
      Deno.readDirSync = (p) => {
        const entries = [...readDirSync(p)];
        if (new Error().stack?.includes("kubeletFilesAfter")) {
          return entries.values();
        }
        return entries.filter((e) => !/\.\d{8}-\d{6}$/.test(e.name)).values();
      };
      files.push(...set.discover());
      assert.deepEqual(files.map((f) => f.gapBefore), [false, false, false]);
      assert.equal(contents(set, files), line(0) + line(1) + line(2));
    } finally {
      Deno.readDirSync = readDirSync;
      set.close();
    }
  });
});

Deno.test("LogFileSet.discover() takes the rotated files newer than the last one found on its final look, once a writer killed mid-rotation has left no log file, in its worker too", async () => {
  await withDir(async (dir) => {
    for (const kubelet of [false, true]) {
      const path = `${dir}/${kubelet ? "k" : "d"}.log`;
      const name = (i: number) =>
        kubelet ? `${path}.20261130-10000${i}` : `${path}.${3 - i}`;
      Deno.writeTextFileSync(path, numbers(0, 3));
      const set = new LogFileSet(path);
      const access = new WorkerFileAccess(path, 60_000);
      try {
        const files = set.open();
        const viaWorker = await access.open();
        // Two rotations; the writer is killed before it makes the next file.
        Deno.renameSync(path, name(1));
        Deno.writeTextFileSync(name(2), numbers(3, 6));
        assert.deepEqual(set.discover(), [], "not before the final look");
        const found = set.discover(true);
        assert.deepEqual(found.map((f) => [f.path, f.gapBefore]), [
          [name(2), false],
        ]);
        files.push(...found);
        assert.equal(contents(set, files), numbers(0, 6));
        assert.deepEqual(set.discover(true), [], "nothing newer since");
        viaWorker.push(...await access.discovered(true));
        assert.deepEqual(viaWorker.map((f) => f.path), [path, name(2)]);
      } finally {
        set.close();
        await access.close();
      }
    }
  });
});

Deno.test("LogFileSet.discover() takes the rotated files newer than the last one found once the log file has been missing for a second, though the writer still holds its lock", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x.log`;
    Deno.writeTextFileSync(path, numbers(0, 3));
    const set = new LogFileSet(path);
    try {
      const files = set.open();
      Deno.renameSync(path, `${path}.2`);
      Deno.writeTextFileSync(`${path}.1`, numbers(3, 6));
      assert.deepEqual(set.discover(), []);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const found = set.discover();
      assert.deepEqual(found.map((f) => f.path), [`${path}.1`]);
      files.push(...found);
      assert.equal(contents(set, files), numbers(0, 6));
      // The next writer's file follows.
      Deno.writeTextFileSync(path, numbers(6, 9));
      files.push(...set.discover());
      assert.equal(contents(set, files), numbers(0, 9));
    } finally {
      set.close();
    }
  });
});

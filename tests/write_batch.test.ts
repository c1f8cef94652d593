import assert from "node:assert/strict";
import fc from "fast-check";
import { WriteBatch } from "../src/_write_batch.ts";
import type { LogFileEvent } from "../src/log_file_events.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A file on a disk of `capacity` bytes, as the kernel serves it: a write
 * stores what fits (a short write), the next one fails with ENOSPC.
 */
class SmallDisk {
  bytes = new Uint8Array(0);
  constructor(public capacity: number) {}
  writeSync(p: Uint8Array): number {
    const room = this.capacity - this.bytes.length;
    if (room <= 0) {
      const error = new Error("No space left on device (os error 28)");
      Object.assign(error, { code: "ENOSPC" });
      throw error;
    }
    const n = Math.min(room, p.length);
    const grown = new Uint8Array(this.bytes.length + n);
    grown.set(this.bytes);
    grown.set(p.subarray(0, n), this.bytes.length);
    this.bytes = grown;
    return n;
  }
  truncateSync(length: number): void {
    this.bytes = this.bytes.slice(0, length);
  }
  get file(): Deno.FsFile {
    return this as unknown as Deno.FsFile;
  }
}

/** Entries through a batch as RotatingFile drives it, then a flush. */
function writeAll(
  batch: WriteBatch,
  disk: SmallDisk,
  entries: string[],
  size: number,
): number {
  for (const entry of entries) {
    const bytes = enc.encode(entry);
    size += batch.makeRoom(disk.file, size, bytes.length);
    batch.buffer.set(bytes, batch.length);
    size += batch.commit(batch.length + bytes.length, disk.file, size);
  }
  return size + batch.writeTo(disk.file, size);
}

const entry = (i: number, n: number) => `{"log":"${i} ${"x".repeat(n)}"}\n`;

Deno.test("WriteBatch on a full disk drops entries instead of throwing, keeps only whole entries in the file, and counts every byte it dropped (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 70_000 }), {
        minLength: 1,
        maxLength: 120,
      }),
      fc.integer({ min: 0, max: 3_000_000 }),
      (lengths, capacity) => {
        const disk = new SmallDisk(capacity);
        const events: LogFileEvent[] = [];
        const batch = new WriteBatch(undefined, (e) => events.push(e));
        const entries = lengths.map((n, i) => entry(i, n));
        const size = writeAll(batch, disk, entries, 0);
        assert.equal(
          size,
          disk.bytes.length,
          "the batch knows the file's size",
        );
        const text = dec.decode(disk.bytes);
        const kept = text === "" ? [] : text.split(/(?<=\n)/);
        // Whole entries, in order: a subsequence of those written.
        let at = 0;
        for (const line of kept) {
          at = entries.indexOf(line, at);
          assert.notEqual(at, -1, `not a whole entry: ${line.slice(0, 40)}`);
          at++;
        }
        const dropped = events.reduce(
          (sum, e) => sum + (e.kind === "dropped" ? e.droppedBytes : 0),
          0,
        );
        const total = entries.reduce((sum, e) => sum + e.length, 0);
        assert.equal(dropped + disk.bytes.length, total);
        assert.equal(events.length > 0, kept.length < entries.length);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("WriteBatch cuts an entry it had begun on disk (page-aligned writes) when the rest cannot be written, and tells when writes work again", () => {
  const disk = new SmallDisk(1_200_000);
  const events: LogFileEvent[] = [];
  const batch = new WriteBatch(undefined, (e) => events.push(e));
  // 1 MiB batched: its page-aligned part goes out, cutting an entry.
  const first = Array.from({ length: 2000 }, (_, i) => entry(i, 1000));
  let size = writeAll(batch, disk, first, 0);
  assert.equal(size, disk.bytes.length);
  assert.ok(dec.decode(disk.bytes).endsWith("\n"), "no entry left cut");
  const droppedFirst = events.filter((e) => e.kind === "dropped")
    .reduce((sum, e) => sum + e.droppedBytes, 0);
  assert.ok(droppedFirst > 0);
  assert.equal(events.at(-1)?.kind, "dropped");
  assert.equal(
    (events[0] as { error: { code: string } }).error.code,
    "ENOSPC",
  );
  // Room again (an operator deleted old files): the next entries go in.
  disk.capacity = Infinity;
  const later = [entry(5000, 10), entry(5001, 20)];
  size = writeAll(batch, disk, later, size);
  assert.equal(size, disk.bytes.length);
  assert.ok(dec.decode(disk.bytes).endsWith(later.join("")));
  assert.deepEqual(events.at(-1), {
    kind: "resumed",
    droppedBytes: droppedFirst,
  });
});

Deno.test("WriteBatch leaves an entry longer than 128 KiB that a failed write cut, ended by a newline before the next entries, which stay whole", () => {
  const disk = new SmallDisk(1_500_000);
  const events: LogFileEvent[] = [];
  const batch = new WriteBatch(undefined, (e) => events.push(e));
  // Entries of 300 KB: the disk fills in the middle of the fifth.
  const big = Array.from({ length: 8 }, (_, i) => entry(i, 300_000));
  let size = writeAll(batch, disk, big, 0);
  assert.equal(size, disk.bytes.length);
  disk.capacity = Infinity;
  const later = [entry(100, 10), entry(101, 20)];
  size = writeAll(batch, disk, later, size);
  assert.equal(size, disk.bytes.length);
  const lines = dec.decode(disk.bytes).split(/(?<=\n)/);
  const cut = lines.filter((l) => !big.includes(l) && !later.includes(l));
  assert.equal(cut.length, 1, "one cut entry");
  assert.ok(big.some((e) => e.startsWith(cut[0].slice(0, -1))));
  assert.deepEqual(lines.slice(-2), later, "the entries after it are whole");
  const dropped = events.filter((e) => e.kind === "dropped")
    .reduce((sum, e) => sum + e.droppedBytes, 0);
  const total = [...big, ...later].reduce((sum, e) => sum + e.length, 0);
  assert.equal(dropped + disk.bytes.length - 1, total, "the added newline");
  assert.equal(events.at(-1)?.kind, "resumed");
});

Deno.test("WriteBatch.endCut() ends a cut entry at once (before a close or a rotation), and only once", () => {
  const disk = new SmallDisk(200_000);
  const batch = new WriteBatch();
  writeAll(batch, disk, [entry(0, 300_000)], 0); // cut, past 128 KiB
  assert.notEqual(disk.bytes.at(-1), 0x0a);
  assert.equal(batch.endCut(disk.file), 0, "no room yet: left for later");
  disk.capacity = Infinity;
  assert.equal(batch.endCut(disk.file), 1);
  assert.equal(disk.bytes.at(-1), 0x0a);
  assert.equal(batch.endCut(disk.file), 0);
  writeAll(batch, disk, [entry(1, 5)], disk.bytes.length);
  assert.ok(dec.decode(disk.bytes).endsWith("\n" + entry(1, 5)));
});

Deno.test("WriteBatch.newFile(): a cut entry that could not be ended stays with the old file; the new one starts with its first entry", () => {
  const old = new SmallDisk(200_000);
  const batch = new WriteBatch();
  writeAll(batch, old, [entry(0, 300_000)], 0); // cut, past 128 KiB
  assert.equal(batch.endCut(old.file), 0, "the disk is still full");
  batch.newFile(); // rotated: later writes go to a new file
  const fresh = new SmallDisk(Infinity);
  writeAll(batch, fresh, [entry(1, 5)], 0);
  assert.equal(dec.decode(fresh.bytes), entry(1, 5));
});

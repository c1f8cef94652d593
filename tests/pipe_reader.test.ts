import assert from "node:assert/strict";
import { makeFifos } from "../src/fifo.ts";
import { PIPE_CAPACITY, pipeCapacity, PipeReader } from "../src/pipe_reader.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A FIFO opened at both ends: the reader upgraded, the write end. */
async function fifoPair(): Promise<{
  path: string;
  reader: PipeReader;
  writer: Deno.FsFile;
  cleanup: () => Promise<void>;
}> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/p`;
  await makeFifos([path]);
  const [file, writer] = await Promise.all([
    Deno.open(path, { read: true }),
    Deno.open(path, { write: true }),
  ]);
  const reader = PipeReader.upgrade(path, file);
  assert.ok(reader, "the C library can be called (tests run with --allow-ffi)");
  return {
    path,
    reader,
    writer,
    cleanup: async () => {
      reader.close();
      try {
        writer.close();
      } catch { /* closed by the test */ }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("PipeReader.readNow() takes what is there: 0 on an empty pipe, the bytes once written, null once the writer is gone", async () => {
  const { reader, writer, cleanup } = await fifoPair();
  try {
    const buffer = new Uint8Array(64);
    assert.equal(reader.readNow(buffer), 0);
    await writer.write(enc.encode("hello\n"));
    const n = reader.readNow(buffer);
    assert.equal(n, 6);
    assert.equal(dec.decode(buffer.subarray(0, 6)), "hello\n");
    assert.equal(reader.readNow(buffer), 0);
    await writer.write(enc.encode("last"));
    writer.close();
    assert.equal(reader.readNow(buffer), 4);
    assert.equal(reader.readNow(buffer), null);
  } finally {
    await cleanup();
  }
});

Deno.test("PipeReader.read() waits for the writer, and both reads take the pipe's bytes in order", async () => {
  const { reader, writer, cleanup } = await fifoPair();
  try {
    const buffer = new Uint8Array(64);
    const waiting = reader.read(buffer);
    await writer.write(enc.encode("one\n"));
    assert.equal(await waiting, 4);
    assert.equal(dec.decode(buffer.subarray(0, 4)), "one\n");
    await writer.write(enc.encode("two\nthree\n"));
    assert.equal(reader.readNow(buffer.subarray(0, 4)), 4);
    assert.equal(dec.decode(buffer.subarray(0, 4)), "two\n");
    writer.close();
    assert.equal(await reader.read(buffer), 6);
    assert.equal(dec.decode(buffer.subarray(0, 6)), "three\n");
    assert.equal(await reader.read(buffer), null);
  } finally {
    await cleanup();
  }
});

Deno.test("PipeReader raises the pipe's capacity to 256 KiB, so the writer blocks less", async () => {
  const { path, reader, writer, cleanup } = await fifoPair();
  try {
    assert.equal(PIPE_CAPACITY, 256 * 1024);
    assert.equal(pipeCapacity(path), PIPE_CAPACITY);
    // More than Linux's default 64 KiB fits without a reader.
    const block = new Uint8Array(200 * 1024).fill(0x61);
    const writing = (async () => {
      let written = 0;
      while (written < block.length) {
        written += await writer.write(block.subarray(written));
      }
    })();
    let timer;
    const fits = await Promise.race([
      writing.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 2000)),
    ]);
    clearTimeout(timer);
    const buffer = new Uint8Array(PIPE_CAPACITY);
    let read = 0;
    while (read < block.length) read += reader.readNow(buffer) ?? 0;
    await writing;
    assert.ok(fits, "200 KiB did not fit in the pipe");
    assert.equal(read, block.length);
  } finally {
    await cleanup();
  }
});

Deno.test("PipeReader.upgrade() leaves a regular file alone: a second open would read it again from the start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/plain`;
    await Deno.writeTextFile(path, "x".repeat(10_000));
    const file = await Deno.open(path, { read: true });
    try {
      assert.equal(PipeReader.upgrade(path, file), null);
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

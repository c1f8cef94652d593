import assert from "node:assert/strict";
import { FifoEnd, makeFifos } from "../src/fifo.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-fifo-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("makeFifos() creates named pipes with the given mode", async () => {
  await withTempDir(async (dir) => {
    await makeFifos([`${dir}/a`, `${dir}/b`], 0o600);
    for (const name of ["a", "b"]) {
      const info = await Deno.lstat(`${dir}/${name}`);
      assert.equal(info.isFifo, true);
      assert.equal(info.mode! & 0o777, 0o600);
    }
  });
});

Deno.test("makeFifos() fails with mkfifo's message when a path exists", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/taken`, "");
    await assert.rejects(
      makeFifos([`${dir}/taken`]),
      /^Error: Cannot create FIFOs: .*taken.*File exists/,
    );
  });
});

Deno.test("FifoEnd opens both ends concurrently and carries bytes", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pipe`;
    await makeFifos([path]);
    const reader = new FifoEnd(path, "read");
    const writer = new FifoEnd(path, "write");
    try {
      await (await writer.opened()).write(new TextEncoder().encode("hi"));
      await writer.close();
      const file = await reader.opened();
      const buffer = new Uint8Array(8);
      const n = await file.read(buffer);
      assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "hi");
      assert.equal(await file.read(buffer), null, "end of file once closed");
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});

Deno.test("FifoEnd.close() releases an open whose other end never came", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pipe`;
    await makeFifos([path]);
    for (const mode of ["read", "write"] as const) {
      const end = new FifoEnd(path, mode);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(end.settled, false, `the ${mode} open is waiting`);
      await end.close();
      assert.equal(end.settled, true);
      await assert.rejects(end.opened(), /is closed/);
      await end.close(); // a second close does nothing
    }
  });
});

Deno.test("FifoEnd.opened() rejects when the FIFO does not exist", async () => {
  await withTempDir(async (dir) => {
    const end = new FifoEnd(`${dir}/missing`, "write");
    await assert.rejects(end.opened(), Deno.errors.NotFound);
    await end.close();
  });
});

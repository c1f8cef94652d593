import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { gzipExtra } from "../src/gzip.ts";
import { gzipFileOffThread } from "../src/gzip_worker.ts";
import { fixture, withTmpfs } from "./_helpers.ts";

const dec = new TextDecoder();

Deno.test("gzipExtra() reads Docker's {lastTime} from a rotated file's header, and says what is wrong with a header that is not whole", () => {
  const docker = fixture("docker-20.10-rotation/container-json.log.1.gz");
  assert.match(
    dec.decode(gzipExtra(docker)),
    /^\{"lastTime":"2026-\d\d-\d\dT[\d:.]+Z"\}$/,
  );
  assert.equal(gzipExtra(gzipSync("no extra field")), undefined);
  for (
    const [head, message] of [
      [docker.subarray(0, 5), "Truncated gzip header"],
      [docker.subarray(0, 11), "Truncated gzip header"],
      [docker.subarray(0, 14), "Truncated gzip extra field"],
      [
        new TextEncoder().encode("not a gzip file"),
        "Not a gzip file: bad magic bytes",
      ],
      [
        docker.subarray(0, 1).map(() => 0x42),
        "Not a gzip file: bad magic bytes",
      ],
    ] as const
  ) {
    assert.throws(() => gzipExtra(head), new SyntaxError(message));
  }
});

Deno.test({
  name:
    "gzipFileOffThread() on a full disk fails with ENOSPC, though Deno's FsFile.writable would report success (root: a 64 KiB tmpfs)",
  ignore: Deno.uid() !== 0,
  fn: () =>
    withTmpfs("size=64k", async (_root, dir) => {
      await Deno.writeTextFile(`${dir}/x.log.1`, "");
      await Deno.writeFile(`${dir}/filler`, new Uint8Array(64 * 1024))
        .catch(() => {}); // fills what is left
      await assert.rejects(
        gzipFileOffThread(`${dir}/x.log.1`, `${dir}/x.log.1.gz.tmp`),
        /No space left on device/,
      );
    }),
});

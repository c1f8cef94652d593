import assert from "node:assert/strict";
import {
  DEFAULT_PATH,
  execFormatProblem,
  lookPath,
} from "../src/path_lookup.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-path-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function file(path: string, mode: number): Promise<void> {
  await Deno.writeTextFile(path, "#!/bin/sh\n");
  await Deno.chmod(path, mode);
}

Deno.test("lookPath() finds the first executable file along the path", async () => {
  await withTempDir(async (dir) => {
    for (const sub of ["a", "b", "c"]) await Deno.mkdir(`${dir}/${sub}`);
    await file(`${dir}/b/tool`, 0o755);
    await file(`${dir}/c/tool`, 0o755);
    assert.deepEqual(
      await lookPath("tool", { path: `${dir}/a:${dir}/b:${dir}/c` }),
      { status: "found", path: `${dir}/b/tool` },
    );
  });
});

Deno.test("lookPath() prefers a later executable over an earlier file without execute bits, as bash", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await file(`${dir}/a/tool`, 0o644);
    await file(`${dir}/b/tool`, 0o700);
    assert.deepEqual(await lookPath("tool", { path: `${dir}/a:${dir}/b` }), {
      status: "found",
      path: `${dir}/b/tool`,
    });
  });
});

Deno.test("lookPath() reports a file found only without execute bits as not executable (126)", async () => {
  await withTempDir(async (dir) => {
    await file(`${dir}/tool`, 0o644);
    assert.deepEqual(await lookPath("tool", { path: `/nonexistent:${dir}` }), {
      status: "not-executable",
      path: `${dir}/tool`,
      reason: "Permission denied",
    });
  });
});

Deno.test("lookPath() skips folders and missing path entries, and reports not found (127)", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/tool`);
    assert.deepEqual(
      await lookPath("tool", { path: `${dir}:/nonexistent:${dir}/tool` }),
      { status: "not-found" },
    );
  });
});

Deno.test("lookPath() uses a name with a slash as a path, without searching", async () => {
  await withTempDir(async (dir) => {
    await file(`${dir}/run.sh`, 0o755);
    await file(`${dir}/data.txt`, 0o600);
    assert.deepEqual(await lookPath(`${dir}/run.sh`, { path: "" }), {
      status: "found",
      path: `${dir}/run.sh`,
    });
    assert.deepEqual(await lookPath(`${dir}/data.txt`), {
      status: "not-executable",
      path: `${dir}/data.txt`,
      reason: "Permission denied",
    });
    assert.deepEqual(await lookPath(dir), {
      status: "not-executable",
      path: dir,
      reason: "Is a directory",
    });
    assert.deepEqual(await lookPath(`${dir}/missing`), { status: "not-found" });
  });
});

Deno.test("lookPath() searches the containers' default PATH when given none", async () => {
  assert.equal(
    DEFAULT_PATH,
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  );
  const result = await lookPath("sh");
  assert.equal(result.status, "found");
  assert.match((result as { path: string }).path, /^\/(usr\/)?bin\/sh$/);
});

Deno.test("lookPath() refuses an empty command with a RangeError", async () => {
  await assert.rejects(lookPath(""), RangeError);
});

Deno.test("execFormatProblem() passes this machine's ELF files and scripts, and names what the kernel would refuse", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await execFormatProblem(Deno.execPath()), null);
    assert.equal(await execFormatProblem("/bin/sh"), null);
    const header = new Uint8Array(64);
    header.set((await Deno.readFile("/bin/sh")).subarray(0, 64));
    header[18] = 183; // EM_AARCH64 (EM_X86_64 on an AArch64 machine)
    header[19] = 0;
    if ((await Deno.readFile("/bin/sh"))[18] === 183) header[18] = 62;
    await Deno.writeFile(`${dir}/other-machine`, header);
    assert.equal(
      await execFormatProblem(`${dir}/other-machine`),
      "Exec format error",
    );
    await Deno.writeTextFile(`${dir}/script`, "#!/bin/sh\n\0\n");
    assert.equal(await execFormatProblem(`${dir}/script`), null);
    await Deno.writeTextFile(`${dir}/text`, "echo no shebang\n");
    assert.equal(await execFormatProblem(`${dir}/text`), null);
    await Deno.writeFile(`${dir}/data`, new Uint8Array([0x41, 0, 0x0a]));
    assert.equal(
      await execFormatProblem(`${dir}/data`),
      "cannot execute binary file",
    );
    // A NUL only after the first line: bash runs it as a script.
    await Deno.writeFile(`${dir}/late-nul`, new Uint8Array([0x41, 0x0a, 0]));
    assert.equal(await execFormatProblem(`${dir}/late-nul`), null);
    assert.equal(await execFormatProblem(`${dir}/missing`), null);
  });
});

Deno.test("execFormatProblem() refuses what Linux's ELF loader refuses: a cut file, another class, an object file", async () => {
  await withTempDir(async (dir) => {
    const sh = await Deno.readFile("/bin/sh");
    await Deno.writeFile(`${dir}/cut`, sh.subarray(0, 64));
    assert.equal(await execFormatProblem(`${dir}/cut`), "Exec format error");
    const object = sh.slice(0, 4096);
    object[16] = 1; // ET_REL
    await Deno.writeFile(`${dir}/object`, object);
    assert.equal(await execFormatProblem(`${dir}/object`), "Exec format error");
    const otherClass = sh.slice(0, 4096);
    otherClass[4] = otherClass[4] === 2 ? 1 : 2; // x32 on x86-64
    await Deno.writeFile(`${dir}/other-class`, otherClass);
    assert.equal(
      await execFormatProblem(`${dir}/other-class`),
      "Exec format error",
    );
    // The loader does not look at the byte-order field.
    const flipped = sh.slice();
    flipped[5] = flipped[5] === 1 ? 2 : 1;
    await Deno.writeFile(`${dir}/flipped`, flipped);
    assert.equal(await execFormatProblem(`${dir}/flipped`), null);
  });
});

Deno.test("lookPath() reports a path through a file or a symbolic link loop as not executable (126), as bash", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    assert.deepEqual(await lookPath(`${dir}/file/x`), {
      status: "not-executable",
      path: `${dir}/file/x`,
      reason: "Not a directory",
    });
    await Deno.symlink(`${dir}/b`, `${dir}/a`);
    await Deno.symlink(`${dir}/a`, `${dir}/b`);
    assert.deepEqual(await lookPath(`${dir}/a`), {
      status: "not-executable",
      path: `${dir}/a`,
      reason: "Too many levels of symbolic links",
    });
  });
});

import assert from "node:assert/strict";
import {
  DEFAULT_ALLOW_DIR,
  defaultDriverPath,
  installDriver,
  wrapperScript,
} from "../scripts/install_driver.ts";
import { libcCandidates } from "../src/libc_path.ts";

const SCRIPT = new URL("../scripts/install_driver.ts", import.meta.url)
  .pathname;
const decoder = new TextDecoder();

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-install-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs scripts/install_driver.ts with the given flags. */
async function installCli(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-write",
      "--allow-env=DENO_DIR,XDG_CACHE_HOME,HOME",
      SCRIPT,
      ...args,
    ],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/**
 * Runs an executable as containerd runs a logger: an environment holding only
 * CONTAINER_ID and CONTAINER_NAMESPACE, `out` on fd 3 and `err` on fd 4 (both
 * pipes), fd 5 the ready pipe (the caller's stdout, so the ready byte is in
 * `stdout`).
 */
async function runAsLogger(
  exe: string,
  args: string[],
  input: { out: string; err: string; id?: string },
) {
  const { code, stdout, stderr } = await new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'printf %s "$ERR" | { exec 4<&0 0</dev/null; ' +
      'printf %s "$OUT" | exec "$@" 3<&0 0</dev/null 5>&1; }',
      "sh",
      exe,
      ...args,
    ],
    clearEnv: true,
    env: {
      CONTAINER_ID: input.id ?? "install-test",
      CONTAINER_NAMESPACE: "default",
      OUT: input.out,
      ERR: input.err,
    },
    stdin: "null",
  }).output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

Deno.test("wrapperScript() execs Deno on driver.ts with the driver's exact permissions", () => {
  const text = wrapperScript({
    denoPath: "/opt/deno/bin/deno",
    driverPath: "/src/shimlog/driver.ts",
    dirs: ["/var/lib/shimlog", "/srv/logs"],
    denoDir: "/home/me/.cache/deno",
  });
  const lines = text.split("\n");
  assert.equal(lines[0], "#!/bin/sh");
  assert.ok(text.endsWith("\n"));
  assert.ok(lines.includes("DENO_DIR='/home/me/.cache/deno'"));
  assert.ok(lines.includes("export DENO_DIR"));
  assert.equal(
    lines.at(-2),
    "exec '/opt/deno/bin/deno' 'run' '--no-prompt' '--no-config' " +
      "'--v8-flags=--max-semi-space-size=1,--expose-gc' " +
      "'--allow-read=/dev/fd/3,/dev/fd/4,/var/lib/shimlog,/srv/logs' " +
      "'--allow-write=/dev/fd/5,/var/lib/shimlog,/srv/logs' " +
      "'--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE' " +
      `'--allow-ffi=${libcCandidates().join(",")}' ` +
      `'/src/shimlog/driver.ts' "$@"`,
  );
});

Deno.test("wrapperScript() with ffi false grants no FFI: Deno's sandbox stays whole", () => {
  const base = { denoPath: "/d", driverPath: "/x/driver.ts" };
  assert.ok(wrapperScript(base).includes("'--allow-ffi=/lib/"));
  assert.ok(!wrapperScript({ ...base, ffi: false }).includes("--allow-ffi"));
});

Deno.test("wrapperScript() allows /var/lib/shimlog by default and sets no DENO_DIR unless given", () => {
  const text = wrapperScript({ denoPath: "/d", driverPath: "/x/driver.ts" });
  assert.ok(
    text.includes(`'--allow-read=/dev/fd/3,/dev/fd/4,${DEFAULT_ALLOW_DIR}'`),
  );
  assert.ok(text.includes(`'--allow-write=/dev/fd/5,${DEFAULT_ALLOW_DIR}'`));
  assert.ok(!text.includes("DENO_DIR="));
});

Deno.test("wrapperScript() refuses relative paths, commas in directories and no directory", () => {
  const base = { denoPath: "/d", driverPath: "/x/driver.ts" };
  assert.throws(
    () => wrapperScript({ ...base, denoPath: "deno" }),
    new RangeError('Cannot use Deno path "deno": not an absolute path'),
  );
  assert.throws(
    () => wrapperScript({ ...base, dirs: ["logs"] }),
    new RangeError('Cannot use directory "logs": not an absolute path'),
  );
  assert.throws(
    () => wrapperScript({ ...base, dirs: ["/a,b"] }),
    new RangeError('Cannot use directory "/a,b": contains a comma'),
  );
  assert.throws(() => wrapperScript({ ...base, dirs: [] }), RangeError);
});

Deno.test("wrapperScript() quotes paths for sh and passes containerd's argv through exec", async () => {
  await withTempDir(async (tmp) => {
    // A stand-in for Deno that prints its pid, argv and environment.
    const odd = `${tmp}/it's a "dir" $HOME \`x\``;
    await Deno.mkdir(odd);
    const fakeDeno = `${odd}/deno`;
    await Deno.writeTextFile(
      fakeDeno,
      '#!/bin/sh\necho "pid=$$"\nfor a in "$@"; do echo "arg=$a"; done\n' +
        'echo "DENO_DIR=${DENO_DIR-unset} HOME=${HOME-unset}"\n',
      { mode: 0o755 },
    );
    const wrapper = `${odd}/wrapper`;
    await Deno.writeTextFile(
      wrapper,
      wrapperScript({
        denoPath: fakeDeno,
        driverPath: `${odd}/driver.ts`,
        dirs: [odd],
        denoDir: `${odd}/cache`,
      }),
      { mode: 0o755 },
    );
    const child = new Deno.Command(wrapper, {
      args: ["max-size", "10m", "tag", "a b'c"],
      clearEnv: true,
      env: { CONTAINER_ID: "x", CONTAINER_NAMESPACE: "default" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const { code, stdout, stderr } = await child.output();
    assert.equal(decoder.decode(stderr), "");
    assert.equal(code, 0);
    assert.deepEqual(decoder.decode(stdout).split("\n"), [
      `pid=${child.pid}`, // exec: Deno replaces the shell, signals reach it
      "arg=run",
      "arg=--no-prompt",
      "arg=--no-config",
      "arg=--v8-flags=--max-semi-space-size=1,--expose-gc",
      `arg=--allow-read=/dev/fd/3,/dev/fd/4,${odd}`,
      `arg=--allow-write=/dev/fd/5,${odd}`,
      "arg=--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE",
      `arg=--allow-ffi=${libcCandidates().join(",")}`,
      `arg=${odd}/driver.ts`,
      "arg=max-size",
      "arg=10m",
      "arg=tag",
      "arg=a b'c",
      `DENO_DIR=${odd}/cache HOME=unset`,
      "",
    ]);
  });
});

Deno.test("installDriver() writes a 0755 wrapper for this Deno and this checkout's driver.ts, replacing an old one", async () => {
  await withTempDir(async (tmp) => {
    const out = `${tmp}/shimlog-driver`;
    await Deno.writeTextFile(out, "old", { mode: 0o600 });
    const written = await installDriver(out, { dirs: [tmp] });
    assert.equal(written, out);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o755);
    assert.equal(
      await Deno.readTextFile(out),
      wrapperScript({
        denoPath: Deno.execPath(),
        driverPath: defaultDriverPath(),
        dirs: [tmp],
      }),
    );
    assert.ok(defaultDriverPath().endsWith("/driver.ts"));
    assert.deepEqual(
      [...Deno.readDirSync(tmp)].map((e) => e.name),
      ["shimlog-driver"],
    );
  });
});

Deno.test("installDriver() refuses a Deno or driver that is not there, writing nothing", async () => {
  await withTempDir(async (tmp) => {
    await assert.rejects(
      installDriver(`${tmp}/w`, { denoPath: `${tmp}/no-deno` }),
      new Deno.errors.NotFound(`Cannot find Deno at "${tmp}/no-deno"`),
    );
    await assert.rejects(
      installDriver(`${tmp}/w`, { driverPath: `${tmp}/driver.ts` }),
      new Deno.errors.NotFound(`Cannot find the driver at "${tmp}/driver.ts"`),
    );
    assert.deepEqual([...Deno.readDirSync(tmp)], []);
  });
});

Deno.test("install_driver.ts refuses bad flags with exit code 2 and no stack trace", async () => {
  for (
    const [args, message] of [
      [["--bogus", "/tmp/x"], "Unknown option '--bogus'"],
      [[], "Missing OUT_PATH"],
      [
        ["/tmp/a", "/tmp/b"],
        'Expected one OUT_PATH, got 2: "/tmp/a", "/tmp/b"',
      ],
      [["/tmp/x", "--allow-dir"], "argument missing"],
      [
        ["/tmp/x", "--allow-dir", "/a,b"],
        'Cannot use directory "/a,b": contains a comma',
      ],
      [
        ["/tmp/x", "--allow-dir", "/a", "--allow-dir", ""],
        'Invalid --allow-dir "": give a path',
      ],
      [["/tmp/x", "--deno", ""], 'Invalid --deno "": give a path'],
      [[""], 'Invalid OUT_PATH "": give the path'],
    ]
  ) {
    const { code, stdout, stderr } = await installCli(args as string[]);
    assert.equal(code, 2, `${args}: ${stderr}`);
    assert.equal(stdout, "");
    assert.ok(stderr.startsWith("install_driver: "), stderr);
    assert.ok(stderr.includes(message as string), stderr);
    assert.ok(!/^\s+at /m.test(stderr), `stack trace in: ${stderr}`);
  }
});

Deno.test("install_driver.ts exits 1 with a message when it cannot install", async () => {
  await withTempDir(async (tmp) => {
    for (
      const [args, message] of [
        [
          [`${tmp}/w`, "--deno", `${tmp}/nope`],
          `Cannot find Deno at "${tmp}/nope"`,
        ],
        [[`${tmp}/missing/w`], `Cannot write "${tmp}/missing/w": `],
      ]
    ) {
      const { code, stderr } = await installCli(args as string[]);
      assert.equal(code, 1, stderr);
      assert.ok(stderr.startsWith(`install_driver: ${message}`), stderr);
      assert.ok(!/^\s+at /m.test(stderr), `stack trace in: ${stderr}`);
    }
    assert.deepEqual([...Deno.readDirSync(tmp)], []);
  });
});

Deno.test("install_driver.ts writes a wrapper that runs driver.ts with only CONTAINER_ID and CONTAINER_NAMESPACE set", async () => {
  await withTempDir(async (tmp) => {
    const wrapper = `${tmp}/driver`;
    const installed = await installCli([wrapper, "--allow-dir", tmp]);
    assert.equal(installed.code, 0, installed.stderr);
    assert.ok(installed.stdout.includes(`binary://${wrapper}?`));
    const text = await Deno.readTextFile(wrapper);
    assert.ok(text.includes(`'${Deno.execPath()}' 'run'`));

    const log = `${tmp}/c.log`;
    const run = await runAsLogger(wrapper, ["log-path", log], {
      out: "hello out\npartial",
      err: "hello err\n",
    });
    assert.equal(run.stderr, "");
    assert.equal(run.code, 0);
    assert.equal(run.stdout.length, 1, "one ready byte on fd 5");
    const entries = (await Deno.readTextFile(log)).split("\n").filter((l) => l)
      .map((l) => JSON.parse(l));
    const of = (stream: string) =>
      entries.filter((e) => e.stream === stream).map((e) => e.log);
    assert.deepEqual(of("stdout"), ["hello out\n", "partial"]);
    assert.deepEqual(of("stderr"), ["hello err\n"]);
  });
});

Deno.test("install_driver.ts with --allow-dir through a symbolic link grants the folder it leads to as well, and the driver logs there by either path", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/real`);
    await Deno.symlink(`${tmp}/real`, `${tmp}/link`);
    const real = await Deno.realPath(`${tmp}/real`);
    for (const [given, used] of [["link", "link"], ["link", "real"]]) {
      const wrapper = `${tmp}/driver-${used}`;
      const installed = await installCli([
        wrapper,
        "--allow-dir",
        `${tmp}/${given}`,
      ]);
      assert.equal(installed.code, 0, installed.stderr);
      const text = await Deno.readTextFile(wrapper);
      assert.ok(text.includes(`,${real}`), text);
      const root = `${tmp}/${used}/root-${used}`;
      const run = await runAsLogger(wrapper, ["data-root", root], {
        out: "through a link\n",
        err: "",
      });
      assert.equal(run.stderr, "");
      assert.equal(run.code, 0);
      const log =
        `${real}/root-${used}/containers/default/install-test/install-test-json.log`;
      assert.match(await Deno.readTextFile(log), /"log":"through a link\\n"/);
    }
  });
});

Deno.test("the wrapper's driver refuses a bad option before ready: non-zero exit, message on stderr, no file", async () => {
  await withTempDir(async (tmp) => {
    const wrapper = `${tmp}/driver`;
    assert.equal((await installCli([wrapper, "--allow-dir", tmp])).code, 0);
    const log = `${tmp}/c.log`;
    const run = await runAsLogger(
      wrapper,
      ["log-path", log, "max-size", "10x"],
      { out: "never\n", err: "" },
    );
    assert.notEqual(run.code, 0);
    assert.equal(run.stdout, "", "no ready byte");
    assert.ok(run.stderr.includes('"10x"'), run.stderr);
    assert.ok(!/^\s+at /m.test(run.stderr), `stack trace in: ${run.stderr}`);
    await assert.rejects(Deno.stat(log), Deno.errors.NotFound);
  });
});

import assert from "node:assert/strict";
import { encodeCriRecord } from "../src/cri.ts";
import { holdLogLock } from "../src/log_lock.ts";
import { concat, fixture, FIXTURES } from "./_helpers.ts";

const LOGS = new URL("../logs.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();
const FIXED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z $/;

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Runs logs.ts with the narrowest permissions: read on `readable`, and the
 * three variables that locate the data root.
 */
async function logs(
  args: string[],
  readable: string,
  env: Record<string, string> = {},
): Promise<Run> {
  const resolved = (path: string) => {
    try {
      return Deno.realPathSync(path);
    } catch {
      return path;
    }
  };
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      // The folder as named and as resolved: ../shared may be a symlink.
      `--allow-read=${readable},${resolved(readable)}`,
      "--allow-env=SHIMLOG_DATA_ROOT,XDG_DATA_HOME,HOME",
      LOGS,
      ...args,
    ],
    clearEnv: true,
    env: {
      ...(Deno.env.get("DENO_DIR")
        ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
        : {}),
      ...env,
    },
    stdin: "null",
  }).output();
  return { code, stdout, stderr: dec.decode(stderr) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shimlog-logs-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function line(
  log: string,
  stream = "stdout",
  time = "2026-11-29T15:53:54.000000001Z",
  attrs?: Record<string, string>,
): string {
  return JSON.stringify({ log, stream, ...(attrs ? { attrs } : {}), time }) +
    "\n";
}

const FIX = new URL(".", FIXTURES).pathname;

Deno.test("logs.ts prints stdout entries to stdout and stderr entries to stderr, raw bytes as logged", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/0.log`;
    const input = fixture("inputs/invalid_utf8.bin");
    await Deno.writeFile(
      path,
      concat([
        fixture("conmon-2.1-k8s-file/invalid_utf8.log"),
        encodeCriRecord({
          time: { sec: 1795967700, nsec: 0 },
          stream: "stderr",
          partial: false,
          content: enc.encode("to stderr"),
        }),
      ]),
    );
    const run = await logs(["--path", path], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout, input);
    assert.equal(run.stderr, "to stderr\n");
  });
});

Deno.test("logs.ts -t stamps each logical line once, before its first piece, fixed width and UTC", async () => {
  const long = await logs(
    ["-t", "--path", `${FIX}docker-20.10-json-file/long_20000.json`],
    FIX,
  );
  assert.equal(long.code, 0, long.stderr);
  const text = dec.decode(long.stdout);
  assert.match(text.slice(0, 31), FIXED);
  assert.equal(text.slice(31), dec.decode(fixture("inputs/long_20000.bin")));
  const frag = await logs(
    ["-t", "--path", `${FIX}conmon-2.1-k8s-file/no_trailing_newline.log`],
    FIX,
  );
  const lines = dec.decode(frag.stdout).split("\n");
  assert.equal(lines.length, 2, "the final fragment has no newline after it");
  assert.match(lines[0].slice(0, 31), FIXED);
  assert.equal(lines[0].slice(31), "first");
  assert.equal(
    lines[1],
    "2026-11-29T15:54:15.644106705Z last line without newline",
  );
});

Deno.test("logs.ts --tail counts logical lines across split lines and a final fragment", async () => {
  const run = await logs(
    [
      "--tail",
      "1",
      "-t",
      "--path",
      `${FIX}conmon-2.1-k8s-file/long_50000_nonl.log`,
    ],
    FIX,
  );
  assert.equal(run.code, 0, run.stderr);
  const text = dec.decode(run.stdout);
  assert.match(text.slice(0, 31), FIXED);
  assert.equal(text.length, 31 + 50000);
  const docker = await logs(
    ["-n", "2", "--path", `${FIX}docker-20.10-json-file/long_16384.json`],
    FIX,
  );
  assert.deepEqual(docker.stdout, fixture("inputs/long_16384.bin"));
  const rotation = await logs(
    ["--tail=3", "--path", `${FIX}docker-20.10-rotation/container-json.log`],
    FIX,
  );
  assert.equal(
    dec.decode(rotation.stdout),
    "line 57 padding-padding-padding\nline 58 padding-padding-padding\nline 59 padding-padding-padding\n",
  );
});

Deno.test("logs.ts --details prints each line's attributes as docker logs does, once per line", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    await Deno.writeTextFile(
      path,
      line("a ", "stdout", undefined, { tag: "web 1", "x/y": "é&=" }) +
        line("b\n", "stdout", undefined, { tag: "web 1", "x/y": "é&=" }) +
        line("plain\n"),
    );
    const run = await logs(["--details", "-t", "--path", path], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      dec.decode(run.stdout),
      "2026-11-29T15:53:54.000000001Z tag=web+1,x%2Fy=%C3%A9%26%3D a b\n" +
        "2026-11-29T15:53:54.000000001Z  plain\n",
    );
  });
});

Deno.test("logs.ts --since and --until take RFC 3339 with Z or an offset, Unix seconds and durations, to the nanosecond", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    await Deno.writeTextFile(
      path,
      ["0", "1", "2", "3"].map((n) =>
        line(`n${n}\n`, "stdout", `2026-11-29T15:53:54.00000000${n}Z`)
      ).join(""),
    );
    const names = async (...args: string[]) => {
      const run = await logs([...args, "--path", path], dir);
      assert.equal(run.code, 0, run.stderr);
      return dec.decode(run.stdout).trim().split("\n").filter((l) => l);
    };
    assert.deepEqual(await names("--since", "2026-11-29T15:53:54.000000001Z"), [
      "n1",
      "n2",
      "n3",
    ]);
    assert.deepEqual(
      await names(
        "--since",
        "2026-11-29T16:53:54.000000001+01:00",
        "--until",
        "2026-11-29T10:53:54.000000003-05:00",
      ),
      ["n1", "n2"],
    );
    assert.deepEqual(await names("--since", "1795967634.000000002"), [
      "n2",
      "n3",
    ]);
    assert.deepEqual(await names("--until", "1795967634.000000001"), ["n0"]);
    assert.deepEqual(await names("--since", "1h"), []);
    assert.deepEqual(await names("--until", "1m30s"), ["n0", "n1", "n2", "n3"]);
  });
});

Deno.test("logs.ts exits 2 on bad flags, naming the problem, without a stack trace", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus", "x"], /Unknown option '--bogus'/],
    [
      ["--tail", "ten", "x"],
      /Invalid --tail "ten": expected a number of lines or "all"/,
    ],
    [
      ["--since", "yesterday", "x"],
      /Invalid --since "yesterday": expected RFC 3339/,
    ],
    [[], /No container given: give its id, or --path FILE/],
    [["a", "b"], /Give one container, not 2/],
    [["--path", "/x", "a"], /either a container id or --path/],
    [["../etc"], /Invalid container id "\.\.\/etc"/],
    [["-f=1", "x"], /-f/],
  ];
  for (const [args, message] of cases) {
    const run = await logs(args, "/nonexistent");
    assert.equal(run.code, 2, `${args}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.match(run.stderr, /Run "logs.ts --help" for usage/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  }
  const help = await logs(["--help"], "/nonexistent");
  assert.equal(help.code, 0);
  assert.match(dec.decode(help.stdout), /^Usage: deno run/);
});

Deno.test("logs.ts exits 1 for a missing log file or container, naming it, without a stack trace", async () => {
  await withDir(async (dir) => {
    const missing = await logs(["--path", `${dir}/nope.log`], dir);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `logs.ts: No such log file: "${dir}/nope.log"\n`,
    );
    const folder = await logs(["--path", dir], dir);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /is a folder/);
    const container = await logs(["--data-root", dir, "web"], dir);
    assert.equal(container.code, 1);
    assert.match(
      container.stderr,
      /^logs.ts: No such container: "web" in namespace "default" \(no log at .*\/containers\/default\/web\/web-json\.log/,
    );
    const denied = await logs(["--path", "/etc/hostname"], dir);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Requires read access to "\/etc\/hostname"/);
    for (const run of [missing, folder, container, denied]) {
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    }
  });
});

Deno.test("logs.ts finds a container's log under the data root as the shim lays it out", async () => {
  await withDir(async (root) => {
    const base = `${root}/containers`;
    // json-file at the default path, in a namespace.
    await Deno.mkdir(`${base}/ns1/web`, { recursive: true });
    await Deno.writeTextFile(
      `${base}/ns1/web/web-json.log`,
      line("default path\n"),
    );
    // log-path from log-config.json.
    await Deno.mkdir(`${base}/default/api`, { recursive: true });
    await Deno.writeTextFile(
      `${base}/default/api/log-config.json`,
      JSON.stringify({
        driver: "json-file",
        opts: { "log-path": `${root}/elsewhere.log` },
      }),
    );
    await Deno.writeTextFile(`${root}/elsewhere.log`, line("log-path\n"));
    // A CRI log, latest run.
    await Deno.mkdir(`${base}/default/db`, { recursive: true });
    await Deno.writeTextFile(
      `${base}/default/db/log-config.json`,
      JSON.stringify({ driver: "cri" }),
    );
    await Deno.mkdir(`${root}/pods/default_db/db`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/pods/default_db/db/0.log`,
      "2026-11-29T15:53:54Z stdout F run 0\n",
    );
    await Deno.writeTextFile(
      `${root}/pods/default_db/db/1.log`,
      "2026-11-29T15:53:54Z stdout F run 1\n",
    );
    // none
    await Deno.mkdir(`${base}/default/quiet`, { recursive: true });
    await Deno.writeTextFile(
      `${base}/default/quiet/log-config.json`,
      JSON.stringify({ driver: "none" }),
    );
    const out = async (args: string[], env: Record<string, string> = {}) => {
      const run = await logs(args, root, env);
      return { code: run.code, text: dec.decode(run.stdout) + run.stderr };
    };
    assert.deepEqual(
      await out(["--namespace", "ns1", "web"], { SHIMLOG_DATA_ROOT: root }),
      { code: 0, text: "default path\n" },
    );
    assert.deepEqual(await out(["--data-root", root, "api"]), {
      code: 0,
      text: "log-path\n",
    });
    assert.deepEqual(await out(["--data-root", root, "db"]), {
      code: 0,
      text: "run 1\n",
    });
    const quiet = await out(["--data-root", root, "quiet"]);
    assert.equal(quiet.code, 1);
    assert.match(quiet.text, /logs with the driver "none"/);
    const xdg = await out(["--namespace", "ns1", "web"], {
      XDG_DATA_HOME: root.replace(/\/[^/]+$/, ""),
    });
    assert.equal(xdg.code, 1, "XDG_DATA_HOME/shimlog is another folder");
  });
});

Deno.test("logs.ts -f prints what comes until the writer's lock is released", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/c-json.log`;
    await Deno.writeTextFile(path, line("before\n"));
    const lock = await holdLogLock(path);
    let released = false;
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          `--allow-read=${dir}`,
          LOGS,
          "-f",
          "--path",
          path,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = child.stdout.getReader();
      const first = await out.read();
      assert.equal(dec.decode(first.value), "before\n");
      await Deno.writeTextFile(path, line("after\n"), { append: true });
      const second = await out.read();
      assert.equal(dec.decode(second.value), "after\n");
      lock.release();
      released = true;
      const rest = await out.read();
      assert.equal(rest.done, true);
      out.releaseLock();
      const { code } = await child.status;
      assert.equal(code, 0);
      assert.equal(await new Response(child.stderr).text(), "");
    } finally {
      if (!released) lock.release();
    }
  });
});

import assert from "node:assert/strict";
import {
  runShimCaptured,
  withTempDir as withTempDirIn,
} from "./_shim_helpers.ts";
import { withTmpfs } from "./_helpers.ts";
import { appLine } from "../src/app_output.ts";
import { libcCandidates } from "../src/libc_path.ts";
import { jsonFileLogPath, logConfigPath } from "../src/log_paths.ts";
import { runShim, shimLogPath, type ShimOptions } from "../src/shim.ts";

const SHIM = new URL("../shim.ts", import.meta.url).pathname;
const APP = new URL("../app.ts", import.meta.url).pathname;
const DENO = Deno.execPath();
const SHIM_PERMISSIONS = [
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];
const decoder = new TextDecoder();

interface Entry {
  log: string;
  stream: string;
  time: string;
}

function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDirIn("shimlog-shim-test-", fn);
}

/** Runs runShim() with its messages captured. */
function shim(
  options: ShimOptions,
): Promise<{ code: number; stderr: string }> {
  return runShimCaptured({ ...options });
}

async function readLog(path: string): Promise<Entry[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"), "the log ends with a complete entry");
  return text.slice(0, -1).split("\n").map((line) => JSON.parse(line));
}

function logs(entries: Entry[], stream: string): string[] {
  return entries.filter((e) => e.stream === stream).map((e) => e.log);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A command that would create `marker` if it ever ran. */
function markerCommand(marker: string): string[] {
  return ["sh", "-c", 'echo ran > "$1"', "sh", marker];
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

Deno.test("runShim() writes stdout and stderr to the json-file log, each stream in order", async () => {
  await withTempDir(async (dir) => {
    const { code, stderr } = await shim({
      id: "both-streams",
      dataRoot: dir,
      command: [
        "sh",
        "-c",
        'i=0; while [ $i -lt 300 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done',
      ],
    });
    assert.equal(code, 0);
    const path = jsonFileLogPath(dir, "default", "both-streams");
    const entries = await readLog(path);
    const numbers = [...Array(300).keys()];
    assert.deepEqual(logs(entries, "stdout"), numbers.map((i) => `out ${i}\n`));
    assert.deepEqual(logs(entries, "stderr"), numbers.map((i) => `err ${i}\n`));
    for (const entry of entries) assert.match(entry.time, RFC3339);
    assert.equal(
      stderr,
      `shimlog: container both-streams exited with code 0, log: ${path}\n`,
    );
  });
});

Deno.test("runShim() keeps every line of two fast writers, one per stream, in order", async () => {
  await withTempDir(async (dir) => {
    const lines = 20_000;
    const app = `"$1" run --no-prompt "$2" --lines ${lines} --line-size 100`;
    const { code } = await shim({
      id: "fast",
      dataRoot: dir,
      command: [
        "sh",
        "-c",
        `${app} & ${app} --stderr; wait $!`,
        "sh",
        DENO,
        APP,
      ],
    });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "fast"));
    const expected = [...Array(lines).keys()].map((i) => appLine(i, 100));
    assert.deepEqual(logs(entries, "stdout"), expected);
    assert.deepEqual(logs(entries, "stderr"), expected);
  });
});

Deno.test("runShim() refuses with 125 a second run of a container that is running, starting nothing, and the first one's log stays whole", async () => {
  await withTempDir(async (dir) => {
    const gate = `${dir}/gate`;
    const first = shim({
      id: "twice",
      dataRoot: dir,
      command: [
        "sh",
        "-c",
        'echo first; while [ ! -e "$1" ]; do sleep 0.02; done; echo done',
        "sh",
        gate,
      ],
    });
    const path = jsonFileLogPath(dir, "default", "twice");
    const deadline = Date.now() + 10_000;
    while (!(await Deno.readTextFile(path).catch(() => "")).includes("first")) {
      assert.ok(Date.now() < deadline, "the first run logged within 10 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const marker = `${dir}/marker`;
    const second = await shim({
      id: "twice",
      dataRoot: dir,
      command: markerCommand(marker),
    });
    await Deno.writeTextFile(gate, "");
    const one = await first;
    assert.equal(second.code, 125);
    assert.match(
      second.stderr,
      /^shimlog: container "twice" is already running in namespace "default" \(its shim holds ".*\/containers\/default\/twice\/shim\.lock"\): wait for it to exit, or choose another --name\n$/,
    );
    assert.equal(await exists(marker), false, "the second app never ran");
    assert.equal(one.code, 0);
    assert.deepEqual(logs(await readLog(path), "stdout"), [
      "first\n",
      "done\n",
    ]);
    // Once the first has exited, the name is free again.
    assert.equal(
      (await shim({ id: "twice", dataRoot: dir, command: ["true"] })).code,
      0,
    );
  });
});

Deno.test("runShim() starts the app in a process group of its own and ends what it leaves running when it exits, as a container's processes end with it", async () => {
  await withTempDir(async (dir) => {
    const late = `${dir}/late`;
    const { code } = await shim({
      id: "leftovers",
      dataRoot: dir,
      command: [
        "sh",
        "-c",
        'echo "pid $$ group $(cut -d" " -f5 /proc/$$/stat)"; (sleep 1; echo late > "$1") & exit 4',
        "sh",
        late,
      ],
    });
    assert.equal(code, 4);
    const [line] = logs(
      await readLog(jsonFileLogPath(dir, "default", "leftovers")),
      "stdout",
    );
    const [, pid, group] = /^pid (\d+) group (\d+)\n$/.exec(line)!;
    assert.equal(group, pid, "the app leads its own process group");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await exists(late), false, "the background job was killed");
  });
});

Deno.test({
  name:
    "runShim() on a full disk reruns a container whose settings are written already (the driver reports its drops), and refuses a new one with 125, leaving no folder (root: a 1 MiB tmpfs)",
  ignore: Deno.uid() !== 0,
  fn: () =>
    withTmpfs("size=1m", async (_root, dir) => {
      const run = (id: string, script: string) =>
        shim({ id, dataRoot: dir, command: ["sh", "-c", script] });
      assert.equal((await run("full", "echo before")).code, 0);
      await Deno.writeFile(`${dir}/filler`, new Uint8Array(1024 * 1024))
        .catch(() => {}); // the rest of the disk
      const again = await run("full", "seq 1 2000"); // past the last page
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /cannot write ".*full-json\.log": No space/);
      const path = jsonFileLogPath(dir, "default", "full");
      const lines = logs(await readLog(path), "stdout");
      assert.equal(lines[0], "before\n");
      assert.ok(lines.length < 2001, `${lines.length} lines`);
      const fresh = await run("fresh", "echo never");
      assert.equal(fresh.code, 125);
      assert.match(fresh.stderr, /cannot write .*log-config\.json.*No space/);
      assert.equal(await exists(`${dir}/containers/default/fresh`), false);
    }),
});

Deno.test("runShim() returns the app's exit code", async () => {
  await withTempDir(async (dir) => {
    for (
      const [command, expected] of [[["true"], 0], [
        ["sh", "-c", "exit 3"],
        3,
      ]] as const
    ) {
      const { code, stderr } = await shim({
        id: `exit-${expected}`,
        dataRoot: dir,
        command,
      });
      assert.equal(code, expected);
      assert.match(stderr, new RegExp(`exited with code ${expected}, log: `));
    }
  });
});

Deno.test("runShim() returns 128+15 when the app is killed by SIGTERM", async () => {
  await withTempDir(async (dir) => {
    const { code, stderr } = await shim({
      id: "killed",
      dataRoot: dir,
      command: ["sh", "-c", "echo before; kill -TERM $$; echo after"],
    });
    assert.equal(code, 143);
    assert.match(stderr, /container killed exited with code 143 \(SIGTERM\)/);
    const entries = await readLog(jsonFileLogPath(dir, "default", "killed"));
    assert.deepEqual(logs(entries, "stdout"), ["before\n"]);
  });
});

Deno.test("runShim() writes log-config.json and gives the app the -e variables", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({
      id: "config",
      namespace: "ns1",
      dataRoot: dir,
      logOpts: { "max-size": "10m", "max-file": "2" },
      labels: { team: "web" },
      env: { GREETING: "hello" },
      command: ["sh", "-c", 'echo "$GREETING"'],
    });
    assert.equal(code, 0);
    const configPath = logConfigPath(dir, "ns1", "config");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(configPath)), {
      driver: "json-file",
      opts: { "max-size": "10m", "max-file": "2" },
      labels: { team: "web" },
      env: { GREETING: "hello" },
    });
    assert.equal((await Deno.stat(configPath)).mode! & 0o777, 0o640);
    for (
      const folder of ["containers", "containers/ns1", "containers/ns1/config"]
    ) {
      const mode = (await Deno.stat(`${dir}/${folder}`)).mode! & 0o777;
      assert.equal(mode & ~0o750, 0, `${folder} is 0750 or stricter`);
    }
    const entries = await readLog(jsonFileLogPath(dir, "ns1", "config"));
    assert.deepEqual(logs(entries, "stdout"), ["hello\n"]);
  });
});

Deno.test("runShim() writes to log-path when the option is given", async () => {
  await withTempDir(async (dir) => {
    const logPath = `${dir}/elsewhere/app.log`;
    const { code, stderr } = await shim({
      id: "log-path",
      dataRoot: `${dir}/root`,
      logOpts: { "log-path": logPath },
      command: ["echo", "hi"],
    });
    assert.equal(code, 0);
    assert.deepEqual(logs(await readLog(logPath), "stdout"), ["hi\n"]);
    assert.match(stderr, new RegExp(`log: ${logPath}\n$`));
  });
});

Deno.test("runShim() gives the app /dev/null as stdin", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({
      id: "stdin",
      dataRoot: dir,
      command: ["sh", "-c", 'n=$(wc -c); echo "read $n bytes"'],
    });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "stdin"));
    assert.deepEqual(logs(entries, "stdout"), ["read 0 bytes\n"]);
  });
});

Deno.test("runShim() runs the example app, five times one second apart, when given no command", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({ id: "example", dataRoot: dir });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "example"));
    const times = logs(entries, "stdout").map((log) => {
      assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$/);
      return Date.parse(log.trimEnd());
    });
    assert.equal(times.length, 5);
    for (let i = 1; i < times.length; i++) {
      assert.ok(
        times[i] - times[i - 1] >= 990,
        `${times[i] - times[i - 1]} ms apart`,
      );
    }
  });
});

Deno.test("runShim() exits 125 without starting the app when the driver rejects max-size=10x", async () => {
  await withTempDir(async (dir) => {
    const marker = `${dir}/marker`;
    const { code, stderr } = await shim({
      id: "bad-option",
      dataRoot: dir,
      logOpts: { "max-size": "10x" },
      command: markerCommand(marker),
    });
    assert.equal(code, 125);
    assert.equal(await exists(marker), false, "the app never ran");
    assert.match(stderr, /"10x"/);
    assert.match(
      stderr,
      /shimlog: the log driver exited with code 1 before it was ready; container bad-option not started\n$/,
    );
    assert.equal(
      await exists(`${dir}/containers/default/bad-option`),
      false,
      "the refused container leaves no folder behind",
    );
  });
});

Deno.test("runShim() exits 125 without starting the app when the data root cannot be written", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const marker = `${dir}/marker`;
    const { code, stderr } = await shim({
      id: "bad-root",
      dataRoot: `${dir}/file/root`,
      command: markerCommand(marker),
    });
    assert.equal(code, 125);
    assert.equal(await exists(marker), false, "the app never ran");
    assert.match(
      stderr,
      /^shimlog: cannot create ".*\/file\/root\/containers\/default\/bad-root\/shim.lock": Not a directory/,
    );
  });
});

Deno.test("runShim() exits 125 without starting the app when the driver cannot create the log file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const marker = `${dir}/marker`;
    const { code, stderr } = await shim({
      id: "bad-log-path",
      dataRoot: dir,
      logOpts: { "log-path": `${dir}/file/app.log` },
      command: markerCommand(marker),
    });
    assert.equal(code, 125);
    assert.equal(await exists(marker), false, "the app never ran");
    assert.match(stderr, /^shimlog driver: /);
    assert.match(stderr, /exited with code 1 before it was ready/);
  });
});

Deno.test("runShim() exits 125 without starting the app when the driver is not ready in time", async () => {
  await withTempDir(async (dir) => {
    const driverPath = `${dir}/hanging_driver.ts`;
    await Deno.writeTextFile(driverPath, "setInterval(() => {}, 1000);\n");
    const marker = `${dir}/marker`;
    const started = Date.now();
    const { code, stderr } = await shim({
      id: "slow",
      dataRoot: dir,
      driverPath,
      readyTimeout: 300,
      command: markerCommand(marker),
    });
    assert.equal(code, 125);
    assert.ok(Date.now() - started < 5000, "it gave up after the timeout");
    assert.equal(await exists(marker), false, "the app never ran");
    assert.equal(
      stderr,
      "shimlog: the log driver was not ready within 300 ms; container slow not started\n",
    );
  });
});

Deno.test("runShim() exits 127 for a command that is not on PATH, starting nothing", async () => {
  await withTempDir(async (dir) => {
    const { code, stderr } = await shim({
      id: "missing",
      dataRoot: dir,
      command: ["shimlog-no-such-command", "--flag"],
    });
    assert.equal(code, 127);
    assert.equal(
      stderr,
      'shimlog: "shimlog-no-such-command": command not found\n',
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no driver, no log");
    const empty = await shim({ id: "empty", dataRoot: dir, command: [""] });
    assert.deepEqual(empty, {
      code: 127,
      stderr: 'shimlog: "": command not found\n',
    });
  });
});

Deno.test("runShim() exits 126 for a file it cannot execute, starting nothing", async () => {
  await withTempDir(async (dir) => {
    const script = `${dir}/script.sh`;
    await Deno.writeTextFile(script, "#!/bin/sh\necho hi\n", { mode: 0o644 });
    await Deno.chmod(script, 0o644);
    await Deno.mkdir(`${dir}/folder`);
    for (
      const [command, reason] of [[script, "Permission denied"], [
        `${dir}/folder`,
        "Is a directory",
      ]]
    ) {
      const { code, stderr } = await shim({
        id: "not-executable",
        dataRoot: `${dir}/root`,
        command: [command],
      });
      assert.equal(code, 126);
      assert.match(stderr, new RegExp(`: ${reason}\n$`));
    }
    assert.equal(await exists(`${dir}/root`), false, "no driver, no log");
  });
});

Deno.test("runShim() exits 126 for a binary the kernel cannot run, as a shell, where execvp would hand it to /bin/sh", async () => {
  await withTempDir(async (dir) => {
    const cases: [string, Uint8Array, string][] = [
      [
        "cut-elf",
        new TextEncoder().encode("\x7fELF garbage"),
        "Exec format error",
      ],
      [
        "binary",
        new Uint8Array([0x01, 0x00, 0x02, 0x0a]),
        "cannot execute binary file",
      ],
    ];
    for (const [name, bytes, reason] of cases) {
      await Deno.writeFile(`${dir}/${name}`, bytes, { mode: 0o755 });
      await Deno.chmod(`${dir}/${name}`, 0o755);
      const { code, stderr } = await shim({
        id: name,
        dataRoot: `${dir}/root`,
        command: [`${dir}/${name}`],
      });
      assert.equal(code, 126, stderr);
      assert.match(stderr, new RegExp(`: ${reason}\n$`));
    }
    assert.equal(await exists(`${dir}/root`), false, "no driver, no log");
    // A text file without #! is a shell script, to a shell and to execvp.
    await Deno.writeTextFile(`${dir}/plain`, "echo plain script\n", {
      mode: 0o755,
    });
    await Deno.chmod(`${dir}/plain`, 0o755);
    const plain = await shim({
      id: "plain",
      dataRoot: `${dir}/root`,
      command: [`${dir}/plain`],
    });
    assert.equal(plain.code, 0, plain.stderr);
  });
});

Deno.test("runShim() looks the command up on the PATH given with -e", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(
      `${dir}/bin/hello`,
      "#!/bin/sh\necho hello from bin\n",
      {
        mode: 0o755,
      },
    );
    await Deno.chmod(`${dir}/bin/hello`, 0o755);
    const { code } = await shim({
      id: "path",
      dataRoot: dir,
      env: { PATH: `${dir}/bin:/usr/bin:/bin` },
      command: ["hello"],
    });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "path"));
    assert.deepEqual(logs(entries, "stdout"), ["hello from bin\n"]);
  });
});

Deno.test("runShim() with log driver none runs the app, discards its output and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const marker = `${dir}/marker`;
    const { code, stderr } = await shim({
      id: "quiet",
      logDriver: "none",
      dataRoot: `${dir}/root`,
      command: [
        "sh",
        "-c",
        'echo out; echo err >&2; touch "$1"; exit 4',
        "sh",
        marker,
      ],
    });
    assert.equal(code, 4);
    assert.equal(await exists(marker), true, "the app ran");
    assert.equal(await exists(`${dir}/root`), false);
    assert.equal(
      stderr,
      "shimlog: container quiet exited with code 4, log: none (--log-driver none)\n",
    );
  });
});

Deno.test("runShim() gives the driver only the container's variables, Deno's, and narrow permissions", async () => {
  await withTempDir(async (dir) => {
    const go = `${dir}/go`;
    const running = shim({
      id: "env",
      namespace: "ns2",
      dataRoot: dir,
      env: { APP_SECRET: "not for the driver" },
      command: [
        "sh",
        "-c",
        'while [ ! -e "$1" ]; do sleep 0.02; done',
        "sh",
        go,
      ],
    });
    try {
      const driver = await findProcess(`/driver\\.ts data-root ${dir}$`);
      assert.deepEqual(driver.argv.slice(1), [
        "run",
        "--no-prompt",
        "--no-config",
        "--v8-flags=--max-semi-space-size=1,--expose-gc",
        `--allow-read=/dev/fd/3,/dev/fd/4,${dir}`,
        `--allow-write=/dev/fd/5,${dir}`,
        "--allow-env=CONTAINER_ID,CONTAINER_NAMESPACE,SHIMLOG_PARENT_PID",
        `--allow-ffi=${libcCandidates().join(",")}`,
        new URL("../driver.ts", import.meta.url).pathname,
        "data-root",
        dir,
      ]);
      assert.equal(driver.env.CONTAINER_ID, "env");
      assert.equal(driver.env.CONTAINER_NAMESPACE, "ns2");
      // The shim (this process) names itself, so that a driver it leaves
      // behind stops before ready.
      assert.equal(driver.env.SHIMLOG_PARENT_PID, String(Deno.pid));
      const allowed = [
        "CONTAINER_ID",
        "CONTAINER_NAMESPACE",
        "SHIMLOG_PARENT_PID",
        "HOME",
        "DENO_DIR",
        "XDG_CACHE_HOME",
        "NPM_CONFIG_REGISTRY",
      ];
      const extra = Object.keys(driver.env).filter((k) => !allowed.includes(k));
      assert.deepEqual(extra, []);
      assert.equal(driver.env.HOME, Deno.env.get("HOME"));
    } finally {
      await Deno.writeTextFile(go, "");
      assert.equal((await running).code, 0);
    }
  });
});

/**
 * Polls for a process whose command line matches `pattern` (a `pgrep -f`
 * regular expression); returns its argv and environment. Deno allows
 * reading /proc only with --allow-all, so `pgrep` and `cat` read it.
 */
async function findProcess(
  pattern: string,
): Promise<{ argv: string[]; env: Record<string, string> }> {
  const run = async (command: string, args: string[]) => {
    const { success, stdout } = await new Deno.Command(command, { args })
      .output();
    return success ? decoder.decode(stdout) : null;
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const pids = (await run("pgrep", ["-f", pattern]))?.trim().split("\n");
    if (pids?.length === 1) {
      const cmdline = await run("cat", [`/proc/${pids[0]}/cmdline`]);
      const environ = await run("cat", [`/proc/${pids[0]}/environ`]);
      if (cmdline !== null && environ !== null) {
        const env = Object.fromEntries(
          environ.split("\0").filter((kv) => kv !== "").map((kv) => {
            const i = kv.indexOf("=");
            return [kv.slice(0, i), kv.slice(i + 1)];
          }),
        );
        return { argv: cmdline.split("\0").slice(0, -1), env };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`No single process matching "${pattern}" within 10 s`);
}

Deno.test("shimLogPath() gives log-path, else the json-file default, else null for none", () => {
  assert.equal(
    shimLogPath({ id: "a", namespace: "ns", dataRoot: "/d" }),
    "/d/containers/ns/a/a-json.log",
  );
  assert.equal(
    shimLogPath({
      id: "a",
      dataRoot: "/d",
      logOpts: { "log-path": "/x/a.log" },
    }),
    "/x/a.log",
  );
  assert.equal(shimLogPath({ id: "a", logDriver: "none" }), null);
});

Deno.test("runShim() refuses an invalid id, namespace or data root with a RangeError", async () => {
  await assert.rejects(runShim({ id: "../x", dataRoot: "/tmp" }), RangeError);
  await assert.rejects(
    runShim({ id: "a", namespace: "a/b", dataRoot: "/tmp" }),
    RangeError,
  );
  await assert.rejects(
    runShim({ id: "a", dataRoot: "relative" }),
    /Invalid data root "relative": an absolute path is required/,
  );
});

// shim.ts as a process: signals, exit codes, messages.

/** Runs shim.ts until `ready()` says so, then signals it. */
async function signalShimMidStream(
  dir: string,
  send: (child: Deno.ChildProcess) => Promise<void>,
  options: { setsid?: boolean } = {},
): Promise<
  { code: number; stderr: string; logged: number[]; written: number[] }
> {
  const side = `${dir}/written`;
  const script =
    'i=0; while :; do echo $i; echo $i >> "$1"; i=$((i+1)); sleep 0.01; done';
  const shimArgs = [
    "run",
    ...SHIM_PERMISSIONS,
    SHIM,
    "--data-root",
    dir,
    "--name",
    "signalled",
    "--",
    "sh",
    "-c",
    script,
    "sh",
    side,
  ];
  const child = new Deno.Command(options.setsid ? "setsid" : DENO, {
    args: options.setsid ? [DENO, ...shimArgs] : shimArgs,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let status: Deno.CommandStatus;
  let text: string;
  try {
    const deadline = Date.now() + 10_000;
    while (
      ((await Deno.readTextFile(side).catch(() => "")).match(/\n/g)?.length ??
        0) < 20
    ) {
      assert.ok(Date.now() < deadline, "the app wrote 20 lines within 10 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await send(child);
  } catch (error) {
    child.kill("SIGTERM"); // the shim passes it on to the app
    throw error;
  } finally {
    status = await child.status;
    text = await stderr;
  }
  const entries = await readLog(jsonFileLogPath(dir, "default", "signalled"));
  const written = (await Deno.readTextFile(side)).split("\n")
    .filter((l) => l !== "").map(Number);
  return {
    code: status.code,
    stderr: text,
    logged: logs(entries, "stdout").map((l) => Number(l.slice(0, -1))),
    written,
  };
}

function assertNothingLost(result: { logged: number[]; written: number[] }) {
  const { logged, written } = result;
  assert.deepEqual(
    logged,
    [...logged.keys()],
    "the log holds 0, 1, 2… in order",
  );
  // Each number goes to stdout before the side file, so every number in
  // the side file was written to stdout before the app died.
  assert.ok(written.length >= 20);
  assert.ok(
    logged.length >= written.length,
    `${logged.length} lines logged, ${written.length} written`,
  );
}

for (
  const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
    ["SIGHUP", 129],
    ["SIGQUIT", 131],
    ["SIGUSR1", 138],
    ["SIGUSR2", 140],
  ] as const
) {
  Deno.test(`shim.ts forwards ${signal} to the app and loses nothing already written`, async () => {
    await withTempDir(async (dir) => {
      const result = await signalShimMidStream(dir, (child) => {
        child.kill(signal);
        return Promise.resolve();
      });
      assert.equal(result.code, code);
      assertNothingLost(result);
      // Deno opens its inspector on SIGUSR1 in any Deno process, the shim
      // too (see README), and may say so first, before the shim exits.
      const stderr = result.stderr.replace(
        /^Debugger listening on ws:.*\nVisit chrome:\/\/inspect.*\n/,
        "",
      );
      assert.match(
        stderr,
        new RegExp(
          `^shimlog: container signalled exited with code ${code} \\(${signal}\\), log: `,
        ),
      );
    });
  });
}

for (
  const [what, signal, code] of [
    ["Ctrl-C", "INT", 130],
    ["Ctrl-\\", "QUIT", 131],
    ["a hang-up", "HUP", 129],
  ] as const
) {
  Deno.test(`shim.ts survives ${what} in a terminal (SIG${signal} to the whole process group) and loses nothing`, async () => {
    await withTempDir(async (dir) => {
      const result = await signalShimMidStream(dir, async (child) => {
        // setsid made the shim a process group leader: signal the group, as
        // a terminal does; the driver is in it too.
        const { success } = await new Deno.Command("kill", {
          args: [`-${signal}`, "--", `-${child.pid}`],
        }).output();
        assert.ok(success);
      }, { setsid: true });
      assert.equal(result.code, code);
      assertNothingLost(result);
      assert.match(
        result.stderr,
        new RegExp(`container signalled exited with code ${code} \\(SIG`),
      );
    });
  });
}

async function shimCli(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(DENO, {
    args: ["run", ...SHIM_PERMISSIONS, SHIM, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

Deno.test("shim.ts exits 2 with a message naming the bad value, and no stack trace, for bad options", async () => {
  const cases: [string[], string][] = [
    [["--log-opt", "foo"], 'Invalid --log-opt "foo": expected KEY=VALUE'],
    [
      ["--log-driver", "syslog"],
      'Invalid --log-driver "syslog": expected one of json-file,',
    ],
    [
      ["--bogus", "ls"],
      'Unknown option "--bogus": accepted options are --log-driver,',
    ],
    [["--name", "../x"], 'Invalid --name "../x"'],
    [["--name"], 'Option "--name" needs a value'],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await shimCli(args);
    assert.equal(code, 2, args.join(" "));
    assert.ok(stderr.startsWith(`shimlog: ${message}`), stderr);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("shim.ts without --allow-env says which permissions it needs and exits 125, not 2 (no flag was wrong)", async () => {
  const { code, stderr } = await new Deno.Command(DENO, {
    args: [
      "run",
      "--no-prompt",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      SHIM,
      "--data-root",
      "/nonexistent",
      "--",
      "true",
    ],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(code, 125);
  assert.match(
    decoder.decode(stderr),
    /^shimlog: Requires env access.*\nshim\.ts needs --allow-run --allow-read --allow-write --allow-env \(and --allow-ffi for -t\)\n$/,
  );
});

Deno.test("shim.ts --help prints the usage and exits 0", async () => {
  const { code, stdout, stderr } = await shimCli(["--help"]);
  assert.equal(code, 0);
  assert.match(
    stdout,
    /^Usage: deno run .* shim\.ts \[options\] \[--\] \[COMMAND \[ARG\.\.\.\]\]/,
  );
  assert.equal(stderr, "");
});

Deno.test("shim.ts exits with the app's code and prints one line to stderr", async () => {
  await withTempDir(async (dir) => {
    const { code, stdout, stderr } = await shimCli([
      "--data-root",
      dir,
      "--name",
      "cli",
      "sh",
      "-c",
      "echo to-the-log; exit 7",
    ]);
    assert.equal(code, 7);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `shimlog: container cli exited with code 7, log: ${
        jsonFileLogPath(dir, "default", "cli")
      }\n`,
    );
  });
});

Deno.test("runShim() deletes the FIFO folders of shims killed long ago, and only those", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "shimlog-sweep-probe-" })
    .then(async (probe) => {
      await Deno.remove(probe);
      return probe.slice(0, probe.lastIndexOf("/"));
    });
  // A process that has exited: nothing has its pid (until it is reused).
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const deadPid = gone.pid;
  const tag = crypto.randomUUID().slice(0, 8);
  const stale = `${tmp}/shimlog-${deadPid}-${tag}a`;
  const recent = `${tmp}/shimlog-${deadPid}-${tag}b`;
  const live = `${tmp}/shimlog-${Deno.pid}-${tag}c`;
  const old = new Date(Date.now() - 3_600_000);
  try {
    for (const dir of [stale, recent, live]) {
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/out`, "");
    }
    await Deno.utime(stale, old, old);
    await Deno.utime(live, old, old);
    await withTempDir(async (dir) => {
      const { code } = await shim({
        id: "sweep",
        dataRoot: dir,
        command: ["true"],
      });
      assert.equal(code, 0);
    });
    assert.equal(await exists(stale), false, "stale: deleted");
    assert.equal(await exists(recent), true, "too recent: kept");
    assert.equal(await exists(live), true, "its shim lives: kept");
  } finally {
    for (const dir of [stale, recent, live]) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
});

import assert from "node:assert/strict";
import {
  runShimCaptured,
  withTempDir as withTempDirIn,
} from "./_shim_helpers.ts";
import { jsonFileLogPath } from "../src/log_paths.ts";
import type { ShimOptions } from "../src/shim.ts";

const SHIM = new URL("../shim.ts", import.meta.url).pathname;
const DENO = Deno.execPath();
const SHIM_PERMISSIONS = [
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
];
const decoder = new TextDecoder();
const encoder = new TextEncoder();

interface Entry {
  log: string;
  stream: string;
  time: string;
}

function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDirIn("shimlog-tty-test-", fn);
}

/** Runs runShim() in terminal mode with its messages captured. */
function shim(
  options: ShimOptions,
): Promise<{ code: number; stderr: string }> {
  return runShimCaptured({ tty: true, ...options });
}

/** Runs `shim.ts ARGS` as a process, with `input` as its stdin (else none). */
async function shimProcess(
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(DENO, {
    args: ["run", ...SHIM_PERMISSIONS, SHIM, ...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(input));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

async function readLog(path: string): Promise<Entry[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((line) => line !== "").map((line) =>
    JSON.parse(line)
  );
}

/** The entries' text, joined: the bytes the terminal gave out, in order. */
function joined(entries: Entry[]): string {
  return entries.map((e) => e.log).join("");
}

function streams(entries: Entry[]): string[] {
  return [...new Set(entries.map((e) => e.stream))];
}

Deno.test("runShim() with tty gives the app a new pseudo-terminal as controlling terminal, stdin, stdout and stderr", async () => {
  await withTempDir(async (dir) => {
    const { code, stderr } = await shim({
      id: "tty",
      dataRoot: dir,
      command: [
        "sh",
        "-c",
        "tty; test -t 0 && test -t 1 && test -t 2 && echo all-terminals; " +
        // Only a process with a controlling terminal can open /dev/tty.
        "(exec 3</dev/tty) && echo has-controlling-terminal; " +
        // It leads its own session, and the terminal's foreground process
        // group is its own.
        "read -r pid comm state ppid pgrp session tty tpgid rest </proc/$$/stat; " +
        'test "$session" = $$ && test "$tpgid" = "$pgrp" && echo session-leader-in-foreground',
      ],
    });
    assert.equal(code, 0, stderr);
    const path = jsonFileLogPath(dir, "default", "tty");
    const entries = await readLog(path);
    assert.equal(entries.length, 4, JSON.stringify(entries));
    assert.match(entries[0].log, /^\/dev\/pts\/\d+\r\n$/);
    assert.deepEqual(entries.slice(1).map((e) => e.log), [
      "all-terminals\r\n",
      "has-controlling-terminal\r\n",
      "session-leader-in-foreground\r\n",
    ]);
    assert.deepEqual(streams(entries), ["stdout"]);
    assert.equal(
      stderr,
      `shimlog: container tty exited with code 0, log: ${path}\n`,
    );
  });
});

Deno.test("shim.ts -t gives the app an 80×24 terminal when the shim has no terminal", async () => {
  await withTempDir(async (dir) => {
    const { code, stdout, stderr } = await shimProcess([
      "--data-root",
      dir,
      "--name",
      "size",
      "-t",
      "--",
      "stty",
      "size",
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "", "without -i nothing is shown");
    const entries = await readLog(jsonFileLogPath(dir, "default", "size"));
    assert.deepEqual(entries.map((e) => [e.stream, e.log]), [
      ["stdout", "24 80\r\n"],
    ]);
  });
});

Deno.test("runShim() with tty and windowSize gives the app that size", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({
      id: "sized",
      dataRoot: dir,
      windowSize: { columns: 132, rows: 43 },
      command: ["stty", "size"],
    });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "sized"));
    assert.deepEqual(entries.map((e) => e.log), ["43 132\r\n"]);
  });
});

Deno.test("runShim() with tty logs the terminal's bytes exactly, \\r\\n and colour sequences included, all as stdout", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({
      id: "bytes",
      dataRoot: dir,
      command: [
        "sh",
        "-c",
        "printf 'one\\ntwo\\n'; printf '\\033[1;31mred\\033[0m \\033[32mgreen\\033[0m\\n'; " +
        "printf 'no newline'; sleep 0.2; printf ' then more\\n' >&2; printf 'tail'",
      ],
    });
    assert.equal(code, 0);
    const path = jsonFileLogPath(dir, "default", "bytes");
    const entries = await readLog(path);
    assert.equal(
      joined(entries),
      "one\r\ntwo\r\n\x1b[1;31mred\x1b[0m \x1b[32mgreen\x1b[0m\r\nno newline then more\r\ntail",
    );
    assert.deepEqual(entries.map((e) => e.log), [
      "one\r\n",
      "two\r\n",
      "\x1b[1;31mred\x1b[0m \x1b[32mgreen\x1b[0m\r\n",
      "no newline then more\r\n",
      "tail",
    ]);
    assert.deepEqual(
      streams(entries),
      ["stdout"],
      "stderr is the terminal too",
    );
    // Docker's encoding of the escape character.
    assert.match(
      await Deno.readTextFile(path),
      /"\\u001b\[1;31mred\\u001b\[0m /,
    );
  });
});

Deno.test("runShim() with tty loses nothing of a large output", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({
      id: "large",
      dataRoot: dir,
      command: ["seq", "1", "100000"],
    });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "large"));
    assert.equal(entries.length, 100000);
    assert.equal(
      joined(entries),
      [...Array(100000).keys()].map((i) => `${i + 1}\r\n`).join(""),
    );
  });
});

Deno.test("runShim() with tty returns the app's exit code, and 128+15 when SIGTERM kills it", async () => {
  await withTempDir(async (dir) => {
    const exited = await shim({
      id: "exit-5",
      dataRoot: dir,
      command: ["sh", "-c", "echo bye; exit 5"],
    });
    assert.equal(exited.code, 5);
    assert.match(
      exited.stderr,
      /^shimlog: container exit-5 exited with code 5, log: /,
    );
    const killed = await shim({
      id: "killed",
      dataRoot: dir,
      command: ["sh", "-c", "echo before; kill -TERM $$; echo after"],
    });
    assert.equal(killed.code, 143);
    assert.match(
      killed.stderr,
      /container killed exited with code 143 \(SIGTERM\)/,
    );
    const entries = await readLog(jsonFileLogPath(dir, "default", "killed"));
    assert.deepEqual(entries.map((e) => e.log), ["before\r\n"]);
  });
});

Deno.test("runShim() with tty gives the app a terminal with nothing typed into it when not interactive", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shim({
      id: "no-input",
      dataRoot: dir,
      // A read from the terminal would wait forever: time out instead.
      command: [
        "sh",
        "-c",
        'stty -icanon min 0 time 5; n=$(head -c 1 | wc -c); echo "read $n bytes"',
      ],
    });
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "no-input"));
    assert.deepEqual(entries.map((e) => e.log), ["read 0 bytes\r\n"]);
  });
});

Deno.test("runShim() with tty does not wait for a process the app left holding the terminal", async () => {
  await withTempDir(async (dir) => {
    const pidFile = `${dir}/pid`;
    let pid: number | undefined;
    try {
      const { code } = await shim({
        id: "left-behind",
        dataRoot: dir,
        command: [
          "sh",
          "-c",
          // A process that ignores the hang-up at the app's exit and keeps
          // the terminal open; the app waits until it is set up.
          `sh -c 'trap "" HUP; echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 60' sh "$1" &
          while [ ! -e "$1" ]; do sleep 0.05; done; echo started`,
          "sh",
          pidFile,
        ],
      });
      pid = Number(await Deno.readTextFile(pidFile));
      assert.equal(code, 0);
      const entries = await readLog(
        jsonFileLogPath(dir, "default", "left-behind"),
      );
      assert.deepEqual(entries.map((e) => e.log), ["started\r\n"]);
      // Still there: killing it works.
      const alive = pid;
      pid = undefined;
      assert.doesNotThrow(() => Deno.kill(alive, "SIGKILL"));
    } finally {
      if (pid !== undefined) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
  });
});

Deno.test("runShim() with tty and log driver none runs the app on a terminal and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const { code, stderr } = await shim({
      id: "quiet",
      logDriver: "none",
      dataRoot: `${dir}/root`,
      command: ["sh", "-c", "test -t 1 || exit 9; echo out; exit 4"],
    });
    assert.equal(code, 4);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.equal(
      stderr,
      "shimlog: container quiet exited with code 4, log: none (--log-driver none)\n",
    );
  });
});

Deno.test("shim.ts -it types its stdin into the terminal and shows the output, which is also logged", async () => {
  await withTempDir(async (dir) => {
    const { code, stdout, stderr } = await shimProcess(
      ["--data-root", dir, "--name", "typed", "-it", "--", "sh"],
      "echo typed-$((6*7))\nexit 7\n",
    );
    assert.equal(code, 7, stderr);
    const path = jsonFileLogPath(dir, "default", "typed");
    assert.match(
      stderr,
      new RegExp(
        `^shimlog: container typed exited with code 7, log: ${path}\n$`,
      ),
    );
    const entries = await readLog(path);
    assert.deepEqual(streams(entries), ["stdout"]);
    const log = joined(entries);
    assert.equal(stdout, log, "the output shown is the output logged");
    // The terminal echoed what was typed, then the shell ran it.
    assert.ok(log.includes("echo typed-$((6*7))\r\n"), log);
    assert.ok(log.includes("exit 7\r\n"), log);
    // Where the prompts fall depends on when the shell started.
    assert.ok(log.includes("typed-42\r\n"), log);
  });
});

Deno.test("shim.ts -i without -t gives the app its stdin", async () => {
  await withTempDir(async (dir) => {
    const { code } = await shimProcess(
      ["--data-root", dir, "--name", "stdin", "-i", "--", "tr", "a-z", "A-Z"],
      "hello\nworld\n",
    );
    assert.equal(code, 0);
    const entries = await readLog(jsonFileLogPath(dir, "default", "stdin"));
    assert.deepEqual(entries.map((e) => [e.stream, e.log]), [
      ["stdout", "HELLO\n"],
      ["stdout", "WORLD\n"],
    ]);
  });
});

Deno.test("shim.ts -t without --allow-ffi exits 125 without starting anything", async () => {
  await withTempDir(async (dir) => {
    const child = new Deno.Command(DENO, {
      args: [
        "run",
        ...SHIM_PERMISSIONS.filter((p) => p !== "--allow-ffi"),
        SHIM,
        "--data-root",
        dir,
        "-t",
        "--",
        "sh",
        "-c",
        'touch "$1"',
        "sh",
        `${dir}/marker`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stderr } = await child.output();
    assert.equal(code, 125);
    assert.match(
      decoder.decode(stderr),
      /^shimlog: cannot open a pseudo-terminal for -t: .*--allow-ffi/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no driver, no app");
  });
});

Deno.test("runShim() with tty returns the app's code when the log driver dies while the app writes a lot", async () => {
  await withTempDir(async (dir) => {
    const go = `${dir}/go`;
    const started = `${dir}/started`;
    const running = shim({
      id: "driver-dies",
      dataRoot: dir,
      // Waits until the driver is stopped, then writes far more than a
      // FIFO holds.
      command: [
        "sh",
        "-c",
        ': >"$2"; while [ ! -e "$1" ]; do sleep 0.02; done; head -c 20000000 /dev/zero; exit 5',
        "sh",
        go,
        started,
      ],
    });
    for (let i = 0; i < 300; i++) {
      if (await Deno.stat(started).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The driver, stopped so that its FIFO fills, then killed.
    let pid = "";
    for (let i = 0; i < 200 && pid === ""; i++) {
      const { stdout } = await new Deno.Command("pgrep", {
        args: ["-f", `driver\\.ts data-root ${dir}$`],
      }).output();
      pid = decoder.decode(stdout).trim();
      if (pid === "") await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(pid, /^\d+$/);
    Deno.kill(Number(pid), "SIGSTOP");
    await Deno.writeTextFile(go, "");
    await new Promise((r) => setTimeout(r, 1000));
    Deno.kill(Number(pid), "SIGKILL");
    const { code, stderr } = await running;
    assert.equal(code, 5, stderr);
    assert.match(stderr, /the log driver exited early with code 137/);
  });
});

/**
 * `shim.ts -it` on a real terminal: a tmux window on a private server is the
 * user's terminal; keys are typed with `send-keys`, the screen is read with
 * `capture-pane`. Needs tmux (Debian's `tmux`); skipped without it unless
 * `SHIMLOG_REQUIRE_PEERS=1`.
 */

import assert from "node:assert/strict";
import { jsonFileLogPath } from "../src/log_paths.ts";
import { peerTest } from "./_peers/require.ts";

const SHIM = new URL("../shim.ts", import.meta.url).pathname;
const DENO = Deno.execPath();
const decoder = new TextDecoder();

interface Entry {
  log: string;
  stream: string;
}

/** A tmux server of our own (`tmux -L NAME`), without the user's config. */
class Tmux {
  readonly socket = `shimlog-test-${crypto.randomUUID().slice(0, 8)}`;

  async run(...args: string[]): Promise<string> {
    const { code, stdout, stderr } = await new Deno.Command("tmux", {
      args: ["-L", this.socket, "-f", "/dev/null", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(
        `tmux ${args.join(" ")} failed (${code}): ${decoder.decode(stderr)}`,
      );
    }
    return decoder.decode(stdout);
  }

  /** Types `keys` (tmux key names, e.g. `Enter`, `C-c`, or text). */
  async type(...keys: string[]): Promise<void> {
    await this.run("send-keys", "-t", "main", ...keys);
  }

  /**
   * The visible screen, lines without trailing spaces; with `join`, lines
   * the terminal wrapped are joined.
   */
  async screen(join = false): Promise<string> {
    return await this.run(
      "capture-pane",
      "-p",
      ...(join ? ["-J"] : []),
      "-t",
      "main",
    );
  }

  /** Waits (polling, generously) until the screen matches `pattern`. */
  async waitForScreen(pattern: RegExp): Promise<string> {
    let screen = "";
    await waitFor(
      async () => pattern.test(screen = await this.screen()),
      () => `the screen to match ${pattern}; it shows:\n${screen}`,
    );
    return screen;
  }

  /**
   * Starts `shim.ts --name NAME -it -- sh` in a new 100×30 window (see
   * {@linkcode PANE_SCRIPT}).
   */
  async startShim(dir: string, name: string): Promise<void> {
    await Deno.writeTextFile(`${dir}/pane.sh`, PANE_SCRIPT);
    await this.run(
      "new-session",
      "-d",
      "-s",
      "main",
      "-x",
      "100",
      "-y",
      "30",
      "sh",
      `${dir}/pane.sh`,
      dir,
      DENO,
      SHIM,
      name,
    );
  }

  #asked = 0;

  /**
   * Types `echo size-N $(stty size)` until the app's shell answers `size`
   * (rows, then columns).
   */
  async waitForSize(size: string): Promise<void> {
    let answer = "";
    await waitFor(async () => {
      const n = ++this.#asked;
      await this.type(`echo size-${n} $(stty size)`, "Enter");
      const screen = await this.waitForScreen(
        new RegExp(`^size-${n} .*$`, "m"),
      );
      answer = screen.match(new RegExp(`^size-${n} (.*)$`, "m"))![1];
      return answer === size;
    }, () => `the size to be ${size}; the app's shell says ${answer}`);
  }

  async kill(): Promise<void> {
    await this.run("kill-server").catch(() => {});
  }
}

async function waitFor(
  check: () => Promise<boolean>,
  what: () => string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The window's shell script: saves the terminal's settings, runs
 * `shim.ts -it -- sh` (recording its pid), saves its exit code and the
 * settings after, then waits to be killed.
 */
const PANE_SCRIPT = `dir=$1 deno=$2 shim=$3 name=$4
stty -a > "$dir/before"
sh -c 'echo $$ > "$1/pid"; shift; exec "$@"' sh "$dir" \\
  "$deno" run --allow-run --allow-read --allow-write --allow-env --allow-ffi \\
  "$shim" --data-root "$dir/root" --name "$name" -it -- sh
echo $? > "$dir/code.tmp"
stty -a > "$dir/after"
mv "$dir/code.tmp" "$dir/code"
exec sleep 600
`;

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

peerTest(
  "shim.ts -it -- sh in a 100×30 tmux window: keys reach the app, Ctrl-C too, sizes follow, all is logged, the terminal is restored",
  { needs: ["tmux"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shimlog-tmux-test-" });
    const tmux = new Tmux();
    try {
      await tmux.startShim(dir, "it");
      // The app's shell prompts (root's "# " or "$ "; capture-pane drops
      // the trailing space).
      await tmux.waitForScreen(/^[#$] ?$/m);

      await tmux.type("stty size", "Enter");
      await tmux.waitForScreen(/^30 100$/m);

      await tmux.type("tty; echo typed-$((6*7))", "Enter");
      await tmux.waitForScreen(/^\/dev\/pts\/\d+\ntyped-42$/m);

      // Ctrl-C is a character for the terminal, whose line discipline
      // interrupts the sleep; the shim is not signalled.
      await tmux.type(
        "echo sleeping; sleep 600 && echo not-interrupted",
        "Enter",
      );
      await tmux.waitForScreen(/^sleeping$/m);
      await tmux.type("C-c");
      await tmux.type("echo after-ctrl-c", "Enter");
      await tmux.waitForScreen(/^after-ctrl-c$/m);

      // A new window size reaches the app (SIGWINCH to the shim, which sets
      // the pty's size). The signal and the keys travel apart, so ask until
      // the answer is the new size.
      await tmux.run("resize-window", "-t", "main", "-x", "120", "-y", "40");
      await tmux.waitForSize("40 120");
      // And back, so that the window's settings can be compared at the end.
      await tmux.run("resize-window", "-t", "main", "-x", "100", "-y", "30");
      await tmux.waitForSize("30 100");

      await tmux.type("exit 3", "Enter");
      await waitFor(
        async () => await readIfExists(`${dir}/code`) !== null,
        () => "the shim to exit",
      );
      assert.equal((await Deno.readTextFile(`${dir}/code`)).trim(), "3");
      const logPath = jsonFileLogPath(`${dir}/root`, "default", "it");
      const screen = await tmux.screen(true);
      assert.ok(
        screen.includes(
          `shimlog: container it exited with code 3, log: ${logPath}`,
        ),
        screen,
      );
      assert.doesNotMatch(screen, /^not-interrupted$/m);
      assert.equal(
        await Deno.readTextFile(`${dir}/after`),
        await Deno.readTextFile(`${dir}/before`),
        "the terminal's settings are restored",
      );

      const entries: Entry[] = (await Deno.readTextFile(logPath)).split("\n")
        .filter((line) => line !== "").map((line) => JSON.parse(line));
      assert.deepEqual([...new Set(entries.map((e) => e.stream))], ["stdout"]);
      const log = entries.map((e) => e.log).join("");
      for (
        const expected of [
          "stty size\r\n30 100\r\n",
          "tty; echo typed-$((6*7))\r\n",
          "\r\ntyped-42\r\n",
          "echo sleeping; sleep 600 && echo not-interrupted\r\nsleeping\r\n",
          "^C",
          "echo after-ctrl-c\r\nafter-ctrl-c\r\n",
          "exit 3\r\n",
        ]
      ) {
        assert.ok(
          log.includes(expected),
          `the log holds ${JSON.stringify(expected)}: ${JSON.stringify(log)}`,
        );
      }
      assert.match(log, /\r\nsize-\d+ 40 120\r\n/);
      assert.match(log, /\r\nsize-\d+ 30 100\r\n# exit 3\r\n/);
      assert.ok(!log.includes("\r\nnot-interrupted\r\n"), log);
    } finally {
      await tmux.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "shim.ts -it restores the terminal when a signal (SIGHUP) ends the session",
  { needs: ["tmux"] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shimlog-tmux-test-" });
    const tmux = new Tmux();
    try {
      await tmux.startShim(dir, "hup");
      await tmux.waitForScreen(/^[#$] ?$/m);
      await tmux.type("echo ready-$((6*7))", "Enter");
      await tmux.waitForScreen(/^ready-42$/m);
      // The shim passes the signal to the app, which dies of it; the shim
      // then drains the output and restores the terminal.
      const pid = Number(await Deno.readTextFile(`${dir}/pid`));
      Deno.kill(pid, "SIGHUP");
      await waitFor(
        async () => await readIfExists(`${dir}/code`) !== null,
        () => "the shim to exit",
      );
      assert.equal((await Deno.readTextFile(`${dir}/code`)).trim(), "129");
      assert.match(
        await tmux.screen(true),
        // After the app's last prompt: it died without a newline.
        /shimlog: container hup exited with code 129 \(SIGHUP\), log: /,
      );
      assert.equal(
        await Deno.readTextFile(`${dir}/after`),
        await Deno.readTextFile(`${dir}/before`),
        "the terminal's settings are restored",
      );
      const log = await Deno.readTextFile(
        jsonFileLogPath(`${dir}/root`, "default", "hup"),
      );
      assert.ok(log.includes('"ready-42\\r\\n"'), log);
    } finally {
      await tmux.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * A private containerd for tests: its own config, root, state and socket
 * under a temp dir, a busybox root filesystem to run containers from, and
 * `ctr` bound to its socket. Needs `containerd`, `ctr`, `runc` and
 * `/bin/busybox` (Debian's `containerd`, `runc`, `busybox-static`), as root.
 *
 * Needs `--allow-run`, `--allow-read` and `--allow-write`.
 *
 * @module
 */

/** Executables a containerd test needs, for `peerTest`'s `needs`. */
export const CONTAINERD_NEEDS: readonly string[] = [
  "containerd",
  "ctr",
  "runc",
  "containerd-shim-runc-v2",
  "/bin/busybox",
];

/** Commands linked to busybox in the root filesystem, under `/bin`. */
export const BUSYBOX_COMMANDS: readonly string[] = [
  "sh",
  "echo",
  "cat",
  "printf",
  "head",
  "yes",
  "seq",
  "sleep",
  "dd",
  "tr",
];

/** The output of a finished command. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

/** Options for {@linkcode Containerd.run}. */
export interface RunOptions {
  /** The container's log URI (`--log-uri`), e.g. `binary:///path?k=v`. */
  logUri: string;
  /** The command to run inside, by absolute path. */
  command: readonly string[];
  /**
   * How long `ctr run` may take, in ms.
   *
   * @default {120000}
   */
  timeoutMs?: number;
}

const decoder = new TextDecoder();

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A running containerd on a private socket. Start it with
 * {@linkcode Containerd.start}, always {@linkcode Containerd.stop} it (or use
 * {@linkcode withContainerd}).
 */
export class Containerd {
  /** The temp dir holding everything of this containerd. */
  readonly dir: string;
  /** The gRPC socket. */
  readonly socket: string;
  /** Where containerd's stdout and stderr go. */
  readonly logPath: string;
  /** A busybox root filesystem folder for `ctr run --rootfs`. */
  readonly rootfs: string;
  #child: Deno.ChildProcess;
  #exited = false;
  #status: Promise<Deno.CommandStatus>;

  private constructor(
    dir: string,
    child: Deno.ChildProcess,
  ) {
    this.dir = dir;
    this.socket = `${dir}/containerd.sock`;
    this.logPath = `${dir}/containerd.log`;
    this.rootfs = `${dir}/rootfs`;
    this.#child = child;
    this.#status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
  }

  /**
   * Starts containerd with a minimal config (`version = 2`, `root`, `state`,
   * `[grpc] address`) under a new temp dir, builds the busybox root
   * filesystem, and waits until `ctr version` answers.
   *
   * @param timeoutMs How long to wait for containerd to answer.
   * @returns The running containerd.
   * @throws {Error} If containerd exits or does not answer in time (its log
   * is in the message).
   */
  static async start(timeoutMs = 20_000): Promise<Containerd> {
    const dir = await Deno.makeTempDir({ prefix: "shimlog-containerd-" });
    const config = `${dir}/config.toml`;
    let child;
    try {
      await Deno.writeTextFile(
        config,
        [
          "version = 2",
          `root = ${JSON.stringify(`${dir}/root`)}`,
          `state = ${JSON.stringify(`${dir}/state`)}`,
          "[grpc]",
          `  address = ${JSON.stringify(`${dir}/containerd.sock`)}`,
          "",
        ].join("\n"),
      );
      await buildRootfs(`${dir}/rootfs`);
      // containerd's output goes straight to a file: nothing to pump, and the
      // `exec` makes the child containerd itself, so SIGTERM reaches it.
      child = new Deno.Command("sh", {
        args: [
          "-c",
          'exec containerd --config "$1" >"$2" 2>&1',
          "sh",
          config,
          `${dir}/containerd.log`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
    const containerd = new Containerd(dir, child);
    try {
      await containerd.#waitReady(timeoutMs);
    } catch (error) {
      await containerd.stop();
      throw error;
    }
    return containerd;
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: CommandResult | undefined;
    while (Date.now() < deadline) {
      if (this.#exited) {
        throw new Error(
          `containerd exited before answering; its log:\n${await this.log()}`,
        );
      }
      last = await this.ctr(["version"]);
      if (last.code === 0) return;
      await sleep(50);
    }
    throw new Error(
      `containerd did not answer "ctr version" within ${timeoutMs} ms ` +
        `(last: ${last?.stderr.trim()}); its log:\n${await this.log()}`,
    );
  }

  /**
   * Runs `ctr --address SOCKET ARGS...`, killing it after `timeoutMs` (a
   * logger that never signals ready would block `ctr run` forever).
   *
   * @param args The arguments after the address.
   * @param timeoutMs How long `ctr` may take.
   * @returns Its exit code and output.
   * @throws {Error} If `ctr` was killed for taking too long.
   */
  async ctr(
    args: readonly string[],
    timeoutMs = 30_000,
  ): Promise<CommandResult> {
    const child = new Deno.Command("ctr", {
      args: ["--address", this.socket, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    try {
      const { code, stdout, stderr } = await child.output();
      if (timedOut) {
        throw new Error(
          `ctr ${args.join(" ")} took over ${timeoutMs} ms; containerd's ` +
            `log:\n${await this.log()}`,
        );
      }
      return {
        code,
        stdout: decoder.decode(stdout),
        stderr: decoder.decode(stderr),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs a container from the busybox root filesystem:
   * `ctr run --rootfs --log-uri URI ROOTFS ID COMMAND...`, which waits for it
   * to exit and deletes its task (the logger then sees EOF and SIGTERM).
   * The container record is left: remove it with {@linkcode Containerd.remove}.
   *
   * @param id The container id.
   * @param options The log URI and the command.
   * @returns `ctr`'s exit code (the container's) and output.
   */
  run(id: string, options: RunOptions): Promise<CommandResult> {
    return this.ctr([
      "run",
      "--rootfs",
      "--log-uri",
      options.logUri,
      this.rootfs,
      id,
      ...options.command,
    ], options.timeoutMs ?? 120_000);
  }

  /**
   * Removes a container record (`ctr c rm ID`).
   *
   * @param id The container id.
   * @throws {Error} If `ctr` fails.
   */
  async remove(id: string): Promise<void> {
    const result = await this.ctr(["containers", "rm", id]);
    if (result.code !== 0) {
      throw new Error(`ctr containers rm ${id} failed: ${result.stderr}`);
    }
  }

  /** containerd's output so far. */
  async log(): Promise<string> {
    try {
      return await Deno.readTextFile(this.logPath);
    } catch (error) {
      return `(cannot read ${this.logPath}: ${(error as Error).message})`;
    }
  }

  /**
   * Kills and removes any container left behind, stops containerd (SIGTERM,
   * SIGKILL after 10 s), waits for it, and removes the temp dir.
   */
  async stop(): Promise<void> {
    try {
      if (!this.#exited) await this.#removeLeftovers();
    } finally {
      if (!this.#exited) {
        this.#child.kill("SIGTERM");
        const timer = setTimeout(() => {
          if (!this.#exited) this.#child.kill("SIGKILL");
        }, 10_000);
        try {
          await this.#status;
        } finally {
          clearTimeout(timer);
        }
      } else {
        await this.#status;
      }
      await this.#killStrayShims();
      await Deno.remove(this.dir, { recursive: true });
    }
  }

  /**
   * Kills shims of this containerd still running after it stopped, and their
   * children (a logger that never signals ready leaves both behind, blocked).
   * Uses `ps` (Deno needs `--allow-all` to read `/proc`); does nothing
   * without it.
   */
  async #killStrayShims(): Promise<void> {
    let output;
    try {
      output = await new Deno.Command("ps", {
        args: ["-e", "-o", "pid=,ppid=,args="],
        stdin: "null",
        stderr: "null",
      }).output();
    } catch {
      return; // no ps
    }
    const processes = decoder.decode(output.stdout).split("\n").map((line) =>
      /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)
    ).filter((m) => m !== null).map((m) => ({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      args: m[3],
    }));
    const doomed = new Set(
      processes.filter((p) =>
        /containerd-shim/.test(p.args.split(" ")[0]) &&
        ` ${p.args} `.includes(` -address ${this.socket} `)
      ).map((p) => p.pid),
    );
    for (let grew = true; grew;) {
      grew = false;
      for (const p of processes) {
        if (doomed.has(p.ppid) && !doomed.has(p.pid)) {
          doomed.add(p.pid);
          grew = true;
        }
      }
    }
    for (const pid of doomed) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  async #removeLeftovers(): Promise<void> {
    const list = await this.ctr(["containers", "list", "--quiet"]);
    for (const id of list.stdout.split("\n").filter((line) => line !== "")) {
      await this.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
      await this.ctr(["tasks", "delete", "--force", id]);
      await this.ctr(["containers", "delete", id]);
    }
  }
}

/**
 * Builds a root filesystem folder holding `bin/busybox` (copied from
 * `/bin/busybox`) and symlinks to it for {@linkcode BUSYBOX_COMMANDS}.
 *
 * @param path The folder to create.
 */
export async function buildRootfs(path: string): Promise<void> {
  await Deno.mkdir(`${path}/bin`, { recursive: true });
  await Deno.copyFile("/bin/busybox", `${path}/bin/busybox`);
  await Deno.chmod(`${path}/bin/busybox`, 0o755);
  for (const command of BUSYBOX_COMMANDS) {
    await Deno.symlink("busybox", `${path}/bin/${command}`);
  }
}

/**
 * Starts a private containerd, runs `fn` with it, and stops it whatever
 * happens.
 *
 * @param fn What to do with the running containerd.
 */
export async function withContainerd(
  fn: (containerd: Containerd) => Promise<void>,
): Promise<void> {
  const containerd = await Containerd.start();
  try {
    await fn(containerd);
  } finally {
    await containerd.stop();
  }
}

/** A container id unlikely to collide with anything else on the machine. */
export function containerId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

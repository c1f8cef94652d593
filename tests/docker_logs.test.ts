/**
 * Docker's own reader agrees with logs.ts: a private Docker Engine (Debian's
 * `docker.io`) reads a file our driver wrote, placed as a stopped
 * container's log, with `docker logs`, and logs.ts reads the same file.
 * Lines are under 16 KiB, where Docker's count of pieces and our count of
 * lines agree.
 */

import assert from "node:assert/strict";
import { buildRootfs } from "./_peers/containerd.ts";
import { peerTest } from "./_peers/require.ts";
import { startDriver } from "./_driver_process.ts";

const LOGS = new URL("../logs.ts", import.meta.url).pathname;
const dec = new TextDecoder();
const enc = new TextEncoder();

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: string[]): Promise<Output> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdin: "null",
  }).output();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

/** A Docker Engine on a private socket, data root and exec root. */
class DockerEngine {
  readonly socket: string;
  #child: Deno.ChildProcess;

  private constructor(readonly dir: string, child: Deno.ChildProcess) {
    this.socket = `${dir}/docker.sock`;
    this.#child = child;
  }

  static async start(): Promise<DockerEngine> {
    const dir = await Deno.makeTempDir({ prefix: "shimlog-docker-" });
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'd=$1; exec dockerd --data-root "$d/data" --exec-root "$d/exec" ' +
        '-H "unix://$d/docker.sock" --pidfile "$d/docker.pid" ' +
        "--iptables=false --bridge=none --storage-driver vfs " +
        '>"$d/dockerd.log" 2>&1',
        "sh",
        dir,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const engine = new DockerEngine(dir, child);
    let exited = false;
    child.status.then(() => exited = true);
    try {
      for (let i = 0; i < 600; i++) {
        if (exited) break;
        if ((await engine.docker(["version"])).code === 0) return engine;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `dockerd did not answer; its log:\n${await Deno.readTextFile(
          `${dir}/dockerd.log`,
        ).catch(() => "")}`,
      );
    } catch (error) {
      await engine.stop();
      throw error;
    }
  }

  docker(args: string[]): Promise<Output> {
    return run("docker", ["-H", `unix://${this.socket}`, ...args]);
  }

  /** Stops dockerd (SIGTERM, then SIGKILL), waits, removes its folders. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // exited already
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 20_000);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Writes an app's output through the real driver; returns the log file. */
async function writeWithDriver(dir: string): Promise<string> {
  const path = `${dir}/ours-json.log`;
  const d = await startDriver(dir, ["log-path", path, "tag", "web {{.ID}}"]);
  try {
    await d.ready;
    const lines = [
      "plain line",
      'escapes <&> " \\ \t \x01 \x7f',
      "unicode é 😀 \u2028 \u2029",
      "",
      "x".repeat(16_000),
      "crlf\r",
    ];
    for (let i = 0; i < 40; i++) {
      await d.stdout.write(enc.encode(`${i} ${lines[i % lines.length]}\n`));
      if (i % 3 === 0) await d.stderr.write(enc.encode(`err ${i}\n`));
    }
    await d.stdout.write(enc.encode("final fragment"));
  } finally {
    const { code, stderr } = await d.finish();
    assert.equal(code, 0, stderr);
  }
  return path;
}

peerTest(
  "docker logs (plain, -t, --tail, --details, --since) and logs.ts print the same for a file our driver wrote",
  {
    needs: ["dockerd", "docker", "containerd", "runc", "/bin/busybox"],
    root: true,
  },
  async () => {
    const work = await Deno.makeTempDir({ prefix: "shimlog-docker-work-" });
    try {
      const ours = await writeWithDriver(work);
      const engine = await DockerEngine.start();
      try {
        await buildRootfs(`${work}/rootfs`);
        const tar = await run("sh", [
          "-c",
          'tar -C "$1" -c . | docker -H "unix://$2" import - shimlog-test:1',
          "sh",
          `${work}/rootfs`,
          engine.socket,
        ]);
        assert.equal(tar.code, 0, tar.stderr);
        const started = await engine.docker([
          "run",
          "--network",
          "none",
          "--name",
          "stopped",
          "shimlog-test:1",
          "/bin/echo",
        ]);
        assert.equal(started.code, 0, started.stderr);
        const logPath =
          (await engine.docker(["inspect", "-f", "{{.LogPath}}", "stopped"]))
            .stdout.trim();
        assert.match(logPath, /-json\.log$/);
        await Deno.copyFile(ours, logPath);

        const firstTime = JSON.parse(
          (await Deno.readTextFile(ours)).split("\n")[10],
        ).time;
        const cases = [
          [],
          ["-t"],
          ["--tail", "5"],
          ["--tail", "5", "-t"],
          ["--tail", "0"],
          ["--details"],
          ["--since", firstTime, "-t"],
        ];
        for (const flags of cases) {
          const docker = await engine.docker(["logs", ...flags, "stopped"]);
          assert.equal(docker.code, 0, docker.stderr);
          const mine = await run(Deno.execPath(), [
            "run",
            "--no-prompt",
            `--allow-read=${work}`,
            LOGS,
            ...flags,
            "--path",
            ours,
          ]);
          assert.equal(mine.code, 0, mine.stderr);
          assert.equal(mine.stdout, docker.stdout, `stdout of ${flags}`);
          assert.equal(mine.stderr, docker.stderr, `stderr of ${flags}`);
        }
        const all = await engine.docker(["logs", "stopped"]);
        assert.ok(all.stdout.endsWith("final fragment"));
        assert.ok(all.stderr.includes("err 39\n"));
      } finally {
        await engine.stop();
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);

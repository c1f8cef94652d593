/**
 * Tests that need a real peer (containerd, runc, Docker Engine…): skipped
 * with a clear message when the peer is absent, unless the environment has
 * `SHIMLOG_REQUIRE_PEERS=1` (as `.ci/run` sets), in which case they fail.
 *
 * Needs `--allow-env` (to read `PATH` and `SHIMLOG_REQUIRE_PEERS`),
 * `--allow-read` (to look for executables) and `--allow-sys` (for `root`).
 *
 * @module
 */

/** What a peer test needs from the machine. */
export interface PeerNeeds {
  /**
   * Executables that must be found on `PATH`, e.g. `["containerd", "ctr"]`,
   * or at a given path (a name holding a `/`, e.g. `/bin/busybox`).
   */
  needs: readonly string[];
  /**
   * Whether the test must run as root (containerd and runc need it).
   *
   * @default {false}
   */
  root?: boolean;
}

/** Whether `SHIMLOG_REQUIRE_PEERS=1`: absent peers fail instead of skipping. */
export function peersRequired(): boolean {
  const variable = "SHIMLOG_REQUIRE_PEERS";
  const { state } = Deno.permissions.querySync({ name: "env", variable });
  return state === "granted" && Deno.env.get(variable) === "1";
}

/**
 * Finds an executable on `PATH`, as a shell would.
 *
 * @param name The executable's name, or its path when it holds a `/`.
 * @returns Its absolute path, or `undefined` when not found.
 */
export function findExecutable(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({
    name: "env",
    variable: "PATH",
  });
  const path = state === "granted" ? Deno.env.get("PATH") ?? "" : "";
  const candidates = name.includes("/")
    ? [name]
    : path.split(":").filter((dir) => dir.startsWith("/")).map((dir) =>
      `${dir}/${name}`
    );
  for (const candidate of candidates) {
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return candidate;
    } catch {
      // not there: keep looking
    }
  }
  return undefined;
}

/**
 * Why the machine cannot run a peer test, or `undefined` when it can.
 *
 * @param needs What the test needs.
 * @returns A sentence naming what is missing.
 */
export function missingPeers(needs: PeerNeeds): string | undefined {
  const reasons: string[] = [];
  const env = Deno.permissions.querySync({ name: "env", variable: "PATH" });
  if (env.state !== "granted") {
    reasons.push("cannot read PATH (needs --allow-env)");
  }
  const missing = needs.needs.filter((name) => !findExecutable(name));
  const names = missing.filter((name) => !name.includes("/"));
  const paths = missing.filter((name) => name.includes("/"));
  if (names.length > 0) reasons.push(`${names.join(", ")} not found on PATH`);
  if (paths.length > 0) reasons.push(`no executable ${paths.join(", ")}`);
  if (needs.root) {
    const { state } = Deno.permissions.querySync({ name: "sys", kind: "uid" });
    if (state !== "granted") {
      reasons.push("cannot tell whether running as root (needs --allow-sys)");
    } else if (Deno.uid() !== 0) {
      reasons.push("not running as root");
    }
  }
  return reasons.length === 0 ? undefined : reasons.join("; ");
}

const warned = new Set<string>();

/**
 * Registers a test that needs real peers. When they are missing, the test is
 * registered as ignored, with the reason in its name and in a warning on
 * stderr; with `SHIMLOG_REQUIRE_PEERS=1` it is registered as a test that
 * fails with that reason.
 *
 * @param name The test's name.
 * @param needs What the test needs from the machine.
 * @param fn The test.
 */
export function peerTest(
  name: string,
  needs: PeerNeeds,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void {
  const missing = missingPeers(needs);
  if (missing === undefined) {
    Deno.test(name, fn);
  } else if (peersRequired()) {
    Deno.test(name, () => {
      throw new Error(
        `Cannot run this peer test: ${missing} (SHIMLOG_REQUIRE_PEERS=1 ` +
          "makes a missing peer a failure)",
      );
    });
  } else {
    if (!warned.has(missing)) {
      warned.add(missing);
      console.warn(
        `Skipping peer tests: ${missing}. Install the peers (the Debian ` +
          "packages in .ci/run) and run as root, or set " +
          "SHIMLOG_REQUIRE_PEERS=1 to make this a failure.",
      );
    }
    Deno.test({ name: `${name} (skipped: ${missing})`, ignore: true, fn });
  }
}

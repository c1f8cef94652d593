import assert from "node:assert/strict";
import { loadDriverConfig, parseDriverArgs } from "../src/driver_config.ts";
import { logConfigPath } from "../src/log_paths.ts";
import { logPathFor, openSink } from "../src/sinks.ts";

function env(vars: Record<string, string>) {
  return { get: (name: string) => vars[name] };
}
const ids = { CONTAINER_ID: "c1", CONTAINER_NAMESPACE: "default" };

Deno.test("parseDriverArgs() reads containerd's key value pairs in any order", () => {
  assert.deepEqual(parseDriverArgs(["max-file", "3", "max-size", "10m"]), {
    "max-size": "10m",
    "max-file": "3",
  });
  assert.throws(() => parseDriverArgs(["max-size"]), /odd count/);
  assert.throws(
    () => parseDriverArgs(["a", "1", "a", "2"]),
    /"a": given twice/,
  );
});

Deno.test("loadDriverConfig() requires CONTAINER_ID and CONTAINER_NAMESPACE and validates them as containerd", async () => {
  await assert.rejects(
    loadDriverConfig([], env({ CONTAINER_NAMESPACE: "default" })),
    /Missing CONTAINER_ID/,
  );
  await assert.rejects(
    loadDriverConfig([], env({ ...ids, CONTAINER_ID: "../x" })),
    { name: "RangeError", message: /container id.*"\.\.\/x"/ },
  );
  await assert.rejects(
    loadDriverConfig([], env({ ...ids, CONTAINER_NAMESPACE: "a/b" })),
    /namespace.*"a\/b"/,
  );
});

Deno.test("loadDriverConfig() takes log-config.json from the data root, and argv wins over it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const path = logConfigPath(root, "default", "c1");
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        driver: "json-file",
        opts: { "max-size": "1m", "max-file": "2" },
        labels: { app: "web" },
        env: { A: "1" },
      }),
    );
    const config = await loadDriverConfig(
      ["max-file", "5", "data-root", root],
      env(ids),
    );
    assert.equal(config.driver, "json-file");
    assert.deepEqual(config.opts, { "max-size": "1m", "max-file": "5" });
    assert.deepEqual(config.labels, { app: "web" });
    assert.deepEqual(config.env, { A: "1" });
    assert.equal(
      logPathFor(config),
      `${root}/containers/default/c1/c1-json.log`,
    );
    await Deno.writeTextFile(path, "{not json");
    await assert.rejects(
      loadDriverConfig(["data-root", root], env(ids)),
      { name: "SyntaxError", message: /log-config\.json/ },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("openSink() refuses an unknown driver or key, naming it and the accepted ones", async () => {
  const base = await loadDriverConfig(
    ["log-path", "/tmp/never/x.log"],
    env(ids),
  );
  assert.throws(() => openSink({ ...base, driver: "syslogg" }), {
    message: /Unknown log driver "syslogg"; valid drivers: json-file/,
  });
  assert.throws(() => openSink({ ...base, opts: { colour: "red" } }), {
    message:
      /Unknown log opt "colour" for json-file log driver; valid options: compress, .*max-size/,
  });
});

Deno.test("logPathFor() says why when there is neither data-root nor log-path", async () => {
  const config = await loadDriverConfig([], env(ids));
  assert.throws(() => logPathFor(config), /data-root or log-path.*no HOME/);
});

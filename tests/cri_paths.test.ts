import assert from "node:assert/strict";
import { CriSink } from "../src/cri_sink.ts";
import type { DriverConfig } from "../src/driver_config.ts";
import {
  criLogDir,
  criLogRuns,
  latestCriLogPath,
  nextCriLogPath,
} from "../src/log_paths.ts";
import { LOG_DRIVERS, logPathFor, openSink } from "../src/sinks.ts";

function config(
  driver: string,
  dataRoot: string | undefined,
  opts: Record<string, string> = {},
): DriverConfig {
  return {
    id: "c1",
    namespace: "ns",
    driver,
    dataRoot,
    opts,
    labels: {},
    env: {},
  };
}

Deno.test("criLogDir() is <data-root>/pods/<namespace>_<id>/<id>, kubelet's layout", () => {
  assert.equal(
    criLogDir("/data", "default", "web"),
    "/data/pods/default_web/web",
  );
  assert.equal(
    criLogDir("/data/", "k8s.io", "web"),
    "/data/pods/k8s.io_web/web",
  );
});

Deno.test("nextCriLogPath() is 0.log for a first run, then one past the highest run with a log", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = criLogDir(root, "ns", "c1");
    assert.equal(nextCriLogPath(root, "ns", "c1"), `${dir}/0.log`);
    assert.equal(latestCriLogPath(root, "ns", "c1"), undefined);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/0.log`, "");
    assert.equal(nextCriLogPath(root, "ns", "c1"), `${dir}/1.log`);
    // Only rotated files of run 4 left: 4 is still taken.
    await Deno.writeTextFile(`${dir}/4.log.20261129-155416.gz`, "");
    await Deno.writeTextFile(`${dir}/notes.txt`, "");
    await Deno.writeTextFile(`${dir}/9.log~`, "");
    assert.deepEqual(criLogRuns(dir), [0, 4]);
    assert.equal(nextCriLogPath(root, "ns", "c1"), `${dir}/5.log`);
    assert.equal(latestCriLogPath(root, "ns", "c1"), `${dir}/4.log`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("logPathFor() gives cri and k8s-file the next run's N.log; log-path overrides", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const driver of ["cri", "k8s-file"]) {
      assert.equal(
        logPathFor(config(driver, root)),
        `${root}/pods/ns_c1/c1/0.log`,
      );
      assert.equal(
        logPathFor(config(driver, undefined, { "log-path": "/x/y.log" })),
        "/x/y.log",
      );
      assert.throws(
        () => logPathFor(config(driver, undefined)),
        /data-root or log-path/,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("openSink() opens a CriSink for cri and k8s-file, a new N.log per run", async () => {
  const root = await Deno.makeTempDir();
  try {
    assert.deepEqual(LOG_DRIVERS, ["json-file", "cri", "k8s-file"]);
    const first = openSink(config("cri", root, { "max-size": "10Mi" }));
    assert.ok(first.sink instanceof CriSink);
    assert.equal(first.path, `${root}/pods/ns_c1/c1/0.log`);
    await first.sink.close();
    const second = openSink(config("k8s-file", root));
    assert.ok(second.sink instanceof CriSink);
    assert.equal(second.path, `${root}/pods/ns_c1/c1/1.log`);
    await second.sink.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("openSink() refuses json-file options for cri, naming the key and listing the valid ones", () => {
  assert.throws(
    () => openSink(config("cri", "/nonexistent", { compress: "true" })),
    {
      name: "RangeError",
      message:
        'Unknown log opt "compress" for cri log driver; valid options: log-path, max-file, max-line-size, max-size',
    },
  );
  assert.throws(
    () => openSink(config("k8s-file", "/nonexistent", { "max-size": "10m" })),
    { name: "RangeError", message: /^Invalid max-size "10m": "m" means milli/ },
  );
  assert.throws(
    () => openSink(config("crio", "/nonexistent")),
    /Unknown log driver "crio"; valid drivers: json-file, cri, k8s-file/,
  );
});

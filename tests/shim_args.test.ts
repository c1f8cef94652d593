import assert from "node:assert/strict";
import {
  defaultDataRoot,
  parseShimArgs,
  SHIM_LOG_DRIVERS,
} from "../src/shim_args.ts";

const ENV = { HOME: "/home/me" };
const parse = (args: string[], env: Record<string, string> = ENV) =>
  parseShimArgs(args, { env, cwd: "/work" });

Deno.test("parseShimArgs() fills in nerdctl's defaults", () => {
  const args = parse([]);
  assert.match(args.id, /^[0-9a-f]{64}$/);
  assert.notEqual(parse([]).id, args.id, "a new random id each time");
  assert.deepEqual({ ...args, id: "" }, {
    command: [],
    logDriver: "json-file",
    logOpts: {},
    id: "",
    namespace: "default",
    dataRoot: "/home/me/.local/share/shimlog",
    labels: {},
    env: {},
    tty: false,
    interactive: false,
    help: false,
  });
});

Deno.test("parseShimArgs() stops at the first argument that is not an option, or after --", () => {
  assert.deepEqual(parse(["--name", "a", "ls", "--name", "b", "-l"]).command, [
    "ls",
    "--name",
    "b",
    "-l",
  ]);
  const args = parse(["--name=a", "--", "--weird-command", "x"]);
  assert.equal(args.id, "a");
  assert.deepEqual(args.command, ["--weird-command", "x"]);
  assert.deepEqual(parse(["--name", "a", "--"]).command, []);
});

Deno.test("parseShimArgs() reads every option, repeated ones in order", () => {
  const args = parse([
    "--log-driver",
    "json-file",
    "--log-opt",
    "max-size=10m",
    "--log-opt=max-file=3",
    "--log-opt",
    "max-size=1k",
    "--name",
    "web.1",
    "--namespace",
    "k8s.io",
    "--data-root",
    "/var/lib/shimlog/",
    "--label",
    "team=web",
    "--label",
    "empty",
    "--label",
    "eq=a=b",
    "-e",
    "A=1",
    "-eB=",
    "--env",
    "C=x=y",
    "app",
  ]);
  assert.deepEqual(args, {
    command: ["app"],
    logDriver: "json-file",
    logOpts: { "max-size": "1k", "max-file": "3" },
    id: "web.1",
    namespace: "k8s.io",
    dataRoot: "/var/lib/shimlog",
    labels: { team: "web", empty: "", eq: "a=b" },
    env: { A: "1", B: "", C: "x=y" },
    tty: false,
    interactive: false,
    help: false,
  });
});

Deno.test("parseShimArgs() copies -e KEY from its environment, and drops it when unset, as docker run", () => {
  const args = parse(["-e", "TERM", "-e", "UNSET"], { ...ENV, TERM: "xterm" });
  assert.deepEqual(args.env, { TERM: "xterm" });
});

Deno.test("parseShimArgs() resolves a relative data root and log-path against the current folder", () => {
  const args = parse([
    "--data-root",
    "data",
    "--log-opt",
    "log-path=../logs/./app.log",
  ]);
  assert.equal(args.dataRoot, "/work/data");
  assert.equal(args.logOpts["log-path"], "/logs/app.log");
});

Deno.test("defaultDataRoot() prefers SHIMLOG_DATA_ROOT, then an absolute XDG_DATA_HOME, then HOME", () => {
  assert.equal(
    defaultDataRoot({
      SHIMLOG_DATA_ROOT: "/s",
      XDG_DATA_HOME: "/x",
      HOME: "/h",
    }),
    "/s",
  );
  assert.equal(
    defaultDataRoot({ XDG_DATA_HOME: "/x/", HOME: "/h" }),
    "/x/shimlog",
  );
  assert.equal(
    defaultDataRoot({ XDG_DATA_HOME: "relative", HOME: "/h" }),
    "/h/.local/share/shimlog",
  );
  assert.equal(defaultDataRoot({ HOME: "" }), null);
});

Deno.test("parseShimArgs() needs no data root for --log-driver none, and takes no --log-opt with it, as Docker", () => {
  assert.equal(parse(["--log-driver", "none"], {}).dataRoot, null);
  assert.throws(
    () => parse(["--log-driver", "none", "--log-opt", "max-size=1m"]),
    new RangeError(
      'Invalid --log-opt "max-size=1m": the none log driver takes no options',
    ),
  );
  assert.throws(
    () => parse([], {}),
    new RangeError(
      "Cannot find a data root: give --data-root, or set SHIMLOG_DATA_ROOT, XDG_DATA_HOME or HOME",
    ),
  );
});

Deno.test("parseShimArgs() takes -h and --help", () => {
  assert.equal(parse(["-h"]).help, true);
  assert.equal(parse(["--help", "ls"]).help, true);
  assert.equal(parse(["ls", "--help"]).help, false);
});

Deno.test("parseShimArgs() takes -t/--tty and -i/--interactive, alone or as -it", () => {
  const flags = (args: string[]) => {
    const { tty, interactive, command } = parse(args);
    return { tty, interactive, command };
  };
  assert.deepEqual(flags(["-it", "sh"]), {
    tty: true,
    interactive: true,
    command: ["sh"],
  });
  assert.deepEqual(flags(["-ti", "--", "sh"]), {
    tty: true,
    interactive: true,
    command: ["sh"],
  });
  assert.deepEqual(flags(["--tty", "sh", "-i"]), {
    tty: true,
    interactive: false,
    command: ["sh", "-i"],
  });
  assert.deepEqual(flags(["--interactive", "cat"]), {
    tty: false,
    interactive: true,
    command: ["cat"],
  });
  assert.throws(
    () => parse(["--tty=yes"]),
    new TypeError('Option "--tty" does not take a value'),
  );
});

Deno.test("parseShimArgs() knows the driver's sinks and none", () => {
  assert.ok(SHIM_LOG_DRIVERS.includes("json-file"));
  assert.ok(SHIM_LOG_DRIVERS.includes("none"));
});

Deno.test("parseShimArgs() names the bad value and what is accepted", () => {
  const cases: [string[], Error][] = [
    [
      ["--bogus"],
      new TypeError(
        'Unknown option "--bogus": accepted options are --log-driver, --log-opt, --name, --namespace, --data-root, --label, -e/--env, -t/--tty, -i/--interactive, -h/--help',
      ),
    ],
    [
      ["-x", "ls"],
      new TypeError(
        'Unknown option "-x": accepted options are --log-driver, --log-opt, --name, --namespace, --data-root, --label, -e/--env, -t/--tty, -i/--interactive, -h/--help',
      ),
    ],
    [["--name"], new TypeError('Option "--name" needs a value')],
    [["-e"], new TypeError('Option "-e" needs a value')],
    [["--help=yes"], new TypeError('Option "--help" does not take a value')],
    [
      ["--log-driver", "syslog"],
      new RangeError(
        `Invalid --log-driver "syslog": expected one of ${
          SHIM_LOG_DRIVERS.join(", ")
        }`,
      ),
    ],
    [
      ["--log-opt", "foo"],
      new RangeError('Invalid --log-opt "foo": expected KEY=VALUE'),
    ],
    [
      ["--log-opt", "=v"],
      new RangeError('Invalid --log-opt "=v": expected KEY=VALUE'),
    ],
    [
      ["--label", "=v"],
      new RangeError('Invalid --label "=v": expected KEY=VALUE'),
    ],
    [["--env", "=v"], new RangeError('Invalid --env "=v": expected KEY=VALUE')],
    [
      ["--data-root", ""],
      new RangeError('Invalid --data-root "": it must not be empty'),
    ],
    [
      ["--data-root", "/a,b"],
      new RangeError(
        'Invalid --data-root "/a,b": a path for the log driver cannot contain ","',
      ),
    ],
    [
      ["--log-opt", "log-path=/a,b/x.log"],
      new RangeError(
        'Invalid --log-opt log-path "/a,b/x.log": a path for the log driver cannot contain ","',
      ),
    ],
  ];
  for (const [args, error] of cases) {
    assert.throws(() => parse(args), error, args.join(" "));
  }
  assert.throws(
    () => parse(["--name", "../x"]),
    /^RangeError: Invalid --name "\.\.\/x"/,
  );
  assert.throws(
    () => parse(["--namespace", ""]),
    /^RangeError: Invalid --namespace ""/,
  );
});

Deno.test("parseShimArgs() refuses driver arguments given as log opts, and an empty log-path", () => {
  assert.throws(
    () => parseShimArgs(["--log-opt", "log-driver=cri", "ls"]),
    {
      name: "RangeError",
      message:
        /"log-driver=cri": log-driver is not a log opt; use --log-driver/,
    },
  );
  assert.throws(
    () => parseShimArgs(["--log-opt", "data-root=/x", "ls"]),
    /use --data-root/,
  );
  assert.throws(
    () => parseShimArgs(["--log-opt", "log-path=", "ls"]),
    /"log-path=": expected the path/,
  );
});

Deno.test("shim.ts --help prints the usage without any permission", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--no-config",
      new URL("../shim.ts", import.meta.url).pathname,
      "--help",
    ],
    clearEnv: true,
    env: {
      ...(Deno.env.get("HOME") ? { HOME: Deno.env.get("HOME")! } : {}),
      ...(Deno.env.get("DENO_DIR")
        ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
        : {}),
    },
  }).output();
  assert.equal(new TextDecoder().decode(stderr), "");
  assert.equal(code, 0);
  assert.ok(new TextDecoder().decode(stdout).startsWith("Usage: "));
});

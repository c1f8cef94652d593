import assert from "node:assert/strict";
import { parseAppArgs } from "../src/app_args.ts";
import {
  type AppClock,
  appLine,
  appLineChunks,
  runApp,
} from "../src/app_output.ts";

const APP = new URL("../app.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

function collector() {
  const chunks: Uint8Array[] = [];
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk);
    },
  });
  return {
    stream,
    chunks,
    text: () => chunks.map((c) => decoder.decode(c)).join(""),
  };
}

Deno.test("parseAppArgs() defaults to five prints one second apart on stdout, exit 0", () => {
  assert.deepEqual(parseAppArgs([]), {
    count: 5,
    interval: 1000,
    lines: null,
    lineSize: 100,
    newline: true,
    stderr: false,
    exitCode: 0,
    help: false,
  });
});

Deno.test("parseAppArgs() reads every flag", () => {
  assert.deepEqual(
    parseAppArgs([
      "--count",
      "3",
      "--interval=20",
      "--stderr",
      "--exit-code",
      "255",
      "--no-newline",
    ]),
    {
      count: 3,
      interval: 20,
      lines: null,
      lineSize: 100,
      newline: false,
      stderr: true,
      exitCode: 255,
      help: false,
    },
  );
  const fast = parseAppArgs(["--lines", "0", "--line-size", "1", "-h"]);
  assert.equal(fast.lines, 0);
  assert.equal(fast.lineSize, 1);
  assert.equal(fast.help, true);
});

Deno.test("parseAppArgs() names the bad flag or value", () => {
  const cases: [string[], Error][] = [
    [
      ["--bogus"],
      new TypeError(
        'Unknown option "--bogus": accepted options are --count, --interval, --lines, --line-size, --no-newline, --stderr, --exit-code, -h/--help',
      ),
    ],
    [
      ["extra"],
      new TypeError(
        'Unexpected argument "extra": the app takes only options (--count, --interval, --lines, --line-size, --no-newline, --stderr, --exit-code, -h/--help)',
      ),
    ],
    [["--count"], new TypeError('Option "--count" needs a value')],
    [
      ["--stderr=yes"],
      new TypeError('Option "--stderr" does not take a value'),
    ],
    [
      ["--count", "x"],
      new RangeError(
        'Invalid --count "x": expected a whole number from 0 to 9007199254740991',
      ),
    ],
    [
      ["--count", "-1"],
      new RangeError(
        'Invalid --count "-1": expected a whole number from 0 to 9007199254740991',
      ),
    ],
    [
      ["--interval", "1.5"],
      new RangeError(
        'Invalid --interval "1.5": expected a whole number from 0 to 2147483647',
      ),
    ],
    [
      ["--exit-code", "256"],
      new RangeError(
        'Invalid --exit-code "256": expected a whole number from 0 to 255',
      ),
    ],
    [
      ["--lines", "2", "--line-size", "0"],
      new RangeError(
        'Invalid --line-size "0": expected a whole number from 1 to 2147483647',
      ),
    ],
    [
      ["--line-size", "10"],
      new RangeError('Option "--line-size" needs "--lines"'),
    ],
    [
      ["--lines", "2", "--count", "1"],
      new RangeError('Option "--count" cannot be combined with "--lines"'),
    ],
  ];
  for (const [args, error] of cases) {
    assert.throws(() => parseAppArgs(args), error, args.join(" "));
  }
});

Deno.test("appLine() holds the line number, letters by column, and a newline, in exactly size bytes", () => {
  assert.equal(appLine(0, 10), "0 cdefghi\n");
  assert.equal(appLine(41, 30), "41 defghijklmnopqrstuvwxyzabc\n");
  assert.equal(appLine(12345, 4), "123\n", "a short line holds a cut number");
  assert.equal(appLine(5, 1), "\n");
  assert.throws(() => appLine(0, 0), RangeError);
});

Deno.test("appLineChunks() yields the lines back to back, in full chunks whatever the line size", () => {
  for (
    const [lines, lineSize, chunkSize] of [[50, 7, 16], [3, 100, 16], [
      1000,
      100,
      65536,
    ], [2, 200_000, 65536]]
  ) {
    const chunks = [...appLineChunks(lines, lineSize, { chunkSize })];
    const expected = [...Array(lines).keys()].map((i) => appLine(i, lineSize))
      .join("");
    assert.equal(chunks.map((c) => decoder.decode(c)).join(""), expected);
    for (const chunk of chunks.slice(0, -1)) {
      assert.equal(chunk.length, chunkSize);
    }
    assert.ok(chunks.at(-1)!.length <= chunkSize);
  }
});

Deno.test("appLineChunks() leaves the newline off the last line with newline: false", () => {
  const text = [...appLineChunks(3, 5, { newline: false, chunkSize: 4 })]
    .map((c) => decoder.decode(c)).join("");
  assert.equal(text, "0 cd\n1 cd\n2 cd");
  assert.deepEqual([...appLineChunks(0, 5)], []);
});

Deno.test("runApp() prints the clock count times, interval apart, as ISO 8601", async () => {
  const sleeps: number[] = [];
  let tick = Date.UTC(2024, 0, 2, 3, 4, 5, 600);
  const clock: AppClock = {
    now: () => new Date(tick),
    sleep: (ms) => {
      sleeps.push(ms);
      tick += ms;
      return Promise.resolve();
    },
  };
  const out = collector();
  await runApp(
    parseAppArgs(["--count", "3", "--interval", "250"]),
    out.stream,
    clock,
  );
  assert.equal(
    out.text(),
    "2024-01-02T03:04:05.600Z\n2024-01-02T03:04:05.850Z\n2024-01-02T03:04:06.100Z\n",
  );
  assert.deepEqual(
    sleeps,
    [250, 250],
    "no wait before the first or after the last",
  );

  const last = collector();
  await runApp(
    parseAppArgs(["--count", "1", "--no-newline"]),
    last.stream,
    clock,
  );
  assert.equal(last.text(), "2024-01-02T03:04:06.100Z");
});

Deno.test("runApp() writes fast mode's lines and leaves the stream open", async () => {
  const out = collector();
  await runApp(parseAppArgs(["--lines", "2", "--line-size", "6"]), out.stream);
  assert.equal(out.text(), "0 cde\n1 cde\n");
  const writer = out.stream.getWriter(); // not closed, not locked
  await writer.close();
});

async function app(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", APP, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

Deno.test("app.ts writes --lines to stdout and exits with --exit-code, with no permissions", async () => {
  const { code, stdout, stderr } = await app([
    "--lines",
    "3",
    "--line-size",
    "10",
    "--exit-code",
    "3",
  ]);
  assert.equal(code, 3);
  assert.equal(stdout, "0 cdefghi\n1 cdefghi\n2 cdefghi\n");
  assert.equal(stderr, "");
});

Deno.test("app.ts --stderr writes to stderr only", async () => {
  const { code, stdout, stderr } = await app([
    "--count",
    "2",
    "--interval",
    "50",
    "--stderr",
  ]);
  assert.equal(code, 0);
  assert.equal(stdout, "");
  const times = stderr.split("\n").slice(0, -1).map((t) => Date.parse(t));
  assert.equal(times.length, 2);
  assert.ok(times[1] - times[0] >= 45, `${times[1] - times[0]} ms apart`);
});

Deno.test("app.ts exits 2 with a message and no stack trace for a bad flag", async () => {
  const { code, stdout, stderr } = await app(["--count", "many"]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    'app: Invalid --count "many": expected a whole number from 0 to 9007199254740991\nRun "app.ts --help" for usage.\n',
  );
});

Deno.test("app.ts exits 141, as if killed by SIGPIPE, and quietly when its reader goes away", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", APP, "--lines", "10000000"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.equal(decoder.decode(first.value!).slice(0, 7), "0 cdefg");
  await reader.cancel();
  assert.equal((await child.status).code, 141);
  assert.equal(await stderr, "");
});

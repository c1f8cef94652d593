import assert from "node:assert/strict";
import { parseLogsArgs, parseTimeArg } from "../src/logs_args.ts";

const NOW = { sec: 1795967634, nsec: 123_456_789 };

Deno.test("parseLogsArgs() reads docker logs' flags, with defaults", () => {
  assert.deepEqual(parseLogsArgs(["web"], { now: NOW, cwd: "/" }), {
    id: "web",
    namespace: "default",
    follow: false,
    tail: Infinity,
    timestamps: false,
    details: false,
    help: false,
  });
  const all = parseLogsArgs(
    [
      "-f",
      "-t",
      "-n",
      "5",
      "--details",
      "--since",
      "1795967000",
      "--until=2026-11-29T15:53:54Z",
      "--namespace",
      "k8s.io",
      "--data-root",
      "rel/root",
      "web",
    ],
    { now: NOW, cwd: "/home/me" },
  );
  assert.deepEqual(all, {
    id: "web",
    namespace: "k8s.io",
    follow: true,
    tail: 5,
    timestamps: true,
    details: true,
    help: false,
    dataRoot: "/home/me/rel/root",
    since: { sec: 1795967000, nsec: 0 },
    until: { sec: 1795967634, nsec: 0 },
  });
  assert.equal(parseLogsArgs(["--tail", "all", "x"]).tail, Infinity);
  assert.equal(parseLogsArgs(["--tail=0", "x"]).tail, 0);
  // A negative count means all, as Docker's daemon; written either way.
  assert.equal(parseLogsArgs(["--tail", "-1", "x"]).tail, Infinity);
  assert.equal(parseLogsArgs(["-n", "-5", "x"]).tail, Infinity);
  assert.equal(parseLogsArgs(["--tail=-1", "x"]).tail, Infinity);
  assert.equal(parseLogsArgs(["-n=-3", "x"]).tail, Infinity);
  assert.equal(parseLogsArgs(["-n=4", "x"]).tail, 4);
  assert.equal(parseLogsArgs(["--tail", "-0", "x"]).tail, 0, "Atoi: 0");
  assert.equal(
    parseLogsArgs(["--path", "a.log"], { cwd: "/logs" }).path,
    "/logs/a.log",
  );
  assert.equal(parseLogsArgs(["-h"]).help, true);
  // --until 0 is no limit, as the Docker daemon takes it; --since 0 is the
  // epoch, which is no limit either.
  assert.equal(
    parseLogsArgs(["--until", "0", "x"], { now: NOW }).until,
    undefined,
  );
  assert.deepEqual(parseLogsArgs(["--since", "0", "x"], { now: NOW }).since, {
    sec: 0,
    nsec: 0,
  });
});

Deno.test("parseLogsArgs() refuses bad flags with TypeError, RangeError or SyntaxError", () => {
  const cases: [string[], ErrorConstructor, RegExp][] = [
    [["--follow=yes", "x"], TypeError, /--follow/],
    [["--tail"], TypeError, /--tail/],
    [
      ["--namespace", "-x", "x"],
      TypeError,
      /ambiguous \(write a value that starts with - as --flag=VALUE\)$/,
    ],
    [["--tail=-1.5", "x"], RangeError, /Invalid --tail "-1.5"/],
    [["--tail", "1.5", "x"], RangeError, /Invalid --tail "1.5"/],
    [["--since", "10 minutes", "x"], SyntaxError, /Invalid --since/],
    // Fields out of range, in each form a date takes.
    ...[
      "2026-13-01T00:00:00Z",
      "2026-02-30T00:00:00+01:00",
      "2026-11-29T99:99:99Z",
      "2026-02-30",
      "2026-02-30Z",
      "2026-11-29T10:60:00",
      "2026-11-29T23:59:60",
    ].map((t): [string[], ErrorConstructor, RegExp] => [
      ["--until", t, "x"],
      SyntaxError,
      new RegExp(
        `^Invalid --until "${t.replace("+", "\\+")}": expected RFC 3339`,
      ),
    ]),
    [["--namespace", "a/b", "x"], RangeError, /Invalid --namespace "a\/b"/],
    [["--data-root", "", "x"], RangeError, /--data-root ""/],
    [["--path", ""], TypeError, /--path needs a file/],
  ];
  for (const [args, type, message] of cases) {
    assert.throws(
      () => parseLogsArgs(args, { now: NOW }),
      (e: unknown) => e instanceof type && message.test((e as Error).message),
      args.join(" "),
    );
  }
});

Deno.test("parseTimeArg() reads RFC 3339 with Z or an offset to the nanosecond", () => {
  assert.deepEqual(
    parseTimeArg("2026-11-29T15:53:54.123456789Z", NOW),
    { sec: 1795967634, nsec: 123456789 },
  );
  assert.deepEqual(
    parseTimeArg("2026-11-29T16:53:54.000000001+01:00", NOW),
    { sec: 1795967634, nsec: 1 },
  );
  assert.deepEqual(
    parseTimeArg("2026-11-29T10:23:54.5-05:30", NOW),
    { sec: 1795967634, nsec: 500_000_000 },
  );
  assert.deepEqual(parseTimeArg("2026-11-29Z", NOW), {
    sec: 1795910400,
    nsec: 0,
  });
});

Deno.test("parseTimeArg() reads Unix seconds with up to nine fractional digits", () => {
  assert.deepEqual(parseTimeArg("1795967634", NOW), {
    sec: 1795967634,
    nsec: 0,
  });
  assert.deepEqual(parseTimeArg("1795967634.5", NOW), {
    sec: 1795967634,
    nsec: 500_000_000,
  });
  assert.deepEqual(parseTimeArg("0.000000001", NOW), { sec: 0, nsec: 1 });
  assert.throws(() => parseTimeArg("1.0000000001", NOW), SyntaxError);
});

Deno.test("parseTimeArg() reads Go durations as a time that long ago", () => {
  const ago = (text: string) => parseTimeArg(text, NOW);
  assert.deepEqual(ago("10m"), { sec: NOW.sec - 600, nsec: NOW.nsec });
  assert.deepEqual(ago("1h30m"), { sec: NOW.sec - 5400, nsec: NOW.nsec });
  assert.deepEqual(ago("1.5h"), { sec: NOW.sec - 5400, nsec: NOW.nsec });
  assert.deepEqual(ago("100ms"), { sec: NOW.sec, nsec: NOW.nsec - 100e6 });
  assert.deepEqual(ago("124ms"), {
    sec: NOW.sec - 1,
    nsec: NOW.nsec + 1e9 - 124e6,
  });
  assert.deepEqual(ago("1us1ns"), { sec: NOW.sec, nsec: NOW.nsec - 1001 });
  assert.deepEqual(ago("-1m"), { sec: NOW.sec + 60, nsec: NOW.nsec });
  assert.deepEqual(ago("0"), { sec: 0, nsec: 0 }, "0 is Unix time 0");
  for (const bad of ["1d", "m", "1h 30m", "ten", ""]) {
    assert.throws(() => ago(bad), SyntaxError, bad);
  }
});

Deno.test("parseTimeArg() reads a date and time without a zone as local time, as Docker does", () => {
  const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) =>
    new Date(y, mo - 1, d, h, mi, s).getTime() / 1000;
  assert.deepEqual(parseTimeArg("2026-11-29T16:53:54.25", NOW), {
    sec: local(2026, 11, 29, 16, 53, 54),
    nsec: 250_000_000,
  });
  assert.deepEqual(parseTimeArg("2026-11-29T16:53", NOW), {
    sec: local(2026, 11, 29, 16, 53),
    nsec: 0,
  });
  assert.deepEqual(parseTimeArg("2026-11-29", NOW), {
    sec: local(2026, 11, 29),
    nsec: 0,
  });
  assert.throws(() => parseTimeArg("2026-02-30", NOW), SyntaxError);
});

Deno.test("parseTimeArg() takes every form moby's GetTimestamp takes, and reads a time without a zone at the offset in force now, as Docker", () => {
  // A fixed offset: the machine's at NOW, whatever the date (Docker's
  // time.FixedZone(reference.Zone())).
  const offsetS = -new Date(NOW.sec * 1000).getTimezoneOffset() * 60;
  const utc = (text: string) => Date.parse(text) / 1000;
  const cases: [string, number, number][] = [
    ["2026-11-30T07", utc("2026-11-30T07:00:00Z") - offsetS, 0],
    ["2026-11-30T07:07", utc("2026-11-30T07:07:00Z") - offsetS, 0],
    ["2026-07-01T12:00:00", utc("2026-07-01T12:00:00Z") - offsetS, 0],
    ["2026-11-30T07Z", utc("2026-11-30T07:00:00Z"), 0],
    ["2026-11-30T07:07Z", utc("2026-11-30T07:07:00Z"), 0],
    ["2026-11-30T07+01:00", utc("2026-11-30T06:00:00Z"), 0],
    ["2026-11-30T07:07-05:00", utc("2026-11-30T12:07:00Z"), 0],
    ["2026-11-30T07:07:45,6Z", utc("2026-11-30T07:07:45Z"), 600_000_000],
    ["2026-11-30-05:00", utc("2026-11-30T05:00:00Z"), 0],
  ];
  for (const [text, sec, nsec] of cases) {
    assert.deepEqual(parseTimeArg(text, NOW), { sec, nsec }, text);
  }
  // Refused by Go's layouts as well.
  for (
    const bad of [
      "2026-11-30 07:07:45",
      "2026-11-30t07:07:45Z",
      "2026-11-30T07:07:45z",
      "2026-11-30T7:07Z",
      "2026-11-30T07.5",
      "2026-11-30T07:07+0100",
    ]
  ) {
    assert.throws(() => parseTimeArg(bad, NOW), SyntaxError, bad);
  }
});

Deno.test("parseLogsArgs() takes --since -10m and --tail +3 as Docker does", () => {
  const args = parseLogsArgs(["--since", "-10m", "--tail", "+3", "web"], {
    now: NOW,
  });
  assert.deepEqual(args.since, { sec: NOW.sec + 600, nsec: NOW.nsec });
  assert.equal(args.tail, 3);
});

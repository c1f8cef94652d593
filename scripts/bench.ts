/**
 * The benchmark of issue 5: our driver (`driver.ts`) against goref (the
 * reference driver in `../shared/bench/goref`, built here with `go build`)
 * and a plain pipe copy (`cat`), on the same input files, in the same run.
 *
 * ```sh
 * deno run --allow-run=bash,cat,git,go,setsid --allow-env=HOME,DENO_DIR \
 *   --allow-read=/tmp --allow-write=/tmp,bench-results.json \
 *   scripts/bench.ts [--quick] [--runs N] [--only NAME[,NAME...]]
 * ```
 *
 * Every run feeds an input with `cat FILE |` into fd 3 of a writer started
 * as containerd starts a logging binary, in turn for each writer, `--runs`
 * times; the table shows medians and the issue's targets with PASS or FAIL,
 * and `bench-results.json` keeps every figure and the machine's details.
 * Inputs and outputs live in a temporary folder, removed at the end.
 *
 * A throughput run is timed as a container sees its logger: containerd waits
 * for the logger's ready signal on fd 5 before it starts the task. So each
 * writer is started with its feeding `cat` held behind a gate (a FIFO the
 * `cat` waits on), the bench waits for the ready signal (our byte; goref
 * closes fd 5; for `cat` the shell writes a byte before the `exec`) and 20
 * ms more, then opens the gates: the **wall** time runs from there until the
 * writer exits. Start-up has its own workload (`startup`); the `exec s`
 * column (`execWallS`) keeps the time from the exec, start-up included (less
 * the 20 ms pause, which is the bench's).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  countNewlines,
  criEntries,
  fileSize,
  gorefEntries,
  type Input,
  type InputSpec,
  jsonFileEntries,
  makeInput,
  readRotatedLog,
} from "./_bench_inputs.ts";
import {
  capture,
  captureAll,
  checkInterrupted,
  type Finished,
  handleInterrupts,
  Interrupted,
  openFifo,
  parseTimeOutput,
  pollPeakRss,
  procField,
  readProc,
  type Running,
  sleep,
  spawn,
  TIME_FORMAT,
  type Usage,
} from "./_bench_proc.ts";
import {
  type Contender,
  type ContenderResult,
  type E2eResult,
  type IdleFigures,
  type IdleResult,
  type Machine,
  MEASURED_ELSEWHERE,
  type Medians,
  report,
  type Results,
  type RunFigures,
  type StartupResult,
  type TargetResult,
  type ThroughputResult,
} from "./_bench_report.ts";
import { fixed, median, ratio, times } from "./_bench_table.ts";
import { driverRunArgs } from "../src/driver_command.ts";

// ---------------------------------------------------------------- options

interface Options {
  runs: number;
  quick: boolean;
  only: string[] | null;
  json: string;
  gorefDir: string;
  noGoref: boolean;
  tmpDir: string | undefined;
  timeoutS: number;
  rss: "auto" | "time" | "proc";
}

function usage(): string {
  return `Usage: deno task bench [--quick] [--runs N] [--only NAME[,NAME...]]
   or: deno run --allow-run=bash,cat,git,go,setsid --allow-env=HOME,DENO_DIR \\
         --allow-read=/tmp --allow-write=/tmp,bench-results.json scripts/bench.ts [options]

Benchmarks driver.ts against goref (../shared/bench/goref) and cat, prints a
table of medians with the targets of issue 5, and writes bench-results.json.

  --quick            inputs a tenth of the size (a run takes about a minute)
  --runs N           runs per writer and workload (default 3); medians are shown
  --only NAMES       run only these workloads, comma-separated or repeated:
                     ${workloadNames().join(", ")}
  --json FILE        where to write the results (default bench-results.json)
  --goref-dir DIR    goref's source (default ../shared/bench/goref)
  --no-goref         do not build or run goref
  --tmp-dir DIR      where to make the temporary folder (default: the system's)
  --timeout SECONDS  bound on each process (default 300, 60 with --quick)
  --rss time|proc    peak RSS from /usr/bin/time, or by polling /proc
                     (default: /usr/bin/time when present)
  -h, --help         show this help`;
}

function parseOptions(args: string[]): Options | "help" {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string" },
      quick: { type: "boolean" },
      only: { type: "string", multiple: true },
      json: { type: "string" },
      "goref-dir": { type: "string" },
      "no-goref": { type: "boolean" },
      "tmp-dir": { type: "string" },
      timeout: { type: "string" },
      rss: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const runs = Number(values.runs ?? "3");
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    throw new RangeError(
      `Invalid --runs "${values.runs}": expected an integer from 1 to 100`,
    );
  }
  const quick = values.quick ?? false;
  const timeoutS = Number(values.timeout ?? (quick ? "60" : "300"));
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new RangeError(
      `Invalid --timeout "${values.timeout}": expected a number of seconds`,
    );
  }
  const rss = values.rss ?? "auto";
  if (rss !== "auto" && rss !== "time" && rss !== "proc") {
    throw new RangeError(`Invalid --rss "${rss}": expected time or proc`);
  }
  let only: string[] | null = null;
  if (values.only !== undefined) {
    only = values.only.flatMap((v) => v.split(",")).map((v) => v.trim())
      .filter((v) => v !== "");
    for (const name of only) {
      if (!workloadNames().includes(name)) {
        throw new RangeError(
          `Unknown workload "${name}"; valid workloads: ${
            workloadNames().join(", ")
          }`,
        );
      }
    }
  }
  return {
    runs,
    quick,
    only,
    json: values.json ?? "bench-results.json",
    gorefDir: values["goref-dir"] ??
      fileURLToPath(new URL("../../shared/bench/goref", import.meta.url)),
    noGoref: values["no-goref"] ?? false,
    tmpDir: values["tmp-dir"],
    timeoutS,
    rss,
  };
}

// ---------------------------------------------------------------- workloads

/** Input files, by key; counts are for a full run (a tenth with --quick). */
const INPUTS: Record<string, InputSpec> = {
  "lines-100": { kind: "lines", count: 1_000_000, lineBytes: 100 },
  "lines-100-half": { kind: "lines", count: 500_000, lineBytes: 100 },
  "lines-1k": { kind: "lines", count: 100_000, lineBytes: 1024 },
  "lines-64k": { kind: "lines", count: 1_000, lineBytes: 64 * 1024 },
  "line-256m": { kind: "one-line", bytes: 256 * 1024 * 1024 },
};

/** A target of the issue, judged on the medians of one run of the script. */
type TargetSpec =
  | {
    kind: "ratio";
    of: "goref" | "cat";
    metric: "linesPerS" | "wallS";
    op: ">=" | "<=";
    goal: number;
  }
  | { kind: "overhead"; goal: number };

interface ThroughputWorkload {
  name: string;
  title: string;
  /** Input keys: fd 3, and fd 4 when there are two. */
  inputs: string[];
  contenders: Contender[];
  /** Options for ours (after `log-path FILE`). */
  ourOpts: string[];
  /** How ours' output is checked. */
  check: "json-file" | "cri" | "rotated";
  targets: TargetSpec[];
}

const HUNDRED_BYTE_TARGETS: TargetSpec[] = [
  { kind: "ratio", of: "goref", metric: "linesPerS", op: ">=", goal: 5 },
  { kind: "ratio", of: "cat", metric: "wallS", op: "<=", goal: 5 },
];
const LARGE_LINE_TARGETS: TargetSpec[] = [
  { kind: "ratio", of: "cat", metric: "wallS", op: "<=", goal: 2 },
];
const ROTATION = ["max-size", "10m", "max-file", "5"];
/** ROTATION's `max-size` in bytes (Docker's units are decimal). */
const ROTATE_MAX_SIZE = 10_000_000;
/** ROTATION's `max-file`. */
const ROTATE_MAX_FILE = 5;

const THROUGHPUT: ThroughputWorkload[] = [
  {
    name: "lines-100",
    title: "lines of 100 B",
    inputs: ["lines-100"],
    contenders: ["ours", "ours-sandboxed", "goref", "cat"],
    ourOpts: [],
    check: "json-file",
    targets: HUNDRED_BYTE_TARGETS,
  },
  {
    name: "lines-1k",
    title: "lines of 1 KiB",
    inputs: ["lines-1k"],
    contenders: ["ours", "ours-sandboxed", "goref", "cat"],
    ourOpts: [],
    check: "json-file",
    targets: LARGE_LINE_TARGETS,
  },
  {
    name: "lines-64k",
    title: "lines of 64 KiB",
    inputs: ["lines-64k"],
    contenders: ["ours", "ours-sandboxed", "goref", "cat"],
    ourOpts: [],
    check: "json-file",
    targets: LARGE_LINE_TARGETS,
  },
  {
    name: "line-256m",
    title: "one line, no newline",
    inputs: ["line-256m"],
    contenders: ["ours", "goref", "cat"],
    ourOpts: [],
    check: "json-file",
    targets: LARGE_LINE_TARGETS,
  },
  {
    name: "two-streams",
    title: "stdout and stderr at once, 2 x lines of 100 B",
    inputs: ["lines-100-half", "lines-100-half"],
    contenders: ["ours", "goref", "cat"],
    ourOpts: [],
    check: "json-file",
    targets: HUNDRED_BYTE_TARGETS,
  },
  {
    name: "rotate",
    title: "lines of 100 B, max-size 10m max-file 5",
    inputs: ["lines-100"],
    contenders: ["ours", "ours-plain", "ours-plain-deleting", "cat"],
    ourOpts: ROTATION,
    check: "rotated",
    targets: [
      { kind: "overhead", goal: 0.10 },
      { kind: "ratio", of: "cat", metric: "wallS", op: "<=", goal: 5 },
    ],
  },
  {
    name: "rotate-gzip",
    title: "lines of 100 B, max-size 10m max-file 5 compress true",
    inputs: ["lines-100"],
    contenders: ["ours", "ours-plain", "cat"],
    ourOpts: [...ROTATION, "compress", "true"],
    check: "rotated",
    targets: [],
  },
  {
    name: "cri",
    title: "lines of 100 B, log-driver cri",
    inputs: ["lines-100"],
    contenders: ["ours", "goref", "cat"],
    ourOpts: ["log-driver", "cri"],
    check: "cri",
    // goref writes json-file: its lines/s is the reference all the same.
    targets: HUNDRED_BYTE_TARGETS,
  },
];

const OTHER_SECTIONS = ["startup", "idle", "e2e"];

function workloadNames(): string[] {
  return [...THROUGHPUT.map((w) => w.name), ...OTHER_SECTIONS];
}

/** Peak RSS target for ours, every workload (MB = 10^6 bytes). */
const RSS_GOAL_MB = 100;
const READY_GOAL_MS = 150;
const IDLE_PSS_GOAL_MB = 15;
const E2E_GOAL_S = 1.0;
const STARTUP_SAMPLES = 10;
const IDLE_DRIVERS = 20;

// ---------------------------------------------------------------- context

interface Context {
  opts: Options;
  tmp: string;
  deno: string;
  driver: string;
  shim: string;
  goref: string | null;
  /** `/usr/bin/time` is used for peak RSS and CPU time. */
  time: boolean;
  /** 1, or 0.1 with --quick. */
  scale: number;
  /** The environment of every writer (containerd's, plus Deno's cache). */
  writerEnv: Record<string, string>;
  inputs: Map<string, Promise<Input>>;
  /**
   * By workload, the latest `ours-plain` run: its log's size in bytes and
   * its wall time in s, which pace `ours-plain-deleting`'s deletions.
   */
  plainRuns: Map<string, { bytes: number; wallS: number }>;
}

function envIfAllowed(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) || undefined : undefined;
}

function progress(message: string): void {
  console.error(`bench: ${message}`);
}

function input(ctx: Context, key: string): Promise<Input> {
  let promise = ctx.inputs.get(key);
  if (promise === undefined) {
    const base = INPUTS[key];
    const spec: InputSpec = base.kind === "lines"
      ? { ...base, count: Math.round(base.count * ctx.scale) }
      : { ...base, bytes: Math.round(base.bytes * ctx.scale) };
    const size = spec.kind === "lines"
      ? spec.count * spec.lineBytes
      : spec.bytes;
    progress(`writing input ${key} (${fixed(size / 1e6, 1)} MB)`);
    promise = makeInput(`${ctx.tmp}/in-${key}`, spec);
    ctx.inputs.set(key, promise);
  }
  return promise;
}

/** Builds goref, or explains why it is skipped. */
async function buildGoref(opts: Options, tmp: string): Promise<string | null> {
  if (opts.noGoref) {
    progress("goref skipped (--no-goref): comparing ours with cat only");
    return null;
  }
  const out = `${tmp}/goref-driver`;
  progress(`building goref from ${opts.gorefDir}`);
  const result = await captureAll("go", ["build", "-o", out, "."], {
    cwd: opts.gorefDir,
    env: { GOFLAGS: "-mod=mod", GOPROXY: "off" },
    timeoutMs: 300_000,
  });
  if (result.code === 0) return out;
  if (result.code === -1 && /not found/i.test(result.stderr)) {
    progress(
      "goref skipped: Go is not installed (install it with " +
        "`apt-get install -y golang-go`); comparing ours with cat only",
    );
  } else {
    progress(
      `goref skipped: go build failed (${result.code}): ${result.stderr.trim()}`,
    );
  }
  return null;
}

/** Whether GNU time works here with `-f` and `-o`. */
async function gnuTimeWorks(tmp: string): Promise<boolean> {
  const file = `${tmp}/time-probe`;
  const ok = await captureAll("bash", [
    "-c",
    '/usr/bin/time -f "$1" -o "$2" true',
    "bench",
    TIME_FORMAT,
    file,
  ]);
  if (ok.code !== 0) return false;
  return parseTimeOutput(await Deno.readTextFile(file)) !== null;
}

async function prepare(opts: Options, tmp: string): Promise<Context> {
  let time = false;
  if (opts.rss !== "proc") {
    time = await gnuTimeWorks(tmp);
    if (!time && opts.rss === "time") {
      throw new Error("Cannot use --rss time: /usr/bin/time (GNU) not found");
    }
    if (!time) {
      progress(
        "/usr/bin/time not found: peak RSS by polling /proc, no CPU times " +
          "(apt-get install -y time)",
      );
    }
  }
  const writerEnv: Record<string, string> = {
    CONTAINER_NAMESPACE: "default",
    CONTAINER_ID: "bench",
    DENO_NO_UPDATE_CHECK: "1",
  };
  for (const name of ["HOME", "DENO_DIR"]) {
    const value = envIfAllowed(name);
    if (value !== undefined) writerEnv[name] = value;
  }
  return {
    opts,
    tmp,
    deno: Deno.execPath(),
    driver: fileURLToPath(new URL("../driver.ts", import.meta.url)),
    shim: fileURLToPath(new URL("../shim.ts", import.meta.url)),
    goref: await buildGoref(opts, tmp),
    time,
    scale: opts.quick ? 0.1 : 1,
    writerEnv,
    inputs: new Map(),
    plainRuns: new Map(),
  };
}

// ---------------------------------------------------------------- one run

/** A failure of a writer: wrong exit, wrong output, too slow. */
class BenchError extends Error {
  constructor(message: string, readonly stderr = "") {
    super(message);
    this.name = "BenchError";
  }
}

/** The driver refused the workload's sink (`cri` not there yet). */
class NotAvailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotAvailable";
  }
}

/**
 * The pipeline every run uses: `cat IN1 |` into fd 3 (a real pipe), `cat IN2`
 * into fd 4 (`/dev/null` gives an empty pipe), and the ready FIFO on fd 5
 * (fd 4 and fd 5 must be pipes or FIFOs, or Deno asks for --allow-all).
 *
 * Each `cat IN` waits behind its gate, a FIFO of its own (an empty GATE: no
 * wait): `read` returns once the bench has opened the gate for writing and
 * closed it, then `cat` starts. Mode `writer` opens fd 5 on the ready FIFO
 * in the `exec` itself, so that only the writer holds its write end; mode
 * `own5` leaves that to the command (see {@linkcode OWN_FD5}); modes `cat`
 * and `cat2` write the ready byte from the shell just before `exec`.
 */
const PIPELINE =
  `in1=$1 in2=$2 gate1=$3 gate2=$4 ready=$5 pidfile=$6 mode=$7 out1=$8
shift 8
feed() { if [ -n "$2" ]; then read -r _ <"$2"; fi; exec cat "$1"; }
feed "$in1" "$gate1" | {
  if [ -n "$pidfile" ]; then echo "$BASHPID" >"$pidfile"; fi
  case $mode in
    writer) exec "$@" 3<&0 4< <(feed "$in2" "$gate2") >/dev/null 5>"$ready" ;;
    own5) exec "$@" 3<&0 4< <(feed "$in2" "$gate2") >/dev/null ;;
    cat) printf x >"$ready"; exec "$@" >"$out1" ;;
    cat2) printf x >"$ready"; exec "$@" 3<&0 4< <(feed "$in2" "$gate2") ;;
  esac
}`;

/**
 * Opens fd 5 on the FIFO `$0`, then runs the command: goref under
 * `/usr/bin/time`, which would otherwise hold fd 5 open as well, so that
 * goref closing it (its ready signal) would not be seen until time exits.
 */
const OWN_FD5 = 'exec "$@" 5>"$0"';

/** The bench waits this long for a writer's ready signal on fd 5. */
const READY_TIMEOUT_MS = 60_000;

/**
 * Between the ready signal and the opening of the gates, for every writer:
 * goref opens its file after closing fd 5, `cat` still has to be exec'd.
 */
const GATE_DELAY_MS = 20;

/** Two `cat`s, fd 3 to OUT1 and fd 4 to OUT2: the copy limit for two streams. */
const TWO_CATS = 'cat <&3 >"$1" & cat <&4 >"$2"; wait';

/** Our driver's command, with the permissions the README gives it. */
function driverArgv(
  ctx: Context,
  dir: string,
  logPath: string,
  opts: readonly string[],
  ffi = true,
): string[] {
  return [
    ctx.deno,
    ...driverRunArgs(ctx.driver, [dir], { ffi }),
    "log-path",
    logPath,
    ...opts,
  ];
}

function contenderCommand(
  ctx: Context,
  w: ThroughputWorkload,
  contender: Contender,
  dir: string,
  ready: string,
): { mode: string; argv: string[] } {
  const out1 = `${dir}/out.log`;
  switch (contender) {
    case "ours":
      return { mode: "writer", argv: driverArgv(ctx, dir, out1, w.ourOpts) };
    case "ours-plain":
    case "ours-plain-deleting":
      return { mode: "writer", argv: driverArgv(ctx, dir, out1, []) };
    case "ours-sandboxed":
      return {
        mode: "writer",
        argv: driverArgv(ctx, dir, out1, w.ourOpts, false),
      };
    case "goref":
      return ctx.time
        ? {
          mode: "own5",
          argv: ["/bin/sh", "-c", OWN_FD5, ready, ctx.goref!, out1],
        }
        : { mode: "writer", argv: [ctx.goref!, out1] };
    case "cat":
      return w.inputs.length === 1 ? { mode: "cat", argv: ["cat"] } : {
        mode: "cat2",
        argv: ["bash", "-c", TWO_CATS, "cat2", out1, `${dir}/out2.log`],
      };
  }
}

async function waitForPid(
  path: string,
  until: Promise<unknown>,
): Promise<number | null> {
  let ended = false;
  until.finally(() => ended = true).catch(() => {});
  while (!ended) {
    try {
      const pid = parseInt(await Deno.readTextFile(path), 10);
      if (pid > 0) return pid;
    } catch { /* not written yet */ }
    await sleep(5);
  }
  return null;
}

/**
 * Writes every dirty page to disk (`sync`), so that the kernel's writeback
 * of earlier runs' output does not run during the next timed run.
 */
async function settleDisk(): Promise<void> {
  await new Deno.Command("bash", { args: ["-c", "sync"] }).output();
}

async function freshDir(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.mkdir(path, { recursive: true });
}

function tail(text: string, lines = 5): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Makes FIFOs (there is no `mkfifo` in Deno). */
async function makeFifos(paths: string[]): Promise<void> {
  const made = await captureAll("bash", [
    "-c",
    'mkfifo -- "$@"',
    "bench",
    ...paths,
  ]);
  if (made.code !== 0) {
    throw new Error(`Cannot make FIFOs: ${made.stderr.trim()}`);
  }
}

/**
 * Waits for the writer's ready signal on the ready FIFO: its first byte, or
 * EOF (goref closes fd 5 without writing). After `READY_TIMEOUT_MS` the
 * process group is killed, which ends the wait with `late` set.
 *
 * @returns When the signal was seen and whether it was a byte (`signal:
 *   null`: the pipeline exited without ever opening the FIFO), and whether
 *   the wait was cut short.
 */
async function awaitReady(
  run: Running,
  ready: string,
  finished: Promise<Finished>,
): Promise<{ signal: { atMs: number; byte: boolean } | null; late: boolean }> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    run.kill();
  }, READY_TIMEOUT_MS);
  try {
    const file = await openFifo(ready, "read", finished);
    if (file === null) return { signal: null, late };
    try {
      const n = await file.read(new Uint8Array(1));
      const signal = { atMs: performance.now(), byte: n !== null && n > 0 };
      return { signal, late };
    } finally {
      file.close();
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One run of one writer, timed as containerd exposes a container to its
 * logger: the writer is started with its inputs held behind their gates, the
 * bench waits for its ready signal on fd 5 and `GATE_DELAY_MS` more, then
 * opens the gates; the wall time runs from there to the pipeline's exit.
 * `execWallS` runs from the spawn, start-up included, less that pause
 * between the ready signal and the gates (the bench's, not the writer's).
 */
async function runOnce(
  ctx: Context,
  w: ThroughputWorkload,
  contender: Contender,
  inputs: Input[],
): Promise<RunFigures> {
  const base = `${ctx.tmp}/out/${w.name}`;
  const dir = `${base}/${contender}`;
  await freshDir(dir);
  // The previous run's dirty pages go to disk now, not during this run.
  await settleDisk();
  const timeFile = `${base}/${contender}.time`;
  const pidFile = ctx.time ? "" : `${base}/${contender}.pid`;
  if (pidFile !== "") await Deno.remove(pidFile).catch(() => {});
  const prefix = ctx.time
    ? ["/usr/bin/time", "-f", TIME_FORMAT, "-o", timeFile]
    : [];
  const gates = inputs.map((_, i) => `${dir}/gate${i + 1}`);
  const ready = `${dir}/ready`;
  await makeFifos([...gates, ready]);
  const { mode, argv } = contenderCommand(ctx, w, contender, dir, ready);
  const discards = contender === "ours-plain-deleting"
    ? await prepareDiscards(ctx, w, dir)
    : null;
  const run = spawn([
    "bash",
    "-c",
    PIPELINE,
    "bench",
    inputs[0].path,
    inputs[1]?.path ?? "/dev/null",
    gates[0],
    gates[1] ?? "",
    ready,
    pidFile,
    mode,
    `${dir}/out.log`,
    ...prefix,
    ...argv,
  ], { clearEnv: true, env: ctx.writerEnv });
  const finished = run.wait(ctx.opts.timeoutS * 1000);
  const peak = ctx.time
    ? Promise.resolve(null)
    : pollPeakRss(waitForPid(pidFile, finished), finished);
  const { signal, late } = await awaitReady(run, ready, finished);
  let t0: number | null = null;
  let pauseMs = 0;
  if (signal !== null && !late) {
    await sleep(GATE_DELAY_MS);
    t0 = performance.now();
    pauseMs = t0 - signal.atMs;
    await Promise.all(
      gates.map(async (gate) =>
        (await openFifo(gate, "write", finished))?.close()
      ),
    );
  }
  const deleting = discards === null || t0 === null
    ? Promise.resolve()
    : deleteDiscards(discards, t0);
  const f = await finished;
  await deleting;
  const peakKiB = await peak;
  checkInterrupted();
  // Spent; out of the way of the check of rotated files beside the log.
  await Promise.all([...gates, ready].map((path) => Deno.remove(path)));
  const ours = contender.startsWith("ours");
  if (
    ours && w.check === "cri" && f.code === 1 &&
    /Unknown log driver/i.test(f.stderr)
  ) {
    throw new NotAvailable("cri: not available");
  }
  if (late) {
    throw new BenchError(
      `${contender} gave no ready signal on fd 5 (a byte, or EOF) within ${
        READY_TIMEOUT_MS / 1000
      } s (killed)`,
      f.stderr,
    );
  }
  if (f.timedOut) {
    throw new BenchError(
      `${contender} did not finish within ${ctx.opts.timeoutS} s (killed)`,
      f.stderr,
    );
  }
  if (f.code !== 0) {
    throw new BenchError(
      `${contender} exited with code ${f.code}${
        f.signal ? ` (${f.signal})` : ""
      }`,
      f.stderr,
    );
  }
  if (t0 === null) {
    throw new BenchError(
      `${contender} exited without opening the ready FIFO on fd 5`,
      f.stderr,
    );
  }
  if (ours && !signal?.byte) {
    throw new BenchError(`${contender} wrote no ready byte on fd 5`, f.stderr);
  }
  const entries = await checkOutput(w, contender, dir, inputs);
  let usage: Usage | null = null;
  if (ctx.time) {
    usage = parseTimeOutput(await Deno.readTextFile(timeFile));
    if (usage === null) {
      throw new BenchError(
        `Cannot read /usr/bin/time's figures for ${contender}`,
      );
    }
  }
  if (contender === "ours-plain") {
    ctx.plainRuns.set(w.name, {
      bytes: await fileSize(`${dir}/out.log`),
      wallS: (f.endMs - t0) / 1000,
    });
  }
  await Deno.remove(dir, { recursive: true });
  const rssKiB = usage?.maxRssKiB ?? peakKiB;
  return {
    wallS: (f.endMs - t0) / 1000,
    execWallS: (f.wallMs - pauseMs) / 1000,
    userS: usage?.userS ?? null,
    sysS: usage?.sysS ?? null,
    cpuS: usage === null ? null : usage.userS + usage.sysS,
    rssMB: rssKiB === null ? null : rssKiB * 1024 / 1e6,
    entries,
  };
}

/**
 * What `ours-plain-deleting` deletes while the driver runs without rotation:
 * files of `max-size` bytes, as many as rotation would discard, each due
 * when rotation would discard it (ms after the gates open).
 */
interface Discards {
  paths: string[];
  dueMs: number[];
}

/**
 * Writes the files `ours-plain-deleting` deletes, after the disk has
 * settled, so that their pages are dirty as a rotated file's are. The count
 * and times come from the latest `ours-plain` run: rotation `k` comes once
 * `k × max-size` bytes are written, and from rotation `max-file` on each one
 * discards the oldest file.
 */
async function prepareDiscards(
  ctx: Context,
  w: ThroughputWorkload,
  dir: string,
): Promise<Discards> {
  const plain = ctx.plainRuns.get(w.name);
  if (plain === undefined) {
    throw new BenchError("ours-plain-deleting runs after ours-plain");
  }
  const rotations = Math.floor(plain.bytes / ROTATE_MAX_SIZE);
  const block = new Uint8Array(ROTATE_MAX_SIZE).fill(0x78);
  const discards: Discards = { paths: [], dueMs: [] };
  for (let k = ROTATE_MAX_FILE; k <= rotations; k++) {
    const path = `${dir}/discarded-${k}`;
    await Deno.writeFile(path, block);
    discards.paths.push(path);
    discards.dueMs.push(plain.wallS * 1000 * k * ROTATE_MAX_SIZE / plain.bytes);
  }
  return discards;
}

/** Deletes each file when it is due: from this process, not the driver. */
async function deleteDiscards(discards: Discards, t0: number): Promise<void> {
  await Promise.all(discards.paths.map(async (path, i) => {
    await sleep(Math.max(0, t0 + discards.dueMs[i] - performance.now()));
    await Deno.remove(path);
  }));
}

/**
 * Checks what a writer wrote: every entry there (ours, goref), every byte
 * (cat), consecutive entries ending with the last line (rotation).
 *
 * @returns The entries (or bytes, for cat) found.
 * @throws {BenchError} If the output is not what the input must give.
 */
async function checkOutput(
  w: ThroughputWorkload,
  contender: Contender,
  dir: string,
  inputs: Input[],
): Promise<number> {
  const out1 = `${dir}/out.log`;
  const sum = (f: (input: Input) => number) =>
    inputs.reduce((n, input) => n + f(input), 0);
  const expectCount = async (path: string, expected: number) => {
    const found = await countNewlines(path);
    if (found !== expected) {
      throw new BenchError(
        `${contender} wrote ${found} entries to ${
          path.slice(dir.length + 1)
        }, expected ${expected} (from ${sum((i) => i.lines)} input lines)`,
      );
    }
    return found;
  };
  if (contender === "cat") {
    for (const [i, input] of inputs.entries()) {
      const path = i === 0 ? out1 : `${dir}/out2.log`;
      const size = await fileSize(path);
      if (size !== input.bytes) {
        throw new BenchError(
          `cat copied ${size} bytes, expected ${input.bytes}`,
        );
      }
    }
    return sum((i) => i.bytes);
  }
  if (contender === "goref") return await expectCount(out1, sum(gorefEntries));
  if (contender === "ours" && w.check === "cri") {
    return await expectCount(out1, sum(criEntries));
  }
  if (contender === "ours" && w.check === "rotated") {
    const log = await readRotatedLog(out1, 5).catch((error) => {
      throw new BenchError(`ours: ${(error as Error).message}`);
    });
    if (log.lastIndex !== inputs[0].lines - 1) {
      throw new BenchError(
        `ours: the newest entry is line ${log.lastIndex}, expected ${
          inputs[0].lines - 1
        }`,
      );
    }
    return log.entries;
  }
  const found = await expectCount(out1, sum(jsonFileEntries));
  if (inputs.length === 2) {
    const stderr = await capture("bash", [
      "-c",
      `grep -cF '"stream":"stderr"' "$1"`,
      "bench",
      out1,
    ], { timeoutMs: 60_000 });
    const expected = jsonFileEntries(inputs[1]);
    if (Number(stderr) !== expected) {
      throw new BenchError(
        `${contender} wrote ${
          Number(stderr)
        } stderr entries, expected ${expected}`,
      );
    }
  }
  return found;
}

// ---------------------------------------------------------------- throughput

function summarise(
  runs: RunFigures[],
  lines: number,
  bytes: number,
): ContenderResult {
  const wallS = median(runs.map((r) => r.wallS));
  const rss = runs.map((r) => r.rssMB).filter((r): r is number => r !== null);
  return {
    runs,
    median: {
      wallS,
      execWallS: median(runs.map((r) => r.execWallS)),
      linesPerS: wallS === null ? null : lines / wallS,
      mbPerS: wallS === null ? null : bytes / 1e6 / wallS,
      rssMB: median(runs.map((r) => r.rssMB)),
      cpuS: median(runs.map((r) => r.cpuS)),
    },
    maxRssMB: rss.length === 0 ? null : Math.max(...rss),
  };
}

function ratioOf(a: Medians, b: Medians): Medians {
  return {
    wallS: ratio(a.wallS, b.wallS),
    execWallS: ratio(a.execWallS, b.execWallS),
    linesPerS: ratio(a.linesPerS, b.linesPerS),
    mbPerS: ratio(a.mbPerS, b.mbPerS),
    rssMB: ratio(a.rssMB, b.rssMB),
    cpuS: ratio(a.cpuS, b.cpuS),
  };
}

function judge(value: number | null, op: ">=" | "<=" | "<", goal: number) {
  if (value === null) return null;
  return op === ">="
    ? value >= goal
    : op === "<="
    ? value <= goal
    : value < goal;
}

/**
 * The workload's targets. With `quick`, ratios to goref and cat are not
 * judged: the driver's start-up then weighs ten times more.
 */
function throughputTargets(
  r: ThroughputResult,
  w: ThroughputWorkload,
  quick: boolean,
): TargetResult[] {
  const out: TargetResult[] = [];
  const ours = r.contenders.ours;
  if (ours !== undefined) {
    out.push({
      section: w.name,
      target: `ours peak RSS < ${RSS_GOAL_MB} MB (max of runs)`,
      value: `${fixed(ours.maxRssMB, 1)} MB`,
      number: ours.maxRssMB,
      pass: judge(ours.maxRssMB, "<", RSS_GOAL_MB),
    });
  }
  for (const t of w.targets) {
    if (t.kind === "overhead") {
      // Judged on the rounds' paired ratios; the ratio of the medians,
      // shown beside it, moves more with the machine's drift.
      const rel = r.pairedRotationRatio ?? null;
      const ofMedians = r.ratios["ours/ours-plain"]?.wallS ?? null;
      const percent = (x: number | null) =>
        x === null ? "-" : `${fixed((x - 1) * 100, 1)}%`;
      out.push({
        section: w.name,
        target: `rotation overhead < ${
          t.goal * 100
        }% (ours/ours-plain time, median of rounds)`,
        value: `${percent(rel)} (medians: ${percent(ofMedians)})`,
        number: rel === null ? null : rel - 1,
        pass: judge(rel === null ? null : rel - 1, "<", t.goal),
      });
      continue;
    }
    const value = r.ratios[`ours/${t.of}`]?.[t.metric] ?? null;
    const metric = t.metric === "wallS" ? "time" : "lines/s";
    out.push({
      section: w.name,
      target: `ours/${t.of} ${metric} ${t.op === ">=" ? "≥" : "≤"} ${t.goal}`,
      value: times(value),
      number: value,
      pass: quick ? null : judge(value, t.op, t.goal),
      ...(quick ? { note: "full size only" } : {}),
    });
  }
  return out;
}

async function runThroughput(
  ctx: Context,
  w: ThroughputWorkload,
): Promise<ThroughputResult> {
  const inputs = await Promise.all(w.inputs.map((key) => input(ctx, key)));
  const lines = inputs.reduce((n, i) => n + i.lines, 0);
  const bytes = inputs.reduce((n, i) => n + i.bytes, 0);
  const result: ThroughputResult = {
    name: w.name,
    title: w.title,
    input: {
      files: inputs.length,
      lines,
      bytes,
      lineBytes: inputs[0].lineBytes,
    },
    options: w.ourOpts,
    contenders: {},
    ratios: {},
    targets: [],
  };
  const contenders = w.contenders.filter((c) =>
    c !== "goref" || ctx.goref !== null
  );
  const runs = new Map<Contender, RunFigures[]>(contenders.map((c) => [c, []]));
  try {
    for (let r = 1; r <= ctx.opts.runs; r++) {
      for (const c of contenders) {
        progress(`${w.name}: ${c}, run ${r} of ${ctx.opts.runs}`);
        runs.get(c)!.push(await runOnce(ctx, w, c, inputs));
      }
    }
  } catch (error) {
    if (error instanceof NotAvailable) {
      progress(error.message);
      result.notAvailable = error.message;
      return result;
    }
    if (!(error instanceof BenchError)) throw error;
    result.error = error.message +
      (error.stderr ? `\n${tail(error.stderr)}` : "");
    console.error(`bench: ERROR in ${w.name}: ${result.error}`);
  }
  for (const [c, list] of runs) {
    if (list.length > 0) result.contenders[c] = summarise(list, lines, bytes);
  }
  const ours = result.contenders.ours?.median;
  for (const other of ["goref", "cat", "ours-plain"] as const) {
    const them = result.contenders[other]?.median;
    if (ours !== undefined && them !== undefined) {
      result.ratios[`ours/${other}`] = ratioOf(ours, them);
    }
  }
  const rotating = runs.get("ours");
  const plainRuns = runs.get("ours-plain");
  if (rotating !== undefined && plainRuns !== undefined) {
    result.pairedRotationRatio = median(
      rotating.slice(0, plainRuns.length).map((run, i) =>
        ratio(run.wallS, plainRuns[i].wallS)
      ),
    );
  }
  // What deleting the same files costs the driver when it is not the one
  // deleting: the part of the rotation overhead that is the kernel's.
  const plain = result.contenders["ours-plain"]?.median;
  const beside = result.contenders["ours-plain-deleting"]?.median;
  if (plain !== undefined && beside !== undefined) {
    result.ratios["ours-plain-deleting/ours-plain"] = ratioOf(beside, plain);
  }
  result.targets = throughputTargets(result, w, ctx.opts.quick);
  return result;
}

// ---------------------------------------------------------------- idle drivers

/**
 * Starts a writer with nothing to write: fd 3 and fd 4 both on the bench's
 * stdin pipe (held open until {@linkcode stopIdle}), fd 5 on its stdout.
 */
function startIdle(
  ctx: Context,
  kind: "ours" | "goref",
  dir: string,
  index: number,
): Running {
  const log = `${dir}/c${index}.log`;
  const argv = kind === "ours"
    ? driverArgv(ctx, dir, log, [])
    : [ctx.goref!, log];
  return spawn(
    ["bash", "-c", 'exec "$@" 3<&0 4<&0 5>&1 >/dev/null', "bench", ...argv],
    {
      clearEnv: true,
      env: { ...ctx.writerEnv, CONTAINER_ID: `bench-${index}` },
      stdin: "piped",
    },
  );
}

/** Closes an idle writer's stdin (end of both streams) and awaits its exit. */
async function stopIdle(run: Running, what: string): Promise<void> {
  await run.stdin?.close().catch(() => {});
  const f = await run.wait(15_000);
  if (f.timedOut || f.code !== 0) {
    throw new BenchError(
      `${what} ${
        f.timedOut
          ? "did not exit within 15 s of EOF"
          : `exited with code ${f.code}`
      }`,
      f.stderr,
    );
  }
}

/**
 * Starts and stops our driver once, so that Deno's cache holds its compiled
 * code before anything is timed.
 *
 * @throws {Error} If the driver does not start as containerd starts it.
 */
async function warmUpDriver(ctx: Context): Promise<void> {
  const dir = `${ctx.tmp}/warm-up`;
  await freshDir(dir);
  progress("warm-up: driver.ts (fills Deno's cache)");
  const run = startIdle(ctx, "ours", dir, 0);
  const first = await readyWithin(run, 60_000);
  await run.stdin?.close().catch(() => {});
  const f = await run.wait(15_000);
  if (first === null || !first.byte || f.code !== 0 || f.timedOut) {
    throw new Error(
      `driver.ts does not start as containerd starts it (exit code ${f.code}${
        first?.byte ? "" : ", no ready byte"
      }):\n${tail(f.stderr)}`,
    );
  }
}

/** Waits for the first output (ready byte or EOF), at most `ms`. */
async function readyWithin(run: Running, ms: number) {
  const late = sleep(ms).then(() => null);
  return await Promise.race([run.firstOutput, late]);
}

async function sampleStartup(
  ctx: Context,
  kind: "ours" | "goref",
  dir: string,
  samples: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    checkInterrupted();
    const run = startIdle(ctx, kind, dir, i);
    try {
      const first = await readyWithin(run, 15_000);
      if (first === null || (kind === "ours" && !first.byte)) {
        throw new BenchError(
          `${kind} gave no ready byte ${
            first === null ? "within 15 s" : "before exiting"
          }`,
        );
      }
      out.push(first.atMs - run.startMs);
    } finally {
      await stopIdle(run, kind);
    }
  }
  return out;
}

async function runStartup(ctx: Context): Promise<StartupResult> {
  const dir = `${ctx.tmp}/startup`;
  await freshDir(dir);
  const result: StartupResult = {
    oursMs: [],
    gorefMs: [],
    oursMedianMs: null,
    gorefMedianMs: null,
    targets: [],
  };
  try {
    progress("startup: warm-up");
    await sampleStartup(ctx, "ours", dir, 1);
    progress(`startup: ours, ${STARTUP_SAMPLES} starts`);
    result.oursMs = await sampleStartup(ctx, "ours", dir, STARTUP_SAMPLES);
    if (ctx.goref !== null) {
      progress(`startup: goref, ${STARTUP_SAMPLES} starts`);
      result.gorefMs = await sampleStartup(ctx, "goref", dir, STARTUP_SAMPLES);
    }
  } catch (error) {
    if (!(error instanceof BenchError)) throw error;
    result.error = error.message +
      (error.stderr ? `\n${tail(error.stderr)}` : "");
    console.error(`bench: ERROR in startup: ${result.error}`);
  }
  result.oursMedianMs = median(result.oursMs);
  result.gorefMedianMs = median(result.gorefMs);
  result.targets.push({
    section: "startup",
    target: `ours ready < ${READY_GOAL_MS} ms (median of ${STARTUP_SAMPLES})`,
    value: `${fixed(result.oursMedianMs, 1)} ms`,
    number: result.oursMedianMs,
    pass: judge(result.oursMedianMs, "<", READY_GOAL_MS),
  });
  return result;
}

function average(xs: number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function measureIdle(
  ctx: Context,
  kind: "ours" | "goref",
): Promise<IdleFigures> {
  const dir = `${ctx.tmp}/idle-${kind}`;
  await freshDir(dir);
  progress(`idle: ${IDLE_DRIVERS} x ${kind} at once`);
  const runs: Running[] = [];
  let stops: PromiseSettledResult<void>[] = [];
  const figures: IdleFigures = {
    pssMB: [],
    rssMB: [],
    avgPssMB: null,
    avgRssMB: null,
  };
  try {
    for (let i = 0; i < IDLE_DRIVERS; i++) {
      runs.push(startIdle(ctx, kind, dir, i));
    }
    const deadline = sleep(60_000).then(() => null);
    const firsts = await Promise.all(
      runs.map((run) => Promise.race([run.firstOutput, deadline])),
    );
    const missing = firsts.filter((f) =>
      f === null || (kind === "ours" && !f.byte)
    ).length;
    if (missing > 0) {
      throw new BenchError(
        `${missing} of ${IDLE_DRIVERS} ${kind} drivers not ready within 60 s`,
      );
    }
    await sleep(1000);
    for (const run of runs) {
      const text = await readProc(run.pid, "smaps_rollup");
      const pss = text === null ? null : procField(text, "Pss");
      const rss = text === null ? null : procField(text, "Rss");
      if (pss === null || rss === null) {
        throw new BenchError(
          `Cannot read /proc/${run.pid}/smaps_rollup (${kind} gone?)`,
        );
      }
      figures.pssMB.push(pss * 1024 / 1e6);
      figures.rssMB.push(rss * 1024 / 1e6);
    }
  } finally {
    stops = await Promise.allSettled(
      runs.map((run, i) => stopIdle(run, `idle ${kind} ${i}`)),
    );
  }
  const failed = stops.find((s) => s.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  figures.avgPssMB = average(figures.pssMB);
  figures.avgRssMB = average(figures.rssMB);
  return figures;
}

async function runIdle(ctx: Context): Promise<IdleResult> {
  const result: IdleResult = {
    drivers: IDLE_DRIVERS,
    ours: null,
    goref: null,
    targets: [],
  };
  try {
    result.ours = await measureIdle(ctx, "ours");
    if (ctx.goref !== null) result.goref = await measureIdle(ctx, "goref");
  } catch (error) {
    if (!(error instanceof BenchError)) throw error;
    result.error = error.message +
      (error.stderr ? `\n${tail(error.stderr)}` : "");
    console.error(`bench: ERROR in idle: ${result.error}`);
  }
  const pss = result.ours?.avgPssMB ?? null;
  result.targets.push({
    section: "idle",
    target:
      `ours average PSS ≤ ${IDLE_PSS_GOAL_MB} MB (${IDLE_DRIVERS} running)`,
    value: `${fixed(pss, 1)} MB`,
    number: pss,
    pass: judge(pss, "<=", IDLE_PSS_GOAL_MB),
  });
  return result;
}

// ---------------------------------------------------------------- end to end

function shimArgv(ctx: Context, root: string, command: string[]): string[] {
  return [
    ctx.deno,
    "run",
    "--no-config",
    "--allow-run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    ctx.shim,
    "--data-root",
    root,
    "--name",
    "bench",
    "--",
    ...command,
  ];
}

async function runShimOnce(
  ctx: Context,
  root: string,
  command: string[],
  timeFile: string,
) {
  await freshDir(root);
  const prefix = ctx.time
    ? ["/usr/bin/time", "-f", TIME_FORMAT, "-o", timeFile]
    : [];
  const f = await spawn([...prefix, ...shimArgv(ctx, root, command)])
    .wait(ctx.opts.timeoutS * 1000);
  checkInterrupted();
  if (f.timedOut || f.code !== 0) {
    throw new BenchError(
      `shim.ts ${
        f.timedOut
          ? `did not finish within ${ctx.opts.timeoutS} s`
          : `exited with code ${f.code}`
      }`,
      f.stderr,
    );
  }
  const usage = ctx.time
    ? parseTimeOutput(await Deno.readTextFile(timeFile))
    : null;
  return {
    wallS: f.wallMs / 1000,
    cpuS: usage === null ? null : usage.userS + usage.sysS,
  };
}

async function runE2e(ctx: Context): Promise<E2eResult> {
  const file = await input(ctx, "lines-100");
  const result: E2eResult = {
    lines: file.lines,
    runs: [],
    wallS: null,
    linesPerS: null,
    cpuS: null,
    targets: [],
  };
  const root = `${ctx.tmp}/e2e`;
  const timeFile = `${ctx.tmp}/e2e.time`;
  try {
    progress("e2e: warm-up (shim.ts -- true)");
    await runShimOnce(ctx, root, ["true"], timeFile);
    for (let r = 1; r <= ctx.opts.runs; r++) {
      progress(`e2e: shim.ts -- cat FILE, run ${r} of ${ctx.opts.runs}`);
      const run = await runShimOnce(ctx, root, ["cat", file.path], timeFile);
      const log = `${root}/containers/default/bench/bench-json.log`;
      const found = await countNewlines(log);
      if (found !== file.lines) {
        throw new BenchError(
          `shim.ts: ${found} entries in ${log}, expected ${file.lines}`,
        );
      }
      result.runs.push(run);
    }
  } catch (error) {
    if (!(error instanceof BenchError)) throw error;
    result.error = error.message +
      (error.stderr ? `\n${tail(error.stderr)}` : "");
    console.error(`bench: ERROR in e2e: ${result.error}`);
  }
  result.wallS = median(result.runs.map((r) => r.wallS));
  result.linesPerS = result.wallS === null ? null : file.lines / result.wallS;
  result.cpuS = median(result.runs.map((r) => r.cpuS));
  result.targets.push({
    section: "e2e",
    target: `shim.ts, 1,000,000 lines of 100 B < ${E2E_GOAL_S.toFixed(1)} s`,
    value: `${fixed(result.wallS, 3)} s`,
    number: result.wallS,
    pass: ctx.opts.quick ? null : judge(result.wallS, "<", E2E_GOAL_S),
    ...(ctx.opts.quick ? { note: "full size only" } : {}),
  });
  return result;
}

// ---------------------------------------------------------------- machine

async function machineInfo(ctx: Context): Promise<Machine> {
  const cpuinfo = await capture("cat", ["/proc/cpuinfo"]);
  const meminfo = await capture("cat", ["/proc/meminfo"]);
  const repo = fileURLToPath(new URL("..", import.meta.url));
  const status = await capture("git", ["-C", repo, "status", "--porcelain"]);
  const memKiB = meminfo === null ? null : procField(meminfo, "MemTotal");
  return {
    date: new Date().toISOString(),
    nproc: navigator.hardwareConcurrency,
    cpu: cpuinfo?.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? null,
    memTotalMB: memKiB === null ? null : Math.round(memKiB * 1024 / 1e6),
    kernel: (await capture("cat", ["/proc/sys/kernel/osrelease"]))?.trim() ??
      null,
    loadavgStart:
      (await capture("cat", ["/proc/loadavg"]))?.split(" ").slice(0, 3).join(
        " ",
      ) ?? null,
    loadavgEnd: null,
    deno: Deno.version,
    go: ctx.goref === null
      ? null
      : (await capture("go", ["version"]))?.replace("go version ", "").trim() ??
        null,
    commit: (await capture("git", ["-C", repo, "rev-parse", "HEAD"]))?.trim() ??
      null,
    dirtyFiles: status === null
      ? null
      : status.split("\n").filter((l) => l !== "").length,
    peakRssFrom: ctx.time
      ? "/usr/bin/time %M"
      : "/proc/PID/status VmHWM (polled)",
  };
}

// ---------------------------------------------------------------- main

function selected(opts: Options, name: string): boolean {
  return opts.only === null || opts.only.includes(name);
}

async function runAll(ctx: Context, args: string[]): Promise<Results> {
  const results: Results = {
    args,
    options: {
      runs: ctx.opts.runs,
      quick: ctx.opts.quick,
      only: ctx.opts.only,
    },
    machine: await machineInfo(ctx),
    units: "MB = 10^6 bytes; lines/s and MB/s count input lines and bytes; " +
      "wall s (wallS) runs from the release of the input, the writer ready, " +
      "to its exit, exec s (execWallS) from its exec (less the bench's " +
      `${GATE_DELAY_MS} ms pause before the release); ` +
      "peak RSS is the writer's own (ours: the Deno process); CPU = user + sys " +
      "of the writer and the processes it waited for.",
    throughput: [],
    targets: [],
    errors: [],
  };
  await warmUpDriver(ctx);
  for (const w of THROUGHPUT) {
    if (!selected(ctx.opts, w.name)) continue;
    const r = await runThroughput(ctx, w);
    results.throughput.push(r);
    results.targets.push(...r.targets);
    if (r.error !== undefined) results.errors.push(`${w.name}: ${r.error}`);
  }
  if (selected(ctx.opts, "startup")) {
    results.startup = await runStartup(ctx);
    results.targets.push(...results.startup.targets);
    if (results.startup.error) {
      results.errors.push(`startup: ${results.startup.error}`);
    }
  }
  if (selected(ctx.opts, "idle")) {
    results.idle = await runIdle(ctx);
    results.targets.push(...results.idle.targets);
    if (results.idle.error) results.errors.push(`idle: ${results.idle.error}`);
  }
  if (selected(ctx.opts, "e2e")) {
    const e2e = await runE2e(ctx);
    results.e2e = { ...e2e, measuredElsewhere: MEASURED_ELSEWHERE };
    results.targets.push(...e2e.targets);
    if (e2e.error) results.errors.push(`e2e: ${e2e.error}`);
  }
  results.machine.loadavgEnd =
    (await capture("cat", ["/proc/loadavg"]))?.split(" ").slice(0, 3).join(
      " ",
    ) ??
      null;
  return results;
}

async function makeTempDir(opts: Options): Promise<string> {
  try {
    return await Deno.makeTempDir({
      dir: opts.tmpDir,
      prefix: "shimlog-bench-",
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new Error(
        `${
          (error as Error).message
        }\nThe bench needs read and write permission for its ` +
          "temporary folder: pass --tmp-dir /tmp, or allow your TMPDIR",
      );
    }
    throw error;
  }
}

async function main(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(args);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (opts === "help") {
    console.log(usage());
    return 0;
  }
  const stopHandling = handleInterrupts();
  let tmp: string | undefined;
  try {
    tmp = await makeTempDir(opts);
    const ctx = await prepare(opts, tmp);
    const results = await runAll(ctx, args);
    console.log(report(results));
    await Deno.writeTextFile(
      opts.json,
      JSON.stringify(results, null, 2) + "\n",
    );
    console.error(`bench: wrote ${opts.json}`);
    return results.errors.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof Interrupted) {
      console.error("bench: interrupted");
      return 130;
    }
    console.error(`bench: ${(error as Error).message}`);
    return 1;
  } finally {
    if (tmp !== undefined) {
      await Deno.remove(tmp, { recursive: true }).catch((error) =>
        console.error(`bench: cannot remove ${tmp}: ${error.message}`)
      );
    }
    stopHandling();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

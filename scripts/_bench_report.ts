/**
 * The results of `scripts/bench.ts` (the shape of `bench-results.json`) and
 * their rendering as aligned tables.
 *
 * @module
 */

import { fixed, formatTable, grouped, ratio, times } from "./_bench_table.ts";

/**
 * Who writes: our driver (with the workload's options, without rotation,
 * without rotation while another process deletes what rotation would, or
 * without `--allow-ffi`), goref, or a plain copy.
 */
export type Contender =
  | "ours"
  | "ours-plain"
  | "ours-plain-deleting"
  | "ours-sandboxed"
  | "goref"
  | "cat";

/** How each writer is named in the table. */
export const CONTENDER_LABELS: Record<Contender, string> = {
  ours: "ours",
  "ours-plain": "ours, no rotation",
  "ours-plain-deleting": "ours, no rotation + outside rm",
  "ours-sandboxed": "ours, no FFI",
  goref: "goref",
  cat: "cat",
};

/** End-to-end figures quoted in issue 5, for 1,000,000 lines of 100 B. */
export const MEASURED_ELSEWHERE = [
  { what: "Docker 20.10 json-file", wall: "about 5" },
  { what: "containerd + goref", wall: "about 5" },
  { what: "podman + conmon (raw bytes, no JSON)", wall: "1.4-2.5" },
];

/** Figures of one run of one writer. */
export interface RunFigures {
  /** From the opening of the gates (the writer ready) to the exit. */
  wallS: number;
  /**
   * From the spawn to the exit, start-up included, less the bench's pause
   * between the ready signal and the opening of the gates.
   */
  execWallS: number;
  userS: number | null;
  sysS: number | null;
  cpuS: number | null;
  rssMB: number | null;
  entries: number;
}

/** Medians over the runs of one writer (or their ratios). */
export interface Medians {
  wallS: number | null;
  execWallS: number | null;
  linesPerS: number | null;
  mbPerS: number | null;
  rssMB: number | null;
  cpuS: number | null;
}

/** All runs of one writer in one workload. */
export interface ContenderResult {
  runs: RunFigures[];
  median: Medians;
  maxRssMB: number | null;
}

/** One target of issue 5 and how this run fares. */
export interface TargetResult {
  section: string;
  target: string;
  value: string;
  /** `null`: not judged (see `note`). */
  pass: boolean | null;
  /** Why it is not judged. */
  note?: string;
  /** The value as a number (ratio, MB, ms, s or fraction), for comparisons. */
  number: number | null;
}

/** One throughput workload. */
export interface ThroughputResult {
  name: string;
  title: string;
  input: { files: number; lines: number; bytes: number; lineBytes: number };
  options: string[];
  contenders: Partial<Record<Contender, ContenderResult>>;
  ratios: Record<string, Medians>;
  /**
   * With rotation: the median, over the rounds, of `ours`'s wall time over
   * `ours-plain`'s in the same round (the two run one after the other), so
   * that the machine's drift from round to round cancels out.
   */
  pairedRotationRatio?: number | null;
  targets: TargetResult[];
  error?: string;
  notAvailable?: string;
}

/** Exec-to-ready times. */
export interface StartupResult {
  oursMs: number[];
  gorefMs: number[];
  oursMedianMs: number | null;
  gorefMedianMs: number | null;
  targets: TargetResult[];
  error?: string;
}

/** Memory of idle writers, one entry per process. */
export interface IdleFigures {
  pssMB: number[];
  rssMB: number[];
  avgPssMB: number | null;
  avgRssMB: number | null;
}

/** Memory per container. */
export interface IdleResult {
  drivers: number;
  ours: IdleFigures | null;
  goref: IdleFigures | null;
  targets: TargetResult[];
  error?: string;
}

/** End to end through shim.ts. */
export interface E2eResult {
  lines: number;
  runs: { wallS: number; cpuS: number | null }[];
  wallS: number | null;
  linesPerS: number | null;
  cpuS: number | null;
  targets: TargetResult[];
  error?: string;
}

/** Where and with what the benchmark ran. */
export interface Machine {
  date: string;
  nproc: number;
  cpu: string | null;
  memTotalMB: number | null;
  kernel: string | null;
  loadavgStart: string | null;
  loadavgEnd: string | null;
  deno: typeof Deno.version;
  go: string | null;
  commit: string | null;
  dirtyFiles: number | null;
  peakRssFrom: string;
}

/** Everything one run of the benchmark found: `bench-results.json`. */
export interface Results {
  args: string[];
  options: { runs: number; quick: boolean; only: string[] | null };
  machine: Machine;
  units: string;
  throughput: ThroughputResult[];
  startup?: StartupResult;
  idle?: IdleResult;
  e2e?: E2eResult & { measuredElsewhere: typeof MEASURED_ELSEWHERE };
  targets: TargetResult[];
  errors: string[];
}

function verdict(t: TargetResult): string {
  if (t.pass === null) return t.note === undefined ? "-" : `- (${t.note})`;
  return t.pass ? "PASS" : "FAIL";
}

function targetCells(t: TargetResult | undefined): string[] {
  return t === undefined ? ["", ""] : [t.target, verdict(t)];
}

function describeInput(r: ThroughputResult): string {
  const perFile = r.input.lines / r.input.files;
  const one = r.input.lineBytes === 0
    ? `1 line of ${fixed(r.input.bytes / (1 << 20), 1)} MiB`
    : `${grouped(perFile)} x ${
      r.input.lineBytes >= 1024
        ? `${r.input.lineBytes / 1024} KiB`
        : `${r.input.lineBytes} B`
    }`;
  return r.input.files === 1 ? one : `${r.input.files} x (${one})`;
}

function throughputTable(results: ThroughputResult[]): string {
  const rows: (string[] | string)[] = [];
  for (const r of results) {
    const first = [r.name, describeInput(r)];
    let shown = false;
    const head = () => {
      if (shown) return ["", ""];
      shown = true;
      return first;
    };
    if (r.notAvailable !== undefined) {
      rows.push([...head(), r.notAvailable]);
      continue;
    }
    const rssTarget = r.targets.find((t) => t.target.includes("peak RSS"));
    for (const [c, res] of Object.entries(r.contenders)) {
      const m = res.median;
      rows.push([
        ...head(),
        CONTENDER_LABELS[c as Contender],
        fixed(m.wallS, 3),
        fixed(m.execWallS, 3),
        r.input.lineBytes === 0 ? "-" : grouped(m.linesPerS),
        fixed(m.mbPerS, 1),
        fixed(m.rssMB, 1),
        fixed(m.cpuS, 2),
        ...targetCells(c === "ours" ? rssTarget : undefined),
      ]);
    }
    for (const [name, m] of Object.entries(r.ratios)) {
      const other = name.split("/")[1];
      const target = name.startsWith("ours/")
        ? r.targets.find((t) =>
          t.target.startsWith(`ours/${other} `) ||
          (other === "ours-plain" && t.target.startsWith("rotation overhead"))
        )
        : undefined;
      rows.push([
        ...head(),
        name,
        times(m.wallS),
        times(m.execWallS),
        times(m.linesPerS),
        times(m.mbPerS),
        times(m.rssMB),
        times(m.cpuS),
        ...targetCells(target),
      ]);
    }
    if (r.error !== undefined) rows.push([...head(), "ERROR (see below)"]);
  }
  return formatTable([
    { title: "workload" },
    { title: "input" },
    { title: "writer" },
    { title: "wall s", right: true },
    { title: "exec s", right: true },
    { title: "lines/s", right: true },
    { title: "MB/s", right: true },
    { title: "peak RSS MB", right: true },
    { title: "CPU s", right: true },
    { title: "target" },
    { title: "result" },
  ], rows);
}

function startupTable(r: StartupResult): string {
  const spread = (xs: number[]) =>
    xs.length === 0
      ? ["-", "-"]
      : [fixed(Math.min(...xs), 1), fixed(Math.max(...xs), 1)];
  const rows: (string[] | string)[] = [[
    "ours",
    fixed(r.oursMedianMs, 1),
    ...spread(r.oursMs),
    ...targetCells(r.targets[0]),
  ]];
  if (r.gorefMs.length > 0) {
    rows.push([
      "goref (reference: closes fd 5 before opening its file)",
      fixed(r.gorefMedianMs, 1),
      ...spread(r.gorefMs),
      "",
      "",
    ]);
  }
  if (r.error !== undefined) rows.push("ERROR (see below)");
  return formatTable([
    { title: "writer" },
    { title: "median ms", right: true },
    { title: "min ms", right: true },
    { title: "max ms", right: true },
    { title: "target" },
    { title: "result" },
  ], rows);
}

function idleTable(r: IdleResult): string {
  const rows: (string[] | string)[] = [];
  if (r.ours !== null) {
    rows.push([
      "ours",
      fixed(r.ours.avgPssMB, 1),
      fixed(r.ours.avgRssMB, 1),
      ...targetCells(r.targets[0]),
    ]);
  }
  if (r.goref !== null) {
    rows.push([
      "goref",
      fixed(r.goref.avgPssMB, 1),
      fixed(r.goref.avgRssMB, 1),
      "",
      "",
    ]);
  }
  if (r.ours !== null && r.goref !== null) {
    rows.push([
      "ours/goref",
      times(ratio(r.ours.avgPssMB, r.goref.avgPssMB)),
      times(ratio(r.ours.avgRssMB, r.goref.avgRssMB)),
      "",
      "",
    ]);
  }
  if (r.error !== undefined) rows.push("ERROR (see below)");
  return formatTable([
    { title: "writer" },
    { title: "avg PSS MB", right: true },
    { title: "avg RSS MB", right: true },
    { title: "target" },
    { title: "result" },
  ], rows);
}

function e2eTable(r: E2eResult): string {
  const target = r.targets[0];
  const rows: (string[] | string)[] = [[
    "ours: shim.ts -- cat FILE",
    fixed(r.wallS, 3),
    grouped(r.linesPerS),
    fixed(r.cpuS, 2),
    target.target,
    verdict(target),
  ]];
  for (const m of MEASURED_ELSEWHERE) {
    rows.push([
      `${m.what} (measured elsewhere, 1M lines)`,
      m.wall,
      "",
      "",
      "",
      "",
    ]);
  }
  if (r.error !== undefined) rows.push("ERROR (see below)");
  return formatTable([
    { title: "what" },
    { title: "wall s", right: true },
    { title: "lines/s", right: true },
    { title: "CPU s", right: true },
    { title: "target" },
    { title: "result" },
  ], rows);
}

/**
 * Renders the results as text: a header, one table per section, the
 * targets met and missed, and the errors.
 *
 * @param results What the benchmark found.
 * @returns The report, without a final newline.
 */
export function report(results: Results): string {
  const m = results.machine;
  const out: string[] = [];
  out.push(
    `shimlog benchmark, ${m.date}: ${m.nproc} CPUs (${m.cpu ?? "?"}), ` +
      `Deno ${m.deno.deno}, ${m.go ?? "no goref"}, commit ${
        m.commit?.slice(0, 12) ?? "?"
      }${m.dirtyFiles ? ` + ${m.dirtyFiles} changed files` : ""}`,
  );
  out.push(
    `${results.options.runs} run${
      results.options.runs === 1 ? "" : "s"
    } per writer (medians)${
      results.options.quick ? ", --quick: inputs a tenth of the size" : ""
    }; load average at start ${m.loadavgStart ?? "?"}, at end ${
      m.loadavgEnd ?? "?"
    }`,
  );
  out.push(results.units);
  if (results.throughput.length > 0) {
    out.push(
      "",
      "Throughput: `cat FILE |` into fd 3 of a writer already ready, from the " +
        "release of `cat` until the writer exits (exec s: from its exec)",
    );
    out.push(throughputTable(results.throughput));
  }
  if (results.startup !== undefined) {
    out.push(
      "",
      `Start-up: exec to ready byte on fd 5, ${results.startup.oursMs.length} starts`,
    );
    out.push(startupTable(results.startup));
  }
  if (results.idle !== undefined) {
    out.push(
      "",
      `Memory per container: ${results.idle.drivers} idle drivers at once, /proc/PID/smaps_rollup`,
    );
    out.push(idleTable(results.idle));
  }
  if (results.e2e !== undefined) {
    out.push(
      "",
      `End to end: ${
        grouped(results.e2e.lines)
      } lines of 100 B through shim.ts, until it exits`,
    );
    out.push(e2eTable(results.e2e));
  }
  const judged = results.targets.filter((t) => t.pass !== null);
  const failed = judged.filter((t) => !t.pass);
  out.push(
    "",
    `Targets: ${judged.length - failed.length} of ${judged.length} met` +
      (failed.length > 0
        ? `; not met: ${
          failed.map((t) => `${t.section}: ${t.target} (${t.value})`).join("; ")
        }`
        : ""),
  );
  if (results.errors.length > 0) {
    out.push("", `ERRORS (${results.errors.length}):`);
    for (const e of results.errors) {
      out.push(`  ${e.replaceAll("\n", "\n    ")}`);
    }
  }
  return out.join("\n");
}

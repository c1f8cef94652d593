/**
 * driver.ts under a real containerd 1.6 (`binary://` log URI), through the
 * wrapper written by scripts/install_driver.ts. Skipped when containerd is
 * absent, failed instead when SHIMLOG_REQUIRE_PEERS=1.
 */

import assert from "node:assert/strict";
import {
  type Containerd,
  CONTAINERD_NEEDS,
  containerId,
  withContainerd,
} from "./_peers/containerd.ts";
import { peerTest } from "./_peers/require.ts";
import { isLogMarker } from "./_helpers.ts";
import { CriLineJoiner, decodeCriLine } from "../src/cri.ts";
import { logWriterState } from "../src/log_lock.ts";

const NEEDS = { needs: CONTAINERD_NEEDS, root: true };
const INSTALL_SCRIPT = new URL("../scripts/install_driver.ts", import.meta.url)
  .pathname;
const MAX_SIZE = 50_000;
const MAX_FILE = 3;
const PIECE = 16_384;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes the driver wrapper with scripts/install_driver.ts, as a user would. */
async function installWrapper(out: string, allowDir: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-write",
      "--allow-env=DENO_DIR,XDG_CACHE_HOME,HOME",
      INSTALL_SCRIPT,
      out,
      "--allow-dir",
      allowDir,
    ],
    stdin: "null",
    stdout: "null",
  }).output();
  assert.equal(code, 0, `install_driver.ts failed: ${decoder.decode(stderr)}`);
}

/**
 * Waits until the driver has released its lock on the log: `ctr run` can
 * return while the logger still drains and compresses.
 */
async function writerFinished(log: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await logWriterState(log) === "finished") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`The driver still holds ${log}.lock after 15 s`);
}

/** A container's log folder and the driver wrapper allowed to write there. */
async function setup(containerd: Containerd) {
  const logs = `${containerd.dir}/logs`;
  await Deno.mkdir(logs);
  const wrapper = `${containerd.dir}/shimlog-driver`;
  await installWrapper(wrapper, logs);
  return { logs, wrapper };
}

/** One json-file line, as read back. */
interface Entry {
  /** The raw JSON text of the `log` value, quotes included. */
  rawLog: string;
  log: string;
  stream: "stdout" | "stderr";
  time: string;
  /** `time` in nanoseconds since the epoch. */
  ns: bigint;
  /** The line's length in bytes, `\n` included. */
  bytes: number;
  file: string;
}

/**
 * A json-file line as Docker writes it: fixed key order, no spaces, and in
 * `log` only the escapes Docker uses (`\"`, `\\`, `\n`, `\r`, `\u00XX` in
 * lowercase hex; tab and other controls as `\u00XX`).
 */
const LINE =
  // deno-lint-ignore no-control-regex -- raw controls must not appear in `log`
  /^\{"log":("(?:[^"\\\x00-\x1f]|\\["\\nr]|\\u[0-9a-f]{4})*"),"stream":"(stdout|stderr)","time":"([^"]*)"\}$/;
const TIME =
  /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{0,8}[1-9]))?Z$/;

/** Docker's time form to nanoseconds since the epoch. */
function parseTime(time: string): bigint {
  const m = TIME.exec(time);
  assert.ok(m, `time not RFC 3339 UTC with trimmed nanoseconds: ${time}`);
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return BigInt(ms) * 1_000_000n + BigInt((m[7] ?? "").padEnd(9, "0"));
}

/** Reads a json-file log, checking that every line has Docker's exact form. */
async function readEntries(file: string): Promise<Entry[]> {
  const text = await Deno.readTextFile(file);
  assert.ok(text.endsWith("\n"), `${file} does not end with a newline`);
  return text.slice(0, -1).split("\n").map((line, i) => {
    const m = LINE.exec(line);
    assert.ok(
      m,
      `${file}:${i + 1} is not a json-file line: ${line.slice(0, 200)}`,
    );
    return {
      rawLog: m[1],
      log: JSON.parse(m[1]),
      stream: m[2] as "stdout" | "stderr",
      time: m[3],
      ns: parseTime(m[3]),
      bytes: encoder.encode(line).length + 1,
      file,
    };
  });
}

/**
 * Checks one stream's entries: pieces of a split line are 16,384 bytes and
 * share one time, only a line's last piece has `\n`, and only the stream's
 * last entry may lack it (the final fragment).
 */
function checkPieces(entries: Entry[], stream: string): void {
  let pieces: Entry[] = [];
  entries.forEach((entry, i) => {
    pieces.push(entry);
    const last = i === entries.length - 1;
    if (!entry.log.endsWith("\n") && !last) {
      assert.equal(
        encoder.encode(entry.log).length,
        PIECE,
        `${stream}: a piece without newline that is not 16,384 bytes: ${
          entry.rawLog.slice(0, 80)
        }`,
      );
      return;
    }
    assert.ok(
      pieces.every((p) => p.time === pieces[0].time),
      `${stream}: pieces of one line with different times: ${
        pieces.map((p) => p.time)
      }`,
    );
    assert.ok(
      pieces.slice(0, -1).every((p) => !p.log.includes("\n")),
      `${stream}: newline inside a line`,
    );
    pieces = [];
  });
}

/** How Docker writes the special line's `log` (see the script below). */
const SPECIAL_JSON = String
  .raw`"special\u0009\u003cb\u003e \u0026 \"q\" \\ café ✓ \ufffd end\n"`;

/** What the container in the rotation test writes, as bytes. */
function expectedOutput(lines: number, pad: string) {
  const out: string[] = [];
  const err: string[] = [];
  for (let i = 1; i <= lines; i++) {
    const n = String(i).padStart(4, "0");
    out.push(`out ${n} ${pad}\n`);
    err.push(`err ${n} ${pad}\n`);
  }
  const bulk = { out: out.join(""), err: err.join("") };
  const seq = (n: number, sep: string) =>
    Array.from({ length: n }, (_, i) => i + 1).join(sep) + "\n";
  // The lone 0xff byte is invalid UTF-8: one U+FFFD, as Docker writes it.
  const tailOut = 'special\t<b> & "q" \\ café ✓ \ufffd end\n' +
    seq(8000, ",") + "y".repeat(PIECE) + "\n" +
    "stdout fragment without newline";
  const tailErr = seq(5000, ".") + "stderr fragment without newline";
  return {
    stdout: bulk.out + tailOut,
    stderr: bulk.err + tailErr,
    tailOut,
    tailErr,
  };
}

peerTest(
  "containerd runs driver.ts through the wrapper: Docker json-file lines, 16 KiB splits, final fragments, rotation at max-size keeping max-file files",
  NEEDS,
  async () => {
    await withContainerd(async (containerd) => {
      const { logs, wrapper } = await setup(containerd);
      const id = containerId("shimlog-rotate");
      const log = `${logs}/${id}.log`;
      // Both streams interleaved (about 460 kB of json-file lines, so
      // several rotations), then, after a pause that lets the driver catch
      // up, what must survive in the last max-file files: escapes, lines
      // over 16 KiB (one exactly 16,384 bytes plus its newline) and final
      // fragments without newline.
      const lines = 1200;
      const pad = "abcdefghij".repeat(8);
      const script = String.raw`
        i=1
        while [ $i -le ${lines} ]; do
          printf 'out %04d %s\n' $i ${pad}
          printf 'err %04d %s\n' $i ${pad} >&2
          i=$((i + 1))
        done
        /bin/sleep 1
        printf 'special\t<b> & "q" \\ caf\303\251 \342\234\223 \377 end\n'
        /bin/seq -s , 1 8000
        /bin/seq -s . 1 5000 >&2
        /bin/head -c ${PIECE} /dev/zero | /bin/tr '\0' y; echo
        printf 'stderr fragment without newline' >&2
        printf 'stdout fragment without newline'
      `;
      const before = BigInt(Date.now()) * 1_000_000n;
      const run = await containerd.run(id, {
        logUri: `binary://${wrapper}?log-path=${log}&max-size=50k` +
          `&max-file=${MAX_FILE}`,
        command: ["/bin/sh", "-c", script],
      });
      const after = BigInt(Date.now()) * 1_000_000n;
      assert.equal(
        run.code,
        0,
        `ctr run: ${run.stderr}\n${await containerd.log()}`,
      );
      await containerd.remove(id);
      await writerFinished(log);

      // Exactly max-file files, none compressed.
      const names = [...Deno.readDirSync(logs)].map((e) => e.name)
        .filter((n) => !isLogMarker(n)).sort();
      assert.deepEqual(names, [`${id}.log`, `${id}.log.1`, `${id}.log.2`]);
      const files = [`${log}.2`, `${log}.1`, log];
      const entries: Entry[] = [];
      for (const file of files) {
        const info = await Deno.stat(file);
        assert.equal(info.mode! & 0o137, 0, `${file} mode is wider than 0640`);
        const fileEntries = await readEntries(file);
        entries.push(...fileEntries);
        // Rotated when the size reached max-size, checked before each write.
        const size = fileEntries.reduce((n, e) => n + e.bytes, 0);
        assert.equal(size, info.size);
        const beforeLast = size - fileEntries.at(-1)!.bytes;
        assert.ok(
          beforeLast < MAX_SIZE,
          `${file}: ${beforeLast} bytes before its last entry`,
        );
        if (file !== log) {
          assert.ok(size >= MAX_SIZE, `${file} rotated at ${size} bytes`);
        }
      }

      // Times: Docker's form, within the run, never going back. The pieces
      // of a split line repeat the time of their first piece, so across
      // streams only an entry that begins a line is checked against all
      // before it; within a stream every entry is.
      let latest = 0n;
      const last: Record<string, { ns: bigint; ended: boolean }> = {};
      for (const entry of entries) {
        assert.ok(
          entry.ns >= before - 1_000_000n && entry.ns <= after + 1_000_000n,
          `time ${entry.time} outside the run`,
        );
        const previous = last[entry.stream];
        if (previous !== undefined) {
          assert.ok(
            entry.ns >= previous.ns,
            `${entry.stream} time went back: ${entry.time}`,
          );
        }
        if (previous === undefined || previous.ended) {
          assert.ok(
            entry.ns >= latest,
            `a new line's time went back: ${entry.time}`,
          );
        }
        if (entry.ns > latest) latest = entry.ns;
        last[entry.stream] = { ns: entry.ns, ended: entry.log.endsWith("\n") };
      }

      // Escaping as Docker's.
      const special = entries.find((e) => e.log.startsWith("special"));
      assert.ok(special, "the line with special characters was kept");
      assert.equal(special.rawLog, SPECIAL_JSON);

      // Each stream: what the container wrote, minus what rotation deleted.
      const want = expectedOutput(lines, pad);
      for (const stream of ["stdout", "stderr"] as const) {
        const mine = entries.filter((e) => e.stream === stream);
        checkPieces(mine, stream);
        const got = mine.map((e) => e.log).join("");
        const all = stream === "stdout" ? want.stdout : want.stderr;
        const tail = stream === "stdout" ? want.tailOut : want.tailErr;
        assert.ok(got.length >= tail.length, `${stream}: lost the end`);
        assert.ok(
          got.length < all.length,
          `${stream}: rotation deleted nothing`,
        );
        const start = all.length - got.length;
        assert.ok(
          all[start - 1] === "\n",
          `${stream}: kept part starts mid-line`,
        );
        // Compare in pieces for a readable failure.
        for (let at = 0; at < got.length; at += 4096) {
          assert.equal(
            got.slice(at, at + 4096),
            all.slice(start + at, start + at + 4096),
            `${stream} differs near kept offset ${at}`,
          );
        }
      }
    });
  },
);

peerTest(
  "containerd: the same container id run twice appends the second run after the first",
  NEEDS,
  async () => {
    await withContainerd(async (containerd) => {
      const { logs, wrapper } = await setup(containerd);
      const id = containerId("shimlog-append");
      const log = `${logs}/${id}.log`;
      const logUri = `binary://${wrapper}?log-path=${log}`;
      for (const run of ["first", "second"]) {
        const result = await containerd.run(id, {
          logUri,
          command: [
            "/bin/sh",
            "-c",
            `echo ${run} out; printf '${run} err' >&2`,
          ],
        });
        assert.equal(result.code, 0, `ctr run: ${result.stderr}`);
        await containerd.remove(id);
        await writerFinished(log);
      }
      const entries = await readEntries(log);
      const of = (stream: string) =>
        entries.filter((e) => e.stream === stream).map((e) => e.log);
      assert.deepEqual(of("stdout"), ["first out\n", "second out\n"]);
      assert.deepEqual(of("stderr"), ["first err", "second err"]);
      const firstRun = entries.filter((e) => e.log.startsWith("first"));
      assert.deepEqual(
        entries.slice(0, 2),
        firstRun,
        "first run's entries come first",
      );
      assert.ok(entries[2].ns >= entries[1].ns);
    });
  },
);

peerTest(
  "containerd: a bad option in the log URI makes the driver exit before ready, creating no file",
  NEEDS,
  async () => {
    await withContainerd(async (containerd) => {
      const { logs, wrapper } = await setup(containerd);
      const id = containerId("shimlog-badopt");
      const log = `${logs}/${id}.log`;
      const result = await containerd.run(id, {
        logUri: `binary://${wrapper}?log-path=${log}&max-size=10x`,
        command: ["/bin/sh", "-c", "exit 3"],
      });
      // containerd 1.6's binary:// takes the driver's early exit as ready and
      // runs the container anyway; the driver's stderr goes to /dev/null
      // there (its message is checked in install_driver.test.ts).
      assert.equal(result.code, 3, `ctr run: ${result.stderr}`);
      await containerd.remove(id);
      await assert.rejects(Deno.stat(log), Deno.errors.NotFound);
      assert.deepEqual([...Deno.readDirSync(logs)], []);
      // The driver was gone before the task ended: containerd could not
      // SIGTERM it.
      const containerdLog = await containerd.log();
      assert.match(
        containerdLog,
        /failed to send SIGTERM signal, killing logging shim.*process already finished/,
      );

      // Control: the same wrapper with a valid size logs.
      const good = containerId("shimlog-goodopt");
      const control = await containerd.run(good, {
        logUri: `binary://${wrapper}?log-path=${logs}/${good}.log&max-size=10k`,
        command: ["/bin/sh", "-c", "echo fine; exit 3"],
      });
      assert.equal(control.code, 3, `ctr run: ${control.stderr}`);
      await containerd.remove(good);
      assert.deepEqual(
        (await readEntries(`${logs}/${good}.log`)).map((e) => e.log),
        ["fine\n"],
      );
    });
  },
);

peerTest(
  "containerd runs driver.ts with log-driver=cri: kubelet's format, every byte back after kubelet-style rotation",
  NEEDS,
  async () => {
    await withContainerd(async (containerd) => {
      const { logs, wrapper } = await setup(containerd);
      const id = containerId("shimlog-cri");
      const log = `${logs}/${id}.log`;
      const lines = 300;
      // stdout: numbered lines with \r\n, one 20,000-byte line, a fragment;
      // stderr: numbered lines. About 12 kB a rotation: several rotations.
      const script = [
        `i=0; while [ $i -lt ${lines} ]; do`,
        `printf 'out %05d padding-padding-padding\\r\\n' $i;`,
        `printf 'err %05d\\n' $i >&2; i=$((i+1)); done;`,
        `/bin/head -c 20000 /dev/zero | /bin/tr '\\0' 'L'; echo;`,
        `printf 'frag-out'; printf 'err-tail\\n' >&2`,
      ].join(" ");
      const result = await containerd.run(id, {
        logUri:
          `binary://${wrapper}?log-driver=cri&log-path=${log}&max-size=12Ki&max-file=3`,
        command: ["/bin/sh", "-c", script],
      });
      assert.equal(result.code, 0, `ctr run: ${result.stderr}`);
      await containerd.remove(id);
      await writerFinished(log);
      const names = [...Deno.readDirSync(logs)].map((e) => e.name)
        .filter((n) => !isLogMarker(n)).sort();
      const rotated = names.filter((n) => n !== `${id}.log`);
      assert.equal(names.length, 3, `max-file=3 keeps 3 files: ${names}`);
      for (const name of rotated) {
        assert.match(name, /\.log\.\d{8}-\d{6}(\.gz)?$/);
      }
      // Oldest first: the names sort in rotation order.
      const texts: Uint8Array[] = [];
      for (const name of rotated) {
        let bytes = await Deno.readFile(`${logs}/${name}`);
        if (name.endsWith(".gz")) {
          bytes = new Uint8Array(
            await new Response(
              new Blob([bytes]).stream().pipeThrough(
                new DecompressionStream("gzip"),
              ),
            ).arrayBuffer(),
          );
        }
        texts.push(bytes);
      }
      texts.push(await Deno.readFile(log));
      const joiner = new CriLineJoiner();
      const got: Record<string, string[]> = { stdout: [], stderr: [] };
      for (const text of texts) {
        const records = decoder.decode(text).split("\n").filter((l) => l);
        for (const record of records) {
          assert.match(
            record,
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z (stdout|stderr) [PF] /,
          );
          const line = joiner.push(decodeCriLine(encoder.encode(record)));
          if (line) got[line.stream].push(decoder.decode(line.content));
        }
      }
      // Rotation deleted the oldest lines: what is kept is a contiguous,
      // complete tail of each stream.
      const out = [
        ...Array.from(
          { length: lines },
          (_, i) => `out ${String(i).padStart(5, "0")} padding-padding-padding`,
        ),
        "L".repeat(20000),
        "frag-out",
      ];
      const err = [
        ...Array.from(
          { length: lines },
          (_, i) => `err ${String(i).padStart(5, "0")}`,
        ),
        "err-tail",
      ];
      // Which stream's lines were rotated away depends on the order in which
      // the driver read the two pipes: what is kept is a contiguous tail of
      // each stream (possibly empty), and the newest line read is there.
      assert.ok(
        got.stdout.at(-1) === "frag-out" || got.stderr.at(-1) === "err-tail",
        `kept ${got.stdout.length} stdout and ${got.stderr.length} stderr lines in ${names}`,
      );
      assert.ok(
        got.stdout.length + got.stderr.length < out.length + err.length,
        "rotation deleted the oldest lines",
      );
      assert.deepEqual(got.stdout, out.slice(out.length - got.stdout.length));
      assert.deepEqual(got.stderr, err.slice(err.length - got.stderr.length));
    });
  },
);

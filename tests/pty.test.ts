import assert from "node:assert/strict";
import { DEFAULT_WINDOW_SIZE, PseudoTerminal } from "../src/pty.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Starts `sh -c SCRIPT` with the pty's slave as its stdin, stdout and
 * stderr (one read-write open, as login does).
 */
function spawnOn(pty: PseudoTerminal, script: string): Deno.ChildProcess {
  return new Deno.Command("/bin/sh", {
    args: ["-c", `exec sh -c '${script}' 0<>"$1" 1>&0 2>&0`, "sh", pty.path],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Reads the master until end of file. */
async function readAll(pty: PseudoTerminal): Promise<string> {
  const buffer = new Uint8Array(4096);
  const chunks: string[] = [];
  let n;
  while ((n = await pty.read(buffer)) !== null) {
    chunks.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
  }
  return chunks.join("") + decoder.decode();
}

/** Runs `script` on the pty and returns its exit code and everything it wrote. */
async function runOn(
  pty: PseudoTerminal,
  script: string,
): Promise<{ code: number; output: string }> {
  const child = spawnOn(pty, script);
  // Read while it runs: a child writing more than the terminal buffers
  // would otherwise wait for us forever.
  const output = readAll(pty);
  const { code } = await child.status;
  pty.closeSlave();
  return { code, output: await output };
}

Deno.test("PseudoTerminal.open() gives a /dev/pts/N that a child sees as a terminal of the given size", async () => {
  const pty = PseudoTerminal.open({ columns: 100, rows: 30 });
  try {
    assert.match(pty.path, /^\/dev\/pts\/\d+$/);
    assert.deepEqual(pty.getSize(), { columns: 100, rows: 30 });
    const { code, output } = await runOn(
      pty,
      "tty; stty size; test -t 0 && test -t 1 && test -t 2 && echo all-terminals",
    );
    assert.equal(code, 0);
    assert.equal(output, `${pty.path}\r\n30 100\r\nall-terminals\r\n`);
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.open() defaults to 80×24", async () => {
  const pty = PseudoTerminal.open();
  try {
    assert.deepEqual(pty.getSize(), DEFAULT_WINDOW_SIZE);
    assert.equal((await runOn(pty, "stty size")).output, "24 80\r\n");
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.read() returns everything the child wrote, then null once the slave is closed", async () => {
  const pty = PseudoTerminal.open();
  try {
    // Far more than the terminal buffers: the child waits for our reads.
    const { code, output } = await runOn(
      pty,
      'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done; printf "no newline"',
    );
    assert.equal(code, 0);
    const expected = [...Array(20000).keys()].map((i) => `line ${i}\r\n`)
      .join("") + "no newline";
    assert.equal(output.length, expected.length);
    assert.equal(output, expected);
    assert.equal(await pty.read(new Uint8Array(10)), null, "still at the end");
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.read() waits while this object holds the slave, and returns null when aborted", async () => {
  const pty = PseudoTerminal.open();
  try {
    const { code } = await spawnOn(pty, "printf hi").status;
    assert.equal(code, 0);
    const buffer = new Uint8Array(10);
    const n = await pty.read(buffer);
    assert.equal(decoder.decode(buffer.subarray(0, n!)), "hi");
    // The child is gone, but our slave keeps the terminal open: no end yet.
    const stop = new AbortController();
    const pending = pty.read(buffer, { signal: stop.signal });
    stop.abort();
    assert.equal(await pending, null);
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.write() types into the terminal: the line is echoed, then read by the child", async () => {
  const pty = PseudoTerminal.open();
  try {
    const child = spawnOn(pty, 'read line; echo "got [$line]"');
    const output = readAll(pty);
    await pty.write(encoder.encode("hello world\n"));
    assert.equal((await child.status).code, 0);
    pty.closeSlave();
    assert.equal(await output, "hello world\r\ngot [hello world]\r\n");
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.write() passes Ctrl-C to the terminal, whose line discipline sends SIGINT to the child", async () => {
  const pty = PseudoTerminal.open();
  try {
    // setsid -c: the terminal becomes the child's controlling terminal, and
    // the child's process group its foreground.
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        "exec setsid -c sh -c 'echo ready; exec sleep 300' 0<>\"$1\" 1>&0 2>&0",
        "sh",
        pty.path,
      ],
      stdin: "null",
    }).spawn();
    const buffer = new Uint8Array(100);
    let output = "";
    while (!output.includes("ready\r\n")) {
      const n = await pty.read(buffer);
      assert.notEqual(n, null, `ended after ${JSON.stringify(output)}`);
      output += decoder.decode(buffer.subarray(0, n!));
    }
    await pty.write(Uint8Array.of(3));
    const status = await child.status;
    assert.equal(status.signal, "SIGINT");
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.setSize() changes the size the child sees", async () => {
  const pty = PseudoTerminal.open();
  try {
    pty.setSize({ columns: 132, rows: 43 });
    assert.deepEqual(pty.getSize(), { columns: 132, rows: 43 });
    assert.equal((await runOn(pty, "stty size")).output, "43 132\r\n");
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.open() and setSize() reject a size out of range", () => {
  assert.throws(
    () => PseudoTerminal.open({ columns: 80, rows: -1 }),
    new RangeError(
      'Invalid window rows "-1": expected an integer from 0 to 65535',
    ),
  );
  const pty = PseudoTerminal.open();
  try {
    assert.throws(
      () => pty.setSize({ columns: 1.5, rows: 24 }),
      RangeError,
    );
  } finally {
    pty.close();
  }
});

Deno.test("PseudoTerminal.close() can be called twice; reads then return null and writes throw", async () => {
  const pty = PseudoTerminal.open();
  pty.close();
  pty.close();
  assert.equal(pty.closed, true);
  assert.equal(await pty.read(new Uint8Array(10)), null);
  await assert.rejects(
    pty.write(encoder.encode("x")),
    new Error(`Pseudo-terminal "${pty.path}" is closed`),
  );
});

import assert from "node:assert/strict";
import { parseByteQuantity } from "../src/quantity.ts";

Deno.test("parseByteQuantity() reads binary suffixes as powers of 1024", () => {
  assert.equal(parseByteQuantity("512Ki"), 512 * 1024);
  assert.equal(parseByteQuantity("10Mi"), 10 * 1024 ** 2);
  assert.equal(parseByteQuantity("1Gi"), 1024 ** 3);
  assert.equal(parseByteQuantity("2Ti"), 2 * 1024 ** 4);
  assert.equal(parseByteQuantity("1Pi"), 1024 ** 5);
  assert.equal(parseByteQuantity("1.5Ki"), 1536);
  assert.equal(parseByteQuantity("0.5Mi"), 524_288);
});

Deno.test("parseByteQuantity() reads decimal suffixes as powers of 1000, with a lowercase k", () => {
  assert.equal(parseByteQuantity("500k"), 500_000);
  assert.equal(parseByteQuantity("10M"), 10_000_000);
  assert.equal(parseByteQuantity("3G"), 3_000_000_000);
  assert.equal(parseByteQuantity("1T"), 1e12);
  assert.equal(parseByteQuantity("1P"), 1e15);
  assert.equal(parseByteQuantity("1.5k"), 1500);
});

Deno.test("parseByteQuantity() reads plain bytes, exponents and Kubernetes' number forms", () => {
  assert.equal(parseByteQuantity("0"), 0);
  assert.equal(parseByteQuantity("1048576"), 1_048_576);
  assert.equal(parseByteQuantity("+12"), 12);
  assert.equal(parseByteQuantity("-0"), 0);
  assert.equal(parseByteQuantity("12."), 12);
  assert.equal(parseByteQuantity(".5k"), 500);
  assert.equal(parseByteQuantity("1e3"), 1000);
  assert.equal(parseByteQuantity("5E6"), 5_000_000);
  assert.equal(parseByteQuantity("1000e-3"), 1);
  assert.equal(
    parseByteQuantity("9007199254740991"),
    Number.MAX_SAFE_INTEGER,
  );
});

Deno.test("parseByteQuantity() refuses a lowercase m, explaining that it is milli and not mega", () => {
  assert.throws(() => parseByteQuantity("10m", "max-size"), {
    name: "RangeError",
    message:
      'Invalid max-size "10m": "m" means milli (1/1000) in a Kubernetes quantity, not mega as in Docker\'s max-size; write 10M for 10,000,000 bytes or 10Mi for 10,485,760 bytes',
  });
  // Even when the result would be a whole number of bytes, as kubelet allows.
  assert.throws(() => parseByteQuantity("1000m"), /milli/);
  assert.throws(() => parseByteQuantity("1.5m"), /1\.5M for 1,500,000 bytes/);
});

Deno.test("parseByteQuantity() refuses micro and nano, which give fractions of a byte", () => {
  assert.throws(() => parseByteQuantity("5u"), {
    name: "RangeError",
    message: /"u" means micro .* a fraction of a byte; valid suffixes: Ki/,
  });
  assert.throws(() => parseByteQuantity("5n"), /"n" means nano/);
});

Deno.test("parseByteQuantity() refuses Docker-style and misspelt units, naming the bad suffix and the valid ones", () => {
  for (
    const [text, suffix] of [
      ["10MB", "MB"],
      ["10K", "K"],
      ["10KB", "KB"],
      ["10mb", "mb"],
      ["10MiB", "MiB"],
      ["1e", "e"],
    ]
  ) {
    assert.throws(() => parseByteQuantity(text, "max-size"), {
      name: "SyntaxError",
      message: new RegExp(
        `^Cannot parse max-size "${text}": unknown suffix "${suffix}"; valid suffixes: Ki, Mi, Gi, Ti, Pi, Ei \\(powers of 1024\\), k, M, G, T, P, E \\(powers of 1000\\)`,
      ),
    }, text);
  }
  assert.throws(
    () => parseByteQuantity("10 Mi"),
    /^SyntaxError: Cannot parse quantity "10 Mi": no space allowed before the suffix "Mi"/,
  );
  for (const text of ["", "Mi", "ten", "1..2", "1,5Mi", "0x10"]) {
    assert.throws(() => parseByteQuantity(text), {
      name: "SyntaxError",
      message: new RegExp(`^Cannot parse quantity "${text}": `),
    }, text);
  }
});

Deno.test("parseByteQuantity() refuses negative, fractional and too large sizes", () => {
  assert.throws(() => parseByteQuantity("-1Ki", "max-size"), {
    name: "RangeError",
    message: 'Invalid max-size "-1Ki": must not be negative',
  });
  assert.throws(() => parseByteQuantity("1.5"), {
    name: "RangeError",
    message: 'Invalid quantity "1.5": not a whole number of bytes',
  });
  assert.throws(() => parseByteQuantity("1e-3"), /not a whole number/);
  assert.throws(() => parseByteQuantity("8E"), /larger than 9007199254740991/);
  assert.throws(() => parseByteQuantity("1e99999999"), /out of range/);
});

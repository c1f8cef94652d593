/**
 * Kubernetes quantities (`resource.Quantity` of k8s.io/apimachinery), as
 * kubelet reads `containerLogMaxSize`: `10Mi`, `512Ki`, `10M`, `500k`,
 * `1e6`, `1.5Gi` or plain bytes.
 *
 * @module
 */

const QUANTITY =
  /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL: Record<string, number> = {
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const FRACTIONAL: Record<string, string> = {
  m: "milli (1/1000)",
  u: "micro (1/1,000,000)",
  n: "nano (1/1,000,000,000)",
};

const SUFFIXES =
  "Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), k, M, G, T, P, E (powers of 1000), an exponent such as e6, or none for bytes";

/**
 * Parses a Kubernetes quantity that counts bytes, as kubelet's
 * `parseMaxSize` (`resource.ParseQuantity`, then a whole number): binary
 * suffixes `Ki` `Mi` `Gi` `Ti` `Pi` `Ei` (powers of 1024), decimal suffixes
 * `k` `M` `G` `T` `P` `E` (powers of 1000; note the lowercase `k`), or an
 * exponent (`5e6`); a fraction is allowed when the result is whole
 * (`1.5Ki` is 1,536).
 *
 * Unlike kubelet, the suffixes `m`, `u` and `n` are refused even when the
 * result would be whole: `m` is milli in Kubernetes but mega in Docker's
 * `max-size`, so `10m` is almost surely a mistake.
 *
 * @param text The quantity, e.g. `"10Mi"`.
 * @param name What the value is, for error messages (an option's name).
 * @returns The number of bytes, a whole number from 0 to
 *   `Number.MAX_SAFE_INTEGER`.
 * @throws {SyntaxError} If the text is not a quantity (such as `10MB` or
 *   `10K`), naming the accepted suffixes.
 * @throws {RangeError} If it has a sub-unit suffix (`m`, `u`, `n`), is
 *   negative, is not a whole number of bytes, or is above
 *   `Number.MAX_SAFE_INTEGER`.
 *
 * @example Usage
 * ```ts
 * import { parseByteQuantity } from "./quantity.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseByteQuantity("10Mi"), 10_485_760);
 * assert.equal(parseByteQuantity("500k"), 500_000);
 * assert.throws(() => parseByteQuantity("10m", "max-size"), /milli/);
 * ```
 */
export function parseByteQuantity(text: string, name = "quantity"): number {
  const match = QUANTITY.exec(text);
  if (match === null) throw unparsable(text, name);
  const [, sign, number, exponent, suffix = ""] = match;
  if (suffix in FRACTIONAL) {
    const why = suffix === "m"
      ? `not mega as in Docker's max-size; ${hint(number)}`
      : `a fraction of a byte; valid suffixes: ${SUFFIXES}`;
    throw new RangeError(
      `Invalid ${name} "${text}": "${suffix}" means ${
        FRACTIONAL[suffix]
      } in a Kubernetes quantity, ${why}`,
    );
  }
  const dot = number.indexOf(".");
  const digits = dot === -1 ? number : number.replace(".", "");
  let numerator = BigInt(digits === "" ? "0" : digits);
  let scale = dot === -1 ? 0 : number.length - dot - 1;
  if (sign === "-" && numerator !== 0n) {
    throw new RangeError(`Invalid ${name} "${text}": must not be negative`);
  }
  if (suffix in BINARY) numerator *= BINARY[suffix];
  let power = suffix in DECIMAL ? DECIMAL[suffix] : 0;
  if (exponent !== undefined) {
    const e = Number(exponent);
    if (Math.abs(e) > 64) {
      throw new RangeError(
        `Invalid ${name} "${text}": exponent ${exponent} is out of range`,
      );
    }
    power += e;
  }
  if (power >= scale) {
    numerator *= 10n ** BigInt(power - scale);
    scale = 0;
  } else {
    scale -= power;
  }
  const divisor = 10n ** BigInt(scale);
  if (numerator % divisor !== 0n) {
    throw new RangeError(
      `Invalid ${name} "${text}": not a whole number of bytes`,
    );
  }
  const bytes = numerator / divisor;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(
      `Invalid ${name} "${text}": larger than ${Number.MAX_SAFE_INTEGER} bytes`,
    );
  }
  return Number(bytes);
}

function unparsable(text: string, name: string): SyntaxError {
  const unit = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(\s*)([^\d\s.+-].*)$/.exec(
    text,
  );
  const why = unit === null
    ? "expected a number with an optional suffix"
    : unit[1] !== "" && QUANTITY.test(text.replace(/\s+/, ""))
    ? `no space allowed before the suffix "${unit[2]}"`
    : `unknown suffix "${unit[2]}"`;
  return new SyntaxError(
    `Cannot parse ${name} "${text}": ${why}; valid suffixes: ${SUFFIXES} (Kubernetes quantities, e.g. 10Mi)`,
  );
}

function hint(number: string): string {
  const examples: string[] = [];
  for (const [unit, factor] of [["M", 1_000_000], ["Mi", 1 << 20]] as const) {
    const bytes = Number(number) * factor;
    if (Number.isSafeInteger(bytes)) {
      examples.push(`${number}${unit} for ${bytes.toLocaleString("en-US")}`);
    }
  }
  return examples.length === 2
    ? `write ${examples[0]} bytes or ${examples[1]} bytes`
    : "use M (10^6 bytes) or Mi (2^20 bytes)";
}

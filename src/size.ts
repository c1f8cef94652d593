/**
 * Parsing of Docker's `max-size` values.
 *
 * @module
 */

const HUMAN_SIZE = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const DECIMAL_UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  p: 1e15,
};

/**
 * Parses a size in Docker's decimal units, as docker/go-units' `FromHumanSize`
 * (used by moby's json-file driver for `max-size`): `1k` is 1,000 bytes,
 * `1.5k` is 1,500, `10m` is 10,000,000; `10MB`, `10mb` and even `10mib` are
 * decimal too. Fractions of a byte are truncated.
 *
 * @param text The value, e.g. `"10m"`.
 * @param name What the value is, for the error messages (`"max-size"`).
 * @returns The size in bytes.
 * @throws {SyntaxError} If the text is not a size.
 * @throws {RangeError} If the size does not fit in a safe integer.
 *
 * @example Usage
 * ```ts
 * import { parseDockerSize } from "./size.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseDockerSize("1.5k"), 1500);
 * ```
 */
export function parseDockerSize(text: string, name = "size"): number {
  const match = HUMAN_SIZE.exec(text);
  if (match === null) {
    throw new SyntaxError(
      `Cannot parse ${name} "${text}": expected a number with an optional unit k, m, g, t or p (decimal: 1k = 1000 bytes)`,
    );
  }
  const unit = DECIMAL_UNITS[(match[2] ?? "").toLowerCase()];
  const size = Math.trunc(Number(match[1]) * unit);
  if (!Number.isSafeInteger(size)) {
    throw new RangeError(
      `Cannot use ${name} "${text}": larger than ${Number.MAX_SAFE_INTEGER} bytes`,
    );
  }
  return size;
}

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * Parses a boolean the way Go's `strconv.ParseBool` does, as Docker reads
 * `compress`: `1 t T TRUE true True` and `0 f F FALSE false False`.
 *
 * @param text The value.
 * @param name What the value is, for the error message (`"compress"`).
 * @returns The boolean.
 * @throws {SyntaxError} If the text is none of those forms.
 */
export function parseGoBool(text: string, name = "boolean"): boolean {
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  throw new SyntaxError(
    `Cannot parse ${name} "${text}": expected one of ${
      [...GO_TRUE, ...GO_FALSE].join(", ")
    }`,
  );
}

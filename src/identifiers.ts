/**
 * Validation of container ids and namespaces, as containerd's
 * `pkg/identifiers`.
 *
 * @module
 */

/** Longest identifier containerd accepts, in characters. */
export const MAX_IDENTIFIER_LENGTH = 76;

const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/**
 * Checks that `value` is a valid containerd identifier: alphanumerics
 * separated by single `.`, `_` or `-`, at most 76 characters, as containerd's
 * `identifiers.Validate`. Such a value is safe to use as one path component:
 * `..`, `/` and empty strings are refused.
 *
 * @param what What the value names, for the message (e.g. `"container id"`).
 * @param value The identifier to check.
 * @returns The same value.
 * @throws {RangeError} If the value is empty, too long or has other characters.
 *
 * @example Usage
 * ```ts
 * import { validateIdentifier } from "./identifiers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(validateIdentifier("namespace", "default"), "default");
 * assert.throws(() => validateIdentifier("container id", "../x"), RangeError);
 * ```
 */
export function validateIdentifier(what: string, value: string): string {
  if (value.length === 0) {
    throw new RangeError(`Invalid ${what} "": it must not be empty`);
  }
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    throw new RangeError(
      `Invalid ${what} "${value}": longer than ${MAX_IDENTIFIER_LENGTH} characters`,
    );
  }
  if (!IDENTIFIER.test(value)) {
    throw new RangeError(
      `Invalid ${what} "${value}": must match ${IDENTIFIER.source} (letters and digits separated by single ".", "_" or "-")`,
    );
  }
  return value;
}

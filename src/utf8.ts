/**
 * UTF-8 validation on bytes, with Go's rules (`unicode/utf8.DecodeRune`).
 *
 * @module
 */

/**
 * Length of the valid UTF-8 sequence that starts at `bytes[i]` and ends
 * before `end`, or 0 if the bytes there are not one (an invalid lead byte, a
 * bad or missing continuation byte, an overlong form, a surrogate, or a code
 * point above U+10FFFF). As Go's `utf8.DecodeRune`, which then reports one
 * invalid byte: Docker writes one U+FFFD per such byte.
 *
 * @param bytes The buffer.
 * @param i Index of the first byte; must be below `end`.
 * @param end Index one past the last byte that may be used.
 * @returns 1 to 4, or 0 when the sequence is invalid.
 */
export function utf8SequenceLength(
  bytes: Uint8Array,
  i: number,
  end: number,
): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 < 0xc2) return 0;
  else if (b0 < 0xe0) n = 2;
  else if (b0 < 0xf0) {
    n = 3;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 < 0xf5) {
    n = 4;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > end) return 0;
  const b1 = bytes[i + 1];
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k < n; k++) {
    const b = bytes[i + k];
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

/**
 * Where to cut `bytes` at or before `cut` so that no multibyte character is
 * split: if the bytes just before `cut` are a valid beginning of a character
 * that needs more bytes, returns where it begins; otherwise `cut`. Only bytes
 * before `cut` are looked at, so the answer does not depend on how much
 * follows. Invalid bytes are never moved: they become U+FFFD wherever they
 * fall.
 *
 * @param bytes The buffer.
 * @param start Index of the first byte of the line (a cut never goes below it
 *   plus one).
 * @param cut The preferred cut, an index in `(start, bytes.length]`.
 * @returns The cut to use, in `(start, cut]`.
 */
export function utf8SafeCut(
  bytes: Uint8Array,
  start: number,
  cut: number,
): number {
  for (let p = cut - 1; p > start && p >= cut - 3; p--) {
    const b = bytes[p];
    if (b >= 0x80 && b < 0xc0) continue; // continuation byte
    if (b < 0xc2 || b >= 0xf5) return cut; // ASCII or invalid lead
    const n = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    if (p + n <= cut) return cut; // ends at or before the cut
    // Check the bytes that are present form a valid prefix.
    let lo = 0x80;
    let hi = 0xbf;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
    else if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
    for (let k = p + 1; k < cut; k++) {
      const c = bytes[k];
      const l = k === p + 1 ? lo : 0x80;
      const h = k === p + 1 ? hi : 0xbf;
      if (c < l || c > h) return cut;
    }
    return p;
  }
  return cut;
}

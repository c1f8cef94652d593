/**
 * Log timestamps: wall-clock time refined below the millisecond.
 *
 * @module
 */

/**
 * A point in time with nanosecond resolution: whole seconds since the Unix
 * epoch and nanoseconds within that second.
 */
export interface LogTime {
  /** Seconds since 1970-01-01T00:00:00Z. */
  readonly sec: number;
  /** Nanoseconds within the second, 0 to 999,999,999. */
  readonly nsec: number;
}

/**
 * A clock for log entries. `Date` has millisecond resolution; this clock
 * anchors the monotonic clock (`performance.now()`) to `Date.now()` and
 * re-anchors whenever the two differ by a millisecond or more, so that:
 * - a time is never more than 1 ms away from `Date.now()` (while the wall
 *   clock moves forward);
 * - a time is never earlier than the previous one from the same clock (if the
 *   wall clock steps back, times hold still until it catches up).
 */
export class LogClock {
  #anchorMs = 0;
  #anchorPerf = 0;
  #clamps = 0;
  #lastSec = 0;
  #lastNsec = 0;
  #last: LogTime = { sec: 0, nsec: 0 };
  #wallMs: () => number;
  #monoMs: () => number;

  /**
   * Creates a clock anchored at the current time (takes up to 1 ms).
   *
   * @param sources The wall clock in ms since the epoch (default
   *   `Date.now`) and a monotonic clock in fractional ms (default
   *   `performance.now`); given only by tests.
   */
  constructor(
    sources: { wallMs?: () => number; monoMs?: () => number } = {},
  ) {
    this.#wallMs = sources.wallMs ?? Date.now;
    this.#monoMs = sources.monoMs ?? (() => performance.now());
    this.#anchor();
  }

  /**
   * Anchors the monotonic clock on an edge of `Date.now()`'s millisecond, so
   * that its fraction lines up with the wall clock's: waits for the next
   * millisecond to begin, at most about 1 ms.
   */
  #anchor(): void {
    const start = this.#wallMs();
    let wall = start;
    let perf = this.#monoMs();
    const limit = perf + 1.5;
    while (wall === start && perf < limit) {
      wall = this.#wallMs();
      perf = this.#monoMs();
    }
    this.#anchorMs = wall;
    this.#anchorPerf = perf;
    this.#clamps = 0;
  }

  /**
   * The current time.
   *
   * @returns A new {@linkcode LogTime}, never earlier than the previous one.
   */
  now(): LogTime {
    let perf = this.#monoMs();
    let wall = this.#wallMs();
    let delta = perf - this.#anchorPerf;
    let ms = this.#anchorMs + Math.floor(delta);
    let fracNs = Math.floor((delta - Math.floor(delta)) * 1e6);
    if (ms !== wall) {
      if (Math.abs(ms - wall) > 1 || ++this.#clamps > 64) {
        // Drifted, or the wall clock stepped: anchor again.
        this.#anchor();
        perf = this.#monoMs();
        wall = this.#wallMs();
        delta = perf - this.#anchorPerf;
        ms = this.#anchorMs + Math.floor(delta);
        fracNs = Math.floor((delta - Math.floor(delta)) * 1e6);
      }
      // Off by one at a millisecond's edge: keep within the wall clock's.
      // Behind it, the time is at least its millisecond's start: the anchor
      // moves so that the estimate is that now, and the times after go on
      // from it with their sub-millisecond digits.
      if (ms < wall) {
        this.#anchorPerf = perf - (wall - this.#anchorMs);
        [ms, fracNs] = [wall, 0];
      } else if (ms > wall) [ms, fracNs] = [wall, 999_999];
    }
    const sec = Math.floor(ms / 1000);
    const nsec = (ms - sec * 1000) * 1e6 + fracNs;
    if (
      sec < this.#lastSec || (sec === this.#lastSec && nsec <= this.#lastNsec)
    ) {
      return this.#last;
    }
    this.#lastSec = sec;
    this.#lastNsec = nsec;
    this.#last = { sec, nsec };
    return this.#last;
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

let cachedSec = NaN;
let cachedPrefix = "";

/** `YYYY-MM-DDThh:mm:ss` in UTC, cached for the last second asked. */
function utcSeconds(sec: number): string {
  if (sec !== cachedSec) {
    const d = new Date(sec * 1000);
    cachedPrefix = `${pad(d.getUTCFullYear(), 4)}-${
      pad(d.getUTCMonth() + 1, 2)
    }-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${
      pad(d.getUTCMinutes(), 2)
    }:${pad(d.getUTCSeconds(), 2)}`;
    cachedSec = sec;
  }
  return cachedPrefix;
}

/**
 * Formats a time as `docker logs -t` prints it (Go's
 * `jsonmessage.RFC3339NanoFixed` in UTC): always nine fractional digits, so
 * that every timestamp has the same width (`2026-11-29T15:53:54.273182200Z`).
 *
 * @param time The time.
 * @returns The text, 30 characters for years 0 to 9999.
 */
export function formatRfc3339NanoFixed(time: LogTime): string {
  return `${utcSeconds(time.sec)}.${pad(time.nsec, 9)}Z`;
}

/**
 * Formats a time as Go's `time.RFC3339Nano` in UTC, as Docker's json-file
 * `time` field: `2026-11-29T15:53:54.2731822Z`, up to nine fractional digits
 * with trailing zeros trimmed (and no dot when all are zero).
 *
 * @param time The time.
 * @returns The text.
 */
export function formatRfc3339Nano(time: LogTime): string {
  const cachedPrefix = utcSeconds(time.sec);
  if (time.nsec === 0) return `${cachedPrefix}Z`;
  let frac = pad(time.nsec, 9);
  let end = 9;
  while (frac.charCodeAt(end - 1) === 0x30) end--;
  frac = frac.slice(0, end);
  return `${cachedPrefix}.${frac}Z`;
}

/**
 * Parses an RFC 3339 time with up to nine fractional digits and `Z` or an
 * offset, as written by Docker (`…54.2731822Z`) or conmon
 * (`…54.273182200+01:00`); see {@linkcode parseRfc3339Bytes}.
 *
 * @param text The time.
 * @returns The time at full precision.
 * @throws {SyntaxError} If the text is not such a time, or a field is out
 *   of range.
 */
export function parseRfc3339Nano(text: string): LogTime {
  const bytes = new Uint8Array(text.length);
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    bytes[k] = c < 0x80 ? c : 0;
  }
  const time = parseRfc3339Bytes(bytes, 0, bytes.length);
  if (time === undefined) {
    throw new SyntaxError(
      `Cannot parse time "${text}": expected RFC 3339 such as 2026-11-29T15:53:54.273119833Z (month 01-12, a day of that month, hour 00-23, minute and second 00-59)`,
    );
  }
  return time;
}

/** Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digit(b: Uint8Array, i: number): number {
  const c = b[i] - 0x30;
  return c >= 0 && c <= 9 ? c : NaN;
}

function twoDigits(b: Uint8Array, i: number): number {
  return digit(b, i) * 10 + digit(b, i + 1);
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) {
    return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  }
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * Parses RFC 3339 time bytes (`2026-11-29T15:53:54.2731822Z`, or with an
 * offset such as `+01:00`, up to nine fractional digits) without making a
 * string: what json-file and CRI logs hold. Fields out of range are refused
 * as Go's `time.Parse` refuses them (month 13, 30 February, hour 24, second
 * 60); offsets run to ±23:59.
 *
 * @param b The buffer.
 * @param start Index of the first byte.
 * @param end Index after the last byte.
 * @returns The time, or `undefined` when the bytes are not such a time.
 *
 * @example Usage
 * ```ts
 * import { parseRfc3339Bytes } from "./clock.ts";
 * import assert from "node:assert/strict";
 * const text = new TextEncoder().encode("2026-11-29T15:54:16.567733509+00:00");
 * assert.deepEqual(parseRfc3339Bytes(text, 0, text.length), {
 *   sec: 1795967656,
 *   nsec: 567733509,
 * });
 * ```
 */
export function parseRfc3339Bytes(
  b: Uint8Array,
  start: number,
  end: number,
): LogTime | undefined {
  if (end - start < 20) return undefined;
  const year = twoDigits(b, start) * 100 + twoDigits(b, start + 2);
  const month = twoDigits(b, start + 5);
  const day = twoDigits(b, start + 8);
  const hour = twoDigits(b, start + 11);
  const minute = twoDigits(b, start + 14);
  const second = twoDigits(b, start + 17);
  const t = b[start + 10];
  if (
    b[start + 4] !== 0x2d || b[start + 7] !== 0x2d ||
    (t !== 0x54 && t !== 0x74 && t !== 0x20) || b[start + 13] !== 0x3a ||
    b[start + 16] !== 0x3a || !(month >= 1 && month <= 12) ||
    !(day >= 1 && day <= daysInMonth(year, month)) || !(hour <= 23) ||
    !(minute <= 59) || !(second <= 59) || !(year >= 0)
  ) return undefined;
  let i = start + 19;
  let nsec = 0;
  if (b[i] === 0x2e) {
    i++;
    const first = i;
    while (i < end && b[i] >= 0x30 && b[i] <= 0x39) {
      nsec = nsec * 10 + (b[i] - 0x30);
      i++;
    }
    const digits = i - first;
    if (digits === 0 || digits > 9) return undefined;
    for (let k = digits; k < 9; k++) nsec *= 10;
  }
  let offset = 0;
  const z = b[i];
  if ((z === 0x5a || z === 0x7a) && i + 1 === end) {
    // UTC
  } else if ((z === 0x2b || z === 0x2d) && i + 6 === end && b[i + 3] === 0x3a) {
    const oh = twoDigits(b, i + 1);
    const om = twoDigits(b, i + 4);
    if (!(oh <= 23 && om <= 59)) return undefined;
    offset = (oh * 60 + om) * 60 * (z === 0x2b ? 1 : -1);
  } else return undefined;
  const sec = daysFromCivil(year, month, day) * 86400 + hour * 3600 +
    minute * 60 + second - offset;
  return { sec, nsec };
}

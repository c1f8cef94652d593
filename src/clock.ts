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

  /** Creates a clock anchored at the current time (takes up to 1 ms). */
  constructor() {
    this.#anchor();
  }

  /**
   * Anchors the monotonic clock on an edge of `Date.now()`'s millisecond, so
   * that its fraction lines up with the wall clock's: waits for the next
   * millisecond to begin, at most about 1 ms.
   */
  #anchor(): void {
    const start = Date.now();
    let wall = start;
    let perf = performance.now();
    const limit = perf + 1.5;
    while (wall === start && perf < limit) {
      wall = Date.now();
      perf = performance.now();
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
    let perf = performance.now();
    let wall = Date.now();
    let delta = perf - this.#anchorPerf;
    let ms = this.#anchorMs + Math.floor(delta);
    let fracNs = Math.floor((delta - Math.floor(delta)) * 1e6);
    if (ms !== wall) {
      if (Math.abs(ms - wall) > 1 || ++this.#clamps > 64) {
        // Drifted, or the wall clock stepped: anchor again.
        this.#anchor();
        perf = performance.now();
        wall = Date.now();
        delta = perf - this.#anchorPerf;
        ms = this.#anchorMs + Math.floor(delta);
        fracNs = Math.floor((delta - Math.floor(delta)) * 1e6);
      }
      // Off by one at a millisecond's edge: keep within Date.now()'s.
      if (ms < wall) [ms, fracNs] = [wall, 0];
      else if (ms > wall) [ms, fracNs] = [wall, 999_999];
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

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 time with up to nine fractional digits and `Z` or an
 * offset, as written by Docker (`…54.2731822Z`) or conmon
 * (`…54.273182200+01:00`).
 *
 * @param text The time.
 * @returns The time at full precision.
 * @throws {SyntaxError} If the text is not such a time.
 */
export function parseRfc3339Nano(text: string): LogTime {
  const m = RFC3339.exec(text);
  if (m === null) {
    throw new SyntaxError(
      `Cannot parse time "${text}": expected RFC 3339 such as 2026-11-29T15:53:54.273119833Z`,
    );
  }
  let sec = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
  if (m[9] !== undefined) {
    const offset = (+m[10] * 60 + +m[11]) * 60;
    sec += m[9] === "+" ? -offset : offset;
  }
  const nsec = m[7] === undefined ? 0 : +m[7].padEnd(9, "0");
  return { sec, nsec };
}

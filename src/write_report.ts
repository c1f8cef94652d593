/**
 * Telling the operator about log entries a failed write dropped, without a
 * line per entry.
 *
 * @module
 */

import type { WriteEvent, WriteEventHandler } from "./rotating_file.ts";

/** Options of {@linkcode writeEventReporter}. */
export interface WriteEventReporterOptions {
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /**
   * Least time between two lines about drops that go on, in ms.
   * @default {10000}
   */
  everyMs?: number;
}

/**
 * A {@linkcode WriteEventHandler} that reports a log's dropped entries
 * through `report`: one line at the first drop, then at most one line every
 * `everyMs` while drops go on (with the bytes dropped in all), and one line
 * when writes work again. Docker's daemon logs each message it could not
 * write; a full disk would make that a flood.
 *
 * @param path The log file's path, for the messages.
 * @param report Where lines go (the driver's stderr).
 * @param options Clock and interval.
 * @returns The handler.
 *
 * @example Usage
 * ```ts
 * import { writeEventReporter } from "./write_report.ts";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * const onEvent = writeEventReporter("/logs/c.log", (l) => lines.push(l));
 * const error = new Error("No space left on device (os error 28)");
 * onEvent({ kind: "dropped", error, droppedBytes: 4096 });
 * onEvent({ kind: "dropped", error, droppedBytes: 100 }); // within 10 s
 * onEvent({ kind: "resumed", droppedBytes: 4196 });
 * assert.deepEqual(lines, [
 *   'cannot write "/logs/c.log": No space left on device (os error 28); dropping log entries until it can (4096 bytes so far)',
 *   'writing "/logs/c.log" again after dropping 4196 bytes of log entries',
 * ]);
 * ```
 */
export function writeEventReporter(
  path: string,
  report: (line: string) => void,
  options: WriteEventReporterOptions = {},
): WriteEventHandler {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 10_000;
  let dropped = 0;
  let lastLine = -Infinity;
  return (event: WriteEvent) => {
    if (event.kind === "resumed") {
      report(
        `writing "${path}" again after dropping ${event.droppedBytes} bytes of log entries`,
      );
      dropped = 0;
      return;
    }
    const message = event.error instanceof Error
      ? event.error.message
      : String(event.error);
    const first = dropped === 0;
    dropped += event.droppedBytes;
    const at = now();
    if (first) {
      report(
        `cannot write "${path}": ${message}; dropping log entries until it can (${dropped} bytes so far)`,
      );
    } else if (at - lastLine >= everyMs) {
      report(
        `still cannot write "${path}": ${message} (${dropped} bytes of log entries dropped)`,
      );
    } else {
      return;
    }
    lastLine = at;
  };
}

/**
 * Telling the operator about a log file's trouble (entries dropped, a
 * rotation or compression that failed) without a line per entry.
 *
 * @module
 */

import type { LogFileEvent, LogFileEventHandler } from "./log_file_events.ts";

/** Options of {@linkcode writeEventReporter}. */
export interface WriteEventReporterOptions {
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /**
   * Least time between two lines about the same trouble going on, in ms.
   * @default {10000}
   */
  everyMs?: number;
}

/**
 * A {@linkcode LogFileEventHandler} that reports a log's trouble through
 * `report`, one line at once and then at most one line every `everyMs` for
 * each kind while it goes on: entries dropped by failed writes (with the
 * bytes dropped in all, and a line when writes work again), a rotation that
 * failed (the file grows past max-size meanwhile), a compression that
 * failed. Docker's daemon logs each message it could not write; a full
 * disk would make that a flood.
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
): LogFileEventHandler {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 10_000;
  let dropped = 0;
  const lastLine = new Map<LogFileEvent["kind"], number>();
  /** Whether a line about `kind` may go out now; notes it if so. */
  const due = (kind: LogFileEvent["kind"], first: boolean): boolean => {
    const at = now();
    if (!first && at - (lastLine.get(kind) ?? -Infinity) < everyMs) {
      return false;
    }
    lastLine.set(kind, at);
    return true;
  };
  return (event: LogFileEvent) => {
    switch (event.kind) {
      case "resumed":
        report(
          `writing "${path}" again after dropping ${event.droppedBytes} bytes of log entries`,
        );
        dropped = 0;
        return;
      case "dropped": {
        const first = dropped === 0;
        dropped += event.droppedBytes;
        if (!due("dropped", first)) return;
        report(
          first
            ? `cannot write "${path}": ${
              message(event.error)
            }; dropping log entries until it can (${dropped} bytes so far)`
            : `still cannot write "${path}": ${
              message(event.error)
            } (${dropped} bytes of log entries dropped)`,
        );
        return;
      }
      case "rotation-failed":
        if (!due("rotation-failed", false)) return;
        report(
          event.retryMs === Infinity
            ? message(event.error)
            : `cannot rotate "${path}": ${
              message(event.error)
            }; it grows past max-size, rotation is tried again every ${
              event.retryMs / 1000
            } s`,
        );
        return;
      case "compression-failed":
        if (!due("compression-failed", false)) return;
        report(
          `cannot compress "${event.path}": ${
            message(event.error)
          }; it stays uncompressed`,
        );
        return;
    }
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
  /**
   * Runs `fn` after `ms` (a line held back by the pacing, said once its
   * window ends); returns what cancels it. By default an unref'd timer,
   * which does not keep the process alive.
   */
  schedule?: (fn: () => void, ms: number) => () => void;
}

/** What {@linkcode writeEventReporter} returns. */
export interface WriteEventReporter {
  /** The handler to give the log file (`onEvent`). */
  onEvent: LogFileEventHandler;
  /**
   * Says what the paced lines left unsaid (drops, or writes that work
   * again, since the last line); call it once the file is closed.
   */
  finish(): void;
}

/**
 * Reports a log's trouble through `report` without a line per entry: the
 * first drop at once, then one line at most every `everyMs` about writes
 * (drops going on, or writes that work again, with the bytes dropped since
 * the driver started), and a last line from `finish()` if the paced ones
 * left something unsaid; likewise at most one line every `everyMs` about
 * failed rotations and about failed compressions. Docker's daemon logs
 * each message it could not write; a full disk would make that a flood,
 * and so would a disk that fills and empties many times a second.
 *
 * @param path The log file's path, for the messages.
 * @param report Where lines go (the driver's stderr).
 * @param options Clock and interval.
 * @returns The handler, and what to call at the end.
 *
 * @example Usage
 * ```ts
 * import { writeEventReporter } from "./write_report.ts";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * const reporter = writeEventReporter("/logs/c.log", (l) => lines.push(l));
 * const error = new Error("No space left on device (os error 28)");
 * reporter.onEvent({ kind: "dropped", error, droppedBytes: 4096 });
 * reporter.onEvent({ kind: "dropped", error, droppedBytes: 100 }); // within 10 s
 * reporter.onEvent({ kind: "resumed", droppedBytes: 4196 }); // within 10 s
 * reporter.finish();
 * assert.deepEqual(lines, [
 *   'cannot write "/logs/c.log": No space left on device (os error 28); dropping log entries until it can (4096 bytes dropped so far)',
 *   'writing "/logs/c.log" again (4196 bytes of log entries dropped in all)',
 * ]);
 * ```
 */
export function writeEventReporter(
  path: string,
  report: (line: string) => void,
  options: WriteEventReporterOptions = {},
): WriteEventReporter {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 10_000;
  const schedule = options.schedule ?? ((fn: () => void, ms: number) => {
    const timer = setTimeout(fn, ms);
    Deno.unrefTimer(timer);
    return () => clearTimeout(timer);
  });
  /** Cancels the line held back, if one is. */
  let cancelHeld: (() => void) | undefined;
  let dropped = 0;
  let dropping = false;
  /** Something about writes happened since the last line about them. */
  let unsaid = false;
  /** What the last line about writes said. */
  let said: "dropping" | "writing" | undefined;
  let lastError: unknown;
  const lastLine = new Map<LogFileEvent["kind"] | "write", number>();
  /** Whether a line about `kind` may go out now; notes it if so. */
  const due = (kind: LogFileEvent["kind"] | "write"): boolean => {
    const at = now();
    if (at - (lastLine.get(kind) ?? -Infinity) < everyMs) return false;
    lastLine.set(kind, at);
    return true;
  };
  const sayWrites = () => {
    unsaid = false;
    if (dropping) {
      report(
        `${said === "dropping" ? "still cannot" : "cannot"} write "${path}": ${
          message(lastError)
        }; dropping log entries until it can (${dropped} bytes dropped so far)`,
      );
    } else {
      report(
        `writing "${path}" again (${dropped} bytes of log entries dropped in all)`,
      );
    }
    said = dropping ? "dropping" : "writing";
  };
  const onEvent = (event: LogFileEvent) => {
    switch (event.kind) {
      case "dropped":
      case "resumed":
        if (event.kind === "dropped") {
          dropped += event.droppedBytes;
          lastError = event.error;
        }
        dropping = event.kind === "dropped";
        unsaid = true;
        if (due("write")) sayWrites();
        else if (cancelHeld === undefined) {
          // Said when the window ends: "writing again" must not wait for
          // the next drop, or the exit.
          const wait = (lastLine.get("write") ?? 0) + everyMs - now();
          cancelHeld = schedule(() => {
            cancelHeld = undefined;
            if (unsaid && due("write")) sayWrites();
          }, Math.max(0, wait));
        }
        return;
      case "rotation-failed":
        if (!due("rotation-failed")) return;
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
        if (!due("compression-failed")) return;
        report(
          `cannot compress "${event.path}": ${
            message(event.error)
          }; it stays uncompressed`,
        );
        return;
    }
  };
  return {
    onEvent,
    finish() {
      cancelHeld?.();
      cancelHeld = undefined;
      if (unsaid) sayWrites();
    },
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

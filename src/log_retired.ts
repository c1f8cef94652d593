/**
 * The names of retired log files: files that rotation would delete, kept by
 * the writer for a grace period while a follower reads (see `LogRetirer`).
 * Apart from `log_files.ts`, so that the driver loads only this.
 *
 * @module
 */

import { folderOf, namesIn } from "./_files.ts";
import type { RotatedName } from "./log_files.ts";

/**
 * The path under which a writer keeps a file that rotation would delete, for
 * a grace period (see `LogRetirer`): `<log>.retired-<ms>-<n>`, plus `.gz`
 * for a compressed one. Docker's and kubelet's readers do not look at such
 * names; a follower that fell behind finds the files it missed there.
 *
 * @param logPath The log file's path.
 * @param ms When the file was retired, in milliseconds since the epoch.
 * @param n A counter, for files retired in the same millisecond.
 * @param compressed Whether the file is gzipped.
 * @returns The path.
 */
export function retiredPath(
  logPath: string,
  ms: number,
  n: number,
  compressed: boolean,
): string {
  return `${logPath}.retired-${ms}-${n}${compressed ? ".gz" : ""}`;
}

/**
 * Lists the retired files of a log (see {@linkcode retiredPath}), oldest
 * first: every file retired before the call and not deleted since, up to
 * the newest one listed, and never a file without those retired before it.
 * A folder read while files are renamed into it is no snapshot (`readdir`
 * may leave out a name added during the read and show one added after
 * it), so the folder is read twice: every file retired before the second
 * read began is in it, and only the files up to the newest of the first
 * read are listed; later ones are for the next call.
 *
 * Needs `--allow-read` for the folder.
 *
 * @param path The log file's path.
 * @returns The files, oldest first, with when they were retired.
 */
export function listRetiredFiles(
  path: string,
): (RotatedName & { retiredMs: number })[] {
  const RETIRED = /^\.retired-(\d{1,15})-(\d{1,9})(\.gz)?$/;
  const dir = folderOf(path);
  const base = path.slice(path.lastIndexOf("/") + 1);
  type Retired = RotatedName & { retiredMs: number; n: number };
  const compare = (a: Retired, b: Retired) =>
    a.retiredMs - b.retiredMs || a.n - b.n;
  const read = (): Retired[] => {
    const found: Retired[] = [];
    for (const name of namesIn(dir)) {
      if (!name.startsWith(base)) continue;
      const m = RETIRED.exec(name.slice(base.length));
      if (m === null) continue;
      found.push({
        path: `${dir === "/" ? "" : dir}/${name}`,
        compressed: m[3] !== undefined,
        order: 0,
        retiredMs: Number(m[1]),
        n: Number(m[2]),
      });
    }
    return found.sort(compare);
  };
  const newest = read().at(-1);
  if (newest === undefined) return [];
  return read().filter((f) => compare(f, newest) <= 0);
}

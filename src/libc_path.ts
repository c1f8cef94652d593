/**
 * Where the C library lives, for `--allow-ffi=PATH`: Deno grants FFI per
 * library path, compared as written (no symlinks resolved), so a launcher
 * grants these candidates and the driver loads the first one it may load.
 *
 * @module
 */

/**
 * The C library's usual paths on Linux for this machine's architecture:
 * Debian/Ubuntu multiarch (`/lib/<triplet>` and `/usr/lib/<triplet>`),
 * Fedora/RHEL (`/lib64`, `/usr/lib64`), and musl (Alpine). An empty list
 * off Linux or on another architecture.
 *
 * @returns Absolute paths, most likely first; some may not exist.
 *
 * @example Usage
 * ```ts
 * import { libcCandidates } from "./libc_path.ts";
 * import assert from "node:assert/strict";
 * for (const path of libcCandidates()) assert.ok(path.startsWith("/"));
 * ```
 */
export function libcCandidates(): string[] {
  if (Deno.build.os !== "linux") return [];
  const arch = Deno.build.arch;
  if (arch !== "x86_64" && arch !== "aarch64") return [];
  const triplet = `${arch}-linux-gnu`;
  const paths = [
    `/lib/${triplet}/libc.so.6`,
    `/usr/lib/${triplet}/libc.so.6`,
    `/lib/ld-musl-${arch}.so.1`,
  ];
  if (arch === "x86_64") paths.push("/lib64/libc.so.6", "/usr/lib64/libc.so.6");
  else paths.push("/lib64/libc.so.6", "/usr/lib/libc.so.6");
  return paths;
}

/**
 * Opens the C library with `symbols`: the candidates of
 * {@linkcode libcCandidates} this process may load (`--allow-ffi` for that
 * path, or for all), then, with an unrestricted `--allow-ffi`, the names
 * `libc.so.6` and `libc.so` as the dynamic loader finds them.
 *
 * @param symbols The symbols to bind, as `Deno.dlopen` takes them.
 * @returns The library, or `null` when FFI is not granted for any of them
 *   or none loads.
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  const names = [...libcCandidates(), "libc.so.6", "libc.so"];
  for (const path of names) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
      continue;
    }
    try {
      return Deno.dlopen(path, symbols);
    } catch { /* not there, or not this library: try the next */ }
  }
  return null;
}

/**
 * A containerd binary logging driver: the container's stdout on fd 3, stderr
 * on fd 4, the ready pipe on fd 5, settings from argv as `key value` pairs.
 *
 * ```sh
 * deno run --allow-read=/dev/fd/3,/dev/fd/4,/var/lib/shimlog \
 *   --allow-write=/dev/fd/5,/var/lib/shimlog \
 *   --allow-env=CONTAINER_ID,CONTAINER_NAMESPACE \
 *   driver.ts data-root /var/lib/shimlog max-size 10m max-file 3
 * ```
 *
 * containerd starts it as `binary:///path/to/wrapper?data-root=…&max-size=…`
 * (see `scripts/install_driver.ts`).
 *
 * @module
 */

import { runLoggingDriver } from "./src/containerd_logging.ts";

export { runLoggingDriver };
export type { LoggingDriverOptions } from "./src/containerd_logging.ts";

async function main(args: string[]): Promise<number> {
  // A SIGTERM that comes after the driver has drained (containerd and the
  // shim send one once the container has exited), or a Ctrl-C, must not
  // kill it while it exits: these listeners stay until Deno.exit.
  Deno.addSignalListener("SIGTERM", () => {});
  Deno.addSignalListener("SIGINT", () => {});
  return await runLoggingDriver(args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));

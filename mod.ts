/**
 * shimlog: capture a container's stdout and stderr the way containerd,
 * nerdctl and Docker do. This module is the library behind `driver.ts` (a
 * containerd binary logging driver) and `shim.ts`: framing of byte streams
 * into log messages, Docker's json-file format byte for byte, size-based
 * rotation with gzip, and the containerd logging protocol.
 *
 * @example Write a Docker json-file log from a stream
 * ```ts
 * import { copyStreams, JsonFileSink } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const sink = JsonFileSink.open({ path: `${dir}/app-json.log`, maxSize: 10_000_000, maxFile: 3 });
 * const bytes = new TextEncoder().encode("hello\nworld");
 * let done = false;
 * const stdout = {
 *   read(buffer: Uint8Array): Promise<number | null> {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     buffer.set(bytes);
 *     return Promise.resolve(bytes.length);
 *   },
 * };
 * await copyStreams({ stdout }, sink);
 * await sink.close();
 * const lines = (await Deno.readTextFile(`${dir}/app-json.log`)).trim().split("\n");
 * assert.equal(JSON.parse(lines[0]).log, "hello\n");
 * assert.equal(JSON.parse(lines[1]).log, "world");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export {
  formatRfc3339Nano,
  formatRfc3339NanoFixed,
  LogClock,
  type LogTime,
  parseRfc3339Bytes,
  parseRfc3339Nano,
} from "./src/clock.ts";
export {
  CriEncoder,
  type CriFlavour,
  type CriLine,
  CriLineJoiner,
  type CriRecord,
  decodeCriLine,
  encodeCriRecord,
  formatLocalRfc3339Nano,
} from "./src/cri.ts";
export {
  CRI_OPTION_KEYS,
  type CriOptions,
  CriSink,
  type CriSinkOptions,
  DEFAULT_MAX_LINE_SIZE,
  parseCriOptions,
} from "./src/cri_sink.ts";
export {
  KubeletRotatingFile,
  type KubeletRotationOptions,
  listKubeletLogs,
  rotationStamp,
} from "./src/kubelet_rotation.ts";
export { parseByteQuantity } from "./src/quantity.ts";
export {
  describe,
  type LoggingDriverOptions,
  runLoggingDriver,
  signalReady,
} from "./src/containerd_logging.ts";
export {
  type DriverConfig,
  loadDriverConfig,
  type LogConfigFile,
  parseDriverArgs,
  readLogConfig,
} from "./src/driver_config.ts";
export { gzipExtra, gzipHeader, gzipWithExtra } from "./src/gzip.ts";
export { validateIdentifier } from "./src/identifiers.ts";
export {
  encodeAttrs,
  escapeJsonBytes,
  JsonFileEncoder,
  type StreamName,
} from "./src/json_file.ts";
export {
  JSON_FILE_OPTION_KEYS,
  type JsonFileOptions,
  parseJsonFileOptions,
} from "./src/json_file_options.ts";
export {
  JsonFileSink,
  type JsonFileSinkOptions,
} from "./src/json_file_sink.ts";
export {
  DEFAULT_MAX_PIECE,
  LineFramer,
  type PieceHandler,
} from "./src/line_framer.ts";
export {
  type AttrsOptions,
  type ContainerInfo,
  expandTag,
  extraAttributes,
} from "./src/log_attrs.ts";
export {
  containerDir,
  jsonFileLogPath,
  logConfigPath,
} from "./src/log_paths.ts";
export {
  type ByteReader,
  type CopyOptions,
  type CopyResult,
  copyStreams,
  type LoggerStreams,
} from "./src/logger.ts";
export {
  type BatchBuffers,
  type LogFileEvent,
  type LogFileEventHandler,
  RotatingFile,
  type RotatingFileCloseOptions,
  type RotationOptions,
} from "./src/rotating_file.ts";
export type { LogSink, SinkCloseOptions } from "./src/sink.ts";
export {
  LOG_DRIVERS,
  logPathFor,
  type OpenedSink,
  openSink,
} from "./src/sinks.ts";
export { parseDockerSize, parseGoBool } from "./src/size.ts";
export {
  parseShimArgs,
  type ParseShimArgsOptions,
  type ShimArgs,
} from "./src/shim_args.ts";
export {
  runShim,
  SHIM_FAILURE_EXIT_CODE,
  shimLogPath,
  type ShimOptions,
} from "./src/shim.ts";
export {
  DEFAULT_WINDOW_SIZE,
  PseudoTerminal,
  type PtyReadOptions,
  type PtyWriteOptions,
  type WindowSize,
} from "./src/pty.ts";
export { type AppOptions, parseAppArgs } from "./src/app_args.ts";
export {
  type AppClock,
  appLine,
  appLineChunks,
  type AppLineChunksOptions,
  runApp,
} from "./src/app_output.ts";
export {
  readLogBatches,
  readLogs,
  type ReadLogsOptions,
} from "./src/log_reader.ts";
export {
  type DecodedLine,
  decodeOrRecover,
  detectLogFormat,
  type LogEntry,
  type LogFormat,
  LogLineDecoder,
} from "./src/log_entry.ts";
export {
  decodeJsonFileLine,
  JsonFileDecoder,
  type JsonFileRecord,
} from "./src/json_file.ts";
export {
  holdFollowerLock,
  holdLogLock,
  logFollowersPath,
  type LogLock,
  logLockPath,
  type LogWriterState,
  logWriterState,
} from "./src/log_lock.ts";
export {
  LogRetirer,
  type LogRetirerOptions,
  type RetirerFinishOptions,
} from "./src/log_retire.ts";
export {
  ContainerLogNotFound,
  type ContainerRef,
  locateContainerLog,
} from "./src/log_locate.ts";
export { parseTimeArg } from "./src/logs_args.ts";
export { gzipFileOffThread } from "./src/gzip_worker.ts";

/**
 * Gzip with Docker's header: the extra field carries metadata about the file.
 *
 * @module
 */

const FLAG_EXTRA = 0x04;

/**
 * Builds the 10-byte gzip header plus an extra field, as Go's `gzip.Writer`
 * with `Header.Extra` set writes it (as moby's `compressFile`): no name, no
 * modification time, OS 255 (unknown), then `XLEN` (2 bytes, little-endian)
 * and the extra bytes.
 *
 * @param extra The extra field's bytes, at most 65,535.
 * @returns The header bytes.
 * @throws {RangeError} If `extra` is longer than 65,535 bytes.
 */
export function gzipHeader(extra: Uint8Array): Uint8Array {
  if (extra.length > 0xffff) {
    throw new RangeError(
      `Gzip extra field of ${extra.length} bytes is longer than 65535 bytes`,
    );
  }
  const header = new Uint8Array(12 + extra.length);
  header.set([0x1f, 0x8b, 0x08, FLAG_EXTRA, 0, 0, 0, 0, 0, 0xff]);
  header[10] = extra.length & 0xff;
  header[11] = extra.length >> 8;
  header.set(extra, 12);
  return header;
}

/**
 * Compresses `source` into `sink` as gzip whose header carries `extra`
 * (Docker puts `{"lastTime":"…"}` there so that readers can skip old files).
 * Uses the platform's `CompressionStream`, whose plain 10-byte header is
 * replaced; its CRC-32 and size trailer stay valid as they cover only the
 * data.
 *
 * @param source The bytes to compress; read to the end.
 * @param sink Where the gzip bytes go; closed at the end.
 * @param extra The extra field's bytes.
 */
export async function gzipWithExtra(
  source: ReadableStream<Uint8Array>,
  sink: WritableStream<Uint8Array>,
  extra: Uint8Array,
): Promise<void> {
  let skip = 10;
  const replaceHeader = new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      controller.enqueue(gzipHeader(extra));
    },
    transform(chunk, controller) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
      }
      if (chunk.length > 0) controller.enqueue(chunk);
    },
  });
  await source
    .pipeThrough<Uint8Array>(
      new CompressionStream("gzip") as unknown as ReadableWritablePair<
        Uint8Array,
        Uint8Array
      >,
    )
    .pipeThrough(replaceHeader)
    .pipeTo(sink);
}

/**
 * Reads the extra field of a gzip header.
 *
 * @param head The first bytes of a gzip file (at least 12 plus the extra
 *   field's length).
 * @returns The extra field's bytes, or `undefined` if the header has none.
 * @throws {SyntaxError} If `head` does not start with a gzip header.
 */
export function gzipExtra(head: Uint8Array): Uint8Array | undefined {
  if (
    (head.length > 0 && head[0] !== 0x1f) ||
    (head.length > 1 && head[1] !== 0x8b)
  ) {
    throw new SyntaxError("Not a gzip file: bad magic bytes");
  }
  if (head.length < 10) throw new SyntaxError("Truncated gzip header");
  if ((head[3] & FLAG_EXTRA) === 0) return undefined;
  if (head.length < 12) throw new SyntaxError("Truncated gzip header");
  const length = head[10] | (head[11] << 8);
  if (head.length < 12 + length) {
    throw new SyntaxError("Truncated gzip extra field");
  }
  return head.subarray(12, 12 + length);
}

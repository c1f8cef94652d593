/**
 * Framing: a byte stream cut into log messages, as moby's `logger.Copier`.
 *
 * @module
 */

import { JsonEscapeWasm } from "./json_escape_wasm.ts";
import { utf8SafeCut } from "./utf8.ts";

/** Docker's largest message: 16 KiB, counting the line's `\n`. */
export const DEFAULT_MAX_PIECE = 16 * 1024;

/**
 * Receives each message. `piece` is only valid during the call: copy or
 * encode it before returning. `partial` is true when the line goes on in the
 * next piece, and for a final fragment without `\n` at the end of the stream.
 */
export type PieceHandler = (piece: Uint8Array, partial: boolean) => void;

/**
 * Cuts a stream of bytes into lines and pieces of lines, as Docker's copier:
 * - a line of up to `maxPiece` bytes counting its `\n` is one piece, `\n`
 *   included;
 * - a longer line is cut into pieces of at most `maxPiece` bytes, and only
 *   the last keeps the `\n` (a line of exactly `maxPiece` bytes plus `\n` gives
 *   a full piece and a piece holding only `\n`);
 * - unlike Docker, a piece never ends inside a multibyte UTF-8 character: if
 *   its last bytes are a valid start of one, the piece ends before them (the
 *   rule looks only at the piece's own bytes, so the pieces are the same
 *   however the stream was read);
 * - at the end of the stream, bytes after the last `\n` are a final partial
 *   piece.
 *
 * Memory is bounded: at most `maxPiece` bytes are held between calls.
 */
export class LineFramer {
  #max: number;
  #carry: Uint8Array;
  #carryLen = 0;
  /** Whether the last newline search went far: long lines. */
  #far = false;

  /**
   * Creates a framer with an empty carry.
   *
   * @param maxPiece Largest piece in bytes, counting a `\n`.
   * @throws {RangeError} If `maxPiece` is below 4 (a piece must fit a
   *   character).
   */
  constructor(maxPiece: number = DEFAULT_MAX_PIECE) {
    if (!Number.isInteger(maxPiece) || maxPiece < 4) {
      throw new RangeError(
        `Invalid maximum piece size ${maxPiece}: must be an integer of at least 4 bytes`,
      );
    }
    this.#max = maxPiece;
    this.#carry = new Uint8Array(maxPiece);
  }

  /** True while bytes of an unfinished line are held. */
  get pending(): boolean {
    return this.#carryLen > 0;
  }

  /**
   * Frames the next chunk of the stream.
   *
   * @param chunk Bytes as read; may be reused by the caller after return.
   * @param emit Called once per piece, in order.
   */
  push(chunk: Uint8Array, emit: PieceHandler): void {
    this.#push(chunk, emit, -2);
  }

  /** {@linkcode LineFramer.push}, given the first newline when known. */
  #push(chunk: Uint8Array, emit: PieceHandler, firstNewline: number): void {
    const max = this.#max;
    const len = chunk.length;
    let i = 0;
    // The next newline at or after i; -1 when there is none, -2 when not
    // searched yet. Searched again only once consumed, so a long line is
    // scanned once, not once a piece.
    let nl = firstNewline;
    while (i < len) {
      if (nl < i && nl !== -1) nl = this.#indexOfNewline(chunk, i);
      if (this.#carryLen > 0) {
        const carry = this.#carry;
        const room = max - this.#carryLen;
        if (nl !== -1 && nl - i + 1 <= room) {
          carry.set(chunk.subarray(i, nl + 1), this.#carryLen);
          emit(carry.subarray(0, this.#carryLen + nl + 1 - i), false);
          this.#carryLen = 0;
          i = nl + 1;
          continue;
        }
        const take = Math.min(room, len - i);
        carry.set(chunk.subarray(i, i + take), this.#carryLen);
        this.#carryLen += take;
        i += take;
        if (this.#carryLen < max) return; // chunk used up
        // A full piece with no newline: cut it, keep the rest.
        const cut = utf8SafeCut(carry, 0, max);
        emit(carry.subarray(0, cut), true);
        carry.copyWithin(0, cut, max);
        this.#carryLen = max - cut;
        continue;
      }
      if (nl !== -1 && nl - i + 1 <= max) {
        emit(chunk.subarray(i, nl + 1), false);
        i = nl + 1;
        continue;
      }
      if (len - i < max) {
        // No newline in what is left, and less than a piece: keep it.
        this.#carry.set(chunk.subarray(i), 0);
        this.#carryLen = len - i;
        return;
      }
      const cut = utf8SafeCut(chunk, i, i + max);
      emit(chunk.subarray(i, cut), true);
      i = cut;
    }
  }

  /**
   * Frames only as much of `chunk` as finishes the line held from earlier
   * reads, so that a caller can take the whole lines after it another way.
   *
   * @param chunk Bytes as read.
   * @param emit Called once per piece.
   * @returns The index in `chunk` after that line's `\n`, or its length.
   */
  finishLine(chunk: Uint8Array, emit: PieceHandler): number {
    const nl = this.#indexOfNewline(chunk, 0);
    const end = nl === -1 ? chunk.length : nl + 1;
    this.#push(
      end === chunk.length ? chunk : chunk.subarray(0, end),
      emit,
      nl,
    );
    return end;
  }

  /**
   * Frames only as much of `chunk` as finishes the piece held from earlier
   * reads: up to a `\n` that ends the line, or as many bytes as fill the
   * piece, which is then emitted as a partial piece. A fill that cut a
   * UTF-8 character keeps its first bytes held
   * ({@linkcode LineFramer.pending} stays true).
   *
   * @param chunk Bytes as read.
   * @param emit Called at most once.
   * @returns How many bytes of `chunk` were taken.
   */
  finishPiece(chunk: Uint8Array, emit: PieceHandler): number {
    const take = Math.min(this.#max - this.#carryLen, chunk.length);
    const nl = chunk.subarray(0, take).indexOf(0x0a);
    const end = nl === -1 ? take : nl + 1;
    this.#push(chunk.subarray(0, end), emit, nl);
    return end;
  }

  /**
   * `chunk.indexOf(0x0a, from)`, as the framer searches: by SIMD
   * (WebAssembly) while lines are long, by `indexOf` while they are short.
   *
   * @param chunk Where to search.
   * @param from Index to start at.
   * @returns The index of the first `\n` at or after `from`, or -1.
   */
  indexOfNewline(chunk: Uint8Array, from: number): number {
    return this.#indexOfNewline(chunk, from);
  }

  #indexOfNewline(chunk: Uint8Array, from: number): number {
    const rest = chunk.length - from;
    const nl = this.#far && rest >= FAR && JsonEscapeWasm.available()
      ? JsonEscapeWasm.get().indexOfNewline(chunk, from)
      : chunk.indexOf(0x0a, from);
    this.#far = nl === -1 ? rest >= FAR : nl - from >= FAR;
    return nl;
  }

  /** Largest piece, in bytes, counting a `\n`. */
  get maxPiece(): number {
    return this.#max;
  }

  /**
   * Ends the stream: bytes after the last `\n` are emitted as a final
   * partial piece.
   *
   * @param emit Called at most once.
   */
  end(emit: PieceHandler): void {
    if (this.#carryLen > 0) {
      const n = this.#carryLen;
      this.#carryLen = 0;
      emit(this.#carry.subarray(0, n), true);
    }
  }
}

/**
 * A newline this far or farther (or none in as many bytes) makes the framer
 * search the next time with {@linkcode JsonEscapeWasm.indexOfNewline}; a
 * nearer one, with `Uint8Array.indexOf`, which is quicker on short lines.
 */
const FAR = 4096;

;; The json-file escaper in WebAssembly with 128-bit SIMD: the hot path of
;; src/json_file.ts (escapeRange), byte for byte the same output; CRI
;; records for src/cri_sink.ts; and a newline search for src/line_framer.ts.
;;
;; Assembled by scripts/build_wasm.ts into src/_json_escape_wasm.ts; loaded by
;; src/json_escape_wasm.ts, which owns the memory and its layout.
;;
;; Escaping, as moby's ffjsonWriteJSONBytesAsString: `"` and `\` get a
;; backslash; `\n` and `\r` are written `\n` and `\r`; `<`, `>`, `&`, tab and
;; the other control bytes are written `\u00XX`; DEL is copied; U+2028 and
;; U+2029 are written `\u2028` and `\u2029`; each byte that does not begin a
;; valid UTF-8 sequence by Go's rules (utf8.DecodeRune: no overlong forms, no
;; surrogates, nothing above U+10FFFF, no sequence cut by the end) is written
;; `\ufffd`; all other bytes are copied.
;;
;; The scan reads 16 bytes at a time and stores them to the output before it
;; knows whether they are plain, then advances past the plain ones only. So:
;; - up to 16 bytes past the end of the input may be read (the caller leaves
;;   readable memory there; they are never acted on, and a UTF-8 sequence is
;;   judged on the bytes before the end only);
;; - up to 16 bytes past the end of what is written may be overwritten; the
;;   output needs 6 bytes a byte of input plus 32 bytes of slack.
(module
  (import "js" "memory" (memory 1))

  ;; Where $escape stopped: the address after the `\n` it stopped at, or -1
  ;; when asked to stop at a newline and none came before the limit.
  (global $at (mut i32) (i32.const 0))
  ;; Bytes written by the last $encodeLines.
  (global $written (mut i32) (i32.const 0))
  ;; Why the last $encodeLines stopped: 0 input used up, 1 the next line has
  ;; no `\n` within the input and the input holds less than maxPiece bytes of
  ;; it, 2 the budget was reached, 3 the output is too small for the next
  ;; entry.
  (global $stop (mut i32) (i32.const 0))

  ;; Escapes the bytes at [i, limit) to o. With stopAtNewline, stops right
  ;; after writing a `\n` (sets $at after it), or sets $at to -1 at the limit.
  ;; Returns the address after the last byte written.
  (func $escape (param $i i32) (param $limit i32) (param $o i32)
    (param $stopAtNewline i32) (result i32)
    (local $v v128) (local $w v128) (local $m i32) (local $k i32)
    (local $b i32) (local $b1 i32) (local $b2 i32) (local $n i32)
    (local $lo i32) (local $hi i32)
    (local $c20 v128) (local $c5c v128) (local $c2 v128) (local $c3e v128)
    (local $c4 v128) (local $c26 v128)
    ;; The constants, in locals: a baseline compiler keeps them in registers
    ;; instead of building them again each turn.
    (local.set $c20 (i8x16.splat (i32.const 0x20)))
    (local.set $c5c (i8x16.splat (i32.const 0x5c)))
    (local.set $c2 (i8x16.splat (i32.const 2)))
    (local.set $c3e (i8x16.splat (i32.const 0x3e)))
    (local.set $c4 (i8x16.splat (i32.const 4)))
    (local.set $c26 (i8x16.splat (i32.const 0x26)))
    (block $done
      ;; Plain runs 32 bytes a turn: both halves stored, then one test for a
      ;; byte that needs more than a copy in either (the test of $scan
      ;; below). At the first such byte, or within 32 bytes of the limit,
      ;; $scan takes over from the same place: it stores those 16 bytes
      ;; again. 1.4 to 1.6 times as fast as $scan alone on 16 KiB pieces.
      (block $slow
        (loop $fast
          (br_if $slow
            (i32.lt_u (i32.sub (local.get $limit) (local.get $i))
              (i32.const 32)))
          (local.set $v (v128.load (local.get $i)))
          (local.set $w (v128.load offset=16 (local.get $i)))
          (v128.store (local.get $o) (local.get $v))
          (v128.store offset=16 (local.get $o) (local.get $w))
          (br_if $slow
            (v128.any_true
              (v128.or
                (v128.or
                  (v128.or
                    (i8x16.lt_s (local.get $v) (local.get $c20))
                    (i8x16.eq (local.get $v) (local.get $c5c)))
                  (v128.or
                    (i8x16.eq (v128.or (local.get $v) (local.get $c2))
                      (local.get $c3e))
                    (i8x16.eq (v128.or (local.get $v) (local.get $c4))
                      (local.get $c26))))
                (v128.or
                  (v128.or
                    (i8x16.lt_s (local.get $w) (local.get $c20))
                    (i8x16.eq (local.get $w) (local.get $c5c)))
                  (v128.or
                    (i8x16.eq (v128.or (local.get $w) (local.get $c2))
                      (local.get $c3e))
                    (i8x16.eq (v128.or (local.get $w) (local.get $c4))
                      (local.get $c26)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 32)))
          (local.set $o (i32.add (local.get $o) (i32.const 32)))
          (br $fast)))
      (loop $scan
        ;; Bytes that need more than a copy: below 0x20 or above 0x7f (as
        ;; signed bytes, both are below 0x20), `\`, `<` or `>` (x | 2 is
        ;; 0x3e), `"` or `&` (x | 4 is 0x26).
        (local.set $v (v128.load (local.get $i)))
        (v128.store (local.get $o) (local.get $v))
        (local.set $m
          (i8x16.bitmask
            (v128.or
              (v128.or
                (i8x16.lt_s (local.get $v)
                  (local.get $c20))
                (i8x16.eq (local.get $v)
                  (local.get $c5c)))
              (v128.or
                (i8x16.eq
                  (v128.or (local.get $v)
                    (local.get $c2))
                  (local.get $c3e))
                (i8x16.eq
                  (v128.or (local.get $v)
                    (local.get $c4))
                  (local.get $c26))))))
        ;; The limit counts as a byte to stop at.
        (local.set $k (i32.sub (local.get $limit) (local.get $i)))
        (if (i32.lt_u (local.get $k) (i32.const 16))
          (then
            (local.set $m
              (i32.or (local.get $m) (i32.shl (i32.const 1) (local.get $k))))))
        (if (i32.eqz (local.get $m))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $scan)))
        (local.set $k (i32.ctz (local.get $m)))
        (local.set $i (i32.add (local.get $i) (local.get $k)))
        (local.set $o (i32.add (local.get $o) (local.get $k)))
        (br_if $done (i32.ge_u (local.get $i) (local.get $limit)))

        ;; One byte that is not copied as it is.
        (local.set $b (i32.load8_u (local.get $i)))
        (if (i32.lt_u (local.get $b) (i32.const 0x80))
          (then
            (block $escaped
              (if (i32.or (i32.eq (local.get $b) (i32.const 0x22))
                          (i32.eq (local.get $b) (i32.const 0x5c)))
                (then
                  ;; \" or \\
                  (i32.store16 (local.get $o)
                    (i32.or (i32.const 0x5c) (i32.shl (local.get $b) (i32.const 8))))
                  (local.set $o (i32.add (local.get $o) (i32.const 2)))
                  (br $escaped)))
              (if (i32.eq (local.get $b) (i32.const 0x0a))
                (then
                  ;; \n
                  (i32.store16 (local.get $o) (i32.const 0x6e5c))
                  (local.set $o (i32.add (local.get $o) (i32.const 2)))
                  (if (local.get $stopAtNewline)
                    (then
                      (global.set $at (i32.add (local.get $i) (i32.const 1)))
                      (return (local.get $o))))
                  (br $escaped)))
              (if (i32.eq (local.get $b) (i32.const 0x0d))
                (then
                  ;; \r
                  (i32.store16 (local.get $o) (i32.const 0x725c))
                  (local.set $o (i32.add (local.get $o) (i32.const 2)))
                  (br $escaped)))
              ;; \u00XX, lowercase hex
              (i32.store (local.get $o) (i32.const 0x3030755c))
              (local.set $k (i32.and (local.get $b) (i32.const 0xf)))
              (i32.store16 offset=4 (local.get $o)
                (i32.or
                  (i32.add (i32.const 0x30) (i32.shr_u (local.get $b) (i32.const 4)))
                  (i32.shl
                    (i32.add (local.get $k)
                      (select (i32.const 0x30) (i32.const 0x57)
                        (i32.lt_u (local.get $k) (i32.const 10))))
                    (i32.const 8))))
              (local.set $o (i32.add (local.get $o) (i32.const 6))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))

        ;; A byte above 0x7f: the length of the valid UTF-8 sequence it
        ;; begins, or 0 (Go's utf8.DecodeRune, judged on the bytes before the
        ;; limit only).
        (local.set $n (i32.const 0))
        (local.set $b1 (i32.load8_u offset=1 (local.get $i)))
        (local.set $b2 (i32.load8_u offset=2 (local.get $i)))
        (if (i32.and (i32.ge_u (local.get $b) (i32.const 0xc2))
                     (i32.lt_u (local.get $b) (i32.const 0xf5)))
          (then
            (local.set $lo (i32.const 0x80))
            (local.set $hi (i32.const 0xbf))
            (if (i32.lt_u (local.get $b) (i32.const 0xe0))
              (then (local.set $n (i32.const 2)))
            (else (if (i32.lt_u (local.get $b) (i32.const 0xf0))
              (then
                (local.set $n (i32.const 3))
                (if (i32.eq (local.get $b) (i32.const 0xe0))
                  (then (local.set $lo (i32.const 0xa0))))
                (if (i32.eq (local.get $b) (i32.const 0xed))
                  (then (local.set $hi (i32.const 0x9f)))))
            (else
              (local.set $n (i32.const 4))
              (if (i32.eq (local.get $b) (i32.const 0xf0))
                (then (local.set $lo (i32.const 0x90))))
              (if (i32.eq (local.get $b) (i32.const 0xf4))
                (then (local.set $hi (i32.const 0x8f))))))))
            (if (i32.gt_u (i32.add (local.get $i) (local.get $n)) (local.get $limit))
              (then (local.set $n (i32.const 0))))
            (if (i32.or (i32.lt_u (local.get $b1) (local.get $lo))
                        (i32.gt_u (local.get $b1) (local.get $hi)))
              (then (local.set $n (i32.const 0))))
            (if (i32.ge_u (local.get $n) (i32.const 3))
              (then
                (if (i32.ne (i32.and (local.get $b2) (i32.const 0xc0)) (i32.const 0x80))
                  (then (local.set $n (i32.const 0))))))
            (if (i32.eq (local.get $n) (i32.const 4))
              (then
                (if (i32.ne (i32.and (i32.load8_u offset=3 (local.get $i)) (i32.const 0xc0))
                            (i32.const 0x80))
                  (then (local.set $n (i32.const 0))))))))
        (if (i32.eqz (local.get $n))
          (then
            ;; \ufffd
            (i32.store (local.get $o) (i32.const 0x6666755c))
            (i32.store16 offset=4 (local.get $o) (i32.const 0x6466))
            (local.set $o (i32.add (local.get $o) (i32.const 6)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (if (i32.and
              (i32.and (i32.eq (local.get $b) (i32.const 0xe2))
                       (i32.eq (local.get $b1) (i32.const 0x80)))
              (i32.eq (i32.or (local.get $b2) (i32.const 1)) (i32.const 0xa9)))
          (then
            ;; \u2028 or \u2029
            (i32.store (local.get $o) (i32.const 0x3032755c))
            (i32.store16 offset=4 (local.get $o)
              (select (i32.const 0x3832) (i32.const 0x3932)
                (i32.eq (local.get $b2) (i32.const 0xa8))))
            (local.set $o (i32.add (local.get $o) (i32.const 6)))
            (local.set $i (i32.add (local.get $i) (i32.const 3)))
            (br $scan)))
        ;; A valid sequence: copied (four bytes stored, n kept).
        (i32.store (local.get $o) (i32.load (local.get $i)))
        (local.set $o (i32.add (local.get $o) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (local.get $n)))
        (br $scan)))
    (global.set $at
      (select (i32.const -1) (local.get $limit) (local.get $stopAtNewline)))
    (local.get $o))

  ;; Escapes `len` bytes at `src` to `dst`, `\n` included (written `\n`).
  ;; `dst` needs 6 * len + 32 bytes. Returns the number of bytes written.
  (func (export "escapePiece") (param $src i32) (param $len i32) (param $dst i32)
    (result i32)
    (i32.sub
      (call $escape (local.get $src) (i32.add (local.get $src) (local.get $len))
        (local.get $dst) (i32.const 0))
      (local.get $dst)))

  ;; Where to cut a piece that ends at `cut` so that no UTF-8 character is
  ;; split, as src/utf8.ts utf8SafeCut: if the bytes just before `cut` are a
  ;; valid beginning of a character that needs more bytes, where it begins;
  ;; otherwise `cut`. Never below start + 1; looks at bytes before `cut` only.
  (func $safeCut (param $start i32) (param $cut i32) (result i32)
    (local $p i32) (local $b i32) (local $n i32) (local $k i32)
    (local $lo i32) (local $hi i32) (local $c i32)
    (local.set $p (i32.sub (local.get $cut) (i32.const 1)))
    (block $done
      (loop $back
        (br_if $done (i32.le_u (local.get $p) (local.get $start)))
        (br_if $done
          (i32.lt_u (i32.add (local.get $p) (i32.const 3)) (local.get $cut)))
        (local.set $b (i32.load8_u (local.get $p)))
        ;; A continuation byte: look further back.
        (if (i32.eq (i32.and (local.get $b) (i32.const 0xc0)) (i32.const 0x80))
          (then
            (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (br $back)))
        ;; ASCII or an invalid lead: cut where asked.
        (br_if $done (i32.lt_u (local.get $b) (i32.const 0xc2)))
        (br_if $done (i32.ge_u (local.get $b) (i32.const 0xf5)))
        (local.set $n
          (select (i32.const 2)
            (select (i32.const 3) (i32.const 4)
              (i32.lt_u (local.get $b) (i32.const 0xf0)))
            (i32.lt_u (local.get $b) (i32.const 0xe0))))
        ;; The character ends at or before the cut.
        (br_if $done
          (i32.le_u (i32.add (local.get $p) (local.get $n)) (local.get $cut)))
        (local.set $lo (i32.const 0x80))
        (local.set $hi (i32.const 0xbf))
        (if (i32.eq (local.get $b) (i32.const 0xe0))
          (then (local.set $lo (i32.const 0xa0))))
        (if (i32.eq (local.get $b) (i32.const 0xed))
          (then (local.set $hi (i32.const 0x9f))))
        (if (i32.eq (local.get $b) (i32.const 0xf0))
          (then (local.set $lo (i32.const 0x90))))
        (if (i32.eq (local.get $b) (i32.const 0xf4))
          (then (local.set $hi (i32.const 0x8f))))
        ;; The bytes present must be a valid prefix; the first continuation
        ;; byte has the lead's own range.
        (local.set $k (i32.add (local.get $p) (i32.const 1)))
        (block $invalid
          (loop $check
            (if (i32.lt_u (local.get $k) (local.get $cut))
              (then
                (local.set $c (i32.load8_u (local.get $k)))
                (br_if $invalid (i32.lt_u (local.get $c) (local.get $lo)))
                (br_if $invalid (i32.gt_u (local.get $c) (local.get $hi)))
                (local.set $lo (i32.const 0x80))
                (local.set $hi (i32.const 0xbf))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $check))))
          (return (local.get $p)))
        (br $done)))
    (local.get $cut))

  ;; Writes one json-file entry for each whole line at the start of the `len`
  ;; bytes at `src`: `{"log":"` + the line escaped, its `\n` included +
  ;; the `trailerLen` bytes at `trailer` (`","stream":…,"time":"…"}\n`).
  ;; A line is whole when its `\n` comes within the input and within
  ;; `maxPiece` bytes of its start. A longer line, when the input holds
  ;; `maxPiece` bytes of it, gives a partial entry of those bytes (cut back
  ;; so as not to split a UTF-8 character, as $safeCut) and the rest is taken
  ;; as a line of its own, as src/line_framer.ts cuts it. Stops at the first
  ;; line that is neither, when
  ;; `budget` bytes or more have been written (an entry is begun only below
  ;; it), or when fewer than 6 * min(maxPiece, rest - i) + trailerLen + 48
  ;; bytes of the `cap` bytes at `dst` are left, i being the line's offset
  ;; and `rest` (at least `len`) the input's full length, of which these `len`
  ;; bytes are a window. Returns the input bytes consumed; $written holds the
  ;; bytes written and $stop why it stopped.
  (func (export "encodeLines")
    (param $src i32) (param $len i32) (param $rest i32) (param $maxPiece i32)
    (param $trailer i32) (param $trailerLen i32)
    (param $dst i32) (param $cap i32) (param $budget i32)
    (result i32)
    (local $i i32) (local $end i32) (local $restEnd i32) (local $o i32)
    (local $limit i32) (local $entry i32) (local $k i32) (local $reason i32)
    (local.set $i (local.get $src))
    (local.set $end (i32.add (local.get $src) (local.get $len)))
    (local.set $restEnd (i32.add (local.get $src) (local.get $rest)))
    (local.set $o (local.get $dst))
    (block $out
      (loop $line
        (br_if $out (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $reason (i32.const 2))
        (br_if $out
          (i32.ge_u (i32.sub (local.get $o) (local.get $dst)) (local.get $budget)))
        (local.set $limit
          (select (i32.add (local.get $i) (local.get $maxPiece)) (local.get $end)
            (i32.lt_u (local.get $maxPiece) (i32.sub (local.get $end) (local.get $i)))))
        ;; Room for the longest entry the line could make: min(maxPiece,
        ;; bytes left in the whole input) bytes, 6 bytes each.
        (local.set $k (i32.sub (local.get $restEnd) (local.get $i)))
        (local.set $k
          (select (local.get $maxPiece) (local.get $k)
            (i32.lt_u (local.get $maxPiece) (local.get $k))))
        (local.set $reason (i32.const 3))
        (br_if $out
          (i32.lt_u
            (i32.sub (local.get $cap) (i32.sub (local.get $o) (local.get $dst)))
            (i32.add (i32.mul (local.get $k) (i32.const 6))
              (i32.add (local.get $trailerLen) (i32.const 48)))))
        (local.set $entry (local.get $o))
        ;; {"log":"
        (i64.store (local.get $o) (i64.const 0x223a22676f6c227b))
        (local.set $o
          (call $escape (local.get $i) (local.get $limit)
            (i32.add (local.get $o) (i32.const 8)) (i32.const 1)))
        (local.set $reason (i32.const 1))
        (if (i32.lt_s (global.get $at) (i32.const 0))
          (then
            ;; No `\n` before the limit: a partial entry if the limit is a
            ;; whole piece away, else stop.
            (if (i32.ne (i32.sub (local.get $limit) (local.get $i))
                        (local.get $maxPiece))
              (then
                (local.set $o (local.get $entry))
                (br $out)))
            ;; The bytes past the cut are a character's beginning, each one
            ;; written `\ufffd` (6 bytes) by $escape: take them back.
            (local.set $k (call $safeCut (local.get $i) (local.get $limit)))
            (local.set $o
              (i32.sub (local.get $o)
                (i32.mul (i32.sub (local.get $limit) (local.get $k))
                  (i32.const 6))))
            (global.set $at (local.get $k))))
        (local.set $k (i32.const 0))
        (loop $copy
          (v128.store (i32.add (local.get $o) (local.get $k))
            (v128.load (i32.add (local.get $trailer) (local.get $k))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $copy (i32.lt_u (local.get $k) (local.get $trailerLen))))
        (local.set $o (i32.add (local.get $o) (local.get $trailerLen)))
        (local.set $i (global.get $at))
        (br $line)))
    (global.set $stop
      (select (i32.const 0) (local.get $reason)
        (i32.ge_u (local.get $i) (local.get $end))))
    (global.set $written (i32.sub (local.get $o) (local.get $dst)))
    (i32.sub (local.get $i) (local.get $src)))

  ;; The index of the first `\n` in the `len` bytes at `src`, or -1. Reads up
  ;; to 16 bytes past the end.
  (func (export "findNewline") (param $src i32) (param $len i32) (result i32)
    (local $i i32) (local $m i32) (local $k i32) (local $nl v128)
    (local.set $nl (i8x16.splat (i32.const 0x0a)))
    (local.set $i (local.get $src))
    (loop $scan
      (local.set $m
        (i8x16.bitmask (i8x16.eq (v128.load (local.get $i)) (local.get $nl))))
      (local.set $k
        (i32.sub (i32.add (local.get $src) (local.get $len)) (local.get $i)))
      (if (i32.lt_u (local.get $k) (i32.const 16))
        (then
          ;; Keep the bits of bytes before the end only.
          (local.set $m
            (i32.and (local.get $m)
              (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1))))
          (if (i32.eqz (local.get $m)) (then (return (i32.const -1))))))
      (if (i32.eqz (local.get $m))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $scan))))
    (i32.sub (i32.add (local.get $i) (i32.ctz (local.get $m))) (local.get $src)))

  ;; Writes one CRI record for each whole line at the start of the `len`
  ;; bytes at `src`: the `prefixLen` bytes at `prefix` (`TIME STREAM F `),
  ;; the line's content and a `\n`. The content is the line without its
  ;; `\n`, and without a `\r` before it when `dropCr` is set (the cri
  ;; flavour). Stops at the first line with no `\n` in the input or whose
  ;; content is longer than `maxContent` (when not 0), when `budget` bytes
  ;; or more have been written (a record is begun only below it), or when
  ;; the next record does not fit the `cap` bytes at `dst` (it is copied 16
  ;; bytes at a time and never written past `cap`). Returns the input bytes
  ;; consumed; $written holds the bytes written and $stop why it stopped
  ;; (as for encodeLines; 1 also for a line too long).
  (func (export "encodeCriLines")
    (param $src i32) (param $len i32) (param $prefix i32) (param $prefixLen i32)
    (param $maxContent i32) (param $dropCr i32)
    (param $dst i32) (param $cap i32) (param $budget i32)
    (result i32)
    (local $i i32) (local $end i32) (local $o i32) (local $p i32) (local $q i32)
    (local $k i32) (local $m i32) (local $n i32) (local $limit i32)
    (local $reason i32) (local $v v128) (local $nl v128)
    (local.set $nl (i8x16.splat (i32.const 0x0a)))
    (local.set $i (local.get $src))
    (local.set $end (i32.add (local.get $src) (local.get $len)))
    (local.set $o (local.get $dst))
    ;; Stores stay below this address.
    (local.set $limit (i32.add (local.get $dst) (local.get $cap)))
    (block $out
      (loop $line
        (br_if $out (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $reason (i32.const 2))
        (br_if $out
          (i32.ge_u (i32.sub (local.get $o) (local.get $dst)) (local.get $budget)))
        (local.set $reason (i32.const 3))
        (br_if $out
          (i32.gt_s
            (i32.add (i32.add (local.get $o) (local.get $prefixLen)) (i32.const 32))
            (local.get $limit)))
        (local.set $k (i32.const 0))
        (loop $copy
          (v128.store (i32.add (local.get $o) (local.get $k))
            (v128.load (i32.add (local.get $prefix) (local.get $k))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $copy (i32.lt_u (local.get $k) (local.get $prefixLen))))
        ;; The line, copied 16 bytes at a time until its `\n`.
        (local.set $p (local.get $i))
        (local.set $q (i32.add (local.get $o) (local.get $prefixLen)))
        (loop $scan
          (local.set $reason (i32.const 3))
          (br_if $out
            (i32.gt_s (i32.add (local.get $q) (i32.const 16)) (local.get $limit)))
          (local.set $v (v128.load (local.get $p)))
          (v128.store (local.get $q) (local.get $v))
          (local.set $m (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $nl))))
          (local.set $n (i32.sub (local.get $end) (local.get $p)))
          (if (i32.lt_u (local.get $n) (i32.const 16))
            (then
              ;; Keep the bits of bytes before the end only.
              (local.set $m
                (i32.and (local.get $m)
                  (i32.sub (i32.shl (i32.const 1) (local.get $n)) (i32.const 1))))))
          (if (i32.eqz (local.get $m))
            (then
              (local.set $reason (i32.const 1))
              (br_if $out (i32.le_u (local.get $n) (i32.const 16)))
              (local.set $p (i32.add (local.get $p) (i32.const 16)))
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              ;; Already longer than a record may be: the caller cuts it.
              (br_if $out
                (i32.and (i32.ne (local.get $maxContent) (i32.const 0))
                  (i32.gt_u (i32.sub (local.get $p) (local.get $i))
                    (i32.add (local.get $maxContent) (i32.const 1)))))
              (br $scan))))
        (local.set $k (i32.ctz (local.get $m)))
        (local.set $p (i32.add (local.get $p) (local.get $k)))
        (local.set $q (i32.add (local.get $q) (local.get $k)))
        ;; p: the `\n`; q: where it was copied to. The content is [i, p).
        ;; (Nested: i32.and would load the byte before an empty line's `\n`
        ;; too, which may lie before the memory.)
        (if (i32.and (local.get $dropCr)
              (i32.gt_u (local.get $p) (local.get $i)))
          (then
            (if (i32.eq (i32.load8_u (i32.sub (local.get $p) (i32.const 1)))
                  (i32.const 0x0d))
              (then (local.set $q (i32.sub (local.get $q) (i32.const 1)))))))
        (local.set $reason (i32.const 1))
        (br_if $out
          (i32.and (i32.ne (local.get $maxContent) (i32.const 0))
            (i32.gt_u
              (i32.sub (local.get $q) (i32.add (local.get $o) (local.get $prefixLen)))
              (local.get $maxContent))))
        (i32.store8 (local.get $q) (i32.const 0x0a))
        (local.set $o (i32.add (local.get $q) (i32.const 1)))
        (local.set $i (i32.add (local.get $p) (i32.const 1)))
        (br $line)))
    (global.set $stop
      (select (i32.const 0) (local.get $reason)
        (i32.ge_u (local.get $i) (local.get $end))))
    (global.set $written (i32.sub (local.get $o) (local.get $dst)))
    (i32.sub (local.get $i) (local.get $src)))

  ;; Bytes written by the last encodeLines or encodeCriLines.
  (func (export "written") (result i32) (global.get $written))
  ;; Why the last encodeLines stopped (see $stop).
  (func (export "stopReason") (result i32) (global.get $stop))
)

;; The byte loops of provenance indexing, 16 bytes at a time (source of fold-wasm.ts: `npm run build:wasm`).
;; Memory starts with the left-packing table: entry m (16 bytes at 16·m) lists the set bits of the byte m in order,
;; then 0x80 (which selects zero). The caller fills it, and owns the rest of memory.
(module
  (memory (export "memory") 1)

  ;; fold(in, length, out) -> n: the compact bytes (see compact.ts) of the `length` bytes at `in`, written from `out`.
  ;; It reads up to 15 bytes past them (a last block of 16 keeps only its first bytes) and may overwrite up to 16 bytes
  ;; past the n it returns.
  (func (export "fold") (param $in i32) (param $length i32) (param $out i32) (result i32)
    (local $end i32) (local $n i32) (local $v v128) (local $f v128) (local $m i32) (local $lo i32) (local $hi i32)
    (local $left i32)
    (local.set $end (i32.add (local.get $in) (local.get $length)))
    (local.set $n (local.get $out))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $v (v128.load (local.get $in)))
        ;; A to Z become a to z: v - 65 <= 25, unsigned.
        (local.set $f
          (i8x16.add (local.get $v)
            (v128.and (i8x16.le_u (i8x16.sub (local.get $v) (v128.const i8x16 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65)) (v128.const i8x16 25 25 25 25 25 25 25 25 25 25 25 25 25 25 25 25)) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))))
        ;; Kept: above space, and none of ' ( ) * + , - . (39 to 46), " and _. Bytes from 128 on are kept as they are.
        (local.set $m
          (i8x16.bitmask
            (v128.not
              (v128.or
                (v128.or (i8x16.le_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                         (i8x16.le_u (i8x16.sub (local.get $v) (v128.const i8x16 39 39 39 39 39 39 39 39 39 39 39 39 39 39 39 39)) (v128.const i8x16 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7)))
                (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))
                         (i8x16.eq (local.get $v) (v128.const i8x16 95 95 95 95 95 95 95 95 95 95 95 95 95 95 95 95)))))))
        (local.set $left (i32.sub (local.get $end) (local.get $in)))
        (local.set $m
          (i32.and (local.get $m)
            (select (i32.const 0xffff) (i32.sub (i32.shl (i32.const 1) (local.get $left)) (i32.const 1))
              (i32.ge_u (local.get $left) (i32.const 16)))))
        ;; Each half packs its kept bytes to the left through the table; the high half's indexes are 8 on.
        (local.set $lo (i32.and (local.get $m) (i32.const 255)))
        (local.set $hi (i32.shr_u (local.get $m) (i32.const 8)))
        (v128.store (local.get $n) (i8x16.swizzle (local.get $f) (v128.load (i32.shl (local.get $lo) (i32.const 4)))))
        (local.set $n (i32.add (local.get $n) (i32.popcnt (local.get $lo))))
        (v128.store (local.get $n)
          (i8x16.swizzle (local.get $f)
            (i8x16.add (v128.load (i32.shl (local.get $hi) (i32.const 4))) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8))))
        (local.set $n (i32.add (local.get $n) (i32.popcnt (local.get $hi))))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (br $next)))
    (i32.sub (local.get $n) (local.get $out)))

  ;; hash16(in, count, out): the gramHash (gram-hash.ts) of each of `count` consecutive 16-byte blocks from `in`,
  ;; as 32-bit integers from `out`: the sum of each byte times BASE^(15 - its index), mod 2^32.
  (func (export "hash16") (param $in i32) (param $count i32) (param $out i32)
    (local $end i32) (local $v v128) (local $low v128) (local $high v128) (local $s v128)
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $count) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $v (v128.load (local.get $in)))
        (local.set $low (i16x8.extend_low_i8x16_u (local.get $v)))
        (local.set $high (i16x8.extend_high_i8x16_u (local.get $v)))
        (local.set $s
          (i32x4.add
            (i32x4.add
              (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $low)) (v128.const i32x4 -694345381 -663527911 924097827 -745770959))
              (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $low)) (v128.const i32x4 -424611413 1485291145 558416115 1566662433)))
            (i32x4.add
              (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $high)) (v128.const i32x4 878009595 -61474823 1185368003 1345077009))
              (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $high)) (v128.const i32x4 1055306571 637696617 16777619 1)))))
        (i32.store (local.get $out)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $s)) (i32x4.extract_lane 1 (local.get $s)))
            (i32.add (i32x4.extract_lane 2 (local.get $s)) (i32x4.extract_lane 3 (local.get $s)))))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $next))))
)

;; Small dense matrix products for the wasm backend, f32x4 SIMD, working in place on the
;; tfjs wasm heap (the memory is imported). All pointers are byte offsets, all strides elements.
;; Regenerate gemm-wasm.ts after editing: node packages/backend/scripts/build-gemm-wasm.mjs
(module
  (import "env" "memory" (memory 1))

  ;; C[M×N] = A·B with A[i,k] at a + 4·(i·sAi + k·sAk) (any layout: covers transposeA) and
  ;; B row-major [K×N]. C is overwritten. Columns are done 16, then 4, then 1 at a time, the
  ;; 16- and 4-wide blocks keeping their accumulators in registers across the whole k loop.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32)
    (param $M i32) (param $K i32) (param $N i32) (param $sAi i32) (param $sAk i32)
    (local $i i32) (local $j i32) (local $k i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $rowA i32)
    (local $rowB i32) (local $stepA i32) (local $n16 i32) (local $n4 i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128) (local $av v128)
    (local $s f32)
    (local.set $rowB (i32.shl (local.get $N) (i32.const 2)))
    (local.set $stepA (i32.shl (local.get $sAk) (i32.const 2)))
    (local.set $n16 (i32.and (local.get $N) (i32.const -16)))
    (local.set $n4 (i32.and (local.get $N) (i32.const -4)))
    (local.set $i (i32.const 0))
    (block $doneI
      (loop $loopI
        (br_if $doneI (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $rowA (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $sAi)) (i32.const 2))))
        (local.set $pc (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $rowB))))
        (local.set $j (i32.const 0))
        ;; 16 columns at a time
        (block $done16
          (loop $loop16
            (br_if $done16 (i32.ge_u (local.get $j) (local.get $n16)))
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $acc1 (v128.const i32x4 0 0 0 0))
            (local.set $acc2 (v128.const i32x4 0 0 0 0))
            (local.set $acc3 (v128.const i32x4 0 0 0 0))
            (local.set $pa (local.get $rowA))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $K))
            (block $doneK
              (loop $loopK
                (br_if $doneK (i32.eqz (local.get $k)))
                (local.set $av (f32x4.splat (f32.load (local.get $pa))))
                (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (local.get $av) (v128.load (local.get $pb)))))
                (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (local.get $av) (v128.load offset=16 (local.get $pb)))))
                (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $av) (v128.load offset=32 (local.get $pb)))))
                (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (local.get $av) (v128.load offset=48 (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (local.get $stepA)))
                (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br $loopK)))
            (v128.store (local.get $pc) (local.get $acc0))
            (v128.store offset=16 (local.get $pc) (local.get $acc1))
            (v128.store offset=32 (local.get $pc) (local.get $acc2))
            (v128.store offset=48 (local.get $pc) (local.get $acc3))
            (local.set $pc (i32.add (local.get $pc) (i32.const 64)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $loop16)))
        ;; 4 columns at a time
        (block $done4
          (loop $loop4
            (br_if $done4 (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $pa (local.get $rowA))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $K))
            (block $doneK4
              (loop $loopK4
                (br_if $doneK4 (i32.eqz (local.get $k)))
                (local.set $acc0 (f32x4.add (local.get $acc0)
                  (f32x4.mul (f32x4.splat (f32.load (local.get $pa))) (v128.load (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (local.get $stepA)))
                (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br $loopK4)))
            (v128.store (local.get $pc) (local.get $acc0))
            (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $loop4)))
        ;; remaining columns one at a time
        (block $done1
          (loop $loop1
            (br_if $done1 (i32.ge_u (local.get $j) (local.get $N)))
            (local.set $s (f32.const 0))
            (local.set $pa (local.get $rowA))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $K))
            (block $doneK1
              (loop $loopK1
                (br_if $doneK1 (i32.eqz (local.get $k)))
                (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (local.get $stepA)))
                (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br $loopK1)))
            (f32.store (local.get $pc) (local.get $s))
            (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $loop1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loopI))))

  ;; dst[c·rows + r] = src[r·cols + c]: a row-major [rows×cols] matrix to [cols×rows], in 16×16
  ;; tiles so that both the reads and the strided writes stay in cache.
  (func $transposeBlock (export "transpose")
    (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r0 i32) (local $c0 i32) (local $r1 i32) (local $c1 i32) (local $r i32) (local $c i32)
    (local $ps i32) (local $pd i32) (local $rowD i32)
    (local.set $rowD (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r0 (i32.const 0))
    (block $doneR0 (loop $loopR0
      (br_if $doneR0 (i32.ge_u (local.get $r0) (local.get $rows)))
      (local.set $r1 (i32.add (local.get $r0) (i32.const 16)))
      (if (i32.gt_u (local.get $r1) (local.get $rows)) (then (local.set $r1 (local.get $rows))))
      (local.set $c0 (i32.const 0))
      (block $doneC0 (loop $loopC0
        (br_if $doneC0 (i32.ge_u (local.get $c0) (local.get $cols)))
        (local.set $c1 (i32.add (local.get $c0) (i32.const 16)))
        (if (i32.gt_u (local.get $c1) (local.get $cols)) (then (local.set $c1 (local.get $cols))))
        (local.set $r (local.get $r0))
        (block $doneR (loop $loopR
          (br_if $doneR (i32.ge_u (local.get $r) (local.get $r1)))
          (local.set $ps (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c0)) (i32.const 2))))
          (local.set $pd (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c0) (local.get $rows)) (local.get $r)) (i32.const 2))))
          (local.set $c (local.get $c0))
          (block $doneC (loop $loopC
            (br_if $doneC (i32.ge_u (local.get $c) (local.get $c1)))
            (f32.store (local.get $pd) (f32.load (local.get $ps)))
            (local.set $ps (i32.add (local.get $ps) (i32.const 4)))
            (local.set $pd (i32.add (local.get $pd) (local.get $rowD)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $loopC)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $loopR)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 16)))
        (br $loopC0)))
      (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
      (br $loopR0))))

  ;; dst[c] = scale · Σ_r src[r·cols + c]: sums over the leading axes of a row-major [rows×cols]
  ;; tensor, rows in order, 16 then 4 then 1 columns at a time.
  (func (export "column_sums")
    (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32) (param $scale f32)
    (local $c i32) (local $r i32) (local $p i32) (local $row i32) (local $n16 i32) (local $n4 i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128) (local $vscale v128)
    (local $s f32)
    (local.set $row (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $n16 (i32.and (local.get $cols) (i32.const -16)))
    (local.set $n4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $vscale (f32x4.splat (local.get $scale)))
    (local.set $c (i32.const 0))
    (block $done16
      (loop $loop16
        (br_if $done16 (i32.ge_u (local.get $c) (local.get $n16)))
        (local.set $acc0 (v128.const i32x4 0 0 0 0))
        (local.set $acc1 (v128.const i32x4 0 0 0 0))
        (local.set $acc2 (v128.const i32x4 0 0 0 0))
        (local.set $acc3 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $r (local.get $rows))
        (block $doneR
          (loop $loopR
            (br_if $doneR (i32.eqz (local.get $r)))
            (local.set $acc0 (f32x4.add (local.get $acc0) (v128.load (local.get $p))))
            (local.set $acc1 (f32x4.add (local.get $acc1) (v128.load offset=16 (local.get $p))))
            (local.set $acc2 (f32x4.add (local.get $acc2) (v128.load offset=32 (local.get $p))))
            (local.set $acc3 (f32x4.add (local.get $acc3) (v128.load offset=48 (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $row)))
            (local.set $r (i32.sub (local.get $r) (i32.const 1)))
            (br $loopR)))
        (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
        (v128.store (local.get $p) (f32x4.mul (local.get $acc0) (local.get $vscale)))
        (v128.store offset=16 (local.get $p) (f32x4.mul (local.get $acc1) (local.get $vscale)))
        (v128.store offset=32 (local.get $p) (f32x4.mul (local.get $acc2) (local.get $vscale)))
        (v128.store offset=48 (local.get $p) (f32x4.mul (local.get $acc3) (local.get $vscale)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $loop16)))
    (block $done4
      (loop $loop4
        (br_if $done4 (i32.ge_u (local.get $c) (local.get $n4)))
        (local.set $acc0 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $r (local.get $rows))
        (block $doneR4
          (loop $loopR4
            (br_if $doneR4 (i32.eqz (local.get $r)))
            (local.set $acc0 (f32x4.add (local.get $acc0) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $row)))
            (local.set $r (i32.sub (local.get $r) (i32.const 1)))
            (br $loopR4)))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (f32x4.mul (local.get $acc0) (local.get $vscale)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $loop4)))
    (block $done1
      (loop $loop1
        (br_if $done1 (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $s (f32.const 0))
        (local.set $p (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $r (local.get $rows))
        (block $doneR1
          (loop $loopR1
            (br_if $doneR1 (i32.eqz (local.get $r)))
            (local.set $s (f32.add (local.get $s) (f32.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $row)))
            (local.set $r (i32.sub (local.get $r) (i32.const 1)))
            (br $loopR1)))
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (f32.mul (local.get $s) (local.get $scale)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $loop1))))

  ;; im2col of an NHWC image batch for a stride-1 convolution: row (b, i, j) of the [n·oh·ow × kh·kw·c]
  ;; output holds xpad[b, i+h, j+w, :] for every (h, w), zeros where the window leaves the image.
  ;; Each (row, h) is one contiguous copy of the in-image columns.
  (func (export "im2col")
    (param $x i32) (param $out i32) (param $n i32) (param $height i32) (param $width i32) (param $c i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $top i32) (param $left i32)
    (local $b i32) (local $i i32) (local $j i32) (local $h i32) (local $y i32)
    (local $w0 i32) (local $w1 i32) (local $row i32) (local $depthBytes i32) (local $pixelBytes i32)
    (local.set $pixelBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $depthBytes (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $pixelBytes)))
    (memory.fill (local.get $out) (i32.const 0)
      (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $oh)) (local.get $ow)) (local.get $depthBytes)))
    (local.set $row (local.get $out))
    (local.set $b (i32.const 0))
    (block $doneB (loop $loopB
      (br_if $doneB (i32.ge_s (local.get $b) (local.get $n)))
      (local.set $i (i32.const 0))
      (block $doneI (loop $loopI
        (br_if $doneI (i32.ge_s (local.get $i) (local.get $oh)))
        (local.set $j (i32.const 0))
        (block $doneJ (loop $loopJ
          (br_if $doneJ (i32.ge_s (local.get $j) (local.get $ow)))
          ;; in-image filter columns: w0 = max(0, left − j), w1 = min(kw, width + left − j)
          (local.set $w0 (i32.sub (local.get $left) (local.get $j)))
          (if (i32.lt_s (local.get $w0) (i32.const 0)) (then (local.set $w0 (i32.const 0))))
          (local.set $w1 (i32.sub (i32.add (local.get $width) (local.get $left)) (local.get $j)))
          (if (i32.gt_s (local.get $w1) (local.get $kw)) (then (local.set $w1 (local.get $kw))))
          (if (i32.lt_s (local.get $w0) (local.get $w1)) (then
            (local.set $h (i32.const 0))
            (block $doneH (loop $loopH
              (br_if $doneH (i32.ge_s (local.get $h) (local.get $kh)))
              (local.set $y (i32.sub (i32.add (local.get $i) (local.get $h)) (local.get $top)))
              (if (i32.and (i32.ge_s (local.get $y) (i32.const 0)) (i32.lt_s (local.get $y) (local.get $height))) (then
                (memory.copy
                  (i32.add (local.get $row)
                    (i32.mul (i32.add (i32.mul (local.get $h) (local.get $kw)) (local.get $w0)) (local.get $pixelBytes)))
                  (i32.add (local.get $x)
                    (i32.mul
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $height)) (local.get $y)) (local.get $width))
                        (i32.sub (i32.add (local.get $j) (local.get $w0)) (local.get $left)))
                      (local.get $pixelBytes)))
                  (i32.mul (i32.sub (local.get $w1) (local.get $w0)) (local.get $pixelBytes)))))
              (local.set $h (i32.add (local.get $h) (i32.const 1)))
              (br $loopH)))))
          (local.set $row (i32.add (local.get $row) (local.get $depthBytes)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $loopJ)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loopI)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $loopB))))

  ;; W′[i, j, o, c] = W[kh−1−i, kw−1−j, c, o] for a [kh, kw, cin, cout] filter (the input gradient's filter).
  (func (export "flip_filter")
    (param $w i32) (param $out i32) (param $kh i32) (param $kw i32) (param $cin i32) (param $cout i32)
    (local $i i32) (local $j i32) (local $c i32) (local $o i32) (local $from i32) (local $to i32) (local $block i32)
    (local.set $block (i32.mul (local.get $cin) (local.get $cout)))
    (local.set $i (i32.const 0))
    (block $doneI (loop $loopI
      (br_if $doneI (i32.ge_s (local.get $i) (local.get $kh)))
      (local.set $j (i32.const 0))
      (block $doneJ (loop $loopJ
        (br_if $doneJ (i32.ge_s (local.get $j) (local.get $kw)))
        (local.set $from (i32.add (local.get $w) (i32.shl (i32.mul (local.get $block)
          (i32.add (i32.mul (i32.sub (i32.sub (local.get $kh) (i32.const 1)) (local.get $i)) (local.get $kw))
            (i32.sub (i32.sub (local.get $kw) (i32.const 1)) (local.get $j)))) (i32.const 2))))
        (local.set $to (i32.add (local.get $out) (i32.shl (i32.mul (local.get $block)
          (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j))) (i32.const 2))))
        ;; transpose the [cin × cout] block at $from into [cout × cin] at $to
        (call $transposeBlock (local.get $from) (local.get $to) (local.get $cin) (local.get $cout))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $loopJ)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $loopI))))

  ;; For every window of a max pool whose strides equal its filter size, the element index in x of
  ;; its first maximum (scan order: rows, then columns), or −1 when the window is all padding.
  ;; positions is laid out like the pool's output [n, oh, ow, c]; best is scratch for c floats.
  ;; Channels are compared four at a time (a strictly greater value replaces the maximum).
  (func (export "max_pool_positions")
    (param $x i32) (param $positions i32) (param $best i32) (param $n i32) (param $height i32) (param $width i32) (param $c i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $top i32) (param $left i32)
    (local $b i32) (local $i i32) (local $j i32) (local $u i32) (local $v i32) (local $y i32) (local $z i32)
    (local $ch i32) (local $base i32) (local $window i32) (local $first i32) (local $c4 i32)
    (local $value v128) (local $max v128) (local $greater v128) (local $index v128)
    (local.set $c4 (i32.and (local.get $c) (i32.const -4)))
    (local.set $window (local.get $positions))
    (local.set $b (i32.const 0))
    (block $doneB (loop $loopB
      (br_if $doneB (i32.ge_s (local.get $b) (local.get $n)))
      (local.set $i (i32.const 0))
      (block $doneI (loop $loopI
        (br_if $doneI (i32.ge_s (local.get $i) (local.get $oh)))
        (local.set $j (i32.const 0))
        (block $doneJ (loop $loopJ
          (br_if $doneJ (i32.ge_s (local.get $j) (local.get $ow)))
          (local.set $first (i32.const 1))
          (local.set $u (i32.const 0))
          (block $doneU (loop $loopU
            (br_if $doneU (i32.ge_s (local.get $u) (local.get $kh)))
            (local.set $y (i32.add (i32.sub (i32.mul (local.get $i) (local.get $kh)) (local.get $top)) (local.get $u)))
            (if (i32.and (i32.ge_s (local.get $y) (i32.const 0)) (i32.lt_s (local.get $y) (local.get $height))) (then
              (local.set $v (i32.const 0))
              (block $doneV (loop $loopV
                (br_if $doneV (i32.ge_s (local.get $v) (local.get $kw)))
                (local.set $z (i32.add (i32.sub (i32.mul (local.get $j) (local.get $kw)) (local.get $left)) (local.get $v)))
                (if (i32.and (i32.ge_s (local.get $z) (i32.const 0)) (i32.lt_s (local.get $z) (local.get $width))) (then
                  (local.set $base (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $height)) (local.get $y)) (local.get $width)) (local.get $z)) (local.get $c)))
                  (local.set $ch (i32.const 0))
                  (block $done4 (loop $loop4
                    (br_if $done4 (i32.ge_s (local.get $ch) (local.get $c4)))
                    (local.set $value (v128.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $base) (local.get $ch)) (i32.const 2)))))
                    (local.set $index (i32x4.add (i32x4.splat (i32.add (local.get $base) (local.get $ch))) (v128.const i32x4 0 1 2 3)))
                    (if (local.get $first)
                      (then
                        (v128.store (i32.add (local.get $best) (i32.shl (local.get $ch) (i32.const 2))) (local.get $value))
                        (v128.store (i32.add (local.get $window) (i32.shl (local.get $ch) (i32.const 2))) (local.get $index)))
                      (else
                        (local.set $max (v128.load (i32.add (local.get $best) (i32.shl (local.get $ch) (i32.const 2)))))
                        (local.set $greater (f32x4.gt (local.get $value) (local.get $max)))
                        (v128.store (i32.add (local.get $best) (i32.shl (local.get $ch) (i32.const 2)))
                          (v128.bitselect (local.get $value) (local.get $max) (local.get $greater)))
                        (v128.store (i32.add (local.get $window) (i32.shl (local.get $ch) (i32.const 2)))
                          (v128.bitselect (local.get $index)
                            (v128.load (i32.add (local.get $window) (i32.shl (local.get $ch) (i32.const 2))))
                            (local.get $greater)))))
                    (local.set $ch (i32.add (local.get $ch) (i32.const 4)))
                    (br $loop4)))
                  (block $doneC (loop $loopC
                    (br_if $doneC (i32.ge_s (local.get $ch) (local.get $c)))
                    (if (i32.or (local.get $first)
                          (f32.gt (f32.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $base) (local.get $ch)) (i32.const 2))))
                                  (f32.load (i32.add (local.get $best) (i32.shl (local.get $ch) (i32.const 2))))))
                      (then
                        (f32.store (i32.add (local.get $best) (i32.shl (local.get $ch) (i32.const 2)))
                          (f32.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $base) (local.get $ch)) (i32.const 2)))))
                        (i32.store (i32.add (local.get $window) (i32.shl (local.get $ch) (i32.const 2))) (i32.add (local.get $base) (local.get $ch)))))
                    (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
                    (br $loopC)))
                  (local.set $first (i32.const 0))))
                (local.set $v (i32.add (local.get $v) (i32.const 1)))
                (br $loopV)))))
            (local.set $u (i32.add (local.get $u) (i32.const 1)))
            (br $loopU)))
          ;; an all-padding window: −1 for each channel
          (if (local.get $first) (then
            (memory.fill (local.get $window) (i32.const 255) (i32.shl (local.get $c) (i32.const 2)))))
          (local.set $window (i32.add (local.get $window) (i32.shl (local.get $c) (i32.const 2))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $loopJ)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $loopI)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $loopB))))

  ;; ConcordMaxPoolRoute's routing (max-pool-route/fast.ts), after max_pool_positions: out (size
  ;; floats) is zeroed, then each window's upstream value is added at its maximum's index (windows
  ;; at −1 route nothing). The add on the zero keeps the JavaScript loop's bits (0 + −0 is +0).
  (func (export "max_pool_route")
    (param $positions i32) (param $values i32) (param $out i32) (param $windows i32) (param $size i32)
    (local $w i32) (local $position i32) (local $at i32)
    (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $size) (i32.const 2)))
    (local.set $w (i32.const 0))
    (block $done (loop $loop
      (br_if $done (i32.ge_s (local.get $w) (local.get $windows)))
      (local.set $position (i32.load (i32.add (local.get $positions) (i32.shl (local.get $w) (i32.const 2)))))
      (if (i32.ge_s (local.get $position) (i32.const 0)) (then
        (local.set $at (i32.add (local.get $out) (i32.shl (local.get $position) (i32.const 2))))
        (f32.store (local.get $at)
          (f32.add (f32.load (local.get $at)) (f32.load (i32.add (local.get $values) (i32.shl (local.get $w) (i32.const 2))))))))
      (local.set $w (i32.add (local.get $w) (i32.const 1)))
      (br $loop))))

  ;; ConcordMaxPoolGather (max-pool-route/fast.ts), after max_pool_positions: out[w] is the value at
  ;; window w's maximum, +0 for a window at −1.
  (func (export "max_pool_gather")
    (param $positions i32) (param $values i32) (param $out i32) (param $windows i32)
    (local $w i32) (local $position i32)
    (local.set $w (i32.const 0))
    (block $done (loop $loop
      (br_if $done (i32.ge_s (local.get $w) (local.get $windows)))
      (local.set $position (i32.load (i32.add (local.get $positions) (i32.shl (local.get $w) (i32.const 2)))))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $w) (i32.const 2)))
        (if (result f32) (i32.ge_s (local.get $position) (i32.const 0))
          (then (f32.load (i32.add (local.get $values) (i32.shl (local.get $position) (i32.const 2)))))
          (else (f32.const 0))))
      (local.set $w (i32.add (local.get $w) (i32.const 1)))
      (br $loop))))

  ;; ---- ConcordSgdStep (kernels/sgd-step/reference.ts) ----------------------------------------------
  ;; out = param − grad·lr over size floats, each operation in float32 (lr arrives rounded to
  ;; float32): the JavaScript loop's fround(param − fround(grad·fround(lr))), whose float64 steps
  ;; round to the same float32 values. Four lanes at a time, then a scalar tail.
  (func (export "sgd_step")
    (param $param i32) (param $grad i32) (param $out i32) (param $size i32) (param $lr f32)
    (local $at i32) (local $end i32) (local $end4 i32) (local $rate v128)
    (local.set $rate (f32x4.splat (local.get $lr)))
    (local.set $end (i32.shl (local.get $size) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $size) (i32.const -4)) (i32.const 2)))
    (local.set $at (i32.const 0))
    (block $done4 (loop $loop4
      (br_if $done4 (i32.ge_u (local.get $at) (local.get $end4)))
      (v128.store (i32.add (local.get $out) (local.get $at))
        (f32x4.sub (v128.load (i32.add (local.get $param) (local.get $at)))
          (f32x4.mul (v128.load (i32.add (local.get $grad) (local.get $at))) (local.get $rate))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $loop4)))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (f32.store (i32.add (local.get $out) (local.get $at))
        (f32.sub (f32.load (i32.add (local.get $param) (local.get $at)))
          (f32.mul (f32.load (i32.add (local.get $grad) (local.get $at))) (local.get $lr))))
      (local.set $at (i32.add (local.get $at) (i32.const 4)))
      (br $loop))))

  ;; ---- fused batch norm (kernels/batch-norm/wasm.ts) ----------------------------------------------
  ;; The JavaScript kernels' float64 arithmetic, operation for operation (so the same bits), two
  ;; channels per f64x2 and a scalar tail for an odd channel count. x, y, dy, dx are [rows, channels]
  ;; float32; a, b, k1..k3, sum, squares, sumG, sumGX are per-channel float64 arrays. The ReLU mask
  ;; is an AND with (z > 0), i.e. z > 0 ? v : +0; relu = 0 keeps every value.

  ;; sum[c] += x[r,c] − x[0,c] and squares[c] += (x[r,c] − x[0,c])², rows in order.
  (func (export "bn_moments")
    (param $x i32) (param $rows i32) (param $channels i32) (param $sum i32) (param $squares i32)
    (local $r i32) (local $c i32) (local $pairs i32) (local $p i32) (local $o i32) (local $d v128) (local $ds f64)
    (local.set $pairs (i32.and (local.get $channels) (i32.const -2)))
    (local.set $p (local.get $x))
    (local.set $r (i32.const 0))
    (block $doneR (loop $loopR
      (br_if $doneR (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $doneC (loop $loopC
        (br_if $doneC (i32.ge_u (local.get $c) (local.get $pairs)))
        (local.set $d (f64x2.sub
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
        (local.set $o (i32.shl (local.get $c) (i32.const 3)))
        (v128.store (i32.add (local.get $sum) (local.get $o)) (f64x2.add (v128.load (i32.add (local.get $sum) (local.get $o))) (local.get $d)))
        (v128.store (i32.add (local.get $squares) (local.get $o))
          (f64x2.add (v128.load (i32.add (local.get $squares) (local.get $o))) (f64x2.mul (local.get $d) (local.get $d))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $loopC)))
      (if (i32.lt_u (local.get $pairs) (local.get $channels)) (then
        (local.set $ds (f64.sub
          (f64.promote_f32 (f32.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))))
          (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
        (local.set $o (i32.shl (local.get $c) (i32.const 3)))
        (f64.store (i32.add (local.get $sum) (local.get $o)) (f64.add (f64.load (i32.add (local.get $sum) (local.get $o))) (local.get $ds)))
        (f64.store (i32.add (local.get $squares) (local.get $o))
          (f64.add (f64.load (i32.add (local.get $squares) (local.get $o))) (f64.mul (local.get $ds) (local.get $ds))))))
      (local.set $p (i32.add (local.get $p) (i32.shl (local.get $channels) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $loopR))))

  ;; All ones when relu = 0 (keep every value), zeros otherwise.
  (func $keepMask (param $relu i32) (result v128)
    (i64x2.splat (i64.sub (i64.const 0) (i64.extend_i32_u (i32.eqz (local.get $relu))))))

  ;; y = x·a + b, masked when relu ≠ 0.
  (func (export "bn_forward")
    (param $x i32) (param $y i32) (param $a i32) (param $b i32) (param $rows i32) (param $channels i32) (param $relu i32)
    (local $r i32) (local $c i32) (local $pairs i32) (local $row i32) (local $o i32) (local $keep v128) (local $z v128) (local $zs f64)
    (local.set $keep (call $keepMask (local.get $relu)))
    (local.set $pairs (i32.and (local.get $channels) (i32.const -2)))
    (local.set $row (i32.const 0))
    (local.set $r (i32.const 0))
    (block $doneR (loop $loopR
      (br_if $doneR (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $doneC (loop $loopC
        (br_if $doneC (i32.ge_u (local.get $c) (local.get $pairs)))
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $z (f64x2.add
          (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $o))))
                     (v128.load (i32.add (local.get $a) (i32.shl (local.get $c) (i32.const 3)))))
          (v128.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 3))))))
        (local.set $z (v128.and (local.get $z) (v128.or (f64x2.gt (local.get $z) (v128.const f64x2 0 0)) (local.get $keep))))
        (v128.store64_lane 0 (i32.add (local.get $y) (local.get $o)) (f32x4.demote_f64x2_zero (local.get $z)))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $loopC)))
      (if (i32.lt_u (local.get $pairs) (local.get $channels)) (then
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $zs (f64.add
          (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $o)))) (f64.load (i32.add (local.get $a) (i32.shl (local.get $c) (i32.const 3)))))
          (f64.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 3))))))
        (f32.store (i32.add (local.get $y) (local.get $o))
          (f32.demote_f64 (select (local.get $zs) (f64.const 0)
            (i32.or (i32.eqz (local.get $relu)) (f64.gt (local.get $zs) (f64.const 0))))))))
      (local.set $row (i32.add (local.get $row) (local.get $channels)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $loopR))))

  ;; sumG[c] += g and sumGX[c] += g·x, g = dy masked by x·a + b > 0 when relu ≠ 0, rows in order.
  (func (export "bn_sums")
    (param $x i32) (param $dy i32) (param $a i32) (param $b i32) (param $rows i32) (param $channels i32) (param $relu i32)
    (param $sumG i32) (param $sumGX i32)
    (local $r i32) (local $c i32) (local $pairs i32) (local $row i32) (local $o i32) (local $o8 i32) (local $keep v128)
    (local $xv v128) (local $g v128) (local $xs f64) (local $gs f64)
    (local.set $keep (call $keepMask (local.get $relu)))
    (local.set $pairs (i32.and (local.get $channels) (i32.const -2)))
    (local.set $row (i32.const 0))
    (local.set $r (i32.const 0))
    (block $doneR (loop $loopR
      (br_if $doneR (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $doneC (loop $loopC
        (br_if $doneC (i32.ge_u (local.get $c) (local.get $pairs)))
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xv (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $o)))))
        (local.set $g (v128.and (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dy) (local.get $o))))
          (v128.or (local.get $keep)
            (f64x2.gt (f64x2.add (f64x2.mul (local.get $xv) (v128.load (i32.add (local.get $a) (local.get $o8)))) (v128.load (i32.add (local.get $b) (local.get $o8))))
                      (v128.const f64x2 0 0)))))
        (v128.store (i32.add (local.get $sumG) (local.get $o8)) (f64x2.add (v128.load (i32.add (local.get $sumG) (local.get $o8))) (local.get $g)))
        (v128.store (i32.add (local.get $sumGX) (local.get $o8))
          (f64x2.add (v128.load (i32.add (local.get $sumGX) (local.get $o8))) (f64x2.mul (local.get $g) (local.get $xv))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $loopC)))
      (if (i32.lt_u (local.get $pairs) (local.get $channels)) (then
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $o)))))
        (local.set $gs (select (f64.promote_f32 (f32.load (i32.add (local.get $dy) (local.get $o)))) (f64.const 0)
          (i32.or (i32.eqz (local.get $relu))
            (f64.gt (f64.add (f64.mul (local.get $xs) (f64.load (i32.add (local.get $a) (local.get $o8)))) (f64.load (i32.add (local.get $b) (local.get $o8))))
                    (f64.const 0)))))
        (f64.store (i32.add (local.get $sumG) (local.get $o8)) (f64.add (f64.load (i32.add (local.get $sumG) (local.get $o8))) (local.get $gs)))
        (f64.store (i32.add (local.get $sumGX) (local.get $o8))
          (f64.add (f64.load (i32.add (local.get $sumGX) (local.get $o8))) (f64.mul (local.get $gs) (local.get $xs))))))
      (local.set $row (i32.add (local.get $row) (local.get $channels)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $loopR))))

  ;; dx = g·k1 + x·k2 + k3, g as in bn_sums.
  (func (export "bn_dx")
    (param $x i32) (param $dy i32) (param $a i32) (param $b i32) (param $k1 i32) (param $k2 i32) (param $k3 i32) (param $dx i32)
    (param $rows i32) (param $channels i32) (param $relu i32)
    (local $r i32) (local $c i32) (local $pairs i32) (local $row i32) (local $o i32) (local $o8 i32) (local $keep v128)
    (local $xv v128) (local $g v128) (local $xs f64) (local $gs f64)
    (local.set $keep (call $keepMask (local.get $relu)))
    (local.set $pairs (i32.and (local.get $channels) (i32.const -2)))
    (local.set $row (i32.const 0))
    (local.set $r (i32.const 0))
    (block $doneR (loop $loopR
      (br_if $doneR (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $doneC (loop $loopC
        (br_if $doneC (i32.ge_u (local.get $c) (local.get $pairs)))
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xv (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $o)))))
        (local.set $g (v128.and (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dy) (local.get $o))))
          (v128.or (local.get $keep)
            (f64x2.gt (f64x2.add (f64x2.mul (local.get $xv) (v128.load (i32.add (local.get $a) (local.get $o8)))) (v128.load (i32.add (local.get $b) (local.get $o8))))
                      (v128.const f64x2 0 0)))))
        (v128.store64_lane 0 (i32.add (local.get $dx) (local.get $o))
          (f32x4.demote_f64x2_zero
            (f64x2.add
              (f64x2.add (f64x2.mul (local.get $g) (v128.load (i32.add (local.get $k1) (local.get $o8))))
                         (f64x2.mul (local.get $xv) (v128.load (i32.add (local.get $k2) (local.get $o8)))))
              (v128.load (i32.add (local.get $k3) (local.get $o8))))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $loopC)))
      (if (i32.lt_u (local.get $pairs) (local.get $channels)) (then
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $o)))))
        (local.set $gs (select (f64.promote_f32 (f32.load (i32.add (local.get $dy) (local.get $o)))) (f64.const 0)
          (i32.or (i32.eqz (local.get $relu))
            (f64.gt (f64.add (f64.mul (local.get $xs) (f64.load (i32.add (local.get $a) (local.get $o8)))) (f64.load (i32.add (local.get $b) (local.get $o8))))
                    (f64.const 0)))))
        (f32.store (i32.add (local.get $dx) (local.get $o))
          (f32.demote_f64
            (f64.add
              (f64.add (f64.mul (local.get $gs) (f64.load (i32.add (local.get $k1) (local.get $o8))))
                       (f64.mul (local.get $xs) (f64.load (i32.add (local.get $k2) (local.get $o8)))))
              (f64.load (i32.add (local.get $k3) (local.get $o8))))))))
      (local.set $row (i32.add (local.get $row) (local.get $channels)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $loopR))))

  ;; ConcordBatchNormGradGrad's sums (batch-norm/reference.ts's gradGradSums), x̂ = (x − mean)·inverseStd,
  ;; g = dy masked by x·a + b > 0 when relu ≠ 0: sumG += g, sumGX += g·x̂ and, when hasA ≠ 0, sumA += u,
  ;; sumAX += u·x̂, sumAG += u·g for the upstream u at $up; rows in order.
  (func (export "bn2_sums")
    (param $x i32) (param $dy i32) (param $up i32) (param $hasA i32) (param $mean i32) (param $inv i32) (param $a i32) (param $b i32)
    (param $rows i32) (param $channels i32) (param $relu i32)
    (param $sumG i32) (param $sumGX i32) (param $sumA i32) (param $sumAX i32) (param $sumAG i32)
    (local $r i32) (local $c i32) (local $pairs i32) (local $row i32) (local $o i32) (local $o8 i32) (local $keep v128)
    (local $xv v128) (local $n v128) (local $g v128) (local $u v128) (local $xs f64) (local $ns f64) (local $gs f64) (local $us f64)
    (local.set $keep (call $keepMask (local.get $relu)))
    (local.set $pairs (i32.and (local.get $channels) (i32.const -2)))
    (local.set $row (i32.const 0))
    (local.set $r (i32.const 0))
    (block $doneR (loop $loopR
      (br_if $doneR (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $doneC (loop $loopC
        (br_if $doneC (i32.ge_u (local.get $c) (local.get $pairs)))
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xv (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $o)))))
        (local.set $n (f64x2.mul (f64x2.sub (local.get $xv) (v128.load (i32.add (local.get $mean) (local.get $o8))))
                                 (v128.load (i32.add (local.get $inv) (local.get $o8)))))
        (local.set $g (v128.and (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dy) (local.get $o))))
          (v128.or (local.get $keep)
            (f64x2.gt (f64x2.add (f64x2.mul (local.get $xv) (v128.load (i32.add (local.get $a) (local.get $o8)))) (v128.load (i32.add (local.get $b) (local.get $o8))))
                      (v128.const f64x2 0 0)))))
        (v128.store (i32.add (local.get $sumG) (local.get $o8)) (f64x2.add (v128.load (i32.add (local.get $sumG) (local.get $o8))) (local.get $g)))
        (v128.store (i32.add (local.get $sumGX) (local.get $o8))
          (f64x2.add (v128.load (i32.add (local.get $sumGX) (local.get $o8))) (f64x2.mul (local.get $g) (local.get $n))))
        (if (local.get $hasA) (then
          (local.set $u (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $up) (local.get $o)))))
          (v128.store (i32.add (local.get $sumA) (local.get $o8)) (f64x2.add (v128.load (i32.add (local.get $sumA) (local.get $o8))) (local.get $u)))
          (v128.store (i32.add (local.get $sumAX) (local.get $o8))
            (f64x2.add (v128.load (i32.add (local.get $sumAX) (local.get $o8))) (f64x2.mul (local.get $u) (local.get $n))))
          (v128.store (i32.add (local.get $sumAG) (local.get $o8))
            (f64x2.add (v128.load (i32.add (local.get $sumAG) (local.get $o8))) (f64x2.mul (local.get $u) (local.get $g))))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $loopC)))
      (if (i32.lt_u (local.get $pairs) (local.get $channels)) (then
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $o)))))
        (local.set $ns (f64.mul (f64.sub (local.get $xs) (f64.load (i32.add (local.get $mean) (local.get $o8))))
                                (f64.load (i32.add (local.get $inv) (local.get $o8)))))
        (local.set $gs (select (f64.promote_f32 (f32.load (i32.add (local.get $dy) (local.get $o)))) (f64.const 0)
          (i32.or (i32.eqz (local.get $relu))
            (f64.gt (f64.add (f64.mul (local.get $xs) (f64.load (i32.add (local.get $a) (local.get $o8)))) (f64.load (i32.add (local.get $b) (local.get $o8))))
                    (f64.const 0)))))
        (f64.store (i32.add (local.get $sumG) (local.get $o8)) (f64.add (f64.load (i32.add (local.get $sumG) (local.get $o8))) (local.get $gs)))
        (f64.store (i32.add (local.get $sumGX) (local.get $o8))
          (f64.add (f64.load (i32.add (local.get $sumGX) (local.get $o8))) (f64.mul (local.get $gs) (local.get $ns))))
        (if (local.get $hasA) (then
          (local.set $us (f64.promote_f32 (f32.load (i32.add (local.get $up) (local.get $o)))))
          (f64.store (i32.add (local.get $sumA) (local.get $o8)) (f64.add (f64.load (i32.add (local.get $sumA) (local.get $o8))) (local.get $us)))
          (f64.store (i32.add (local.get $sumAX) (local.get $o8))
            (f64.add (f64.load (i32.add (local.get $sumAX) (local.get $o8))) (f64.mul (local.get $us) (local.get $ns))))
          (f64.store (i32.add (local.get $sumAG) (local.get $o8))
            (f64.add (f64.load (i32.add (local.get $sumAG) (local.get $o8))) (f64.mul (local.get $us) (local.get $gs))))))))
      (local.set $row (i32.add (local.get $row) (local.get $channels)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $loopR))))

  ;; ConcordBatchNormGradGrad's outputs (reference.ts's gradGradOutputs): dX = g·k1 + x̂·k2 + u·k3 + k4 and
  ;; dDy = mask·(u·l1 + x̂·l2 + l3), the u terms only when hasA ≠ 0; x̂, g and the mask as in bn2_sums.
  (func (export "bn2_outputs")
    (param $x i32) (param $dy i32) (param $up i32) (param $hasA i32) (param $mean i32) (param $inv i32) (param $a i32) (param $b i32)
    (param $k1 i32) (param $k2 i32) (param $k3 i32) (param $k4 i32) (param $l1 i32) (param $l2 i32) (param $l3 i32)
    (param $dX i32) (param $dDy i32) (param $rows i32) (param $channels i32) (param $relu i32)
    (local $r i32) (local $c i32) (local $pairs i32) (local $row i32) (local $o i32) (local $o8 i32) (local $keep v128)
    (local $xv v128) (local $n v128) (local $m v128) (local $g v128) (local $u v128) (local $dxv v128) (local $ddyv v128)
    (local $xs f64) (local $ns f64) (local $ms i32) (local $gs f64) (local $us f64) (local $dxs f64) (local $ddys f64)
    (local.set $keep (call $keepMask (local.get $relu)))
    (local.set $pairs (i32.and (local.get $channels) (i32.const -2)))
    (local.set $row (i32.const 0))
    (local.set $r (i32.const 0))
    (block $doneR (loop $loopR
      (br_if $doneR (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $doneC (loop $loopC
        (br_if $doneC (i32.ge_u (local.get $c) (local.get $pairs)))
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xv (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $o)))))
        (local.set $n (f64x2.mul (f64x2.sub (local.get $xv) (v128.load (i32.add (local.get $mean) (local.get $o8))))
                                 (v128.load (i32.add (local.get $inv) (local.get $o8)))))
        (local.set $m (v128.or (local.get $keep)
          (f64x2.gt (f64x2.add (f64x2.mul (local.get $xv) (v128.load (i32.add (local.get $a) (local.get $o8)))) (v128.load (i32.add (local.get $b) (local.get $o8))))
                    (v128.const f64x2 0 0))))
        (local.set $g (v128.and (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dy) (local.get $o)))) (local.get $m)))
        (local.set $dxv (f64x2.add (f64x2.mul (local.get $g) (v128.load (i32.add (local.get $k1) (local.get $o8))))
                                   (f64x2.mul (local.get $n) (v128.load (i32.add (local.get $k2) (local.get $o8))))))
        (if (local.get $hasA)
          (then
            (local.set $u (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $up) (local.get $o)))))
            (local.set $dxv (f64x2.add (local.get $dxv) (f64x2.mul (local.get $u) (v128.load (i32.add (local.get $k3) (local.get $o8))))))
            (local.set $ddyv (f64x2.add (f64x2.add (f64x2.mul (local.get $u) (v128.load (i32.add (local.get $l1) (local.get $o8))))
                                                   (f64x2.mul (local.get $n) (v128.load (i32.add (local.get $l2) (local.get $o8)))))
                                        (v128.load (i32.add (local.get $l3) (local.get $o8))))))
          (else
            (local.set $ddyv (f64x2.add (f64x2.mul (local.get $n) (v128.load (i32.add (local.get $l2) (local.get $o8))))
                                        (v128.load (i32.add (local.get $l3) (local.get $o8)))))))
        (v128.store64_lane 0 (i32.add (local.get $dX) (local.get $o))
          (f32x4.demote_f64x2_zero (f64x2.add (local.get $dxv) (v128.load (i32.add (local.get $k4) (local.get $o8))))))
        (v128.store64_lane 0 (i32.add (local.get $dDy) (local.get $o))
          (f32x4.demote_f64x2_zero (v128.and (local.get $ddyv) (local.get $m))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $loopC)))
      (if (i32.lt_u (local.get $pairs) (local.get $channels)) (then
        (local.set $o (i32.shl (i32.add (local.get $row) (local.get $c)) (i32.const 2)))
        (local.set $o8 (i32.shl (local.get $c) (i32.const 3)))
        (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $o)))))
        (local.set $ns (f64.mul (f64.sub (local.get $xs) (f64.load (i32.add (local.get $mean) (local.get $o8))))
                                (f64.load (i32.add (local.get $inv) (local.get $o8)))))
        (local.set $ms (i32.or (i32.eqz (local.get $relu))
          (f64.gt (f64.add (f64.mul (local.get $xs) (f64.load (i32.add (local.get $a) (local.get $o8)))) (f64.load (i32.add (local.get $b) (local.get $o8))))
                  (f64.const 0))))
        (local.set $gs (select (f64.promote_f32 (f32.load (i32.add (local.get $dy) (local.get $o)))) (f64.const 0) (local.get $ms)))
        (local.set $dxs (f64.add (f64.mul (local.get $gs) (f64.load (i32.add (local.get $k1) (local.get $o8))))
                                 (f64.mul (local.get $ns) (f64.load (i32.add (local.get $k2) (local.get $o8))))))
        (if (local.get $hasA)
          (then
            (local.set $us (f64.promote_f32 (f32.load (i32.add (local.get $up) (local.get $o)))))
            (local.set $dxs (f64.add (local.get $dxs) (f64.mul (local.get $us) (f64.load (i32.add (local.get $k3) (local.get $o8))))))
            (local.set $ddys (f64.add (f64.add (f64.mul (local.get $us) (f64.load (i32.add (local.get $l1) (local.get $o8))))
                                               (f64.mul (local.get $ns) (f64.load (i32.add (local.get $l2) (local.get $o8)))))
                                      (f64.load (i32.add (local.get $l3) (local.get $o8))))))
          (else
            (local.set $ddys (f64.add (f64.mul (local.get $ns) (f64.load (i32.add (local.get $l2) (local.get $o8))))
                                      (f64.load (i32.add (local.get $l3) (local.get $o8)))))))
        (f32.store (i32.add (local.get $dX) (local.get $o))
          (f32.demote_f64 (f64.add (local.get $dxs) (f64.load (i32.add (local.get $k4) (local.get $o8))))))
        (f32.store (i32.add (local.get $dDy) (local.get $o))
          (f32.demote_f64 (select (local.get $ddys) (f64.const 0) (local.get $ms))))))
      (local.set $row (i32.add (local.get $row) (local.get $channels)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $loopR))))
)

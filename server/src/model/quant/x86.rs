//! The vector loops for x86-64 over `Packed` groups: AVX2/FMA, with the 8-bit products
//! summed by VNNI where the CPU has it. The same loop is written out once per way of
//! summing, so that each is compiled with its own target features.

use super::*;
use std::arch::x86_64::*;

/// One block of 32 activations quantized as `Q8Activations::quantize` does it (the same
/// operations, eight lanes at a time): its values into `qs`, each 4 values' `offsets`, its
/// scale `d` (not yet rounded through f16) and the sum of its quantized values.
/// Safety: needs AVX2; `values` and `qs` hold 32 each, `offsets` 8.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn quantize_block(values: &[f32], qs: &mut [i8], offsets: &mut [i32]) -> (f32, i32) {
    assert!(values.len() == BLOCK && qs.len() == BLOCK && offsets.len() == BLOCK / 4);
    let sign = _mm256_set1_ps(-0.0);
    let v: [__m256; 4] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(values.as_ptr().add(8 * i)) });
    let abs = |x| _mm256_andnot_ps(sign, x);
    let most = _mm256_max_ps(_mm256_max_ps(abs(v[0]), abs(v[1])), _mm256_max_ps(abs(v[2]), abs(v[3])));
    let half = _mm_max_ps(_mm256_castps256_ps128(most), _mm256_extractf128_ps(most, 1));
    let half = _mm_max_ps(half, _mm_movehl_ps(half, half));
    let amax = _mm_cvtss_f32(_mm_max_ss(half, _mm_movehdup_ps(half))).max(0.0);
    let d = amax / 127.0;
    let id = _mm256_set1_ps(if amax == 0.0 { 0.0 } else { 127.0 / amax });
    let ints: [__m256i; 4] = std::array::from_fn(|i| {
        _mm256_cvtps_epi32(_mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(v[i], id),
        ))
    });
    let total = _mm256_add_epi32(_mm256_add_epi32(ints[0], ints[1]), _mm256_add_epi32(ints[2], ints[3]));
    let total = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    let total = _mm_add_epi32(total, _mm_shuffle_epi32::<0b01_00_11_10>(total));
    let sum = _mm_cvtsi128_si32(_mm_add_epi32(total, _mm_shuffle_epi32::<0b10_11_00_01>(total)));
    // 32 to 16 to 8 bits (within ±127, nothing saturates), then the lanes put back in order.
    let packed =
        _mm256_packs_epi16(_mm256_packs_epi32(ints[0], ints[1]), _mm256_packs_epi32(ints[2], ints[3]));
    let ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    unsafe { _mm256_storeu_si256(qs.as_mut_ptr() as *mut __m256i, ordered) };
    // Each 4 values' sum (pairs by `vpmaddubsw` with ones, then pairs of pairs), times -128.
    let fours = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), ordered), _mm256_set1_epi16(1));
    let offsets_of = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32::<7>(fours));
    unsafe { _mm256_storeu_si256(offsets.as_mut_ptr() as *mut __m256i, offsets_of) };
    (d, sum)
}

/// What a loop asks the caches for while it reads a group's blocks (`Prefetch::for_pass`):
/// the lines `near` bytes past each block into L1, and those `far` bytes past it into L2.
/// 0 asks for none.
#[derive(Clone, Copy, Debug)]
pub struct Prefetch {
    pub near: usize,
    pub far: usize,
}

impl Prefetch {
    /// Bytes a pass that reads from memory asks for ahead of the block it reads
    /// (`PARLEY_PREFETCH`; 0 turns off every prefetch of the loops, to measure them).
    pub fn near() -> usize {
        static AHEAD: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *AHEAD.get_or_init(|| {
            std::env::var("PARLEY_PREFETCH").ok().and_then(|v| v.parse().ok()).unwrap_or(1024)
        })
    }

    /// What the pass over a group's blocks for inputs `t..t + 2` of a product asks for. The
    /// first pass reads the group from memory and asks for the lines `near` ahead of it. With
    /// more than two inputs, the later passes read the group again from L1 and ask meanwhile
    /// for the next one's lines (`span` bytes on) into L2, so that its first pass does not
    /// wait on memory. On an AVX-512 AMD EPYC (2 threads), 8 alternatives x 64 tokens
    /// decoded 17% faster than with the first pass's prefetch alone and 4 alternatives 26%
    /// (the two alternated 8 times in one process, the median of the pairs' ratios); one
    /// input runs as before.
    pub fn for_pass(t: usize, span: usize) -> Prefetch {
        match (Prefetch::near(), t) {
            (0, _) => Prefetch { near: 0, far: 0 },
            (near, 0) => Prefetch { near, far: 0 },
            _ => Prefetch { near: 0, far: span },
        }
    }

    /// Asks for the lines of the `len` bytes at `at`, `near` and `far` further on.
    #[inline(always)]
    fn lines(self, at: *const u8, len: usize) {
        let mut offset = 0;
        while offset < len {
            // Safety: a prefetch reads nothing; the address need not be valid.
            unsafe {
                if self.near > 0 {
                    _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(self.near + offset) as *const i8);
                }
                if self.far > 0 {
                    _mm_prefetch::<_MM_HINT_T1>(at.wrapping_add(self.far + offset) as *const i8);
                }
            }
            offset += 64;
        }
    }
}

/// Where the activations of a tile's `N` inputs are.
struct Inputs<const N: usize> {
    offsets: [*const i32; N],
    qs: [*const i8; N],
    ds: [*const f32; N],
    ss: [*const f32; N],
    sums: [*const i32; N],
}

impl<const N: usize> Inputs<N> {
    fn new(xs: &[Q8Activations]) -> Inputs<N> {
        Inputs {
            offsets: std::array::from_fn(|t| xs[t].offsets.as_ptr()),
            qs: std::array::from_fn(|t| xs[t].qs.as_ptr()),
            ds: std::array::from_fn(|t| xs[t].d.as_ptr()),
            ss: std::array::from_fn(|t| xs[t].s.as_ptr()),
            sums: std::array::from_fn(|t| xs[t].sums.as_ptr()),
        }
    }

    /// Input `t`'s integer sum of block `b`'s values.
    /// Safety: the input holds block `b`.
    #[inline(always)]
    unsafe fn sum(&self, t: usize, b: usize) -> i32 {
        unsafe { *self.sums[t].add(b) }
    }

    /// The 4 bytes `4k..4k + 4` of input `t`'s block `b` as one 32-bit value (to broadcast).
    /// Safety: the input holds block `b`; `k` < 8.
    #[inline(always)]
    unsafe fn four(&self, t: usize, b: usize, k: usize) -> i32 {
        unsafe { std::ptr::read_unaligned(self.qs[t].add(b * BLOCK + 4 * k) as *const i32) }
    }

    /// Input `t`'s `offsets` for bytes `4k..4k + 4` of block `b`.
    /// Safety: the input holds block `b`; `k` < 8.
    #[inline(always)]
    unsafe fn offset(&self, t: usize, b: usize, k: usize) -> i32 {
        unsafe { *self.offsets[t].add(b * BLOCK / 4 + k) }
    }

    /// Input `t`'s block `b`: its scale and its sum term.
    /// Safety: the input holds block `b`.
    #[inline(always)]
    unsafe fn scales(&self, t: usize, b: usize) -> (f32, f32) {
        unsafe { (*self.ds[t].add(b), *self.ss[t].add(b)) }
    }
}

/// The 256-bit loops over one group of 8 rows, once for each way of summing 8-bit
/// products (`$features` enabled; `$dot` gives, per 32-bit lane, `$a` plus the sum of the
/// four products of unsigned `$x` and signed `$y` bytes).
macro_rules! group_loops {
    ($module:ident, $features:literal, |$a:ident, $x:ident, $y:ident| $dot:expr) => {
        pub mod $module {
            use super::*;

            #[target_feature(enable = $features)]
            #[inline]
            fn dot_add($a: __m256i, $x: __m256i, $y: __m256i) -> __m256i {
                $dot
            }

            #[target_feature(enable = $features)]
            #[inline]
            fn dot(x: __m256i, y: __m256i) -> __m256i {
                dot_add(_mm256_setzero_si256(), x, y)
            }

            /// The 8 Q4_1 values (per row, 4 bytes a lane) of a group's block at `at`, in
            /// ggml's lane order (lanes 0 to 3 the low nibbles, 4 to 7 the high ones), and
            /// the block's scales and minimums.
            /// Safety: needs `$features`; a Q4_1 group block at `at`.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn q4_1_block(at: *const u8) -> (__m256, __m256, [__m256i; 8]) {
                let nibble = _mm256_set1_epi8(0x0F);
                let (d, m, raw) = unsafe {
                    (
                        _mm256_cvtph_ps(_mm_loadu_si128(at as *const __m128i)),
                        _mm256_cvtph_ps(_mm_loadu_si128(at.add(layout::MINS) as *const __m128i)),
                        std::array::from_fn::<_, 4, _>(|c| {
                            _mm256_loadu_si256(at.add(layout::Q4_1_VALUES + 32 * c) as *const __m256i)
                        }),
                    )
                };
                let values = std::array::from_fn(|k| match k {
                    0..4 => _mm256_and_si256(raw[k], nibble),
                    _ => _mm256_and_si256(_mm256_srli_epi16(raw[k - 4], 4), nibble),
                });
                (d, m, values)
            }

            /// The 8 chunks of signed Q8_0 values (per row, 4 bytes a lane) of a group's block
            /// at `at`, their magnitudes (what `vpmaddubsw`/`vpdpbusd` take unsigned), and
            /// the block's scales.
            /// Safety: needs `$features`; a Q8_0 group block at `at`.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn q8_0_block(at: *const u8) -> (__m256, [__m256i; 8], [__m256i; 8]) {
                let (d, values) = unsafe {
                    (
                        _mm256_cvtph_ps(_mm_loadu_si128(at as *const __m128i)),
                        std::array::from_fn::<_, 8, _>(|k| {
                            _mm256_loadu_si256(at.add(layout::Q8_0_VALUES + 32 * k) as *const __m256i)
                        }),
                    )
                };
                (d, values, values.map(|v| _mm256_sign_epi8(v, v)))
            }

            /// The integer sum of a block's 8 lanes of products, `x[k]` times `y(k)`, in two
            /// chains of 4 (even and odd lanes), so that each waits on half as many.
            #[target_feature(enable = $features)]
            #[inline]
            fn block_sum(x: &[__m256i; 8], y: impl Fn(usize) -> __m256i) -> __m256i {
                let chain = |first: usize| {
                    (first..8).step_by(2).fold(_mm256_setzero_si256(), |sum, k| dot_add(sum, x[k], y(k)))
                };
                _mm256_add_epi32(chain(0), chain(1))
            }

            /// `q4_1` with `Sums::Blocks`: each block's 32 products summed in integers, then
            /// one conversion and one multiply-add per row and input (`portable::group_blocks`).
            /// Safety: as `q4_1`.
            #[target_feature(enable = $features)]
            pub unsafe fn q4_1_blocks<const N: usize>(
                groups: [*const u8; 2],
                blocks: usize,
                xs: &[Q8Activations],
                out: &mut [[f32; GROUP]; N],
                prefetch: Prefetch,
            ) {
                let inputs = Inputs::<N>::new(xs);
                let mut acc = [_mm256_setzero_ps(); N];
                let mut mins = [_mm256_setzero_ps(); N];
                for b in 0..blocks {
                    let at = unsafe { groups[0].add(b * Format::Q4_1.group_bytes()) };
                    prefetch.lines(at, Format::Q4_1.group_bytes());
                    let (d, m, values) = unsafe { q4_1_block(at) };
                    for t in 0..N {
                        // Safety: input t holds block b.
                        let (dy, sy) = unsafe { inputs.scales(t, b) };
                        let sum = block_sum(&values, |k| _mm256_set1_epi32(unsafe { inputs.four(t, b, k) }));
                        let scale = _mm256_mul_ps(d, _mm256_set1_ps(dy));
                        acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sum), acc[t]);
                        mins[t] = _mm256_fmadd_ps(m, _mm256_set1_ps(sy), mins[t]);
                    }
                }
                for t in 0..N {
                    unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), _mm256_add_ps(acc[t], mins[t])) };
                }
            }

            /// `q8_0` with `Sums::Blocks`. Safety: as `q4_1`.
            #[target_feature(enable = $features)]
            pub unsafe fn q8_0_blocks<const N: usize>(
                groups: [*const u8; 2],
                blocks: usize,
                xs: &[Q8Activations],
                out: &mut [[f32; GROUP]; N],
                prefetch: Prefetch,
            ) {
                let inputs = Inputs::<N>::new(xs);
                let mut acc = [_mm256_setzero_ps(); N];
                for b in 0..blocks {
                    let at = unsafe { groups[0].add(b * Format::Q8_0.group_bytes()) };
                    prefetch.lines(at, Format::Q8_0.group_bytes());
                    let (d, values, magnitudes) = unsafe { q8_0_block(at) };
                    for t in 0..N {
                        // Safety: input t holds block b.
                        let (dy, _) = unsafe { inputs.scales(t, b) };
                        // |w| times y with w's sign, as in `q8_0`.
                        let y = |k: usize| {
                            _mm256_sign_epi8(_mm256_set1_epi32(unsafe { inputs.four(t, b, k) }), values[k])
                        };
                        let sum = block_sum(&magnitudes, y);
                        let scale = _mm256_mul_ps(d, _mm256_set1_ps(dy));
                        acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sum), acc[t]);
                    }
                }
                for t in 0..N {
                    unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]) };
                }
            }

            /// ggml's `hsum_float_8` of each row: `acc[k]` holds ggml's lane `k`, a row a lane.
            #[target_feature(enable = $features)]
            #[inline]
            fn ggml_sum(acc: &[__m256; 8]) -> __m256 {
                let even = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
                let odd = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
                _mm256_add_ps(even, odd)
            }

            /// The group at `groups[0]` (8 Q4_1 rows of `blocks` blocks) times `N` inputs:
            /// each block's values are unpacked once for all `N`, and `out[t][i]` is row
            /// `i` times input `t`, as `portable::group` computes it.
            /// Safety: needs `$features`; a group of `blocks` blocks at `groups[0]`; `xs`
            /// has `N` entries of `blocks` blocks each.
            #[target_feature(enable = $features)]
            pub unsafe fn q4_1<const N: usize>(
                groups: [*const u8; 2],
                blocks: usize,
                xs: &[Q8Activations],
                out: &mut [[f32; GROUP]; N],
                prefetch: Prefetch,
            ) {
                let inputs = Inputs::<N>::new(xs);
                let mut acc = [[_mm256_setzero_ps(); 8]; N];
                let mut mins = [_mm256_setzero_ps(); N];
                for b in 0..blocks {
                    let at = unsafe { groups[0].add(b * Format::Q4_1.group_bytes()) };
                    prefetch.lines(at, Format::Q4_1.group_bytes());
                    let (d, m, values) = unsafe { q4_1_block(at) };
                    for t in 0..N {
                        let (dy, sy) = unsafe { inputs.scales(t, b) };
                        let scale = _mm256_mul_ps(d, _mm256_set1_ps(dy));
                        for k in 0..8 {
                            // Safety: input t holds block b.
                            let y = _mm256_set1_epi32(unsafe { inputs.four(t, b, k) });
                            let sums = _mm256_cvtepi32_ps(dot(values[k], y));
                            acc[t][k] = _mm256_fmadd_ps(scale, sums, acc[t][k]);
                        }
                        mins[t] = _mm256_add_ps(_mm256_mul_ps(m, _mm256_set1_ps(sy)), mins[t]);
                    }
                }
                for t in 0..N {
                    let sums = _mm256_add_ps(ggml_sum(&acc[t]), mins[t]);
                    unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), sums) };
                }
            }

            /// The group at `groups[0]` (8 Q8_0 rows) times `N` inputs, as `q4_1`.
            /// Safety: as `q4_1`.
            #[target_feature(enable = $features)]
            pub unsafe fn q8_0<const N: usize>(
                groups: [*const u8; 2],
                blocks: usize,
                xs: &[Q8Activations],
                out: &mut [[f32; GROUP]; N],
                prefetch: Prefetch,
            ) {
                let inputs = Inputs::<N>::new(xs);
                let mut acc = [[_mm256_setzero_ps(); 8]; N];
                for b in 0..blocks {
                    let at = unsafe { groups[0].add(b * Format::Q8_0.group_bytes()) };
                    prefetch.lines(at, Format::Q8_0.group_bytes());
                    let (d, values, magnitudes) = unsafe { q8_0_block(at) };
                    for t in 0..N {
                        let (dy, _) = unsafe { inputs.scales(t, b) };
                        let scale = _mm256_mul_ps(d, _mm256_set1_ps(dy));
                        for k in 0..8 {
                            // |w| times y with w's sign: unsigned x signed, as the products need.
                            // Safety: input t holds block b.
                            let y = _mm256_set1_epi32(unsafe { inputs.four(t, b, k) });
                            let sums = _mm256_cvtepi32_ps(dot(magnitudes[k], _mm256_sign_epi8(y, values[k])));
                            acc[t][k] = _mm256_fmadd_ps(scale, sums, acc[t][k]);
                        }
                    }
                }
                for t in 0..N {
                    unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), ggml_sum(&acc[t])) };
                }
            }
        }
    };
}

group_loops!(avx2, "avx2,fma,f16c", |a, x, y| _mm256_add_epi32(
    a,
    _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
));
group_loops!(avx_vnni, "avx2,fma,f16c,avxvnni", |a, x, y| _mm256_dpbusd_avx_epi32(a, x, y));
group_loops!(avx512_vnni, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", |a, x, y| _mm256_dpbusd_epi32(
    a, x, y
));

/// Two groups (16 rows) in each 512-bit register, for CPUs with AVX-512 VNNI: each half
/// does, lane for lane, what the 256-bit loops do for its group, so every sum equals theirs
/// to the bit, with half the instructions per input.
pub mod avx512_wide {
    use super::*;

    /// Two 256-bit values side by side.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn join(low: __m256i, high: __m256i) -> __m512i {
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(low), high)
    }

    /// The 16 f16 values of two groups (8 at `low`, 8 at `high`) as f32.
    /// Safety: needs the features; 16 bytes at each.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn halves(low: *const u8, high: *const u8) -> __m512 {
        unsafe {
            _mm512_cvtph_ps(_mm256_set_m128i(
                _mm_loadu_si128(high as *const __m128i),
                _mm_loadu_si128(low as *const __m128i),
            ))
        }
    }

    /// 32 bytes at each of two places, side by side.
    /// Safety: needs the features; 32 bytes at each.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn chunk(low: *const u8, high: *const u8) -> __m512i {
        unsafe { join(_mm256_loadu_si256(low as *const __m256i), _mm256_loadu_si256(high as *const __m256i)) }
    }

    /// The 256-bit loops' `ggml_sum`, for both groups.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn ggml_sum(acc: &[__m512; 8]) -> __m512 {
        let even = _mm512_add_ps(_mm512_add_ps(acc[0], acc[4]), _mm512_add_ps(acc[2], acc[6]));
        let odd = _mm512_add_ps(_mm512_add_ps(acc[1], acc[5]), _mm512_add_ps(acc[3], acc[7]));
        _mm512_add_ps(even, odd)
    }

    /// The groups at `groups[0]` and `groups[1]` (8 Q4_1 rows each) times `N` inputs:
    /// `out[t][i]` is row `i` of the first group times input `t`, `out[t][8 + i]` row `i`
    /// of the second.
    /// Safety: needs AVX-512 F, BW, VL and VNNI and F16C; otherwise as the 256-bit `q4_1`,
    /// for both groups.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn q4_1<const N: usize>(
        groups: [*const u8; 2],
        blocks: usize,
        xs: &[Q8Activations],
        out: &mut [[f32; 2 * GROUP]; N],
        prefetch: Prefetch,
    ) {
        let inputs = Inputs::<N>::new(xs);
        let mut acc = [[_mm512_setzero_ps(); 8]; N];
        let mut mins = [_mm512_setzero_ps(); N];
        for b in 0..blocks {
            let offset = b * Format::Q4_1.group_bytes();
            let (a, z) = unsafe { (groups[0].add(offset), groups[1].add(offset)) };
            prefetch.lines(a, Format::Q4_1.group_bytes());
            prefetch.lines(z, Format::Q4_1.group_bytes());
            let (d, m, values) = unsafe { q4_1_blocks_of(a, z) };
            for t in 0..N {
                let (dy, sy) = unsafe { inputs.scales(t, b) };
                let scale = _mm512_mul_ps(d, _mm512_set1_ps(dy));
                for k in 0..8 {
                    // Safety: input t holds block b.
                    let y = _mm512_set1_epi32(unsafe { inputs.four(t, b, k) });
                    let sums = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), values[k], y));
                    acc[t][k] = _mm512_fmadd_ps(scale, sums, acc[t][k]);
                }
                mins[t] = _mm512_add_ps(_mm512_mul_ps(m, _mm512_set1_ps(sy)), mins[t]);
            }
        }
        for t in 0..N {
            let sums = _mm512_add_ps(ggml_sum(&acc[t]), mins[t]);
            unsafe { _mm512_storeu_ps(out[t].as_mut_ptr(), sums) };
        }
    }

    /// Two groups of 8 Q8_0 rows times `N` inputs, as `q4_1`.
    /// Safety: as `q4_1`.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn q8_0<const N: usize>(
        groups: [*const u8; 2],
        blocks: usize,
        xs: &[Q8Activations],
        out: &mut [[f32; 2 * GROUP]; N],
        prefetch: Prefetch,
    ) {
        let inputs = Inputs::<N>::new(xs);
        let mut acc = [[_mm512_setzero_ps(); 8]; N];
        for b in 0..blocks {
            let offset = b * Format::Q8_0.group_bytes();
            let (a, z) = unsafe { (groups[0].add(offset), groups[1].add(offset)) };
            prefetch.lines(a, Format::Q8_0.group_bytes());
            prefetch.lines(z, Format::Q8_0.group_bytes());
            let (d, unsigned) = unsafe { q8_0_blocks_of(a, z) };
            for (t, acc) in acc.iter_mut().enumerate() {
                let (dy, _) = unsafe { inputs.scales(t, b) };
                let scale = _mm512_mul_ps(d, _mm512_set1_ps(dy));
                for k in 0..8 {
                    // Safety: input t holds block b.
                    let (y, start) = unsafe { (inputs.four(t, b, k), inputs.offset(t, b, k)) };
                    let sums = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(
                        _mm512_set1_epi32(start),
                        unsigned[k],
                        _mm512_set1_epi32(y),
                    ));
                    acc[k] = _mm512_fmadd_ps(scale, sums, acc[k]);
                }
            }
        }
        for (out, acc) in out.iter_mut().zip(&acc) {
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), ggml_sum(acc)) };
        }
    }

    /// The Q4_1 values of two groups' blocks at `a` and `z` in ggml's lane order, with
    /// their scales and minimums (16 rows a register).
    /// Safety: needs the features; a Q4_1 group block at each.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn q4_1_blocks_of(a: *const u8, z: *const u8) -> (__m512, __m512, [__m512i; 8]) {
        let nibble = _mm512_set1_epi8(0x0F);
        let (d, m, raw) = unsafe {
            (
                halves(a, z),
                halves(a.add(layout::MINS), z.add(layout::MINS)),
                std::array::from_fn::<_, 4, _>(|c| {
                    let at = layout::Q4_1_VALUES + 32 * c;
                    chunk(a.add(at), z.add(at))
                }),
            )
        };
        let values = std::array::from_fn(|k| match k {
            0..4 => _mm512_and_si512(raw[k], nibble),
            _ => _mm512_and_si512(_mm512_srli_epi16(raw[k - 4], 4), nibble),
        });
        (d, m, values)
    }

    /// The Q8_0 values of two groups' blocks at `a` and `z` offset by 128, as unsigned bytes
    /// (w + 128 = w ^ 0x80), with their scales: their products with y then add 128 times
    /// the sum of y's bytes, which the sums start from minus (`offsets`, or a block's
    /// `sums`). Integers, so each sum is the exact one the 256-bit loops' `vpsignb` products
    /// give.
    /// Safety: needs the features; a Q8_0 group block at each.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn q8_0_blocks_of(a: *const u8, z: *const u8) -> (__m512, [__m512i; 8]) {
        let offset = _mm512_set1_epi8(-128);
        let values = std::array::from_fn(|k| {
            let at = layout::Q8_0_VALUES + 32 * k;
            _mm512_xor_si512(unsafe { chunk(a.add(at), z.add(at)) }, offset)
        });
        (unsafe { halves(a, z) }, values)
    }

    /// `start` plus the integer sum of a block's 8 lanes of products, `x[k]` times `y(k)`,
    /// by eight `vpdpbusd` in two chains of 4 (even and odd lanes).
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn block_sum(x: &[__m512i; 8], y: impl Fn(usize) -> __m512i, start: __m512i) -> __m512i {
        let chain = |first: usize, start: __m512i| {
            (first..8).step_by(2).fold(start, |sum, k| _mm512_dpbusd_epi32(sum, x[k], y(k)))
        };
        _mm512_add_epi32(chain(0, start), chain(1, _mm512_setzero_si512()))
    }

    /// `q4_1` with `Sums::Blocks`: each block's 32 products summed in integers by eight
    /// `vpdpbusd` in two chains, then one conversion and one multiply-add per 16 rows and
    /// input (the 256-bit `q4_1_blocks`, lane for lane).
    /// Safety: as `q4_1`.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn q4_1_blocks<const N: usize>(
        groups: [*const u8; 2],
        blocks: usize,
        xs: &[Q8Activations],
        out: &mut [[f32; 2 * GROUP]; N],
        prefetch: Prefetch,
    ) {
        let inputs = Inputs::<N>::new(xs);
        let mut acc = [_mm512_setzero_ps(); N];
        let mut mins = [_mm512_setzero_ps(); N];
        for b in 0..blocks {
            let offset = b * Format::Q4_1.group_bytes();
            let (a, z) = unsafe { (groups[0].add(offset), groups[1].add(offset)) };
            prefetch.lines(a, Format::Q4_1.group_bytes());
            prefetch.lines(z, Format::Q4_1.group_bytes());
            let (d, m, values) = unsafe { q4_1_blocks_of(a, z) };
            for t in 0..N {
                // Safety: input t holds block b.
                let (dy, sy) = unsafe { inputs.scales(t, b) };
                let y = |k| _mm512_set1_epi32(unsafe { inputs.four(t, b, k) });
                let sum = block_sum(&values, y, _mm512_setzero_si512());
                let scale = _mm512_mul_ps(d, _mm512_set1_ps(dy));
                acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sum), acc[t]);
                mins[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(sy), mins[t]);
            }
        }
        for t in 0..N {
            unsafe { _mm512_storeu_ps(out[t].as_mut_ptr(), _mm512_add_ps(acc[t], mins[t])) };
        }
    }

    /// `q8_0` with `Sums::Blocks`: the weights offset by 128 as in `q8_0`, the offset's
    /// products (128 times the block's sum of inputs) taken back where the sum starts.
    /// Safety: as `q4_1`.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn q8_0_blocks<const N: usize>(
        groups: [*const u8; 2],
        blocks: usize,
        xs: &[Q8Activations],
        out: &mut [[f32; 2 * GROUP]; N],
        prefetch: Prefetch,
    ) {
        let inputs = Inputs::<N>::new(xs);
        let mut acc = [_mm512_setzero_ps(); N];
        for b in 0..blocks {
            let at = b * Format::Q8_0.group_bytes();
            let (a, z) = unsafe { (groups[0].add(at), groups[1].add(at)) };
            prefetch.lines(a, Format::Q8_0.group_bytes());
            prefetch.lines(z, Format::Q8_0.group_bytes());
            let (d, values) = unsafe { q8_0_blocks_of(a, z) };
            for (t, acc) in acc.iter_mut().enumerate() {
                // Safety: input t holds block b.
                let ((dy, _), total) = unsafe { (inputs.scales(t, b), inputs.sum(t, b)) };
                let y = |k| _mm512_set1_epi32(unsafe { inputs.four(t, b, k) });
                let sum = block_sum(&values, y, _mm512_set1_epi32(-128 * total));
                let scale = _mm512_mul_ps(d, _mm512_set1_ps(dy));
                *acc = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sum), *acc);
            }
        }
        for (out, acc) in out.iter_mut().zip(&acc) {
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), *acc) };
        }
    }
}

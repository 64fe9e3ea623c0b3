//! The vector loops for x86-64: AVX2/FMA, with the 8-bit products summed by VNNI where
//! the CPU has it. The same loop is written out once per way of summing, so that each is
//! compiled with its own target features.

use super::*;
use std::arch::x86_64::*;

/// One block of 32 activations quantized as `Q8Activations::quantize` does it (the same
/// operations, eight lanes at a time): its values into `qs`, its scale `d` (not yet rounded
/// through f16) and the sum of its quantized values.
/// Safety: needs AVX2; `values` and `qs` hold 32 each.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn quantize_block(values: &[f32], qs: &mut [i8]) -> (f32, i32) {
    assert!(values.len() == BLOCK && qs.len() == BLOCK);
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
    (d, sum)
}

/// The f16 at `at`, as f32.
#[inline(always)]
unsafe fn half(at: *const u8) -> f32 {
    f16::from_bits(unsafe { u16::from_le_bytes([*at, *at.add(1)]) }).to_f32()
}

/// The sum of the eight lanes, added as ggml's `hsum_float_8` adds them.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sum_f32(v: __m256) -> f32 {
    let pairs = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let twos = _mm_add_ps(pairs, _mm_movehl_ps(pairs, pairs));
    _mm_cvtss_f32(_mm_add_ss(twos, _mm_movehdup_ps(twos)))
}

/// Where the activations of a tile's `N` inputs are.
struct Inputs<const N: usize> {
    qs: [*const i8; N],
    ds: [*const f32; N],
    ss: [*const f32; N],
}

impl<const N: usize> Inputs<N> {
    fn new(xs: &[Q8Activations]) -> Inputs<N> {
        Inputs {
            qs: std::array::from_fn(|t| xs[t].qs.as_ptr()),
            ds: std::array::from_fn(|t| xs[t].d.as_ptr()),
            ss: std::array::from_fn(|t| xs[t].s.as_ptr()),
        }
    }

    /// Input `t`'s block `b`: its 32 values, its scale and its sum term.
    /// Safety: needs AVX2; the input holds block `b`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block(&self, t: usize, b: usize) -> (__m256i, f32, f32) {
        unsafe {
            (
                _mm256_loadu_si256(self.qs[t].add(b * BLOCK) as *const __m256i),
                *self.ds[t].add(b),
                *self.ss[t].add(b),
            )
        }
    }
}

/// The Q4_1 block at `block` (asking for the bytes `ahead` on, when given): its scale, its
/// minimum, and its 32 values as bytes in ggml's order (low nibbles, then high ones).
/// Safety: needs AVX2; a whole block at `block`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn q4_1_block(block: *const u8, ahead: Option<usize>) -> (f32, f32, __m256i) {
    unsafe {
        if let Some(ahead) = ahead {
            _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(ahead) as *const i8);
        }
        let nibbles = _mm_loadu_si128(block.add(4) as *const __m128i);
        let values = _mm256_set_m128i(_mm_srli_epi16(nibbles, 4), nibbles);
        (half(block), half(block.add(2)), _mm256_and_si256(values, _mm256_set1_epi8(0x0F)))
    }
}

/// The Q8_0 block at `block`, as `q4_1_block`: its scale and its 32 signed values.
/// Safety: as `q4_1_block`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn q8_0_block(block: *const u8, ahead: Option<usize>) -> (f32, __m256i) {
    unsafe {
        if let Some(ahead) = ahead {
            _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(ahead) as *const i8);
        }
        (half(block), _mm256_loadu_si256(block.add(2) as *const __m256i))
    }
}

/// The vector loops, once for each way of summing 8-bit products (`$features` enabled,
/// `$mul_sum` giving, per 32-bit lane, the sum of four unsigned x signed byte products).
macro_rules! vector_loops {
    ($module:ident, $features:literal, |$x:ident, $y:ident| $mul_sum:expr) => {
        pub mod $module {
            use super::*;

            #[target_feature(enable = $features)]
            #[inline]
            fn mul_sum($x: __m256i, $y: __m256i) -> __m256i {
                $mul_sum
            }

            /// `R` Q4_1 rows (`row_bytes` apart from `row`) times `N` activation rows:
            /// each block's weights are decoded once for all `N` inputs, each input's block
            /// loaded once for all `R` rows, and the `R x N` sums stay in registers.
            /// Safety: needs `$features`; `R` rows of `blocks` blocks from `row`; every
            /// `xs[t]` holds `blocks` blocks; `xs` has `N` entries.
            #[target_feature(enable = $features)]
            pub unsafe fn tile_q4_1<const R: usize, const N: usize>(
                row: *const u8,
                row_bytes: usize,
                blocks: usize,
                xs: &[Q8Activations],
                out: &mut [[f32; N]; R],
            ) {
                let ahead = prefetch().then_some(2 * R * row_bytes);
                let inputs = Inputs::<N>::new(xs);
                let mut acc = [[_mm256_setzero_ps(); N]; R];
                let mut mins = [[0f32; N]; R];
                for b in 0..blocks {
                    let mut values = [_mm256_setzero_si256(); R];
                    let mut d = [0f32; R];
                    let mut m = [0f32; R];
                    for i in 0..R {
                        (d[i], m[i], values[i]) =
                            unsafe { q4_1_block(row.add(i * row_bytes + b * Q4_1_BYTES), ahead) };
                    }
                    for t in 0..N {
                        let (y, dy, sy) = unsafe { inputs.block(t, b) };
                        for i in 0..R {
                            let sums = mul_sum(values[i], y);
                            acc[i][t] = _mm256_fmadd_ps(
                                _mm256_set1_ps(d[i] * dy),
                                _mm256_cvtepi32_ps(sums),
                                acc[i][t],
                            );
                            mins[i][t] += m[i] * sy;
                        }
                    }
                }
                for i in 0..R {
                    for t in 0..N {
                        out[i][t] = sum_f32(acc[i][t]) + mins[i][t];
                    }
                }
            }

            /// `R` Q8_0 rows times `N` activation rows, as `tile_q4_1`.
            /// Safety: as `tile_q4_1`.
            #[target_feature(enable = $features)]
            pub unsafe fn tile_q8_0<const R: usize, const N: usize>(
                row: *const u8,
                row_bytes: usize,
                blocks: usize,
                xs: &[Q8Activations],
                out: &mut [[f32; N]; R],
            ) {
                let ahead = prefetch().then_some(2 * R * row_bytes);
                let inputs = Inputs::<N>::new(xs);
                let mut acc = [[_mm256_setzero_ps(); N]; R];
                for b in 0..blocks {
                    let mut w = [_mm256_setzero_si256(); R];
                    let mut d = [0f32; R];
                    for i in 0..R {
                        (d[i], w[i]) = unsafe { q8_0_block(row.add(i * row_bytes + b * Q8_0_BYTES), ahead) };
                    }
                    for t in 0..N {
                        let (y, dy, _) = unsafe { inputs.block(t, b) };
                        for i in 0..R {
                            // |w| times y with w's sign: unsigned x signed, as the products need.
                            let sums = mul_sum(_mm256_sign_epi8(w[i], w[i]), _mm256_sign_epi8(y, w[i]));
                            acc[i][t] = _mm256_fmadd_ps(
                                _mm256_set1_ps(d[i] * dy),
                                _mm256_cvtepi32_ps(sums),
                                acc[i][t],
                            );
                        }
                    }
                }
                for i in 0..R {
                    for t in 0..N {
                        out[i][t] = sum_f32(acc[i][t]);
                    }
                }
            }
        }
    };
}

vector_loops!(avx2, "avx2,fma", |x, y| _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1)));
vector_loops!(avx_vnni, "avx2,fma,avxvnni", |x, y| _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), x, y));
vector_loops!(avx512_vnni, "avx2,fma,avx512f,avx512vl,avx512vnni", |x, y| _mm256_dpbusd_epi32(
    _mm256_setzero_si256(),
    x,
    y
));

/// Two inputs in one 512-bit register, for batches on CPUs with AVX-512 VNNI: each half
/// does, lane for lane, what the 256-bit loops do for its input (the same products, the
/// same f32 roundings in the same order), so every sum equals theirs to the bit, with half
/// the instructions per input. `N` is 2 or 4 inputs; one input goes to the 256-bit loops.
pub mod avx512_pairs {
    use super::*;

    /// The 256-bit loops' horizontal sum of each half.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn halves(v: __m512) -> [f32; 2] {
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
        [sum_f32(_mm512_castps512_ps256(v)), sum_f32(high)]
    }

    /// Two 256-bit values side by side.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn join(low: __m256i, high: __m256i) -> __m512i {
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(low), high)
    }

    /// `[a; 8]` then `[b; 8]`.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn pair(a: f32, b: f32) -> __m512 {
        _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(a), _mm512_set1_ps(b))
    }

    /// As the 256-bit `tile_q4_1`, for `N` = 2 or 4 inputs.
    /// Safety: needs AVX-512 F, BW, VL and VNNI; otherwise as the 256-bit `tile_q4_1`.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn tile_q4_1<const R: usize, const N: usize>(
        row: *const u8,
        row_bytes: usize,
        blocks: usize,
        xs: &[Q8Activations],
        out: &mut [[f32; N]; R],
    ) {
        let ahead = prefetch().then_some(2 * R * row_bytes);
        let inputs = Inputs::<N>::new(xs);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        let mut mins = [[0f32; N]; R];
        for b in 0..blocks {
            let mut values = [_mm512_setzero_si512(); R];
            let mut d = [0f32; R];
            let mut m = [0f32; R];
            for i in 0..R {
                let v;
                (d[i], m[i], v) = unsafe { q4_1_block(row.add(i * row_bytes + b * Q4_1_BYTES), ahead) };
                values[i] = join(v, v);
            }
            for p in 0..N / 2 {
                let (t, u) = (2 * p, 2 * p + 1);
                let ((yt, dt, st), (yu, du, su)) = unsafe { (inputs.block(t, b), inputs.block(u, b)) };
                let (y, dy, sy) = (join(yt, yu), pair(dt, du), [st, su]);
                for i in 0..R {
                    let sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), values[i], y);
                    let scale = _mm512_mul_ps(_mm512_set1_ps(d[i]), dy);
                    acc[i][p] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sums), acc[i][p]);
                    mins[i][t] += m[i] * sy[0];
                    mins[i][u] += m[i] * sy[1];
                }
            }
        }
        for i in 0..R {
            for p in 0..N / 2 {
                let [a, b] = halves(acc[i][p]);
                out[i][2 * p] = a + mins[i][2 * p];
                out[i][2 * p + 1] = b + mins[i][2 * p + 1];
            }
        }
    }

    /// As the 256-bit `tile_q8_0`, for `N` = 2 or 4 inputs.
    /// Safety: as `tile_q4_1`.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub unsafe fn tile_q8_0<const R: usize, const N: usize>(
        row: *const u8,
        row_bytes: usize,
        blocks: usize,
        xs: &[Q8Activations],
        out: &mut [[f32; N]; R],
    ) {
        let ahead = prefetch().then_some(2 * R * row_bytes);
        let inputs = Inputs::<N>::new(xs);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for b in 0..blocks {
            let mut magnitudes = [_mm512_setzero_si512(); R];
            let mut negative = [0u64; R];
            let mut d = [0f32; R];
            for i in 0..R {
                let w;
                (d[i], w) = unsafe { q8_0_block(row.add(i * row_bytes + b * Q8_0_BYTES), ahead) };
                let w = join(w, w);
                // |w| (-128 stays 0x80, read as 128), and y negated where w < 0: the
                // products of `vpsignb` in the 256-bit loops (where w = 0, |w| = 0).
                magnitudes[i] = _mm512_abs_epi8(w);
                negative[i] = _mm512_movepi8_mask(w);
            }
            for p in 0..N / 2 {
                let ((yt, dt, _), (yu, du, _)) =
                    unsafe { (inputs.block(2 * p, b), inputs.block(2 * p + 1, b)) };
                let (y, dy) = (join(yt, yu), pair(dt, du));
                for i in 0..R {
                    let signed = _mm512_mask_sub_epi8(y, negative[i], _mm512_setzero_si512(), y);
                    let sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), magnitudes[i], signed);
                    let scale = _mm512_mul_ps(_mm512_set1_ps(d[i]), dy);
                    acc[i][p] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sums), acc[i][p]);
                }
            }
        }
        for i in 0..R {
            for p in 0..N / 2 {
                let [a, b] = halves(acc[i][p]);
                out[i][2 * p] = a;
                out[i][2 * p + 1] = b;
            }
        }
    }
}

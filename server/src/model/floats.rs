//! The float loops of attention and SiLU: dot products, a vector exponential, sums of
//! scaled rows. Each has a portable version and, chosen at run time where the CPU has AVX2
//! and FMA (as the quantized kernels are), one on 8-lane registers with fused multiply-adds
//! (`x86`). Keys and values are read in half precision, as the KV cache holds them. A
//! value's operations do not depend on what else is in a batch, so a sequence's
//! numbers are the same alone or batched, on a given machine.

use half::f16;

/// How many positions ahead attention asks for the keys' and values' cache lines: with 8
/// sequences of about 85 positions, attention took 18% less time than with none (1.57 ms a
/// step against 1.92), 8 ahead 13%, 4 ahead 12% (alternated in one process).
pub const AHEAD: usize = 16;

/// Asks for the cache line at `at` (a prefetch reads nothing; the address need not be valid).
#[inline(always)]
pub fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at as *const i8)
    };
}

/// Whether this machine runs the AVX2/FMA loops.
pub fn fused() -> bool {
    // The quantized kernels' loops need AVX2, FMA and F16C, as these do.
    super::quant::Kernel::detect() != super::quant::Kernel::Portable
}

/// e^x by the same steps as the vector loops' (`x86::exp`), one value at a time: x = n ln 2
/// + r with |r| <= ln 2 / 2, e^r by Cephes' `expf` polynomial, then 2^n through the
/// exponent's bits. Within 2 units in the last place for x in -87 to 88; outside, the
/// nearest end's value.
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let p = EXP_POLYNOMIAL[1..].iter().fold(EXP_POLYNOMIAL[0], |p, c| p * r + c);
    let y = p * (r * r) + r + 1.0;
    // n is between -126 and 127 here: 2^n is a normal float.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 88.0;
/// ln 2 in two parts, the first with few bits, so that n * LN2_HIGH is exact.
const LN2_HIGH: f32 = 0.693_359_4;
const LN2_LOW: f32 = -2.121_944_4e-4;
const EXP_POLYNOMIAL: [f32; 6] =
    [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];

/// Each value becomes e^(value - shift); returns their sum.
pub fn exp_shifted(values: &mut [f32], shift: f32) -> f32 {
    let mut sum = 0f32;
    for value in values {
        *value = exp(*value - shift);
        sum += *value;
    }
    sum
}

/// Each of up to 8 rows' sum of squares (`rows` holds whole rows of `dim`): each row's
/// values squared and added one after another, as one row alone adds them; lane `r` of
/// the result is row `r`'s (0 past the rows).
pub fn squares(rows: &[f32], dim: usize) -> [f32; 8] {
    let mut sums = [0f32; 8];
    let n = rows.len() / dim;
    assert!(n <= 8 && rows.len() == n * dim, "up to 8 rows of {dim}");
    for i in 0..dim {
        for (r, sum) in sums[..n].iter_mut().enumerate() {
            let v = rows[r * dim + i];
            *sum += v * v;
        }
    }
    sums
}

/// `squares`, with the best loops this machine has.
pub fn squares_best(rows: &[f32], dim: usize) -> [f32; 8] {
    #[cfg(target_arch = "x86_64")]
    if fused() && dim.is_multiple_of(8) {
        // Safety: AVX2 was detected; the rows are checked there.
        return unsafe { x86::squares(rows, dim) };
    }
    squares(rows, dim)
}

/// `gate` becomes SiLU(gate) x `up`, value by value.
pub fn silu_times(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp(-*g)) * u;
    }
}

/// The loops on 8-lane registers with fused multiply-adds. Safety, for each: the CPU has
/// AVX2, FMA and F16C (what `fused` checks).
#[cfg(target_arch = "x86_64")]
pub mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// The 8 lanes added: halves, then pairs.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn lane_sum(v: __m256) -> f32 {
        let four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
        _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)))
    }

    /// `super::squares` with a row a lane: each 8 values of up to 8 rows transposed, so that
    /// register `j` holds value `j` of every row, then squared and added to the row's lane
    /// in the rows' order (a multiply, then an add, as the plain loop's). The rows' adds run
    /// side by side instead of one chain per row. `dim` a multiple of 8.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn squares(rows: &[f32], dim: usize) -> [f32; 8] {
        let n = rows.len() / dim;
        assert!(n <= 8 && rows.len() == n * dim && dim.is_multiple_of(8), "up to 8 rows of {dim}");
        let mut acc = _mm256_setzero_ps();
        for c in (0..dim).step_by(8) {
            // Safety: row r holds values c..c + 8.
            let r: [__m256; 8] = std::array::from_fn(|i| match i < n {
                true => unsafe { _mm256_loadu_ps(rows.as_ptr().add(i * dim + c)) },
                false => _mm256_setzero_ps(),
            });
            let t: [__m256; 8] = std::array::from_fn(|i| match i % 2 {
                0 => _mm256_unpacklo_ps(r[i], r[i + 1]),
                _ => _mm256_unpackhi_ps(r[i - 1], r[i]),
            });
            let u = [
                _mm256_shuffle_ps::<0x44>(t[0], t[2]),
                _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
                _mm256_shuffle_ps::<0x44>(t[1], t[3]),
                _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
                _mm256_shuffle_ps::<0x44>(t[4], t[6]),
                _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
                _mm256_shuffle_ps::<0x44>(t[5], t[7]),
                _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
            ];
            let columns: [__m256; 8] = std::array::from_fn(|j| match j < 4 {
                true => _mm256_permute2f128_ps::<0x20>(u[j], u[j + 4]),
                false => _mm256_permute2f128_ps::<0x31>(u[j - 4], u[j]),
            });
            for column in columns {
                acc = _mm256_add_ps(acc, _mm256_mul_ps(column, column));
            }
        }
        let mut sums = [0f32; 8];
        unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), acc) };
        sums
    }

    /// `a . b`, `b` in half precision (`a` at least as long): `dots` for one head.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub unsafe fn dot(a: &[f32], b: &[f16]) -> f32 {
        let mut out = [0f32];
        // Safety: as `dots`'.
        unsafe { dots::<1>(a, b, &mut out) };
        out[0]
    }

    /// `queries[h] . key` for the `G` heads of `queries` (`key.len()` values each): 16
    /// values a step in two registers, then any tail one by one; each chunk of the key
    /// converted once for all the heads, and each head's operations the same whatever `G`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub unsafe fn dots<const G: usize>(queries: &[f32], key: &[f16], out: &mut [f32]) {
        let hd = key.len();
        assert!(queries.len() >= G * hd && out.len() >= G);
        let (pq, pk) = (queries.as_ptr(), key.as_ptr());
        let (mut s0, mut s1) = ([_mm256_setzero_ps(); G], [_mm256_setzero_ps(); G]);
        let mut i = 0;
        // Safety: i + 16 <= hd, and each head's hd values are in `queries`.
        unsafe {
            while i + 16 <= hd {
                let (k0, k1) = (halves(pk.add(i)), halves(pk.add(i + 8)));
                for h in 0..G {
                    let q = pq.add(h * hd + i);
                    s0[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q), k0, s0[h]);
                    s1[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q.add(8)), k1, s1[h]);
                }
                i += 16;
            }
        }
        for h in 0..G {
            let mut sum = lane_sum(_mm256_add_ps(s0[h], s1[h]));
            for j in i..hd {
                sum = queries[h * hd + j].mul_add(key[j].to_f32(), sum);
            }
            out[h] = sum;
        }
    }

    /// `Loops::weighted_sums_64` for `G` heads: each half of the 64 values (4 registers a
    /// head) summed over all positions, each chunk of a value row converted once for all
    /// the heads; per head, `add_scaled`'s fused multiply-adds in its order.
    /// Safety: `weights` holds `G * len` values, `parts` `len` rows of at least `at + 64`
    /// values `kv_dim` apart, `out` `64 * G`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub unsafe fn weighted_sums_64<'v, const G: usize>(
        weights: &[f32],
        len: usize,
        parts: impl Iterator<Item = &'v [f16]> + Clone,
        kv_dim: usize,
        at: usize,
        out: &mut [f32],
    ) {
        assert!(weights.len() >= G * len && out.len() >= 64 * G && at + 64 <= kv_dim);
        for half in 0..2 {
            let mut acc = [[_mm256_setzero_ps(); 4]; G];
            let mut p = 0;
            for values in parts.clone() {
                for value in values.chunks_exact(kv_dim) {
                    if p >= len {
                        break;
                    }
                    // Safety: the row holds at + 64 values.
                    let row = unsafe { value.as_ptr().add(at + 32 * half) };
                    super::prefetch(row.wrapping_add(super::AHEAD * kv_dim));
                    let v: [__m256; 4] = std::array::from_fn(|j| unsafe { halves(row.add(8 * j)) });
                    for h in 0..G {
                        let w = _mm256_set1_ps(weights[h * len + p]);
                        for j in 0..4 {
                            acc[h][j] = _mm256_fmadd_ps(w, v[j], acc[h][j]);
                        }
                    }
                    p += 1;
                }
            }
            for h in 0..G {
                for j in 0..4 {
                    let at = 64 * h + 32 * half + 8 * j;
                    // Safety: out holds 64 * G values.
                    unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(at), acc[h][j]) };
                }
            }
        }
    }

    /// 8 half-precision values at `at` as f32. Safety: 8 values there; the CPU has F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn halves(at: *const f16) -> __m256 {
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(at as *const __m128i)) }
    }

    /// e^x in each lane: `super::exp`'s steps, fused.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn exp(x: __m256) -> __m256 {
        let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
            x,
            _mm256_set1_ps(std::f32::consts::LOG2_E),
        ));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HIGH), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LOW), r);
        let mut p = _mm256_set1_ps(EXP_POLYNOMIAL[0]);
        for c in &EXP_POLYNOMIAL[1..] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(*c));
        }
        let y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0));
        let exponent = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(exponent)))
    }

    /// e^x of one value, as a lane of `exp`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn exp_one(x: f32) -> f32 {
        _mm256_cvtss_f32(exp(_mm256_set1_ps(x)))
    }

    /// Each value becomes e^(value - shift); returns their sum.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn exp_shifted(values: &mut [f32], shift: f32) -> f32 {
        let len = values.len();
        let at = values.as_mut_ptr();
        let mut sums = _mm256_setzero_ps();
        let shift8 = _mm256_set1_ps(shift);
        let mut i = 0;
        // Safety: i + 8 <= len.
        unsafe {
            while i + 8 <= len {
                let e = exp(_mm256_sub_ps(_mm256_loadu_ps(at.add(i)), shift8));
                _mm256_storeu_ps(at.add(i), e);
                sums = _mm256_add_ps(sums, e);
                i += 8;
            }
        }
        let mut sum = lane_sum(sums);
        for value in &mut values[i..] {
            *value = exp_one(*value - shift);
            sum += *value;
        }
        sum
    }

    /// `out += weight * values`, the values in half precision.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub unsafe fn add_scaled(out: &mut [f32], weight: f32, values: &[f16]) {
        let len = out.len().min(values.len());
        let (po, pv) = (out.as_mut_ptr(), values.as_ptr());
        let w = _mm256_set1_ps(weight);
        let mut i = 0;
        // Safety: i + 8 <= len for both.
        unsafe {
            while i + 8 <= len {
                let sum = _mm256_fmadd_ps(w, halves(pv.add(i)), _mm256_loadu_ps(po.add(i)));
                _mm256_storeu_ps(po.add(i), sum);
                i += 8;
            }
        }
        for j in i..len {
            out[j] = weight.mul_add(values[j].to_f32(), out[j]);
        }
    }

    /// `gate` becomes SiLU(gate) x `up`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn silu_times(gate: &mut [f32], up: &[f32]) {
        let len = gate.len().min(up.len());
        let (pg, pu) = (gate.as_mut_ptr(), up.as_ptr());
        let one = _mm256_set1_ps(1.0);
        let mut i = 0;
        // Safety: i + 8 <= len for both.
        unsafe {
            while i + 8 <= len {
                let g = _mm256_loadu_ps(pg.add(i));
                let e = exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
                let silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
                _mm256_storeu_ps(pg.add(i), _mm256_mul_ps(silu, _mm256_loadu_ps(pu.add(i))));
                i += 8;
            }
        }
        for j in i..len {
            gate[j] = gate[j] / (1.0 + exp_one(-gate[j])) * up[j];
        }
    }
}

/// The loops one sequence's attention runs: the portable ones (`Portable`) or the AVX2/FMA
/// ones (`Fused`), chosen once per call of the caller (see `fused`).
pub trait Loops {
    /// `a . b`, `b` in half precision (a key).
    fn dot(a: &[f32], b: &[f16]) -> f32;
    fn exp_shifted(values: &mut [f32], shift: f32) -> f32;
    /// `out += weight * values`, the values in half precision (a value row).
    fn add_scaled(out: &mut [f32], weight: f32, values: &[f16]);
    /// `out[h] = queries[h] . key` for each head `h` of `queries` (`key.len()` values each):
    /// `dot` for each, to the bit.
    fn dots(queries: &[f32], key: &[f16], out: &mut [f32]) {
        head_by_head::<Self>(queries, key, out)
    }
    /// For 64-value heads: `out[h]` = the sum over positions, in order, of `weights[h][p]`
    /// times value row p's `at..at + 64`, the rows `kv_dim` apart in `parts`; each head's
    /// sums take `add_scaled`'s operations in its order, from 0. False where these loops do
    /// not do it (the caller does it head by head).
    fn weighted_sums_64<'v>(
        _weights: &[f32],
        _len: usize,
        _parts: impl Iterator<Item = &'v [f16]> + Clone,
        _kv_dim: usize,
        _at: usize,
        _out: &mut [f32],
    ) -> bool {
        false
    }
}

/// `Loops::dots` one head at a time.
fn head_by_head<L: Loops + ?Sized>(queries: &[f32], key: &[f16], out: &mut [f32]) {
    for (query, out) in queries.chunks_exact(key.len()).zip(out) {
        *out = L::dot(query, key);
    }
}

pub struct Portable;

/// Only used where `fused()` holds.
#[cfg(target_arch = "x86_64")]
pub struct Fused;

impl Loops for Portable {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f16]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y.to_f32()).sum()
    }
    #[inline(always)]
    fn exp_shifted(values: &mut [f32], shift: f32) -> f32 {
        exp_shifted(values, shift)
    }
    #[inline(always)]
    fn add_scaled(out: &mut [f32], weight: f32, values: &[f16]) {
        for (o, v) in out.iter_mut().zip(values) {
            *o += weight * v.to_f32();
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Loops for Fused {
    #[inline(always)]
    fn dot(a: &[f32], b: &[f16]) -> f32 {
        // Safety: `Fused` runs only where AVX2, FMA and F16C were detected.
        unsafe { x86::dot(a, b) }
    }
    #[inline(always)]
    fn exp_shifted(values: &mut [f32], shift: f32) -> f32 {
        // Safety: as above.
        unsafe { x86::exp_shifted(values, shift) }
    }
    #[inline(always)]
    fn add_scaled(out: &mut [f32], weight: f32, values: &[f16]) {
        // Safety: as above.
        unsafe { x86::add_scaled(out, weight, values) }
    }
    #[inline(always)]
    fn dots(queries: &[f32], key: &[f16], out: &mut [f32]) {
        // Safety: as above; `queries` holds `out.len()` heads of `key.len()` values.
        unsafe {
            match out.len() {
                1 => x86::dots::<1>(queries, key, out),
                2 => x86::dots::<2>(queries, key, out),
                3 => x86::dots::<3>(queries, key, out),
                4 => x86::dots::<4>(queries, key, out),
                _ => head_by_head::<Self>(queries, key, out),
            }
        }
    }
    #[inline(always)]
    fn weighted_sums_64<'v>(
        weights: &[f32],
        len: usize,
        parts: impl Iterator<Item = &'v [f16]> + Clone,
        kv_dim: usize,
        at: usize,
        out: &mut [f32],
    ) -> bool {
        if at + 64 > kv_dim || out.len() != 64 * (weights.len() / len.max(1)) {
            return false;
        }
        // Safety: as above; each row holds `at + 64` values, `out` 64 per head.
        unsafe {
            match out.len() / 64 {
                1 => x86::weighted_sums_64::<1>(weights, len, parts, kv_dim, at, out),
                2 => x86::weighted_sums_64::<2>(weights, len, parts, kv_dim, at, out),
                3 => x86::weighted_sums_64::<3>(weights, len, parts, kv_dim, at, out),
                4 => x86::weighted_sums_64::<4>(weights, len, parts, kv_dim, at, out),
                _ => return false,
            }
        }
        true
    }
}

/// `gate` becomes SiLU(gate) x `up`, with the best loops this machine has.
pub fn silu_times_best(gate: &mut [f32], up: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if fused() {
        // Safety: AVX2 and FMA were detected.
        return unsafe { x86::silu_times(gate, up) };
    }
    silu_times(gate, up)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows' sums of squares with the vector loops equal the plain loop's to the bit,
    /// for 1 to 8 rows.
    #[test]
    fn sums_of_squares_are_the_plain_loop_s_to_the_bit() {
        let dim = 576;
        let values: Vec<f32> = (0..8 * dim).map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 37.0).collect();
        for n in 1..=8 {
            let rows = &values[..n * dim];
            let plain = squares(rows, dim);
            assert_eq!(squares_best(rows, dim).map(f32::to_bits), plain.map(f32::to_bits), "{n} rows");
            let first: f32 = rows[..dim].iter().fold(0.0, |sum, v| sum + v * v);
            assert_eq!(plain[0].to_bits(), first.to_bits());
            assert!(plain[n..].iter().all(|&sum| sum == 0.0));
        }
    }

    /// Units in the last place between `got` and `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let want32 = want as f32;
        let ulp = (f32::from_bits(want32.to_bits() + 1) - want32) as f64;
        (got as f64 - want).abs() / ulp
    }

    /// The worst error in ulps of `exp` over -87 to 88, in steps of 0.00037.
    fn worst_exp(exp: impl Fn(f32) -> f32) -> f64 {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            worst = worst.max(ulps(exp(x), (x as f64).exp()));
            x += 0.000_37;
        }
        worst
    }

    #[test]
    fn the_exponential_is_within_two_ulps_on_every_path() {
        assert!(worst_exp(exp) <= 2.0, "{} ulps", worst_exp(exp));
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert!(exp(1000.0).is_finite());
        assert!(exp(f32::NEG_INFINITY) >= 0.0);
        #[cfg(target_arch = "x86_64")]
        if fused() {
            // Safety: AVX2 and FMA were detected.
            let fused = |x: f32| unsafe {
                let mut one = [x];
                x86::exp_shifted(&mut one, 0.0);
                one[0]
            };
            assert!(worst_exp(fused) <= 2.0, "{} ulps", worst_exp(fused));
            assert_eq!(fused(0.0), 1.0);
        }
    }

    /// Values of both signs, a length with a tail past the 8- and 16-lane steps.
    fn rows() -> (Vec<f32>, Vec<f32>) {
        let a = (0..77).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let b = (0..77).map(|i| ((i * 53 % 89) as f32 - 44.0) / 9.0).collect();
        (a, b)
    }

    fn loops_give_the_f64_results<L: Loops>() {
        let (a, b) = rows();
        let halves: Vec<f16> = a.iter().map(|v| f16::from_f32(*v)).collect();
        let rounded: Vec<f32> = halves.iter().map(|v| v.to_f32()).collect();
        let want: f64 = rounded.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((L::dot(&b, &halves) as f64 - want).abs() < 1e-3);
        let mut shifted = a.clone();
        let sum = L::exp_shifted(&mut shifted, 2.0);
        let want: f64 = a.iter().map(|v| (*v as f64 - 2.0).exp()).sum();
        assert!((sum as f64 - want).abs() / want < 1e-5);
        for (got, v) in shifted.iter().zip(&a) {
            assert!(ulps(*got, ((*v - 2.0) as f64).exp()) <= 2.0);
        }
        let mut out = b.clone();
        L::add_scaled(&mut out, 0.5, &halves);
        for ((got, x), y) in out.iter().zip(&rounded).zip(&b) {
            assert!((*got as f64 - (*y as f64 + 0.5 * *x as f64)).abs() < 1e-6);
        }
    }

    /// Heads taken together (each key and value row converted once for them) give what each
    /// head gives alone, to the bit: a sequence's numbers do not depend on how its heads
    /// were grouped into tasks.
    fn grouped_heads_equal_each_alone<L: Loops>() {
        let (a, b) = rows();
        let kv_dim = 192;
        let values: Vec<f16> = (0..5 * kv_dim).map(|i| f16::from_f32(b[i % 77] * a[i % 13])).collect();
        for heads in 1..=4 {
            let queries: Vec<f32> = (0..heads * 64).map(|i| a[i % 77] - b[(i * 7) % 77]).collect();
            let key = &values[64..128];
            let mut together = vec![0f32; heads];
            L::dots(&queries, key, &mut together);
            for (h, got) in together.iter().enumerate() {
                assert_eq!(got.to_bits(), L::dot(&queries[h * 64..(h + 1) * 64], key).to_bits());
            }
            let weights: Vec<f32> = (0..heads * 5).map(|i| (i as f32 * 0.37).sin().abs()).collect();
            let mut out = vec![0f32; heads * 64];
            let parts = [&values[..2 * kv_dim], &values[2 * kv_dim..]];
            if L::weighted_sums_64(&weights, 5, parts.iter().copied(), kv_dim, 64, &mut out) {
                for h in 0..heads {
                    let mut alone = vec![0f32; 64];
                    for p in 0..5 {
                        L::add_scaled(
                            &mut alone,
                            weights[h * 5 + p],
                            &values[p * kv_dim + 64..p * kv_dim + 128],
                        );
                    }
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&out[h * 64..(h + 1) * 64]), bits(&alone), "{heads} heads, head {h}");
                }
            }
        }
    }

    #[test]
    fn heads_together_equal_heads_alone_on_every_path() {
        grouped_heads_equal_each_alone::<Portable>();
        #[cfg(target_arch = "x86_64")]
        if fused() {
            grouped_heads_equal_each_alone::<Fused>();
        }
    }

    #[test]
    fn every_path_gives_the_f64_results() {
        loops_give_the_f64_results::<Portable>();
        #[cfg(target_arch = "x86_64")]
        if fused() {
            loops_give_the_f64_results::<Fused>();
        }
        let (a, b) = rows();
        let mut gate = a.clone();
        silu_times_best(&mut gate, &b);
        let mut plain = a.clone();
        silu_times(&mut plain, &b);
        for (((got, plain), g), u) in gate.iter().zip(&plain).zip(&a).zip(&b) {
            let (g, u) = (*g as f64, *u as f64);
            let want = g / (1.0 + (-g).exp()) * u;
            for value in [*got, *plain] {
                assert!((value as f64 - want).abs() <= 1e-5 * want.abs().max(1e-3), "{value} vs {want}");
            }
        }
    }
}

//! Quantized dot products for the GGUF block formats the default model uses, laid out and
//! rounded as ggml does: a weight row in Q4_1 or Q8_0 blocks of 32, times activations
//! quantized to 8 bits per block of 32 (Q8_1 for Q4_1 rows, Q8_0 for Q8_0 rows).
//!
//! Each product has a portable loop and an AVX2/FMA one, chosen at run time; the tests hold
//! both to a plain f32 reference on random blocks. Candle 0.11 has only the portable loop
//! for Q4_1, which is why the model's matrix-vector products spend most of their time there.

use super::pool::{Disjoint, Pool, part};
use half::f16;

/// Values per block, in every format here.
pub const BLOCK: usize = 32;
/// Bytes of one Q4_1 block: scale `d` and minimum `m` (f16 each), then 16 bytes of nibbles
/// (value `j` in the low nibble of byte `j`, value `j + 16` in its high nibble).
pub const Q4_1_BYTES: usize = 20;
/// Bytes of one Q8_0 block: scale `d` (f16), then 32 signed bytes.
pub const Q8_0_BYTES: usize = 34;

fn half_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Activations quantized per block of 32: `d` the scale and `s` = `d` times the sum of the
/// block's values (what a Q4_1 row's minimum is multiplied by), both rounded through f16
/// as ggml stores them.
#[derive(Debug, Clone, Default)]
pub struct Q8Activations {
    pub d: Vec<f32>,
    pub s: Vec<f32>,
    pub qs: Vec<i8>,
}

impl Q8Activations {
    /// Quantizes `x` (its length a multiple of 32), as ggml's `quantize_row_q8_1` (and
    /// `quantize_row_q8_0`, whose `d` and values are the same).
    pub fn quantize(x: &[f32]) -> Q8Activations {
        assert!(x.len().is_multiple_of(BLOCK), "{} values are not whole blocks of {BLOCK}", x.len());
        let blocks = x.len() / BLOCK;
        let mut out = Q8Activations {
            d: Vec::with_capacity(blocks),
            s: Vec::with_capacity(blocks),
            qs: vec![0; x.len()],
        };
        for (values, qs) in x.chunks_exact(BLOCK).zip(out.qs.chunks_exact_mut(BLOCK)) {
            let amax = values.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            // As ggml's AVX2 path (what llama.cpp runs on this machine) computes them: the
            // inverse as 127 / amax, halves rounded to even.
            let id = if amax == 0.0 { 0.0 } else { 127.0 / amax };
            let mut sum = 0i32;
            for (q, v) in qs.iter_mut().zip(values) {
                let rounded = (v * id).round_ties_even() as i32;
                *q = rounded as i8;
                sum += rounded;
            }
            out.d.push(f16::from_f32(d).to_f32());
            out.s.push(f16::from_f32(d * sum as f32).to_f32());
        }
        out
    }

    pub fn blocks(&self) -> usize {
        self.d.len()
    }
}

/// Whether the AVX2/FMA loops run on this machine.
pub fn simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX2.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One Q4_1 row (`blocks` blocks) times the activations: `dots` with one input.
pub fn dot_q4_1(row: &[u8], x: &Q8Activations) -> f32 {
    let mut out = [0f32];
    dots(Format::Q4_1, row, std::slice::from_ref(x), &mut out);
    out[0]
}

/// One Q8_0 row times the activations (their `s` unused): `dots` with one input.
pub fn dot_q8_0(row: &[u8], x: &Q8Activations) -> f32 {
    let mut out = [0f32];
    dots(Format::Q8_0, row, std::slice::from_ref(x), &mut out);
    out[0]
}

/// One row times each of `xs` (`out[t]` for `xs[t]`): a result does not depend on the
/// other inputs, to the bit (so a sequence's logits do not depend on its batch); the row's
/// blocks are decoded once per 4 inputs.
pub fn dots(format: Format, row: &[u8], xs: &[Q8Activations], out: &mut [f32]) {
    assert_eq!(xs.len(), out.len(), "one output per input");
    for x in xs {
        assert_eq!(row.len(), x.blocks() * format.block_bytes(), "row and activations differ in length");
    }
    #[cfg(target_arch = "x86_64")]
    if simd() {
        for (xs, out) in xs.chunks(4).zip(out.chunks_mut(4)) {
            // Safety: AVX2 and FMA were detected; the lengths were checked above.
            unsafe {
                match (format, xs.len()) {
                    (Format::Q4_1, 4) => avx2::dots_q4_1::<4>(row, xs, out),
                    (Format::Q4_1, 3) => avx2::dots_q4_1::<3>(row, xs, out),
                    (Format::Q4_1, 2) => avx2::dots_q4_1::<2>(row, xs, out),
                    (Format::Q4_1, _) => avx2::dots_q4_1::<1>(row, xs, out),
                    (Format::Q8_0, 4) => avx2::dots_q8_0::<4>(row, xs, out),
                    (Format::Q8_0, 3) => avx2::dots_q8_0::<3>(row, xs, out),
                    (Format::Q8_0, 2) => avx2::dots_q8_0::<2>(row, xs, out),
                    (Format::Q8_0, _) => avx2::dots_q8_0::<1>(row, xs, out),
                }
            }
        }
        return;
    }
    for (x, out) in xs.iter().zip(out) {
        *out = match format {
            Format::Q4_1 => portable::dot_q4_1(row, x),
            Format::Q8_0 => portable::dot_q8_0(row, x),
        };
    }
}

pub mod portable {
    use super::*;

    pub fn dot_q4_1(row: &[u8], x: &Q8Activations) -> f32 {
        let mut sum = 0f32;
        for (b, block) in row.chunks_exact(Q4_1_BYTES).enumerate() {
            let (d, m, qs) = (half_at(block, 0), half_at(block, 2), &block[4..]);
            let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
            let mut sumi = 0i32;
            for j in 0..BLOCK / 2 {
                sumi +=
                    i32::from(qs[j] & 0x0F) * i32::from(y[j]) + i32::from(qs[j] >> 4) * i32::from(y[j + 16]);
            }
            sum += sumi as f32 * d * x.d[b] + m * x.s[b];
        }
        sum
    }

    pub fn dot_q8_0(row: &[u8], x: &Q8Activations) -> f32 {
        let mut sum = 0f32;
        for (b, block) in row.chunks_exact(Q8_0_BYTES).enumerate() {
            let d = half_at(block, 0);
            let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
            let sumi: i32 = block[2..].iter().zip(y).map(|(&q, &y)| i32::from(q as i8) * i32::from(y)).sum();
            sum += sumi as f32 * d * x.d[b];
        }
        sum
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn sum_f32(v: __m256) -> f32 {
        let pairs = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let twos = _mm_add_ps(pairs, _mm_movehl_ps(pairs, pairs));
        _mm_cvtss_f32(_mm_add_ss(twos, _mm_movehdup_ps(twos)))
    }

    /// One Q4_1 row times `N` activation rows at once: each block's weights are decoded
    /// once for all of them, and the `N` sums stay in registers. Each result takes the same
    /// operations, in the same order, whatever `N` is, so all `N` agree to the bit.
    /// Safety: needs AVX2 and FMA; `row` holds the blocks of every `xs[t]`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_q4_1<const N: usize>(row: &[u8], xs: &[Q8Activations], out: &mut [f32]) {
        let low = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); N];
        let mut mins = [0f32; N];
        let qs: [*const i8; N] = std::array::from_fn(|t| xs[t].qs.as_ptr());
        let ds: [&[f32]; N] = std::array::from_fn(|t| xs[t].d.as_slice());
        let ss: [&[f32]; N] = std::array::from_fn(|t| xs[t].s.as_slice());
        for (b, block) in row.chunks_exact(Q4_1_BYTES).enumerate() {
            let (d, m) = (half_at(block, 0), half_at(block, 2));
            let nibbles = unsafe { _mm_loadu_si128(block.as_ptr().add(4) as *const __m128i) };
            let values = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(nibbles, 4), nibbles), low);
            for t in 0..N {
                let y = unsafe { _mm256_loadu_si256(qs[t].add(b * BLOCK) as *const __m256i) };
                let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(values, y), ones);
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ds[t][b]), _mm256_cvtepi32_ps(sums), acc[t]);
                mins[t] += m * ss[t][b];
            }
        }
        for t in 0..N {
            out[t] = unsafe { sum_f32(acc[t]) } + mins[t];
        }
    }

    /// One Q8_0 row times `N` activation rows at once, as `dots_q4_1`.
    /// Safety: needs AVX2 and FMA; `row` holds the blocks of every `xs[t]`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_q8_0<const N: usize>(row: &[u8], xs: &[Q8Activations], out: &mut [f32]) {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); N];
        let qs: [*const i8; N] = std::array::from_fn(|t| xs[t].qs.as_ptr());
        let ds: [&[f32]; N] = std::array::from_fn(|t| xs[t].d.as_slice());
        for (b, block) in row.chunks_exact(Q8_0_BYTES).enumerate() {
            let d = half_at(block, 0);
            let w = unsafe { _mm256_loadu_si256(block.as_ptr().add(2) as *const __m256i) };
            let magnitudes = _mm256_sign_epi8(w, w);
            for t in 0..N {
                let y = unsafe { _mm256_loadu_si256(qs[t].add(b * BLOCK) as *const __m256i) };
                let products = _mm256_maddubs_epi16(magnitudes, _mm256_sign_epi8(y, w));
                let sums = _mm256_madd_epi16(products, ones);
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ds[t][b]), _mm256_cvtepi32_ps(sums), acc[t]);
            }
        }
        for t in 0..N {
            out[t] = unsafe { sum_f32(acc[t]) };
        }
    }
}

/// Decodes a row of blocks to f32 values (`out` holds 32 per block).
pub fn decode(format: Format, row: &[u8], out: &mut [f32]) {
    match format {
        Format::Q4_1 => {
            for (block, out) in row.chunks_exact(Q4_1_BYTES).zip(out.chunks_exact_mut(BLOCK)) {
                let (d, m, qs) = (half_at(block, 0), half_at(block, 2), &block[4..]);
                for (j, q) in qs.iter().enumerate() {
                    out[j] = f32::from(q & 0x0F) * d + m;
                    out[j + 16] = f32::from(q >> 4) * d + m;
                }
            }
        }
        Format::Q8_0 => {
            for (block, out) in row.chunks_exact(Q8_0_BYTES).zip(out.chunks_exact_mut(BLOCK)) {
                let d = half_at(block, 0);
                for (o, &q) in out.iter_mut().zip(&block[2..]) {
                    *o = f32::from(q as i8) * d;
                }
            }
        }
    }
}

/// A weight matrix's block format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Q4_1,
    Q8_0,
}

impl Format {
    pub fn block_bytes(self) -> usize {
        match self {
            Format::Q4_1 => Q4_1_BYTES,
            Format::Q8_0 => Q8_0_BYTES,
        }
    }
}

/// `out[r]` = row `r` of `weights` (rows of `x.blocks()` blocks, one after another, as a
/// GGUF tensor stores them) times `x`, the rows split over the threads of `pool`.
pub fn matvec(format: Format, weights: &[u8], x: &Q8Activations, out: &mut [f32], pool: &Pool) {
    let row_bytes = x.blocks() * format.block_bytes();
    assert_eq!(weights.len(), out.len() * row_bytes, "the weights are not {} rows of this length", out.len());
    let dot = match format {
        Format::Q4_1 => dot_q4_1,
        Format::Q8_0 => dot_q8_0,
    };
    let rows = out.len();
    let shared = Disjoint::new(out);
    pool.run(&|index| {
        let (start, end) = part(rows, index, pool.threads(), 16);
        for r in start..end {
            // Safety: rows [start, end) are this part's alone.
            unsafe { shared.set(r, dot(&weights[r * row_bytes..(r + 1) * row_bytes], x)) };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(format: Format, row: &[u8]) -> Vec<f32> {
        let mut out = vec![0f32; row.len() / format.block_bytes() * BLOCK];
        decode(format, row, &mut out);
        out
    }

    /// A small xorshift: the tests need varied bytes, not a good generator.
    struct Bytes(u64);
    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn float(&mut self) -> f32 {
            (self.next() % 20_001) as f32 / 10_000.0 - 1.0
        }
    }

    fn q4_1_row(rng: &mut Bytes, blocks: usize) -> Vec<u8> {
        let mut row = vec![];
        for _ in 0..blocks {
            row.extend(f16::from_f32(rng.float() * 0.1).to_le_bytes());
            row.extend(f16::from_f32(rng.float() * 0.5).to_le_bytes());
            row.extend((0..16).map(|_| rng.next() as u8));
        }
        row
    }

    fn q8_0_row(rng: &mut Bytes, blocks: usize) -> Vec<u8> {
        let mut row = vec![];
        for _ in 0..blocks {
            row.extend(f16::from_f32(rng.float() * 0.02).to_le_bytes());
            // -128 included: the sign trick must survive it.
            row.extend((0..32).map(|i| if i == 5 { 0x80 } else { rng.next() as u8 }));
        }
        row
    }

    /// The exact product of decoded weights and decoded activations, in f64.
    fn reference(weights: &[f32], x: &Q8Activations) -> f64 {
        let decoded = x.qs.iter().enumerate().map(|(i, &q)| f64::from(q) * f64::from(x.d[i / BLOCK]));
        weights.iter().zip(decoded).map(|(&w, y)| f64::from(w) * y).sum()
    }

    /// What ggml's Q4_1 product adds to that: each block's minimum is multiplied by `s`,
    /// the activations' sum as rounded through f16, not by their exact sum.
    fn rounded_sums(row: &[u8], x: &Q8Activations) -> f64 {
        row.chunks_exact(Q4_1_BYTES)
            .enumerate()
            .map(|(b, block)| {
                let exact: i32 = x.qs[b * BLOCK..(b + 1) * BLOCK].iter().map(|&q| i32::from(q)).sum();
                f64::from(half_at(block, 2)) * (f64::from(x.s[b]) - f64::from(x.d[b]) * f64::from(exact))
            })
            .sum()
    }

    fn close(got: f32, want: f64, scale: f64) {
        assert!((f64::from(got) - want).abs() <= 1e-4 * scale.max(1.0), "got {got}, want {want}");
    }

    #[test]
    fn quantized_activations_round_as_ggml_does() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) / 7.0).collect();
        let q = Q8Activations::quantize(&x);
        assert_eq!(q.blocks(), 2);
        // The largest magnitude maps to ±127; every value comes back within half a step.
        assert_eq!(q.qs[0], -127);
        for (i, v) in x.iter().enumerate() {
            let back = f32::from(q.qs[i]) * q.d[i / BLOCK];
            assert!((back - v).abs() <= q.d[i / BLOCK] * 0.51, "{i}: {back} vs {v}");
        }
        let sum: i32 = q.qs[..32].iter().map(|&v| i32::from(v)).sum();
        assert_eq!(q.s[0], f16::from_f32(q.d[0] * sum as f32).to_f32());
        let zeros = Q8Activations::quantize(&[0.0; 32]);
        assert_eq!((zeros.d[0], zeros.qs.iter().all(|&q| q == 0)), (0.0, true));
    }

    #[test]
    fn q4_1_products_equal_the_f32_reference() {
        let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
        for blocks in [1, 2, 7, 18, 48] {
            let row = q4_1_row(&mut rng, blocks);
            let x: Vec<f32> = (0..blocks * BLOCK).map(|_| rng.float() * 3.0).collect();
            let q = Q8Activations::quantize(&x);
            let weights = decoded(Format::Q4_1, &row);
            let want = reference(&weights, &q) + rounded_sums(&row, &q);
            let scale = weights.iter().map(|w| f64::from(w.abs())).sum::<f64>();
            close(portable::dot_q4_1(&row, &q), want, scale);
            close(dot_q4_1(&row, &q), want, scale);
            // And within the activations' 8-bit rounding of the product in plain f32.
            let plain: f64 = weights.iter().zip(&x).map(|(&w, &v)| f64::from(w) * f64::from(v)).sum();
            let bound: f64 = weights.iter().zip(&x).map(|(&w, &v)| f64::from((w * v).abs())).sum();
            assert!((f64::from(dot_q4_1(&row, &q)) - plain).abs() <= 0.02 * bound, "{blocks} blocks");
        }
    }

    #[test]
    fn q8_0_products_equal_the_f32_reference() {
        let mut rng = Bytes(0xD1B5_4A32_D192_ED03);
        for blocks in [1, 3, 18, 48] {
            let row = q8_0_row(&mut rng, blocks);
            let mut x: Vec<f32> = (0..blocks * BLOCK).map(|_| rng.float()).collect();
            x[0] = -1.0; // an activation of -127 beside a weight of -128
            let q = Q8Activations::quantize(&x);
            let weights = decoded(Format::Q8_0, &row);
            let want = reference(&weights, &q);
            let scale = weights.iter().map(|w| f64::from(w.abs())).sum::<f64>();
            close(portable::dot_q8_0(&row, &q), want, scale);
            close(dot_q8_0(&row, &q), want, scale);
        }
    }

    #[test]
    fn a_matrix_times_a_vector_is_each_row_s_product_on_any_number_of_threads() {
        let mut rng = Bytes(0x2545_F491_4F6C_DD1D);
        let (rows, blocks) = (37, 6);
        let weights: Vec<u8> = (0..rows).flat_map(|_| q4_1_row(&mut rng, blocks)).collect();
        let x: Vec<f32> = (0..blocks * BLOCK).map(|_| rng.float()).collect();
        let q = Q8Activations::quantize(&x);
        let want: Vec<f32> = weights.chunks_exact(blocks * Q4_1_BYTES).map(|row| dot_q4_1(row, &q)).collect();
        for threads in [1, 2, 3, 8, 64] {
            let mut out = vec![f32::NAN; rows];
            matvec(Format::Q4_1, &weights, &q, &mut out, &Pool::new(threads));
            assert_eq!(out, want, "{threads} threads");
        }
        let weights: Vec<u8> = (0..rows).flat_map(|_| q8_0_row(&mut rng, blocks)).collect();
        let mut out = vec![0.0; rows];
        matvec(Format::Q8_0, &weights, &q, &mut out, &Pool::new(2));
        assert_eq!(out[rows - 1], dot_q8_0(&weights[(rows - 1) * blocks * Q8_0_BYTES..], &q));
    }

    #[test]
    fn one_row_times_many_inputs_equals_each_alone_to_the_bit() {
        let mut rng = Bytes(0x1234_5678_9ABC_DEF1);
        let blocks = 18;
        let q4 = q4_1_row(&mut rng, blocks);
        let q8 = q8_0_row(&mut rng, blocks);
        for n in [1, 3, 4, 5, 9] {
            let xs: Vec<Q8Activations> = (0..n)
                .map(|_| {
                    Q8Activations::quantize(
                        &(0..blocks * BLOCK).map(|_| rng.float() * 2.0).collect::<Vec<_>>(),
                    )
                })
                .collect();
            for (format, row) in [(Format::Q4_1, &q4), (Format::Q8_0, &q8)] {
                let mut out = vec![f32::NAN; n];
                dots(format, row, &xs, &mut out);
                let alone: Vec<f32> = xs
                    .iter()
                    .map(|x| if format == Format::Q4_1 { dot_q4_1(row, x) } else { dot_q8_0(row, x) })
                    .collect();
                assert_eq!(out, alone, "{format:?}, {n} inputs");
            }
        }
    }

    #[test]
    fn this_machine_runs_the_simd_loops_where_it_can() {
        #[cfg(target_arch = "x86_64")]
        assert_eq!(simd(), is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
    }

    #[test]
    #[should_panic(expected = "differ in length")]
    fn a_row_of_another_length_is_refused() {
        let q = Q8Activations::quantize(&[0.5; 64]);
        dot_q4_1(&[0; Q4_1_BYTES], &q);
    }
}

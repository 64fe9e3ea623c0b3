//! The products against plain references on random blocks, every kernel against the
//! others, and tiles against single rows.

use super::*;
use crate::model::pool::{Disjoint, Pool};

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

/// The vector quantizer gives what the plain loop gives, on values of every scale, ties
/// (halves) and zeros included.
#[test]
fn vector_and_plain_quantizing_agree() {
    let mut rng = Bytes(0x7F4A_7C15_9E37_79B9);
    for round in 0..2000 {
        let scale = [1e-6, 0.01, 1.0, 37.0, 1e4][round % 5];
        let mut values: Vec<f32> = (0..BLOCK).map(|_| rng.float() * scale).collect();
        if round % 7 == 0 {
            // Exact halves after scaling: 127 / 127 = 1, so 0.5, 1.5 ... round to even.
            values = (0..BLOCK).map(|i| if i == 0 { 127.0 } else { (i as f32 - 16.0) + 0.5 }).collect();
        }
        if round % 11 == 0 {
            values = vec![0.0; BLOCK];
        }
        let (mut plain, mut vector) = ([0i8; BLOCK], [0i8; BLOCK]);
        assert_eq!(
            quantize_block(&values, &mut plain),
            quantize_block_vector(&values, &mut vector),
            "{values:?}"
        );
        assert_eq!(plain, vector, "{values:?}");
    }
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

/// Tiles of rows and inputs give each output what one row times one input gives, to the
/// bit, on every kernel, for any number of rows and inputs (the tiles' leftovers too).
#[test]
fn a_matrix_times_a_batch_is_each_row_times_each_input() {
    let mut rng = Bytes(0x5DEE_CE66_D1CE_4E5B);
    let blocks = 6;
    for rows in [1, 3, 4, 7, 37] {
        for format in [Format::Q4_1, Format::Q8_0] {
            let weights: Vec<u8> = (0..rows)
                .flat_map(|_| {
                    if format == Format::Q4_1 {
                        q4_1_row(&mut rng, blocks)
                    } else {
                        q8_0_row(&mut rng, blocks)
                    }
                })
                .collect();
            let row_bytes = blocks * format.block_bytes();
            for n in [1, 2, 3, 4, 5, 9] {
                let xs: Vec<Q8Activations> = (0..n)
                    .map(|_| {
                        Q8Activations::quantize(&(0..blocks * BLOCK).map(|_| rng.float()).collect::<Vec<_>>())
                    })
                    .collect();
                for &kernel in Kernel::available() {
                    let mut want = vec![0f32; n * rows];
                    for r in 0..rows {
                        let mut one = vec![0f32; n];
                        dots_with(
                            kernel,
                            format,
                            &weights[r * row_bytes..(r + 1) * row_bytes],
                            &xs,
                            &mut one,
                        );
                        for t in 0..n {
                            want[t * rows + r] = one[t];
                        }
                    }
                    let mut got = vec![f32::NAN; n * rows];
                    let out = Disjoint::new(&mut got);
                    // In two parts, as two threads would take them.
                    let middle = rows / 2;
                    rows_times(kernel, format, &weights, blocks * BLOCK, (0, middle), &xs, out, rows);
                    rows_times(kernel, format, &weights, blocks * BLOCK, (middle, rows), &xs, out, rows);
                    assert_eq!(got, want, "{kernel:?}, {format:?}, {rows} rows, {n} inputs");
                }
            }
        }
    }
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
                Q8Activations::quantize(&(0..blocks * BLOCK).map(|_| rng.float() * 2.0).collect::<Vec<_>>())
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
fn this_machine_runs_the_best_loops_it_has() {
    let available = Kernel::available();
    assert_eq!(available[0], Kernel::Portable);
    assert!(available.contains(&Kernel::detect()));
    #[cfg(target_arch = "x86_64")]
    {
        let simd = Kernel::detect() != Kernel::Portable;
        assert_eq!(simd, is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
        if is_x86_feature_detected!("avxvnni") && simd && std::env::var_os("PARLEY_NO_VNNI").is_none() {
            assert!(matches!(Kernel::detect(), Kernel::AvxVnni | Kernel::Avx512Pairs));
        }
    }
}

/// Every vector kind gives the same sums to the bit, for one to nine inputs at once, and
/// the portable loop agrees with them within f32 rounding.
#[test]
fn every_kernel_gives_the_same_sums() {
    let mut rng = Bytes(0x0BAD_5EED_1234_5678);
    let kernels = Kernel::available();
    for blocks in [1, 18, 48] {
        let rows = [(Format::Q4_1, q4_1_row(&mut rng, blocks)), (Format::Q8_0, q8_0_row(&mut rng, blocks))];
        for n in [1, 2, 4, 5, 9] {
            let xs: Vec<Q8Activations> = (0..n)
                .map(|_| {
                    Q8Activations::quantize(
                        &(0..blocks * BLOCK).map(|_| rng.float() * 4.0).collect::<Vec<_>>(),
                    )
                })
                .collect();
            for (format, row) in &rows {
                let results: Vec<Vec<f32>> = kernels
                    .iter()
                    .map(|&kernel| {
                        let mut out = vec![f32::NAN; n];
                        dots_with(kernel, *format, row, &xs, &mut out);
                        out
                    })
                    .collect();
                for (kernel, got) in kernels.iter().zip(&results).skip(2) {
                    assert_eq!(
                        got, &results[1],
                        "{kernel:?} vs AVX2, {format:?}, {blocks} blocks, {n} inputs"
                    );
                }
                if results.len() > 1 {
                    for (portable, vector) in results[0].iter().zip(&results[1]) {
                        assert!(
                            (portable - vector).abs() <= 1e-4 * portable.abs().max(1.0),
                            "{portable} vs {vector}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "differ in length")]
fn a_row_of_another_length_is_refused() {
    let q = Q8Activations::quantize(&[0.5; 64]);
    dot_q4_1(&[0; Q4_1_BYTES], &q);
}

//! The products against plain references on random blocks, every kernel against the
//! others to the bit, and batches and row splits against single products.

use super::*;
use crate::model::pool::{Disjoint, Pool};

/// Decodes a row of the file's blocks to f32 values (`out` holds 32 per block).
fn decode(format: Format, row: &[u8], out: &mut [f32]) {
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

/// Each of `rows` (rows of the file's blocks, one after another) times `x`, with the
/// loops of `kernel` (one that this machine runs: see `Kernel::available`), ggml's sums.
fn products(kernel: Kernel, format: Format, rows: &[u8], x: &[Q8Activations]) -> Vec<Vec<f32>> {
    products_with(kernel, Sums::Ggml, format, rows, x)
}

/// `products`, summed the given way.
fn products_with(
    kernel: Kernel,
    sums: Sums,
    format: Format,
    rows: &[u8],
    x: &[Q8Activations],
) -> Vec<Vec<f32>> {
    let cols = x.first().map_or(0, |x| x.blocks() * BLOCK);
    let count = rows.len() / (cols / BLOCK * format.block_bytes()).max(1);
    let packed = Packed::new(format, count, cols, rows);
    let mut out = vec![f32::NAN; x.len() * count];
    packed.times(kernel, sums, (0, count), x, Disjoint::new(&mut out), count);
    out.chunks(count.max(1)).map(<[f32]>::to_vec).collect()
}

/// The values of a block of the file's row as integers (Q4_1's nibbles in the order of
/// the values: value `j` low in byte `j`, `j + 16` high).
fn block_values(format: Format, block: &[u8]) -> Vec<i32> {
    match format {
        Format::Q4_1 => (0..BLOCK)
            .map(|j| i32::from(if j < 16 { block[4 + j] & 0x0F } else { block[4 + j - 16] >> 4 }))
            .collect(),
        Format::Q8_0 => block[2..].iter().map(|&q| i32::from(q as i8)).collect(),
    }
}

/// `Sums::Blocks` written out plainly on the file's row: each block's 32 products summed
/// as integers, `acc = fma(d * x.d, sum, acc)`, Q4_1's `mins = fma(m, x.s, mins)`, then
/// `acc + mins`.
fn block_sums(format: Format, row: &[u8], x: &Q8Activations) -> f32 {
    let (mut acc, mut mins) = (0f32, 0f32);
    for (b, block) in row.chunks_exact(format.block_bytes()).enumerate() {
        let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
        let sum: i32 = block_values(format, block).iter().zip(y).map(|(&w, &y)| w * i32::from(y)).sum();
        acc = (half_at(block, 0) * x.d[b]).mul_add(sum as f32, acc);
        if format == Format::Q4_1 {
            mins = half_at(block, 2).mul_add(x.s[b], mins);
        }
    }
    acc + mins
}

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
        // -128 and 127 included: the sign trick must survive them.
        row.extend((0..32).map(|i| match i {
            5 => 0x80,
            6 => 0x7F,
            _ => rng.next() as u8,
        }));
    }
    row
}

fn rows_of(format: Format, rng: &mut Bytes, rows: usize, blocks: usize) -> Vec<u8> {
    (0..rows)
        .flat_map(|_| match format {
            Format::Q4_1 => q4_1_row(rng, blocks),
            Format::Q8_0 => q8_0_row(rng, blocks),
        })
        .collect()
}

fn inputs(rng: &mut Bytes, n: usize, blocks: usize, scale: f32) -> Vec<Q8Activations> {
    (0..n)
        .map(|_| {
            Q8Activations::quantize(&(0..blocks * BLOCK).map(|_| rng.float() * scale).collect::<Vec<_>>())
        })
        .collect()
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

fn close(got: f32, want: f64, scale: f64, what: &str) {
    assert!((f64::from(got) - want).abs() <= 1e-4 * scale.max(1.0), "{what}: got {got}, want {want}");
}

/// One row times one input, on `kernel`.
fn one(kernel: Kernel, format: Format, row: &[u8], x: &Q8Activations) -> f32 {
    products(kernel, format, row, std::slice::from_ref(x))[0][0]
}

/// ggml's AVX2 `vec_dot_q4_1_q8_1` and `vec_dot_q8_0_q8_0`, written out plainly on the
/// file's row: the block's values as ggml's register holds them (Q4_1: the low nibbles,
/// then the high ones), 4 products a 32-bit lane, each lane scaled and accumulated in f32
/// across blocks, the lanes added as `hsum_float_8` adds them, then Q4_1's minimum terms.
fn ggml(format: Format, row: &[u8], x: &Q8Activations) -> f32 {
    let (mut lanes, mut mins) = ([0f32; 8], 0f32);
    for (b, block) in row.chunks_exact(format.block_bytes()).enumerate() {
        let values = block_values(format, block);
        let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
        let scale = half_at(block, 0) * x.d[b];
        for (k, lane) in lanes.iter_mut().enumerate() {
            let sum: i32 = (4 * k..4 * k + 4).map(|j| values[j] * i32::from(y[j])).sum();
            *lane = scale.mul_add(sum as f32, *lane);
        }
        if format == Format::Q4_1 {
            mins += half_at(block, 2) * x.s[b];
        }
    }
    // hsum_float_8: the high half added to the low one, then pairs, then the last two.
    let half: Vec<f32> = (0..4).map(|i| lanes[i + 4] + lanes[i]).collect();
    let sum = (half[0] + half[2]) + (half[1] + half[3]);
    match format {
        Format::Q4_1 => sum + mins,
        Format::Q8_0 => sum,
    }
}

/// The repacked products give ggml's sums to the bit, on every kernel: why Parley's logits
/// follow llama.cpp's as closely as its own builds follow each other.
#[test]
fn every_kernel_gives_ggml_s_sums_to_the_bit() {
    let mut rng = Bytes(0x6A09_E667_F3BC_C908);
    for format in [Format::Q4_1, Format::Q8_0] {
        for blocks in [1, 5, 18, 48] {
            let rows = rows_of(format, &mut rng, 21, blocks);
            let row_bytes = blocks * format.block_bytes();
            let xs = inputs(&mut rng, 3, blocks, 2.5);
            for &kernel in Kernel::available() {
                let got = products(kernel, format, &rows, &xs);
                for (t, x) in xs.iter().enumerate() {
                    for (r, row) in rows.chunks_exact(row_bytes).enumerate() {
                        assert_eq!(
                            got[t][r].to_bits(),
                            ggml(format, row, x).to_bits(),
                            "{kernel:?}, {format:?}, {blocks} blocks, row {r}, input {t}"
                        );
                    }
                }
            }
        }
    }
}

/// Block sums on every kernel are the plain formula's to the bit (`block_sums`), for one
/// to nine inputs at once (passes of one, two and four inputs), values of -128 and 127 in
/// Q8_0 rows beside activations of -127 and 127 included.
#[test]
fn every_kernel_gives_the_block_sums_to_the_bit() {
    let mut rng = Bytes(0x1F83_D9AB_FB41_BD6B);
    for format in [Format::Q4_1, Format::Q8_0] {
        for blocks in [1, 5, 18, 48] {
            let mut rows = rows_of(format, &mut rng, 21, blocks);
            if format == Format::Q8_0 {
                (rows[2], rows[3]) = (0x80, 0x7F);
            }
            let row_bytes = blocks * format.block_bytes();
            for n in [1, 2, 3, 4, 5, 9] {
                let mut xs = inputs(&mut rng, n, blocks, 2.5);
                let mut extreme = vec![0.5f32; blocks * BLOCK];
                (extreme[0], extreme[1]) = (-1.0, 1.0);
                xs[0] = Q8Activations::quantize(&extreme);
                for &kernel in Kernel::available() {
                    let got = products_with(kernel, Sums::Blocks, format, &rows, &xs);
                    for (t, x) in xs.iter().enumerate() {
                        for (r, row) in rows.chunks_exact(row_bytes).enumerate() {
                            assert_eq!(
                                got[t][r].to_bits(),
                                block_sums(format, row, x).to_bits(),
                                "{kernel:?}, {format:?}, {blocks} blocks, row {r}, input {t} of {n}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Block sums stay within the f64 reference's bound, and part from ggml's sums only in
/// the last bits.
#[test]
fn block_sums_equal_the_f64_reference_and_ggml_s_sums_nearly() {
    let mut rng = Bytes(0x5BE0_CD19_137E_2179);
    for format in [Format::Q4_1, Format::Q8_0] {
        for blocks in [1, 7, 18, 48] {
            let rows = rows_of(format, &mut rng, 9, blocks);
            let row_bytes = blocks * format.block_bytes();
            let xs = inputs(&mut rng, 2, blocks, 3.0);
            let blocks_summed = products_with(Kernel::detect(), Sums::Blocks, format, &rows, &xs);
            let ggml_summed = products_with(Kernel::detect(), Sums::Ggml, format, &rows, &xs);
            for (t, x) in xs.iter().enumerate() {
                for (r, row) in rows.chunks_exact(row_bytes).enumerate() {
                    let weights = decoded(format, row);
                    let mut want = reference(&weights, x);
                    if format == Format::Q4_1 {
                        want += rounded_sums(row, x);
                    }
                    let scale = weights.iter().map(|w| f64::from(w.abs())).sum::<f64>();
                    let what = format!("{format:?}, {blocks} blocks, row {r}, input {t}");
                    close(blocks_summed[t][r], want, scale, &what);
                    close(blocks_summed[t][r], f64::from(ggml_summed[t][r]), scale, &what);
                }
            }
        }
    }
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
        let (mut plain_offsets, mut vector_offsets) = ([0i32; BLOCK / 4], [1i32; BLOCK / 4]);
        assert_eq!(
            quantize_block(&values, &mut plain, &mut plain_offsets),
            quantize_block_vector(&values, &mut vector, &mut vector_offsets),
            "{values:?}"
        );
        assert_eq!(plain, vector, "{values:?}");
        assert_eq!(plain_offsets, vector_offsets, "{values:?}");
        let fours: Vec<i32> =
            plain.chunks(4).map(|four| -128 * four.iter().map(|&q| i32::from(q)).sum::<i32>()).collect();
        assert_eq!(plain_offsets.to_vec(), fours);
    }
}

/// Activations quantized a range of blocks at a time (as the gate/up product's chunks do
/// for the down product) equal them quantized at once, in buffers that held other values.
#[test]
fn activations_quantized_by_ranges_of_blocks_equal_them_quantized_at_once() {
    let mut rng = Bytes(0x243F_6A88_85A3_08D3);
    let x: Vec<f32> = (0..48 * BLOCK).map(|_| rng.float() * 5.0).collect();
    let mut reused = Q8Activations::quantize(&x[..7 * BLOCK]);
    let writer = reused.blocks_of(x.len());
    for (first, last) in [(30, 48), (0, 18), (18, 30)] {
        // Safety: one thread, each range once.
        unsafe { writer.quantize(first, &x[first * BLOCK..last * BLOCK]) };
    }
    let whole = Q8Activations::quantize(&x);
    assert_eq!(
        (&reused.d, &reused.s, &reused.qs, &reused.offsets, &reused.sums),
        (&whole.d, &whole.s, &whole.qs, &whole.offsets, &whole.sums)
    );
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
fn q4_1_products_equal_the_f64_reference_on_every_kernel() {
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    for blocks in [1, 2, 7, 18, 48] {
        let row = q4_1_row(&mut rng, blocks);
        let x: Vec<f32> = (0..blocks * BLOCK).map(|_| rng.float() * 3.0).collect();
        let q = Q8Activations::quantize(&x);
        let weights = decoded(Format::Q4_1, &row);
        let want = reference(&weights, &q) + rounded_sums(&row, &q);
        let scale = weights.iter().map(|w| f64::from(w.abs())).sum::<f64>();
        for &kernel in Kernel::available() {
            let got = one(kernel, Format::Q4_1, &row, &q);
            close(got, want, scale, &format!("{kernel:?}, {blocks} blocks"));
            // And within the activations' 8-bit rounding of the product in plain f32.
            let plain: f64 = weights.iter().zip(&x).map(|(&w, &v)| f64::from(w) * f64::from(v)).sum();
            let bound: f64 = weights.iter().zip(&x).map(|(&w, &v)| f64::from((w * v).abs())).sum();
            assert!((f64::from(got) - plain).abs() <= 0.02 * bound, "{kernel:?}, {blocks} blocks");
        }
    }
}

#[test]
fn q8_0_products_equal_the_f64_reference_on_every_kernel() {
    let mut rng = Bytes(0xD1B5_4A32_D192_ED03);
    for blocks in [1, 3, 18, 48] {
        let row = q8_0_row(&mut rng, blocks);
        let mut x: Vec<f32> = (0..blocks * BLOCK).map(|_| rng.float()).collect();
        x[5] = -1.0; // an activation of -127 beside a weight of -128
        x[6] = 1.0; // and of 127 beside 127
        let q = Q8Activations::quantize(&x);
        let weights = decoded(Format::Q8_0, &row);
        let want = reference(&weights, &q);
        let scale = weights.iter().map(|w| f64::from(w.abs())).sum::<f64>();
        for &kernel in Kernel::available() {
            close(one(kernel, Format::Q8_0, &row, &q), want, scale, &format!("{kernel:?}, {blocks} blocks"));
        }
    }
}

/// The repacked rows decode to what the file's rows decode to, the padding of the last
/// group included (it reaches no output).
#[test]
fn packed_rows_decode_as_the_file_s_rows() {
    let mut rng = Bytes(0x3C6E_F372_FE94_F82B);
    for format in [Format::Q4_1, Format::Q8_0] {
        for rows in [1, 8, 13, 24] {
            let blocks = 3;
            let data = rows_of(format, &mut rng, rows, blocks);
            let packed = Packed::new(format, rows, blocks * BLOCK, &data);
            let row_bytes = blocks * format.block_bytes();
            for r in 0..rows {
                let mut got = vec![f32::NAN; blocks * BLOCK];
                packed.decode_row(r, &mut got);
                assert_eq!(
                    got,
                    decoded(format, &data[r * row_bytes..(r + 1) * row_bytes]),
                    "{format:?} row {r}"
                );
            }
        }
    }
}

/// Every kind, the portable loop included, gives the same sums to the bit, for one to
/// nine inputs at once.
#[test]
fn every_kernel_gives_the_same_sums_to_the_bit() {
    let mut rng = Bytes(0x0BAD_5EED_1234_5678);
    let kernels = Kernel::available();
    for blocks in [1, 18, 48] {
        for format in [Format::Q4_1, Format::Q8_0] {
            let rows = rows_of(format, &mut rng, 19, blocks);
            for n in [1, 2, 4, 5, 9] {
                let xs = inputs(&mut rng, n, blocks, 4.0);
                let portable = products(Kernel::Portable, format, &rows, &xs);
                for &kernel in &kernels[1..] {
                    let got = products(kernel, format, &rows, &xs);
                    let bits =
                        |v: &Vec<Vec<f32>>| v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got),
                        bits(&portable),
                        "{kernel:?}, {format:?}, {blocks} blocks, {n} inputs"
                    );
                }
            }
        }
    }
}

/// A matrix times a batch, its rows split in parts as the threads take them, gives each
/// output what one row times one input gives, to the bit, on every kernel: for any number
/// of rows (the last group's padding too) and inputs.
#[test]
fn a_matrix_times_a_batch_is_each_row_times_each_input() {
    let mut rng = Bytes(0x5DEE_CE66_D1CE_4E5B);
    let blocks = 6;
    for rows in [1, 3, 8, 13, 37, 48] {
        for format in [Format::Q4_1, Format::Q8_0] {
            let data = rows_of(format, &mut rng, rows, blocks);
            let packed = Packed::new(format, rows, blocks * BLOCK, &data);
            let row_bytes = blocks * format.block_bytes();
            for (n, sums) in [1, 2, 3, 4, 5, 9].into_iter().flat_map(|n| [(n, Sums::Ggml), (n, Sums::Blocks)])
            {
                let xs = inputs(&mut rng, n, blocks, 1.0);
                for &kernel in Kernel::available() {
                    let mut want = vec![0f32; n * rows];
                    for r in 0..rows {
                        for (t, x) in xs.iter().enumerate() {
                            let row = &data[r * row_bytes..(r + 1) * row_bytes];
                            want[t * rows + r] =
                                products_with(kernel, sums, format, row, std::slice::from_ref(x))[0][0];
                        }
                    }
                    for split in [0, 8, 16, 24] {
                        let split = split.min(rows / GROUP * GROUP);
                        let mut got = vec![f32::NAN; n * rows];
                        let out = Disjoint::new(&mut got);
                        packed.times(kernel, sums, (0, split), &xs, out, rows);
                        packed.times(kernel, sums, (split, rows), &xs, out, rows);
                        assert_eq!(
                            got, want,
                            "{kernel:?}, {sums:?}, {format:?}, {rows} rows split at {split}, {n} inputs"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_matrix_times_a_vector_is_each_row_s_product_on_any_number_of_threads() {
    let mut rng = Bytes(0x2545_F491_4F6C_DD1D);
    let (rows, blocks) = (77, 6);
    for format in [Format::Q4_1, Format::Q8_0] {
        let data = rows_of(format, &mut rng, rows, blocks);
        let packed = Packed::new(format, rows, blocks * BLOCK, &data);
        let x = &inputs(&mut rng, 1, blocks, 1.0)[0];
        let want: Vec<f32> = data
            .chunks_exact(blocks * format.block_bytes())
            .map(|row| one(Kernel::detect(), format, row, x))
            .collect();
        for threads in [1, 2, 3, 8, 64] {
            let mut out = vec![f32::NAN; rows];
            packed.matvec(x, &mut out, &Pool::new(threads));
            assert_eq!(out, want, "{format:?}, {threads} threads");
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
        assert_eq!(
            simd,
            is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
        );
        if is_x86_feature_detected!("avxvnni") && simd && std::env::var_os("PARLEY_NO_VNNI").is_none() {
            assert!(matches!(Kernel::detect(), Kernel::AvxVnni | Kernel::Avx512Wide));
        }
    }
    // One input alone runs 256-bit loops, the best the machine has; a batch, the best.
    assert_ne!(Kernel::for_inputs(1), Kernel::Avx512Wide);
    assert!(available.contains(&Kernel::for_inputs(1)));
    if Kernel::detect() == Kernel::Avx512Wide {
        let best_narrow = available.iter().rev().find(|k| **k != Kernel::Avx512Wide).copied();
        assert_eq!(Some(Kernel::for_inputs(1)), best_narrow);
    } else {
        assert_eq!(Kernel::for_inputs(1), Kernel::detect());
    }
    for inputs in [2, 3, 8, 100] {
        assert_eq!(Kernel::for_inputs(inputs), Kernel::detect());
    }
}

#[test]
#[should_panic(expected = "differ in length")]
fn a_row_of_another_length_is_refused() {
    let packed = Packed::new(Format::Q4_1, 1, BLOCK, &[0; Q4_1_BYTES]);
    let q = Q8Activations::quantize(&[0.5; 64]);
    let mut out = [0f32];
    packed.times(Kernel::detect(), Sums::Ggml, (0, 1), &[q], Disjoint::new(&mut out), 1);
}

#[test]
#[should_panic(expected = "not the start of a group")]
fn rows_from_inside_a_group_are_refused() {
    let packed = Packed::new(Format::Q8_0, 16, BLOCK, &[0; 16 * Q8_0_BYTES]);
    let q = Q8Activations::quantize(&[0.5; 32]);
    let mut out = [0f32; 16];
    packed.times(Kernel::detect(), Sums::Ggml, (4, 16), &[q], Disjoint::new(&mut out), 16);
}

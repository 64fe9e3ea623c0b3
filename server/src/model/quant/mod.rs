//! Quantized dot products for the GGUF block formats the default model uses, laid out and
//! rounded as ggml does: a weight row in Q4_1 or Q8_0 blocks of 32, times activations
//! quantized to 8 bits per block of 32 (Q8_1 for Q4_1 rows, Q8_0 for Q8_0 rows).
//!
//! Each product has a portable loop and vector ones (`Kernel`), chosen at run time; the
//! tests hold them to a plain reference on random blocks and to each other, to the bit. Candle 0.11 has only the portable loop
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
            let (d, sum) = quantize_block_vector(values, qs);
            out.d.push(f16::from_f32(d).to_f32());
            out.s.push(f16::from_f32(d * sum as f32).to_f32());
        }
        out
    }

    pub fn blocks(&self) -> usize {
        self.d.len()
    }
}

/// One block of 32 activations: its values into `qs`, its scale `d` (not yet rounded
/// through f16) and the sum of its quantized values.
fn quantize_block(values: &[f32], qs: &mut [i8]) -> (f32, i32) {
    let amax = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    // As ggml's AVX2 path computes them: the inverse as 127 / amax, halves rounded to even.
    let id = if amax == 0.0 { 0.0 } else { 127.0 / amax };
    let mut sum = 0i32;
    for (q, v) in qs.iter_mut().zip(values) {
        let rounded = (v * id).round_ties_even() as i32;
        *q = rounded as i8;
        sum += rounded;
    }
    (d, sum)
}

/// `quantize_block` eight lanes at a time, where the CPU has AVX2 (the same result).
fn quantize_block_vector(values: &[f32], qs: &mut [i8]) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if Kernel::detect() != Kernel::Portable {
        // Safety: AVX2 and FMA were detected.
        return unsafe { x86::quantize_block(values, qs) };
    }
    quantize_block(values, qs)
}

/// The loops this machine runs: the portable ones, or AVX2/FMA, where the 8-bit products
/// are summed by VNNI's `vpdpbusd` when the CPU has it (AVX-VNNI, or AVX-512 VNNI on
/// 256-bit registers). Every kind gives the same sums to the bit: `vpdpbusd` adds the same
/// four products per lane that `vpmaddubsw` + `vpmaddwd` do (none of them reaches the i16
/// saturation of `vpmaddubsw` with these formats), and the rest of the loop is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    Avx2,
    AvxVnni,
    Avx512Vnni,
    /// AVX-512 VNNI, with two inputs of a batch in each 512-bit register.
    Avx512Pairs,
}

impl Kernel {
    /// The best this machine runs: the last it can run, or AVX2 alone with
    /// `PARLEY_NO_VNNI` set.
    pub fn detect() -> Kernel {
        static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *KERNEL.get_or_init(|| {
            let available = Kernel::available();
            match std::env::var_os("PARLEY_NO_VNNI") {
                Some(_) => available[available.len().min(2) - 1],
                None => available[available.len() - 1],
            }
        })
    }

    /// The kinds this machine can run, from the portable loop to the best (for tests and
    /// benches).
    pub fn available() -> &'static [Kernel] {
        static KINDS: std::sync::OnceLock<Vec<Kernel>> = std::sync::OnceLock::new();
        KINDS.get_or_init(Kernel::probe)
    }

    fn probe() -> Vec<Kernel> {
        let mut kinds = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                kinds.push(Kernel::Avx2);
                if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl") {
                    kinds.push(Kernel::Avx512Vnni);
                }
                if is_x86_feature_detected!("avxvnni") {
                    kinds.push(Kernel::AvxVnni);
                }
                if avx512() {
                    kinds.push(Kernel::Avx512Pairs);
                }
            }
        }
        kinds
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable loops",
            Kernel::Avx2 => "AVX2/FMA",
            Kernel::AvxVnni => "AVX2/FMA + AVX-VNNI",
            Kernel::Avx512Vnni => "AVX2/FMA + AVX-512 VNNI",
            Kernel::Avx512Pairs => "AVX-512 VNNI, two inputs a register",
        }
    }
}

/// Whether the vector loops ask for the rows two tiles ahead before they need them
/// (`PARLEY_PREFETCH=0` turns it off, to measure it).
fn prefetch() -> bool {
    static PREFETCH: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PREFETCH.get_or_init(|| std::env::var("PARLEY_PREFETCH").map_or(true, |v| v != "0"))
}

/// Whether this CPU has what `avx512_pairs` needs.
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
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
/// other inputs, to the bit (so a sequence's logits do not depend on its batch).
pub fn dots(format: Format, row: &[u8], xs: &[Q8Activations], out: &mut [f32]) {
    dots_with(Kernel::detect(), format, row, xs, out);
}

/// `dots` with the loops of `kernel` (which this machine must run: see `Kernel::available`).
pub fn dots_with(kernel: Kernel, format: Format, row: &[u8], xs: &[Q8Activations], out: &mut [f32]) {
    assert_eq!(xs.len(), out.len(), "one output per input");
    let cols = row.len() / format.block_bytes() * BLOCK;
    let shared = Disjoint::new(out);
    rows_times(kernel, format, row, cols, (0, 1), xs, shared, 1);
}

/// `out[t * stride + r]` = row `r` of `weights` (rows of `cols` values in blocks, one after
/// another, as a GGUF tensor stores them) times `xs[t]`, for the rows `start..end` of
/// `rows`. The weights are read once for up to four inputs, and one input is multiplied by
/// four rows at once; each result takes the same operations in the same order whatever its
/// neighbours are, so it does not depend on the batch or the rows around it, to the bit.
/// Called by each thread of a `Pool::run` with rows of its own.
#[allow(clippy::too_many_arguments)]
pub fn rows_times(
    kernel: Kernel,
    format: Format,
    weights: &[u8],
    cols: usize,
    (start, end): (usize, usize),
    xs: &[Q8Activations],
    out: Disjoint,
    stride: usize,
) {
    let blocks = cols / BLOCK;
    let row_bytes = blocks * format.block_bytes();
    assert!(cols.is_multiple_of(BLOCK), "{cols} values are not whole blocks of {BLOCK}");
    assert!(end * row_bytes <= weights.len(), "rows {start}..{end} are not all in the weights");
    for x in xs {
        assert_eq!(x.blocks(), blocks, "row and activations differ in length");
    }
    if start >= end || xs.is_empty() {
        return;
    }
    assert!(end <= stride || xs.len() == 1, "outputs of different inputs overlap");
    assert!((xs.len() - 1) * stride + end <= out.len(), "no room for the outputs");
    #[cfg(target_arch = "x86_64")]
    if kernel != Kernel::Portable {
        assert!(Kernel::available().contains(&kernel), "{kernel:?} does not run here");
        let pairs = kernel == Kernel::Avx512Pairs;
        let mut t = 0;
        while t < xs.len() {
            let n = match (xs.len() - t).min(4) {
                // Pairs of inputs take two or four at a time.
                3 if pairs => 2,
                n => n,
            };
            let mut r = start;
            while r < end {
                // Four rows for one input, two for more (the sums stay in registers).
                let tile = if n == 1 { 4 } else { 2 };
                let take = if end - r >= tile { tile } else { 1 };
                macro_rules! run {
                    ($module:ident, $rows:literal, $inputs:literal) => {{
                        let mut sums = [[0f32; $inputs]; $rows];
                        // Safety: the features were detected; rows r..r + $rows and inputs
                        // t..t + $inputs exist (checked above).
                        unsafe {
                            match format {
                                Format::Q4_1 => $module::tile_q4_1::<$rows, $inputs>(
                                    weights.as_ptr().add(r * row_bytes),
                                    row_bytes,
                                    blocks,
                                    &xs[t..t + $inputs],
                                    &mut sums,
                                ),
                                Format::Q8_0 => $module::tile_q8_0::<$rows, $inputs>(
                                    weights.as_ptr().add(r * row_bytes),
                                    row_bytes,
                                    blocks,
                                    &xs[t..t + $inputs],
                                    &mut sums,
                                ),
                            }
                        }
                        for (i, row) in sums.iter().enumerate() {
                            for (j, value) in row.iter().enumerate() {
                                // Safety: row r + i of input t + j is this caller's alone.
                                unsafe { out.set((t + j) * stride + r + i, *value) };
                            }
                        }
                    }};
                    (pairs $module:ident) => {
                        match (take, n) {
                            (2, 2) => run!($module, 2, 2),
                            (2, 4) => run!($module, 2, 4),
                            (1, 2) => run!($module, 1, 2),
                            (1, 4) => run!($module, 1, 4),
                            _ => unreachable!("pairs take two or four inputs"),
                        }
                    };
                    ($module:ident) => {
                        match (take, n) {
                            (4, _) => run!($module, 4, 1),
                            (2, 2) => run!($module, 2, 2),
                            (2, 3) => run!($module, 2, 3),
                            (2, _) => run!($module, 2, 4),
                            (_, 1) => run!($module, 1, 1),
                            (_, 2) => run!($module, 1, 2),
                            (_, 3) => run!($module, 1, 3),
                            _ => run!($module, 1, 4),
                        }
                    };
                }
                match kernel {
                    Kernel::AvxVnni => run!(avx_vnni),
                    Kernel::Avx512Pairs if n >= 2 => run!(pairs avx512_pairs),
                    Kernel::Avx512Vnni | Kernel::Avx512Pairs => run!(avx512_vnni),
                    _ => run!(avx2),
                }
                r += take;
            }
            t += n;
        }
        return;
    }
    let _ = kernel;
    for (t, x) in xs.iter().enumerate() {
        for r in start..end {
            let row = &weights[r * row_bytes..(r + 1) * row_bytes];
            let value = match format {
                Format::Q4_1 => portable::dot_q4_1(row, x),
                Format::Q8_0 => portable::dot_q8_0(row, x),
            };
            // Safety: row r of input t is this caller's alone.
            unsafe { out.set(t * stride + r, value) };
        }
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
    let rows = out.len();
    let shared = Disjoint::new(out);
    let kernel = Kernel::detect();
    let chunks = 4 * pool.threads();
    pool.run(chunks, &|chunk| {
        let part = part(rows, chunk, chunks, 16);
        rows_times(kernel, format, weights, x.blocks() * BLOCK, part, std::slice::from_ref(x), shared, rows);
    });
}

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
use x86::{avx_vnni, avx2, avx512_pairs, avx512_vnni};

#[cfg(test)]
mod tests;

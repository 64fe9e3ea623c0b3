//! Quantized products for the GGUF block formats the default model uses: weight rows in
//! Q4_1 or Q8_0 blocks of 32, times activations quantized to 8 bits per block of 32 as
//! ggml quantizes them (Q8_1 for Q4_1 rows, Q8_0 for Q8_0 rows).
//!
//! The weights are repacked at load (`Packed`): rows in groups of 8, each block's 8 scales
//! side by side and the rows' bytes interleaved 4 at a time, so that one 256-bit register
//! holds 8 rows' values and one VNNI instruction gives 8 rows' sums of 4 products. The
//! scaling, the conversions and Q4_1's minimum term are then vector operations over 8
//! rows, not scalar set-up per row, and that is what a batch of inputs pays per input
//! (ggml's repacked loops do the same).
//!
//! The sums stay ggml's to the bit (its AVX2 `vec_dot_q4_1_q8_1` and `vec_dot_q8_0_q8_0`,
//! which llama.cpp runs on this model on x86): ggml sums 4 products per 32-bit lane, scales
//! and accumulates each of its 8 lanes in f32 across blocks, and adds the lanes at the end
//! in a fixed tree. A group's 4-product sums for ggml's lane `k` are one register here (a
//! row per lane), so the same f32 operations happen in the same order, row by row.
//!
//! Each product has a portable loop and vector ones (`Kernel`), chosen at run time; the
//! tests hold them to a plain f64 reference on random blocks and to each other, to the bit.

use super::pool::{Disjoint, Pool, part};
use half::f16;

/// Values per block, in every format here.
pub const BLOCK: usize = 32;
/// Bytes of one Q4_1 block: scale `d` and minimum `m` (f16 each), then 16 bytes of nibbles
/// (value `j` in the low nibble of byte `j`, value `j + 16` in its high nibble).
pub const Q4_1_BYTES: usize = 20;
/// Bytes of one Q8_0 block: scale `d` (f16), then 32 signed bytes.
pub const Q8_0_BYTES: usize = 34;
/// Rows a `Packed` matrix interleaves.
pub const GROUP: usize = 8;

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
    /// -128 times the sum of each 4 values (`qs[4i..4i + 4]`): what a product of these
    /// values with weight bytes offset by 128 (unsigned) adds, taken back.
    pub offsets: Vec<i32>,
    /// Each block's sum of its quantized values, as an integer (`Sums::Blocks` takes back
    /// the offset of its Q8_0 products with it, a block at a time).
    pub sums: Vec<i32>,
}

impl Q8Activations {
    /// Quantizes `x` (its length a multiple of 32), as ggml's `quantize_row_q8_1` (and
    /// `quantize_row_q8_0`, whose `d` and values are the same).
    pub fn quantize(x: &[f32]) -> Q8Activations {
        let mut out = Q8Activations::default();
        out.quantize_into(x);
        out
    }

    /// As `quantize`, into these buffers (each token's products quantize about 120 inputs;
    /// reusing the buffers spares 4 allocations each).
    pub fn quantize_into(&mut self, x: &[f32]) {
        // Safety: one writer, all the blocks at once.
        unsafe { self.blocks_of(x.len()).quantize(0, x) }
    }

    pub fn blocks(&self) -> usize {
        self.d.len()
    }

    /// Room for `cols` values (whole blocks), to be quantized a range of blocks at a time by
    /// several threads (`Blocks::quantize`), each block as `quantize_into` would.
    pub fn blocks_of(&mut self, cols: usize) -> Blocks<'_> {
        assert!(cols.is_multiple_of(BLOCK), "{cols} values are not whole blocks of {BLOCK}");
        let blocks = cols / BLOCK;
        let Q8Activations { d, s, qs, offsets, sums } = self;
        d.resize(blocks, 0.0);
        s.resize(blocks, 0.0);
        sums.resize(blocks, 0);
        qs.resize(cols, 0);
        offsets.resize(cols / 4, 0);
        Blocks {
            d: d.as_mut_ptr(),
            s: s.as_mut_ptr(),
            qs: qs.as_mut_ptr(),
            offsets: offsets.as_mut_ptr(),
            sums: sums.as_mut_ptr(),
            blocks,
            _activations: std::marker::PhantomData,
        }
    }
}

/// Quantized activations written a range of blocks at a time, from several threads
/// (`Q8Activations::blocks_of`).
pub struct Blocks<'a> {
    d: *mut f32,
    s: *mut f32,
    qs: *mut i8,
    offsets: *mut i32,
    sums: *mut i32,
    blocks: usize,
    _activations: std::marker::PhantomData<&'a mut Q8Activations>,
}

// Safety: each caller of `quantize` writes blocks no other thread writes or reads meanwhile.
unsafe impl Sync for Blocks<'_> {}

impl Blocks<'_> {
    /// Quantizes `x` (whole blocks) into blocks `first..`, as ggml's `quantize_row_q8_1`
    /// quantizes them (`Q8Activations::quantize_into` is all of them at once).
    /// Safety: no other thread writes or reads these blocks until the writers are done.
    pub unsafe fn quantize(&self, first: usize, x: &[f32]) {
        assert!(
            x.len().is_multiple_of(BLOCK) && first + x.len() / BLOCK <= self.blocks,
            "blocks out of range"
        );
        for (i, values) in x.chunks_exact(BLOCK).enumerate() {
            let b = first + i;
            // Safety: block b is in range, and this caller's alone.
            let (qs, offsets) = unsafe {
                (
                    std::slice::from_raw_parts_mut(self.qs.add(b * BLOCK), BLOCK),
                    std::slice::from_raw_parts_mut(self.offsets.add(b * BLOCK / 4), BLOCK / 4),
                )
            };
            let (scale, sum) = quantize_block_vector(values, qs, offsets);
            unsafe {
                *self.d.add(b) = f16::from_f32(scale).to_f32();
                *self.s.add(b) = f16::from_f32(scale * sum as f32).to_f32();
                *self.sums.add(b) = sum;
            }
        }
    }
}

/// One block of 32 activations: its values into `qs`, each 4 values' `offsets` (see
/// `Q8Activations::offsets`), its scale `d` (not yet rounded through f16) and the sum of its
/// quantized values.
fn quantize_block(values: &[f32], qs: &mut [i8], offsets: &mut [i32]) -> (f32, i32) {
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
    for (offset, four) in offsets.iter_mut().zip(qs.chunks_exact(4)) {
        *offset = -128 * four.iter().map(|&q| i32::from(q)).sum::<i32>();
    }
    (d, sum)
}

/// `quantize_block` eight lanes at a time, where the CPU has AVX2 (the same result).
fn quantize_block_vector(values: &[f32], qs: &mut [i8], offsets: &mut [i32]) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if Kernel::detect() != Kernel::Portable {
        // Safety: AVX2 and FMA were detected.
        return unsafe { x86::quantize_block(values, qs, offsets) };
    }
    quantize_block(values, qs, offsets)
}

/// The loops this machine runs: the portable ones, or AVX2/FMA, where the 8-bit products
/// are summed by VNNI's `vpdpbusd` when the CPU has it (AVX-VNNI, or AVX-512 VNNI on
/// 256-bit registers, or on 512-bit ones holding two groups of 8 rows). Every kind gives
/// the same sums to the bit: each 4-product integer sum is exact whichever instructions add
/// it (none reaches the i16 saturation of `vpmaddubsw` with these formats), and the f32
/// operations after it are the same ones in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    Avx2,
    AvxVnni,
    Avx512Vnni,
    /// AVX-512 VNNI, with two groups of 8 rows (16 rows) in each 512-bit register.
    Avx512Wide,
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

    /// The loops for a product of `inputs` inputs: `detect`'s, except that one input alone
    /// runs the best 256-bit loops where `detect` chose the 512-bit wide ones. The wide loops
    /// pay, per block of weights, for joining two groups' bytes into one register, which a
    /// batch shares between its inputs and one input does not: on an AVX-512 AMD EPYC of this
    /// project's kind, one chat request ran 25 to 40% faster on the 256-bit loops, and a
    /// batch slower. Every kind gives the same sums, so this changes speed alone.
    pub fn for_inputs(inputs: usize) -> Kernel {
        let best = Kernel::detect();
        if inputs >= 2 || best != Kernel::Avx512Wide {
            return best;
        }
        Kernel::available().iter().rev().copied().find(|kind| *kind != Kernel::Avx512Wide).unwrap_or(best)
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
            if is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
            {
                kinds.push(Kernel::Avx2);
                if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl") {
                    kinds.push(Kernel::Avx512Vnni);
                }
                if is_x86_feature_detected!("avxvnni") {
                    kinds.push(Kernel::AvxVnni);
                }
                if is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
                {
                    kinds.push(Kernel::Avx512Wide);
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
            Kernel::Avx512Wide => "AVX-512 VNNI, 16 rows a register",
        }
    }
}

/// How a product adds up its 8-bit products. Both are exact in integers where they sum
/// integers; they differ in the f32 roundings after that, so in the last bits of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sums {
    /// ggml's order (its AVX2 `vec_dot` loops): 4 products summed per lane, each of the 8
    /// lanes converted, scaled and accumulated in f32 across blocks, the lanes added at the
    /// end. What llama.cpp computes on this model on x86, to the bit, so that greedy text is
    /// llama.cpp's.
    #[default]
    Ggml,
    /// Each block's 32 products summed in integers (exact), then converted, scaled and
    /// accumulated once: `acc = fma(d_w * d_x, sum, acc)`, and for Q4_1 `mins = fma(m_w,
    /// s_x, mins)`, the result `acc + mins`. One conversion and one multiply-add per block,
    /// row and input against ggml's eight, with fewer roundings; what a sampled sequence
    /// decodes with (see `Sequence::sample_sums`).
    Blocks,
}

/// A weight matrix's block format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Q4_1,
    Q8_0,
}

impl Format {
    /// Bytes of one block as a GGUF file stores it.
    pub fn block_bytes(self) -> usize {
        match self {
            Format::Q4_1 => Q4_1_BYTES,
            Format::Q8_0 => Q8_0_BYTES,
        }
    }

    /// Bytes of one block of a group of `GROUP` rows in a `Packed` matrix: the same bytes
    /// as the rows' blocks, rearranged.
    pub fn group_bytes(self) -> usize {
        GROUP * self.block_bytes()
    }
}

/// Where the parts of a packed group's block are: the 8 scales `d` (f16) at 0, for Q4_1 the
/// 8 minimums `m` (f16) at 16, then the values in 32-byte chunks from `VALUES`, chunk `c`
/// holding bytes `4c..4c + 4` of each row (row `i` at `4i`): Q4_1's 4 chunks hold nibbles
/// as the file does (value `j` low in byte `j`, `j + 16` high), Q8_0's 8 chunks the signed
/// values.
pub mod layout {
    pub const MINS: usize = 16;
    pub const Q4_1_VALUES: usize = 32;
    pub const Q8_0_VALUES: usize = 16;
}

/// Value `j` (0 to 31) of row `row` of a group's block, as an integer: Q4_1's nibble
/// (unscaled, without the minimum) or Q8_0's signed byte.
fn value(format: Format, block: &[u8], row: usize, j: usize) -> i32 {
    match format {
        Format::Q4_1 => {
            let byte = block[layout::Q4_1_VALUES + 32 * (j % 16 / 4) + 4 * row + j % 4];
            i32::from(if j < 16 { byte & 0x0F } else { byte >> 4 })
        }
        Format::Q8_0 => i32::from(block[layout::Q8_0_VALUES + 32 * (j / 4) + 4 * row + j % 4] as i8),
    }
}

/// A Q4_1 or Q8_0 matrix (`rows` rows of `cols` values) repacked for the products: rows in
/// groups of `GROUP` (the last one padded with zero rows), each group's blocks one after
/// another (see `layout`).
pub struct Packed {
    format: Format,
    rows: usize,
    cols: usize,
    bytes: Storage,
}

/// A packed matrix's bytes: its own, or in a model's `Arena`.
enum Storage {
    Own(Vec<u8>),
    Arena(arena::Bytes),
}

impl std::ops::Deref for Storage {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Storage::Own(bytes) => bytes,
            Storage::Arena(bytes) => bytes,
        }
    }
}

impl Packed {
    /// Repacks `data`: `rows` rows of `cols` values (a multiple of 32) in `format`'s
    /// blocks, one row after another, as a GGUF tensor stores them.
    pub fn new(format: Format, rows: usize, cols: usize, data: &[u8]) -> Packed {
        let mut bytes = vec![0u8; Packed::size(format, rows, cols, data)];
        Packed::pack(format, cols, data, &mut bytes);
        Packed { format, rows, cols, bytes: Storage::Own(bytes) }
    }

    /// As `new`, the bytes in `arena`.
    pub fn new_in(arena: &mut Arena, format: Format, rows: usize, cols: usize, data: &[u8]) -> Packed {
        let bytes = arena
            .alloc(Packed::size(format, rows, cols, data), |bytes| Packed::pack(format, cols, data, bytes));
        Packed { format, rows, cols, bytes: Storage::Arena(bytes) }
    }

    /// The packed bytes of `rows` rows of `cols` values, once `data` is checked to hold them.
    fn size(format: Format, rows: usize, cols: usize, data: &[u8]) -> usize {
        assert!(cols.is_multiple_of(BLOCK), "{cols} values are not whole blocks of {BLOCK}");
        let blocks = cols / BLOCK;
        assert_eq!(
            data.len(),
            rows * blocks * format.block_bytes(),
            "not {rows} rows of {cols} {format:?} values"
        );
        rows.div_ceil(GROUP) * blocks * format.group_bytes()
    }

    /// Writes `data`'s rows into `bytes` (zeros, `size`'s length) in groups. Padding rows
    /// stay zeros, scales of 0.
    fn pack(format: Format, cols: usize, data: &[u8], bytes: &mut [u8]) {
        let blocks = cols / BLOCK;
        let block_bytes = format.block_bytes();
        let group_bytes = format.group_bytes();
        for (r, row) in data.chunks_exact(blocks * block_bytes).enumerate() {
            let (group, lane) = (r / GROUP, r % GROUP);
            for (b, block) in row.chunks_exact(block_bytes).enumerate() {
                let to = &mut bytes[(group * blocks + b) * group_bytes..][..group_bytes];
                to[2 * lane..2 * lane + 2].copy_from_slice(&block[..2]);
                match format {
                    Format::Q4_1 => {
                        to[layout::MINS + 2 * lane..][..2].copy_from_slice(&block[2..4]);
                        for (c, four) in block[4..].chunks_exact(4).enumerate() {
                            to[layout::Q4_1_VALUES + 32 * c + 4 * lane..][..4].copy_from_slice(four);
                        }
                    }
                    Format::Q8_0 => {
                        for (c, four) in block[2..].chunks_exact(4).enumerate() {
                            to[layout::Q8_0_VALUES + 32 * c + 4 * lane..][..4].copy_from_slice(four);
                        }
                    }
                }
            }
        }
    }

    fn blocks(&self) -> usize {
        self.cols / BLOCK
    }

    /// Group `group`'s bytes: its blocks one after another.
    fn group(&self, group: usize) -> &[u8] {
        let len = self.blocks() * self.format.group_bytes();
        &self.bytes[group * len..(group + 1) * len]
    }

    /// Row `row` decoded to f32 values (`out` holds `cols`), as the file's blocks decode.
    pub fn decode_row(&self, row: usize, out: &mut [f32]) {
        assert!(row < self.rows && out.len() == self.cols, "row {row} of {} x {}", self.rows, self.cols);
        let lane = row % GROUP;
        for (block, out) in
            self.group(row / GROUP).chunks_exact(self.format.group_bytes()).zip(out.chunks_exact_mut(BLOCK))
        {
            let d = half_at(block, 2 * lane);
            for (j, out) in out.iter_mut().enumerate() {
                let q = value(self.format, block, lane, j) as f32;
                *out = match self.format {
                    Format::Q4_1 => q * d + half_at(block, layout::MINS + 2 * lane),
                    Format::Q8_0 => q * d,
                };
            }
        }
    }

    /// `out[t * stride + r]` = row `r` times `xs[t]`, for the rows `start..end` (`start` a
    /// multiple of `GROUP`; `end` one too, or the last row). Each group's blocks are
    /// unpacked once for two inputs; each result takes the same operations in the
    /// same order whatever the other inputs and rows are, so it does not depend on the
    /// batch or on how the rows are split, to the bit. Called by each thread of a
    /// `Pool::run` with rows of its own.
    pub fn times(
        &self,
        kernel: Kernel,
        sums: Sums,
        (start, end): (usize, usize),
        xs: &[Q8Activations],
        out: Disjoint,
        stride: usize,
    ) {
        let blocks = self.blocks();
        for x in xs {
            assert_eq!(x.blocks(), blocks, "row and activations differ in length");
        }
        if start >= end || xs.is_empty() {
            return;
        }
        assert!(start.is_multiple_of(GROUP), "rows from {start}: not the start of a group of {GROUP}");
        assert!(
            end <= self.rows && (end.is_multiple_of(GROUP) || end == self.rows),
            "rows to {end} of {}",
            self.rows
        );
        assert!(end <= stride || xs.len() == 1, "outputs of different inputs overlap");
        assert!((xs.len() - 1) * stride + end <= out.len(), "no room for the outputs");
        assert!(Kernel::available().contains(&kernel), "{kernel:?} does not run here");
        let store = |group: usize, t: usize, sums: &[f32]| {
            for (lane, value) in sums.iter().enumerate() {
                let r = group * GROUP + lane;
                if r < end {
                    // Safety: row r of input t is this caller's alone.
                    unsafe { out.set(t * stride + r, *value) };
                }
            }
        };
        let (first, last) = (start / GROUP, end.div_ceil(GROUP));
        if kernel == Kernel::Portable {
            for group in first..last {
                for (t, x) in xs.iter().enumerate() {
                    let results = match sums {
                        Sums::Ggml => portable::group(self.format, self.group(group), x),
                        Sums::Blocks => portable::group_blocks(self.format, self.group(group), x),
                    };
                    store(group, t, &results);
                }
            }
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let mut group = first;
            while group < last {
                // Two groups at once in 512-bit registers, where the kernel has them.
                let wide = kernel == Kernel::Avx512Wide && last - group >= 2;
                let groups = if wide { 2 } else { 1 };
                let mut t = 0;
                while t < xs.len() {
                    // ggml's sums: two inputs at a time, each holding ggml's 8 lanes for its
                    // rows (16 of the 32 vector registers with AVX-512's wide loops); four
                    // measured slower, their sums spilled to memory. Block sums hold one
                    // register an input (two for Q4_1), so four inputs share a pass.
                    let n = match sums {
                        Sums::Ggml => (xs.len() - t).min(2),
                        Sums::Blocks => [0, 1, 2, 2, 4][(xs.len() - t).min(4)],
                    };
                    let prefetch = Prefetch::for_pass(t, groups * blocks * self.format.group_bytes());
                    macro_rules! run {
                        ($module:ident, $groups:literal, $n:literal, $q4_1:ident, $q8_0:ident) => {{
                            let mut results = [[0f32; $groups * GROUP]; $n];
                            let at = |g: usize| self.group(group + g).as_ptr();
                            // Safety: the kernel's features were detected (checked above);
                            // the groups hold `blocks` blocks, as does every input.
                            unsafe {
                                match self.format {
                                    Format::Q4_1 => $module::$q4_1::<$n>(
                                        [at(0), at($groups - 1)],
                                        blocks,
                                        &xs[t..t + $n],
                                        &mut results,
                                        prefetch,
                                    ),
                                    Format::Q8_0 => $module::$q8_0::<$n>(
                                        [at(0), at($groups - 1)],
                                        blocks,
                                        &xs[t..t + $n],
                                        &mut results,
                                        prefetch,
                                    ),
                                }
                            }
                            for (j, results) in results.iter().enumerate() {
                                for g in 0..$groups {
                                    store(group + g, t + j, &results[g * GROUP..(g + 1) * GROUP]);
                                }
                            }
                        }};
                        ($module:ident, $groups:literal) => {
                            match (sums, n) {
                                (Sums::Ggml, 1) => run!($module, $groups, 1, q4_1, q8_0),
                                (Sums::Ggml, _) => run!($module, $groups, 2, q4_1, q8_0),
                                (Sums::Blocks, 1) => run!($module, $groups, 1, q4_1_blocks, q8_0_blocks),
                                (Sums::Blocks, 2) => run!($module, $groups, 2, q4_1_blocks, q8_0_blocks),
                                (Sums::Blocks, _) => run!($module, $groups, 4, q4_1_blocks, q8_0_blocks),
                            }
                        };
                    }
                    match kernel {
                        _ if wide => run!(avx512_wide, 2),
                        Kernel::AvxVnni => run!(avx_vnni, 1),
                        Kernel::Avx512Vnni | Kernel::Avx512Wide => run!(avx512_vnni, 1),
                        _ => run!(avx2, 1),
                    }
                    t += n;
                }
                group += groups;
            }
        }
    }

    /// `out[r]` = row `r` times `x`, the rows split over the threads of `pool`.
    pub fn matvec(&self, x: &Q8Activations, out: &mut [f32], pool: &Pool) {
        assert_eq!(out.len(), self.rows, "one output per row");
        let rows = self.rows;
        let shared = Disjoint::new(out);
        let kernel = Kernel::for_inputs(1);
        let chunks = 4 * pool.threads();
        pool.run(chunks, &|chunk| {
            let part = part(rows, chunk, chunks, 2 * GROUP);
            self.times(kernel, Sums::Ggml, part, std::slice::from_ref(x), shared, rows);
        });
    }
}

/// The portable loop: what every vector loop computes, one row and one input at a time.
pub mod portable {
    use super::*;

    /// A group's rows times `x` with `Sums::Blocks`: for each block the exact integer sum of
    /// its 32 products, then `acc = fma(d * x.d, sum, acc)` and for Q4_1 `mins = fma(m, x.s,
    /// mins)`; the result is `acc + mins`.
    pub fn group_blocks(format: Format, group: &[u8], x: &Q8Activations) -> [f32; GROUP] {
        let mut out = [0f32; GROUP];
        for (row, out) in out.iter_mut().enumerate() {
            let (mut acc, mut mins) = (0f32, 0f32);
            for (b, block) in group.chunks_exact(format.group_bytes()).enumerate() {
                let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
                let sum: i32 = (0..BLOCK).map(|j| value(format, block, row, j) * i32::from(y[j])).sum();
                acc = (half_at(block, 2 * row) * x.d[b]).mul_add(sum as f32, acc);
                if format == Format::Q4_1 {
                    mins = half_at(block, layout::MINS + 2 * row).mul_add(x.s[b], mins);
                }
            }
            *out = match format {
                Format::Q4_1 => acc + mins,
                Format::Q8_0 => acc,
            };
        }
        out
    }

    /// ggml's `hsum_float_8`: its 8 lanes added in its order.
    pub fn ggml_sum(lanes: [f32; 8]) -> f32 {
        let [a0, a1, a2, a3, a4, a5, a6, a7] = lanes;
        ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))
    }

    /// A group's rows times `x`, as ggml's AVX2 loops compute each row: for each block and
    /// each of its lanes `k`, the exact sum of 4 products (Q4_1: values `4k..4k + 4` for `k`
    /// < 4, `16 + 4(k - 4)..` after; Q8_0: values `4k..4k + 4`), then `acc[k] = fma(d *
    /// x.d, sum, acc[k])`, and for Q4_1 `mins += m * x.s`; the result is the lanes added by
    /// `ggml_sum`, plus `mins`.
    pub fn group(format: Format, group: &[u8], x: &Q8Activations) -> [f32; GROUP] {
        let mut out = [0f32; GROUP];
        for (row, out) in out.iter_mut().enumerate() {
            let (mut acc, mut mins) = ([0f32; 8], 0f32);
            for (b, block) in group.chunks_exact(format.group_bytes()).enumerate() {
                let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
                let scale = half_at(block, 2 * row) * x.d[b];
                for (k, acc) in acc.iter_mut().enumerate() {
                    let sum: i32 =
                        (4 * k..4 * k + 4).map(|j| value(format, block, row, j) * i32::from(y[j])).sum();
                    *acc = scale.mul_add(sum as f32, *acc);
                }
                if format == Format::Q4_1 {
                    mins += half_at(block, layout::MINS + 2 * row) * x.s[b];
                }
            }
            *out = match format {
                Format::Q4_1 => ggml_sum(acc) + mins,
                Format::Q8_0 => ggml_sum(acc),
            };
        }
        out
    }
}

mod arena;
pub use arena::Arena;

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
use x86::{Prefetch, avx_vnni, avx2, avx512_vnni, avx512_wide};

#[cfg(test)]
mod tests;

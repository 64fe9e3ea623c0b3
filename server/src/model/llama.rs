//! Parley's own forward pass of a llama-architecture GGUF model, for sampling on a few CPU
//! cores. The file is read with candle's GGUF reader; the products run on the quantized
//! blocks, repacked at load in groups of 8 rows (`quant`), on one thread pool (`pool`),
//! without a tensor allocated per operation. What candle's generic model does differently,
//! and why this is faster here: its KV cache is concatenated anew at every token,
//! grouped-query attention copies keys and values for each head, Q4_1 products have no
//! vector kernel, and alternatives are decoded one after another. Here:
//!
//! - each sequence's KV cache is allocated once for the tokens it will hold and written in
//!   place, in half precision as llama.cpp's is (attention reads every key and value of
//!   every sequence at every step: half the bytes, half the time it waits on memory); K
//!   alternatives share the prompt's cache (an `Arc`) and each holds only its own tokens;
//! - a head reads its key-value head's rows where they are;
//! - the RoPE tables are computed once, at load;
//! - one `forward` takes a batch of sequences, each with its own tokens and position, so
//!   the weights are read once for all of them (prefill is such a batch of one sequence).

use super::floats::{self, Loops};
use super::pool::{Disjoint, Pool, part};
use super::quant::{self, BLOCK, Format, Packed, Q8Activations, Sums};
use candle_core::Device;
use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use half::f16;
use half::slice::HalfFloatSliceExt;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Config {
    pub dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub eps: f32,
    pub rope_base: f32,
    /// Positions the RoPE tables cover: the longest sequence.
    pub context: usize,
}

impl Config {
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// A weight matrix as the file stores it: `rows` rows of `cols` values.
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Data,
}

enum Data {
    /// Q4_1 or Q8_0 blocks, repacked in groups of rows for the products.
    Packed(Packed),
    /// Any other type, decoded once at load.
    F32(Vec<f32>),
}

impl Matrix {
    fn load(
        content: &Content,
        file: &mut std::fs::File,
        name: &str,
        arena: &mut quant::Arena,
    ) -> Result<Matrix, String> {
        let tensor = content.tensor(file, name, &Device::Cpu).map_err(|err| format!("{name}: {err}"))?;
        let (rows, cols) = match tensor.shape().dims() {
            [rows, cols] => (*rows, *cols),
            [cols] => (1, *cols),
            dims => return Err(format!("{name}: expected a matrix, found shape {dims:?}")),
        };
        let format = match tensor.dtype() {
            GgmlDType::Q4_1 => Some(Format::Q4_1),
            GgmlDType::Q8_0 => Some(Format::Q8_0),
            _ => None,
        };
        let data = match format {
            Some(format) if cols.is_multiple_of(BLOCK) => {
                let bytes = tensor.data().map_err(|err| format!("{name}: {err}"))?;
                if bytes.len() != rows * cols / BLOCK * format.block_bytes() {
                    return Err(format!("{name}: {} bytes for {rows} x {cols} {format:?}", bytes.len()));
                }
                Data::Packed(Packed::new_in(arena, format, rows, cols, &bytes))
            }
            _ => Data::F32(
                tensor
                    .dequantize(&Device::Cpu)
                    .and_then(|t| t.flatten_all())
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(|err| format!("{name}: {err}"))?,
            ),
        };
        Ok(Matrix { rows, cols, data })
    }

    fn vector(
        content: &Content,
        file: &mut std::fs::File,
        name: &str,
        len: usize,
        arena: &mut quant::Arena,
    ) -> Result<Vec<f32>, String> {
        let matrix = Matrix::load(content, file, name, arena)?;
        if matrix.rows * matrix.cols != len {
            return Err(format!("{name}: {} values, expected {len}", matrix.rows * matrix.cols));
        }
        let mut out = vec![0f32; len];
        matrix.decode_row(0, &mut out);
        Ok(out)
    }

    fn expect(self, name: &str, rows: usize, cols: usize) -> Result<Matrix, String> {
        if (self.rows, self.cols) != (rows, cols) {
            return Err(format!("{name}: shape {} x {}, expected {rows} x {cols}", self.rows, self.cols));
        }
        Ok(self)
    }

    /// Row `row` as f32 values (`out` holds `cols`; a 1-row matrix gives all its values).
    fn decode_row(&self, row: usize, out: &mut [f32]) {
        match &self.data {
            Data::F32(values) => out.copy_from_slice(&values[row * self.cols..(row + 1) * self.cols]),
            Data::Packed(packed) => packed.decode_row(row, out),
        }
    }

    /// Whether the matrix is stored in blocks (its inputs quantized).
    fn in_blocks(&self) -> bool {
        matches!(self.data, Data::Packed(_))
    }

    /// The rows that part `index` of `parts` of a product covers: whole pairs of the
    /// packed groups (what `Packed::times` starts at, and what its widest loops take).
    fn part(&self, index: usize, parts: usize) -> (usize, usize) {
        part(self.rows, index, parts, 2 * quant::GROUP)
    }

    /// `out[t * rows + r]` = row `r` times input `t`, for the rows of part `index` of
    /// `parts` (a chunk of a `Pool::run`).
    fn times_part(&self, input: &Input, out: Disjoint, index: usize, parts: usize) {
        self.times_rows(input, out, self.part(index, parts))
    }

    /// `times_part` for the rows `start..end` (whole pairs of packed groups, or the end).
    fn times_rows(&self, input: &Input, out: Disjoint, (start, end): (usize, usize)) {
        let n = input.rows;
        match &self.data {
            Data::Packed(packed) => {
                // Each run of inputs that sum alike, with its loops.
                let mut t = 0;
                while t < n {
                    let sums = input.sums[t];
                    let run = input.sums[t..].iter().take_while(|&&s| s == sums).count();
                    let kernel = quant::Kernel::for_inputs(run);
                    let quantized = &input.quantized[t..t + run];
                    packed.times(kernel, sums, (start, end), quantized, out.from(t * self.rows), self.rows);
                    t += run;
                }
            }
            Data::F32(values) => {
                for r in start..end {
                    let row = &values[r * self.cols..(r + 1) * self.cols];
                    for t in 0..n {
                        let value = dot(row, &input.values[t * self.cols..(t + 1) * self.cols]);
                        unsafe { out.set(t * self.rows + r, value) };
                    }
                }
            }
        }
    }
}

/// The rows of activations a product takes: as f32, and quantized per block of 32 for
/// matrices stored in blocks (once for all the matrices that read the same input, into
/// buffers a forward pass reuses).
struct Input<'a> {
    rows: usize,
    values: &'a [f32],
    quantized: &'a [Q8Activations],
    /// How each row's products are summed (its sequence's way).
    sums: &'a [Sums],
}

impl<'a> Input<'a> {
    /// Rows already quantized (`quantized`, one for each row of `values`).
    fn quantized(values: &'a [f32], quantized: &'a [Q8Activations], sums: &'a [Sums]) -> Input<'a> {
        assert_eq!(sums.len(), quantized.len(), "a way of summing for each row");
        Input { rows: quantized.len(), values, quantized, sums }
    }

    fn new(
        values: &'a [f32],
        cols: usize,
        buffers: &'a mut Vec<Q8Activations>,
        sums: &'a [Sums],
    ) -> Input<'a> {
        let rows = values.len() / cols;
        assert_eq!(sums.len(), rows, "a way of summing for each row");
        if cols.is_multiple_of(BLOCK) {
            buffers.resize_with(rows, Default::default);
            for (row, buffer) in values.chunks_exact(cols).zip(buffers.iter_mut()) {
                buffer.quantize_into(row);
            }
        } else {
            buffers.clear();
        }
        Input { rows, values, quantized: &buffers[..], sums }
    }
}

/// Plain f32 dot product, eight lanes at a time.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The largest of `values`, eight lanes at a time (the largest is the same in any order).
#[inline]
fn max(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for chunk in chunks {
        for i in 0..8 {
            lanes[i] = lanes[i].max(chunk[i]);
        }
    }
    lanes.iter().fold(tail, |m, &v| m.max(v))
}

/// `out` = the sum over positions p, in order, of `weights[p]` x value p's `at..at + D`:
/// a head's attention output, its `D` sums held in registers across the positions.
#[inline(always)]
fn weighted_sum<'v, L: Loops, const D: usize>(
    weights: &[f32],
    parts: impl Iterator<Item = &'v [f16]>,
    kv_dim: usize,
    at: usize,
    out: &mut [f32],
) {
    let mut sums = [0f32; D];
    let mut weights = weights.iter();
    // The cache's parts (the prefix's, then the sequence's own), positions `kv_dim` apart.
    for values in parts {
        for (value, weight) in values.chunks_exact(kv_dim).zip(&mut weights) {
            let value = &value[at..at + D];
            L::add_scaled(&mut sums, *weight, value);
        }
    }
    out.copy_from_slice(&sums);
}

/// The row of each item's last token in a forward pass's batch.
fn last_rows(items: &[Item<'_>]) -> Vec<usize> {
    items
        .iter()
        .scan(0, |end, item| {
            *end += item.tokens.len();
            Some(*end - 1)
        })
        .collect()
}

fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let dim = weight.len();
    // Each row's sum of squares value after value, as one row alone sums it, for up to 8
    // rows side by side: their adds are independent, so the CPU overlaps them, where one
    // row's waits on the add before.
    for (rows, outs) in x.chunks(8 * dim).zip(out.chunks_mut(8 * dim)) {
        let sums = floats::squares_best(rows, dim);
        for ((row, out), sum) in rows.chunks_exact(dim).zip(outs.chunks_exact_mut(dim)).zip(sums) {
            let scale = (sum / dim as f32 + eps).sqrt();
            for ((o, v), w) in out.iter_mut().zip(row).zip(weight) {
                *o = v / scale * w;
            }
        }
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    q: Matrix,
    k: Matrix,
    v: Matrix,
    o: Matrix,
    ffn_norm: Vec<f32>,
    gate: Matrix,
    up: Matrix,
    down: Matrix,
}

pub struct Model {
    pub config: Config,
    embedding: Matrix,
    /// `output.weight`, or the embedding when the file ties them.
    output: Option<Matrix>,
    output_norm: Vec<f32>,
    layers: Vec<Layer>,
    /// cos and sin of position x frequency, `context` rows of `head_dim / 2`.
    cos: Vec<f32>,
    sin: Vec<f32>,
    pool: Pool,
    /// The last forward pass's logits, all its items' in one buffer that every pass reuses.
    logits: std::sync::Mutex<Vec<f32>>,
}

/// Keys and values (f16) of the tokens one sequence holds, layer by layer, each layer's
/// positions one after another (`[layer][position][kv_dim]`), so that a head reads its
/// keys and values in one sweep. Room for the tokens a request may write is allocated when
/// it starts, and a token's entries are written in place; past that room the cache is laid
/// out again at twice the size.
pub struct Cache {
    len: usize,
    capacity: usize,
    layers: usize,
    kv_dim: usize,
    keys: Vec<f16>,
    values: Vec<f16>,
}

impl Cache {
    fn new(config: &Config, capacity: usize) -> Cache {
        let size = config.layers * capacity * config.kv_dim();
        Cache {
            len: 0,
            capacity,
            layers: config.layers,
            kv_dim: config.kv_dim(),
            keys: vec![f16::ZERO; size],
            values: vec![f16::ZERO; size],
        }
    }

    /// Room for `more` positions past `len`, before a forward pass writes them.
    fn extend(&mut self, more: usize) {
        if self.len + more <= self.capacity {
            return;
        }
        let capacity = (self.len + more).max(2 * self.capacity);
        let (old, kv) = (self.capacity, self.kv_dim);
        for buffer in [&mut self.keys, &mut self.values] {
            let mut grown = vec![f16::ZERO; self.layers * capacity * kv];
            for layer in 0..self.layers {
                grown[layer * capacity * kv..][..self.len * kv]
                    .copy_from_slice(&buffer[layer * old * kv..][..self.len * kv]);
            }
            *buffer = grown;
        }
        self.capacity = capacity;
    }

    fn at(&self, layer: usize, position: usize) -> usize {
        (layer * self.capacity + position) * self.kv_dim
    }

    /// The keys and values of `layer` for positions `0..len`, `kv_dim` values each.
    fn layer(&self, layer: usize, len: usize) -> (&[f16], &[f16]) {
        let at = self.at(layer, 0);
        (&self.keys[at..at + len * self.kv_dim], &self.values[at..at + len * self.kv_dim])
    }
}

/// The tokens other sequences continue from without copying them: caches that forward
/// passes filled, one after another, each read up to a length. A prompt's cache is one
/// part; a prompt that continues a cached one (the next turn of a chat, or one that shares
/// a system prompt) adds a part after that one's.
#[derive(Clone, Default)]
pub struct Prefix {
    parts: Vec<(Arc<Cache>, usize)>,
}

impl Prefix {
    pub fn len(&self) -> usize {
        self.parts.iter().map(|(_, len)| len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Its first `len` tokens (the parts are shared, not copied).
    pub fn truncate(&self, mut len: usize) -> Prefix {
        let mut parts = vec![];
        for (cache, used) in &self.parts {
            if len == 0 {
                break;
            }
            parts.push((cache.clone(), (*used).min(len)));
            len -= (*used).min(len);
        }
        Prefix { parts }
    }

    /// Each part's cache once, to count the memory these prefixes hold between them.
    pub fn caches(&self) -> impl Iterator<Item = &Arc<Cache>> {
        self.parts.iter().map(|(cache, _)| cache)
    }

    /// The keys and values of `layer` for the prefix's first `len` positions, part by part.
    fn layers(&self, layer: usize, mut len: usize) -> impl Iterator<Item = (&[f16], &[f16])> + Clone {
        self.parts.iter().map_while(move |(cache, used)| {
            let take = (*used).min(len);
            len -= take;
            (take > 0).then(|| cache.layer(layer, take))
        })
    }
}

impl Cache {
    /// Bytes its keys and values take.
    pub fn bytes(&self) -> usize {
        (self.keys.len() + self.values.len()) * std::mem::size_of::<f16>()
    }
}

/// One sequence: the shared prefix it continues, and its own tokens' cache.
pub struct Sequence {
    prefix: Prefix,
    own: Cache,
    sums: Sums,
}

impl Sequence {
    /// Tokens the sequence holds (its position for the next one).
    pub fn len(&self) -> usize {
        self.prefix.len() + self.own.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// From now on, this sequence's products sum each block in integers
    /// (`quant::Sums::Blocks`): for a sampled sequence, whose tokens no reference fixes.
    /// Greedy sequences and prompts keep ggml's sums, so that greedy text is llama.cpp's
    /// and a prompt's cache is the same whoever reads it; a sequence that sums by blocks
    /// is not made a prefix for others.
    pub fn sample_sums(&mut self) {
        self.sums = Sums::Blocks;
    }

    /// The sequence as a prefix that forks share (its cache is not copied).
    pub fn into_prefix(self) -> Prefix {
        let Sequence { mut prefix, own, sums } = self;
        debug_assert_eq!(sums, Sums::Ggml, "a sequence summed by blocks made a prefix");
        if own.len > 0 {
            let len = own.len;
            prefix.parts.push((Arc::new(own), len));
        }
        prefix
    }
}

/// A sequence and the tokens it takes in this forward pass.
pub struct Item<'a> {
    pub sequence: &'a mut Sequence,
    pub tokens: &'a [u32],
}

impl Model {
    pub fn load(
        content: &Content,
        file: &mut std::fs::File,
        context: usize,
        threads: usize,
    ) -> Result<Model, String> {
        let meta = |key: &str| {
            content
                .metadata
                .get(key)
                .and_then(|v| v.to_u32().ok())
                .map(|v| v as usize)
                .ok_or_else(|| format!("{key} is missing"))
        };
        let meta_f32 = |key: &str| content.metadata.get(key).and_then(|v| v.to_f32().ok());
        if content.metadata.get("llama.expert_count").and_then(|v| v.to_u32().ok()).unwrap_or(0) > 0 {
            return Err("mixture-of-experts models are not supported".into());
        }
        let (dim, heads, layers) = (
            meta("llama.embedding_length")?,
            meta("llama.attention.head_count")?,
            meta("llama.block_count")?,
        );
        let kv_heads = meta("llama.attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
            return Err(format!(
                "{heads} heads, {kv_heads} key-value heads and width {dim} do not fit together"
            ));
        }
        let head_dim = dim / heads;
        if let Ok(rope) = meta("llama.rope.dimension_count")
            && rope != head_dim
        {
            return Err(format!("RoPE over {rope} of {head_dim} dimensions is not supported"));
        }
        // The packed matrices one after another in large chunks (huge pages where Linux gives
        // them).
        let mut arena = quant::Arena::new();
        let embedding = Matrix::load(content, file, "token_embd.weight", &mut arena)?;
        let vocab = embedding.rows;
        let embedding = embedding.expect("token_embd.weight", vocab, dim)?;
        let hidden = meta("llama.feed_forward_length")?;
        let config = Config {
            dim,
            hidden,
            layers,
            heads,
            kv_heads,
            head_dim,
            vocab,
            eps: meta_f32("llama.attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope_base: meta_f32("llama.rope.freq_base").unwrap_or(10_000.0),
            context,
        };
        let kv_dim = config.kv_dim();
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(Matrix::load(content, file, "output.weight", &mut arena)?.expect(
                "output.weight",
                vocab,
                dim,
            )?)
        } else {
            None
        };
        let output_norm = Matrix::vector(content, file, "output_norm.weight", dim, &mut arena)?;
        let mut blocks = Vec::with_capacity(layers);
        for l in 0..layers {
            let mut matrix = |name: &str, rows, cols| {
                let name = format!("blk.{l}.{name}.weight");
                Matrix::load(content, file, &name, &mut arena)?.expect(&name, rows, cols)
            };
            let (q, k, v, o) = (
                matrix("attn_q", dim, dim)?,
                matrix("attn_k", kv_dim, dim)?,
                matrix("attn_v", kv_dim, dim)?,
                matrix("attn_output", dim, dim)?,
            );
            let (gate, up, down) = (
                matrix("ffn_gate", hidden, dim)?,
                matrix("ffn_up", hidden, dim)?,
                matrix("ffn_down", dim, hidden)?,
            );
            blocks.push(Layer {
                attn_norm: Matrix::vector(
                    content,
                    file,
                    &format!("blk.{l}.attn_norm.weight"),
                    dim,
                    &mut arena,
                )?,
                q,
                k,
                v,
                o,
                ffn_norm: Matrix::vector(
                    content,
                    file,
                    &format!("blk.{l}.ffn_norm.weight"),
                    dim,
                    &mut arena,
                )?,
                gate,
                up,
                down,
            });
        }
        // As candle and llama.cpp compute them: theta_i = base^(-2i / head_dim), in f32.
        let half = head_dim / 2;
        let theta: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1f32 / config.rope_base.powf(i as f32 / head_dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(context * half);
        let mut sin = Vec::with_capacity(context * half);
        for position in 0..context {
            for theta in &theta {
                let angle = position as f32 * theta;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Ok(Model {
            config,
            embedding,
            output,
            output_norm,
            layers: blocks,
            cos,
            sin,
            pool: Pool::new(threads),
            logits: Default::default(),
        })
    }

    /// The threads the forward pass runs on, for work beside it (drawing tokens).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// An empty sequence with room reserved for `capacity` tokens.
    pub fn sequence(&self, capacity: usize) -> Sequence {
        Sequence { prefix: Prefix::default(), own: Cache::new(&self.config, capacity), sums: Sums::Ggml }
    }

    /// A sequence continuing `prefix`, with room reserved for `capacity` tokens of its own.
    pub fn fork(&self, prefix: &Prefix, capacity: usize) -> Sequence {
        Sequence { prefix: prefix.clone(), own: Cache::new(&self.config, capacity), sums: Sums::Ggml }
    }

    /// Runs the items' tokens through the model, each at its sequence's next positions,
    /// stores their keys and values in the sequences, and returns the logits after each
    /// item's last token.
    pub fn forward(&self, items: &mut [Item<'_>]) -> Result<Vec<Vec<f32>>, String> {
        let mut logits = vec![vec![]; items.len()];
        self.forward_into(items, &mut logits.iter_mut().collect::<Vec<_>>())?;
        Ok(logits)
    }

    /// `forward`, each item's logits written into its buffer in `logits` (resized to the
    /// vocabulary): a decoding step reuses its sequences' buffers and the pass's, where it
    /// allocated one more than its sequences of the vocabulary's size (196 kB each) at every
    /// step.
    pub fn forward_into(&self, items: &mut [Item<'_>], logits: &mut [&mut Vec<f32>]) -> Result<(), String> {
        assert_eq!(items.len(), logits.len(), "a buffer for each item's logits");
        let c = &self.config;
        let x = self.pass(items, c.layers, &mut |_, _| {})?;
        let dim = c.dim;
        // Logits only after each item's last token.
        let mut last = Vec::with_capacity(items.len() * dim);
        for end in last_rows(items) {
            last.extend_from_slice(&x[end * dim..(end + 1) * dim]);
        }
        let mut normed = vec![0f32; last.len()];
        rms_norm(&last, &self.output_norm, c.eps, &mut normed);
        let sums: Vec<Sums> = items.iter().map(|item| item.sequence.sums).collect();
        let mut all = self.logits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.resize(items.len() * c.vocab, 0.0);
        {
            let mut buffers = vec![];
            let input = Input::new(&normed, dim, &mut buffers, &sums);
            let out = Disjoint::new(&mut all);
            let output = self.output.as_ref().unwrap_or(&self.embedding);
            let chunks = 16 * self.pool.threads();
            self.pool.run(chunks, &|chunk| output.times_part(&input, out, chunk, chunks));
        }
        for (out, row) in logits.iter_mut().zip(all.chunks_exact(c.vocab)) {
            out.clear();
            out.extend_from_slice(row);
        }
        Ok(())
    }

    /// Two readings of the hidden state of each item at the end of each layer in `layers`
    /// (counted from 1; the last is the model's final state, after its output norm): the
    /// state after its last token, then the mean over its tokens: `[item][tap]`, `2 * dim`
    /// values each. Only the layers up to the deepest asked for run, so a sequence run this
    /// way is continued only by `hidden` with no deeper layers.
    pub fn hidden(&self, items: &mut [Item<'_>], layers: &[usize]) -> Result<Vec<Vec<Vec<f32>>>, String> {
        let c = &self.config;
        let deepest = layers.iter().copied().max().unwrap_or(0);
        if layers.contains(&0) || deepest > c.layers {
            return Err(format!("layers are 1 to {}", c.layers));
        }
        let ends = last_rows(items);
        let lengths: Vec<usize> = items.iter().map(|item| item.tokens.len()).collect();
        let mut out = vec![vec![vec![]; layers.len()]; items.len()];
        self.pass(items, deepest, &mut |layer, x| {
            for (tap, _) in layers.iter().enumerate().filter(|(_, l)| **l == layer) {
                for (i, (&end, &length)) in ends.iter().zip(&lengths).enumerate() {
                    let rows = &x[(end + 1 - length) * c.dim..(end + 1) * c.dim];
                    let mut normed = vec![];
                    let rows = if layer == c.layers {
                        normed.resize(rows.len(), 0f32);
                        rms_norm(rows, &self.output_norm, c.eps, &mut normed);
                        &normed[..]
                    } else {
                        rows
                    };
                    let mut state = rows[(length - 1) * c.dim..].to_vec();
                    let mut mean = vec![0f32; c.dim];
                    for row in rows.chunks_exact(c.dim) {
                        for (m, v) in mean.iter_mut().zip(row) {
                            *m += v;
                        }
                    }
                    state.extend(mean.iter().map(|m| m / length as f32));
                    out[i][tap] = state;
                }
            }
        })?;
        Ok(out)
    }

    /// The residual stream of every row after `upto` layers; `tap` sees it after each layer.
    fn pass(
        &self,
        items: &mut [Item<'_>],
        upto: usize,
        tap: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<Vec<f32>, String> {
        let c = &self.config;
        // Which item, and which position, each row of the batch is.
        let mut rows: Vec<(usize, usize)> = vec![];
        for (i, item) in items.iter().enumerate() {
            if item.tokens.is_empty() {
                return Err("a sequence was given no tokens".into());
            }
            let start = item.sequence.len();
            if start + item.tokens.len() > c.context {
                return Err(format!(
                    "the sequence holds {start} tokens and has no room for {} more (the model's context is {})",
                    item.tokens.len(),
                    c.context
                ));
            }
            if let Some(&bad) = item.tokens.iter().find(|&&t| t as usize >= c.vocab) {
                return Err(format!("token {bad} is outside the vocabulary of {}", c.vocab));
            }
            rows.extend((0..item.tokens.len()).map(|j| (i, start + j)));
        }
        for item in items.iter_mut() {
            item.sequence.own.extend(item.tokens.len());
        }
        let n = rows.len();
        let sums: Vec<Sums> = rows.iter().map(|&(i, _)| items[i].sequence.sums).collect();
        let (dim, kv_dim, hd) = (c.dim, c.kv_dim(), c.head_dim);
        let mut x = vec![0f32; n * dim];
        for (row, token) in x.chunks_exact_mut(dim).zip(items.iter().flat_map(|item| item.tokens)) {
            self.embedding.decode_row(*token as usize, row);
        }
        let mut h = vec![0f32; n * dim];
        let mut q = vec![0f32; n * dim];
        let mut k = vec![0f32; n * kv_dim];
        let mut v = vec![0f32; n * kv_dim];
        let mut attended = vec![0f32; n * dim];
        let mut projected = vec![0f32; n * dim];
        let mut gate = vec![0f32; n * c.hidden];
        let mut up = vec![0f32; n * c.hidden];
        // Chunks per product, claimed by the threads one at a time (see `pool`): enough that
        // a thread held up elsewhere leaves little for the other to wait on.
        let chunks = 4 * self.pool.threads();
        // The quantized inputs' buffers, reused by every product of the pass: those quantized
        // between products, and those quantized by the chunks that make them (the o and down
        // products' inputs, each chunk's own blocks).
        let (mut buffers, mut made): (Vec<Q8Activations>, Vec<Q8Activations>) = (vec![], vec![]);
        for (l, layer) in self.layers.iter().enumerate().take(upto) {
            rms_norm(&x, &layer.attn_norm, c.eps, &mut h);
            {
                let input = Input::new(&h, dim, &mut buffers, &sums);
                let (qo, ko, vo) = (Disjoint::new(&mut q), Disjoint::new(&mut k), Disjoint::new(&mut v));
                self.pool.run(chunks, &|chunk| {
                    layer.q.times_part(&input, qo, chunk, chunks);
                    layer.k.times_part(&input, ko, chunk, chunks);
                    layer.v.times_part(&input, vo, chunk, chunks);
                });
            }
            for (r, &(_, position)) in rows.iter().enumerate() {
                self.rope(&mut q[r * dim..(r + 1) * dim], position);
                self.rope(&mut k[r * kv_dim..(r + 1) * kv_dim], position);
            }
            // The new keys and values go into each sequence's own cache, in place.
            for (r, &(i, position)) in rows.iter().enumerate() {
                let sequence = &mut *items[i].sequence;
                let own_position = position - sequence.prefix.len();
                let at = sequence.own.at(l, own_position);
                sequence.own.keys[at..at + kv_dim].convert_from_f32_slice(&k[r * kv_dim..(r + 1) * kv_dim]);
                sequence.own.values[at..at + kv_dim].convert_from_f32_slice(&v[r * kv_dim..(r + 1) * kv_dim]);
            }
            {
                let sequences: Vec<&Sequence> = items.iter().map(|item| &*item.sequence).collect();
                let out = Disjoint::new(&mut attended);
                // A task is one row's query heads that share a key-value head, which read its
                // keys and values once between them; or one head alone, when a row's groups
                // would leave a thread idle (one token of one sequence).
                let group = c.heads / c.kv_heads;
                let per_task = if n * c.kv_heads >= 2 * self.pool.threads() { group } else { 1 };
                let row_tasks = c.heads / per_task;
                let tasks = n * row_tasks;
                let (q, rows) = (&q, &rows);
                let parts = chunks.min(tasks);
                // The o product's inputs, quantized by the tasks when heads are whole blocks.
                let blocked = hd.is_multiple_of(BLOCK) && layer.o.in_blocks();
                made.resize_with(if blocked { n } else { 0 }, Default::default);
                let writers: Vec<quant::Blocks> =
                    made.iter_mut().map(|buffer| buffer.blocks_of(dim)).collect();
                self.pool.run(parts, &|chunk| {
                    let (start, end) = part(tasks, chunk, parts, 1);
                    let mut scores = Vec::new();
                    for task in start..end {
                        let (r, first) = (task / row_tasks, task % row_tasks * per_task);
                        let (i, position) = rows[r];
                        let (from, to) = (r * dim + first * hd, r * dim + (first + per_task) * hd);
                        // Safety: each (row, heads) is one task's alone.
                        let out = unsafe { out.slice(from, to) };
                        self.attend(sequences[i], l, first, position, &q[from..to], &mut scores, out);
                        if let Some(writer) = writers.get(r) {
                            // Safety: these heads' blocks of row r are this task's alone.
                            unsafe { writer.quantize(first * hd / BLOCK, out) };
                        }
                    }
                });
            }
            {
                let input = match made.is_empty() {
                    true => Input::new(&attended, dim, &mut buffers, &sums),
                    false => Input::quantized(&attended, &made, &sums),
                };
                let out = Disjoint::new(&mut projected);
                self.pool.run(chunks, &|chunk| layer.o.times_part(&input, out, chunk, chunks));
            }
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);
            rms_norm(&x, &layer.ffn_norm, c.eps, &mut h);
            {
                let input = Input::new(&h, dim, &mut buffers, &sums);
                let (go, uo) = (Disjoint::new(&mut gate), Disjoint::new(&mut up));
                let hidden = c.hidden;
                // The down product's inputs, quantized where they are made when the hidden
                // width is whole blocks.
                let blocked = hidden.is_multiple_of(BLOCK) && layer.down.in_blocks();
                made.resize_with(if blocked { n } else { 0 }, Default::default);
                let writers: Vec<quant::Blocks> =
                    made.iter_mut().map(|buffer| buffer.blocks_of(hidden)).collect();
                self.pool.run(chunks, &|chunk| {
                    // Rows in whole blocks of 32, so that each chunk's part of the down
                    // product's inputs is whole blocks.
                    let rows = part(hidden, chunk, chunks, BLOCK);
                    layer.gate.times_rows(&input, go, rows);
                    layer.up.times_rows(&input, uo, rows);
                    // SiLU(gate) x up on the rows this chunk just made, while they are in
                    // cache and on both threads; then quantized for the down product.
                    let (start, end) = rows;
                    for t in 0..n {
                        // Safety: rows start..end of each input are this chunk's alone.
                        let (g, u) = unsafe {
                            (
                                go.slice(t * hidden + start, t * hidden + end),
                                uo.slice(t * hidden + start, t * hidden + end),
                            )
                        };
                        floats::silu_times_best(g, u);
                        if let Some(writer) = writers.get(t) {
                            // Safety: blocks start / 32.. of input t are this chunk's alone.
                            unsafe { writer.quantize(start / BLOCK, g) };
                        }
                    }
                });
            }
            {
                let input = match made.is_empty() {
                    true => Input::new(&gate, c.hidden, &mut buffers, &sums),
                    false => Input::quantized(&gate, &made, &sums),
                };
                let out = Disjoint::new(&mut projected);
                self.pool.run(chunks, &|chunk| layer.down.times_part(&input, out, chunk, chunks));
            }
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);
            tap(l + 1, &x);
        }
        for item in items.iter_mut() {
            item.sequence.own.len += item.tokens.len();
        }
        Ok(x)
    }

    /// Rotates each head's pairs (2i, 2i + 1) by position x theta_i (GGUF's llama layout).
    fn rope(&self, x: &mut [f32], position: usize) {
        let half = self.config.head_dim / 2;
        let (cos, sin) = (
            &self.cos[position * half..(position + 1) * half],
            &self.sin[position * half..(position + 1) * half],
        );
        for head in x.chunks_exact_mut(self.config.head_dim) {
            for (i, pair) in head.chunks_exact_mut(2).enumerate() {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * cos[i] - b * sin[i];
                pair[1] = a * sin[i] + b * cos[i];
            }
        }
    }

    /// Heads `first..` of one row (as many as `queries` holds, `head_dim` values each, all of
    /// one key-value head): softmax(q . k / sqrt(d)) over positions 0..=`position`, times v.
    /// The heads read each key and value once between them. The loops are `floats`', fused
    /// where the CPU has FMA.
    #[allow(clippy::too_many_arguments)]
    fn attend(
        &self,
        sequence: &Sequence,
        layer: usize,
        first: usize,
        position: usize,
        queries: &[f32],
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if floats::fused() {
            // Safety: AVX2, FMA and F16C were detected.
            return unsafe { self.attend_fused(sequence, layer, first, position, queries, scores, out) };
        }
        self.attend_with::<floats::Portable>(sequence, layer, first, position, queries, scores, out)
    }

    /// `attend_with` compiled for AVX2, FMA and F16C, so that `floats::x86`'s loops are
    /// inlined into it. Safety: the CPU has all three.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn attend_fused(
        &self,
        sequence: &Sequence,
        layer: usize,
        first: usize,
        position: usize,
        queries: &[f32],
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        self.attend_with::<floats::Fused>(sequence, layer, first, position, queries, scores, out)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn attend_with<L: Loops>(
        &self,
        sequence: &Sequence,
        layer: usize,
        first: usize,
        position: usize,
        queries: &[f32],
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let (hd, kv_dim) = (self.config.head_dim, self.config.kv_dim());
        let at = first / (self.config.heads / self.config.kv_heads) * hd;
        let scale = 1.0 / (hd as f32).sqrt();
        let len = position + 1;
        // The positions the prefix holds, part by part, then the sequence's own.
        let shared = sequence.prefix.len().min(len);
        let parts = || {
            sequence
                .prefix
                .layers(layer, shared)
                .chain(std::iter::once(sequence.own.layer(layer, len - shared)))
        };
        // Head h's score for position p at h * len + p.
        scores.clear();
        scores.resize(queries.len() / hd * len, 0.0);
        // Up to 4 heads at a time: each key's and value's row converted once for them.
        let heads = queries.len() / hd;
        for first in (0..heads).step_by(4) {
            let group = (heads - first).min(4);
            let queries = &queries[first * hd..(first + group) * hd];
            let scores = &mut scores[first * len..(first + group) * len];
            let out = &mut out[first * hd..(first + group) * hd];
            let mut p = 0;
            let mut dots = [0f32; 4];
            for (keys, _) in parts() {
                for key in keys.chunks_exact(kv_dim) {
                    // The key 16 positions on, asked for now (its two lines): the cache's rows
                    // are a position apart, and a row's head is a third of it.
                    let ahead = key[at..].as_ptr().wrapping_add(floats::AHEAD * kv_dim);
                    floats::prefetch(ahead);
                    floats::prefetch(ahead.wrapping_add(32));
                    L::dots(queries, &key[at..at + hd], &mut dots[..group]);
                    for (h, dot) in dots[..group].iter().enumerate() {
                        scores[h * len + p] = dot * scale;
                    }
                    p += 1;
                }
            }
            let mut sums = [0f32; 4];
            for (weights, sum) in scores.chunks_exact_mut(len).zip(&mut sums) {
                *sum = L::exp_shifted(weights, max(weights));
            }
            let values = || parts().map(|(_, values)| values);
            if hd != 64 || !L::weighted_sums_64(scores, len, values(), kv_dim, at, out) {
                for (weights, out) in scores.chunks_exact(len).zip(out.chunks_exact_mut(hd)) {
                    match hd {
                        64 => weighted_sum::<L, 64>(weights, values(), kv_dim, at, out),
                        128 => weighted_sum::<L, 128>(weights, values(), kv_dim, at, out),
                        _ => {
                            out.fill(0.0);
                            let mut weights = weights.iter();
                            for values in values() {
                                for (value, weight) in values.chunks_exact(kv_dim).zip(&mut weights) {
                                    L::add_scaled(out, *weight, &value[at..at + hd]);
                                }
                            }
                        }
                    }
                }
            }
            for (out, sum) in out.chunks_exact_mut(hd).zip(sums) {
                let inverse = 1.0 / sum;
                out.iter_mut().for_each(|o| *o *= inverse);
            }
        }
    }
}
